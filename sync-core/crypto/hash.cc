#include "crypto/hash.h"

#include <sodium.h>

#include "crypto/secret.h"

namespace fieldsync::crypto {
namespace {

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

static_assert(sizeof(crypto_generichash_state) <= 384, "Blake2bHasher::state_ is too small");
static_assert(alignof(crypto_generichash_state) <= 64, "Blake2bHasher::state_ is misaligned");
static_assert(crypto_generichash_KEYBYTES == kHashKeyBytes, "kHashKeyBytes");

crypto_generichash_state* State(unsigned char* storage) {
  return reinterpret_cast<crypto_generichash_state*>(storage);
}

}  // namespace

std::string Blake2b256(std::string_view data) {
  EnsureSodium();
  std::string out(kHashBytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(), U(data),
                     data.size(), nullptr, 0);
  return out;
}

std::string DomainHash(std::string_view domain, std::initializer_list<std::string_view> parts) {
  EnsureSodium();
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, kHashBytes);
  crypto_generichash_update(&st, U(domain), domain.size());
  const unsigned char zero = 0;
  crypto_generichash_update(&st, &zero, 1);
  for (std::string_view p : parts) crypto_generichash_update(&st, U(p), p.size());
  std::string out(kHashBytes, '\0');
  crypto_generichash_final(&st, reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

std::string KeyedBlake2b(std::string_view key, std::string_view data, size_t out_bytes) {
  EnsureSodium();
  std::string out(out_bytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(), U(data),
                     data.size(), U(key), key.size());
  return out;
}

Blake2bHasher::Blake2bHasher(size_t out_bytes, std::string_view key) : out_bytes_(out_bytes) {
  EnsureSodium();
  crypto_generichash_init(State(state_), key.empty() ? nullptr : U(key), key.size(), out_bytes);
}

Blake2bHasher& Blake2bHasher::Update(std::string_view bytes) {
  crypto_generichash_update(State(state_), U(bytes), bytes.size());
  return *this;
}

std::string Blake2bHasher::Final() {
  std::string out(out_bytes_, '\0');
  crypto_generichash_final(State(state_), reinterpret_cast<unsigned char*>(out.data()),
                           out.size());
  return out;
}

std::string HashHex(std::string_view bytes) {
  std::string hex(2 * bytes.size() + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), U(bytes), bytes.size());
  hex.pop_back();
  return hex;
}

}  // namespace fieldsync::crypto
