#include "crypto/secret.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

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

namespace {

// Keys are small and many (a data key per case), and each sodium_malloc
// costs a few system calls (guard pages, mlock): tens of microseconds. Keys
// of up to kSlot bytes are therefore carved from guarded slabs of kSlots
// slots, each slab one sodium_malloc; a freed slot is wiped at once and
// reused. Larger secrets get their own sodium_malloc.
constexpr size_t kSlot = 64;
constexpr size_t kSlots = 1024;

class Slabs {
 public:
  uint8_t* Take() {
    std::lock_guard<std::mutex> l(mu_);
    if (free_.empty()) {
      auto* slab = static_cast<uint8_t*>(sodium_malloc(kSlot * kSlots));
      if (slab == nullptr) return nullptr;
      for (size_t i = kSlots; i > 0; --i) free_.push_back(slab + (i - 1) * kSlot);
    }
    uint8_t* p = free_.back();
    free_.pop_back();
    return p;
  }
  void Give(uint8_t* p) {
    sodium_memzero(p, kSlot);
    std::lock_guard<std::mutex> l(mu_);
    free_.push_back(p);
  }

 private:
  std::mutex mu_;
  std::vector<uint8_t*> free_;  // slabs live as long as the process
};

Slabs& TheSlabs() {
  static Slabs* slabs = new Slabs();
  return *slabs;
}

}  // namespace

SecretBytes::SecretBytes(size_t size) : size_(size) {
  EnsureSodium();
  if (size == 0) return;
  data_ = size <= kSlot ? TheSlabs().Take() : static_cast<uint8_t*>(sodium_malloc(size));
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
  if (data_ != nullptr) {
    if (size_ <= kSlot) {
      TheSlabs().Give(data_);  // wiped before reuse
    } else {
      sodium_free(data_);  // sodium_free wipes before freeing
    }
  }
  data_ = nullptr;
  size_ = 0;
}

}  // namespace fieldsync::crypto
