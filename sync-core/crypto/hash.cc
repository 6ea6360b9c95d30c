#include "crypto/hash.h"

#include <sodium.h>

#include "crypto/secret.h"

namespace fieldsync::crypto {
namespace {

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
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

}  // namespace fieldsync::crypto
