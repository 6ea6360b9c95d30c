#include "crypto/secret.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

namespace fieldsync::crypto {

void EnsureSodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) {
      std::fputs("fieldsync: libsodium could not be initialised; refusing to run\n", stderr);
      std::abort();
    }
  });
}

SecretBytes::SecretBytes(size_t size) : size_(size) {
  EnsureSodium();
  if (size == 0) return;
  data_ = static_cast<uint8_t*>(sodium_malloc(size));
  if (data_ == nullptr) {
    std::fputs("fieldsync: out of guarded memory for a secret key\n", stderr);
    std::abort();
  }
  sodium_memzero(data_, size);
}

SecretBytes SecretBytes::Copy(std::string_view bytes) {
  SecretBytes s(bytes.size());
  if (!bytes.empty()) std::memcpy(s.data_, bytes.data(), bytes.size());
  return s;
}

SecretBytes SecretBytes::Random(size_t size) {
  SecretBytes s(size);
  if (size > 0) randombytes_buf(s.data_, size);
  return s;
}

SecretBytes::~SecretBytes() { Reset(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretBytes SecretBytes::Clone() const { return Copy(view()); }

void SecretBytes::Reset() {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before freeing
  data_ = nullptr;
  size_ = 0;
}

}  // namespace fieldsync::crypto
