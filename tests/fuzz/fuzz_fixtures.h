// Fixed keys and places shared by the fuzz targets (tests/fuzz/*_fuzz.cc) and
// the seed generator (make_seeds.cc). Everything here is deterministic, so a
// seed written by make_seeds opens, verifies and unwraps in the fuzz targets:
// the fuzzer starts from inputs that reach the code behind the cryptographic
// checks (padding, value kinds, data key unwrapping), not only the parsers.
//
// These keys are test constants: they protect nothing.
#ifndef FIELDSYNC_TESTS_FUZZ_FUZZ_FIXTURES_H_
#define FIELDSYNC_TESTS_FUZZ_FUZZ_FIXTURES_H_

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "clock/hlc.h"
#include "crypto/envelope.h"
#include "crypto/identity.h"
#include "crypto/key_record.h"
#include "crypto/secret.h"

namespace fieldsync::fuzz {

// The value of a StatusOr made with the fixed local keys (which cannot
// fail); else the status on stderr and abort.
template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "unexpected error: %s\n", std::string(v.status().message()).c_str());
    std::abort();
  }
  return *std::move(v);
}

inline Id16 FixedId(uint8_t fill) {
  std::array<uint8_t, 16> b;
  b.fill(fill);
  return Id16(b);
}

inline std::string Filled(size_t n, uint8_t fill) {
  return std::string(n, static_cast<char>(fill));
}

// The data key the envelope seeds are sealed under (32 bytes).
inline const crypto::SecretBytes& FixedDataKey() {
  static const crypto::SecretBytes* key =
      new crypto::SecretBytes(crypto::SecretBytes::Copy(Filled(crypto::kDataKeyBytes, 0x5D)));
  return *key;
}

inline const RowId& FixedKeyRing() {
  static const RowId* ring = new RowId(FixedId(0x4B));
  return *ring;
}
inline constexpr uint32_t kFixedKeyVersion = 3;

// The place the envelope seeds are sealed for: persons.full_name of row
// 0x01..., written at a fixed HLC by device 0xA1...
inline const crypto::FieldContext& FixedFieldContext() {
  static const RowId* row = new RowId(FixedId(0x01));
  static const DeviceId* author = new DeviceId(FixedId(0xA1));
  static const crypto::FieldContext* where = new crypto::FieldContext{
      "persons", *row, "full_name", Hlc::FromParts(1'764'000'000'000, 1), *author};
  return *where;
}

// A device identity from fixed secret keys (Ed25519 from a fixed seed, X25519
// from fixed bytes): it signs the key record seeds, and the fuzz target
// verifies against its public keys.
inline const crypto::DeviceIdentity& FixedSigner() {
  static const crypto::DeviceIdentity* id = [] {
    crypto::EnsureSodium();
    const std::string seed = Filled(crypto_sign_SEEDBYTES, 0x11);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(pk, sk, reinterpret_cast<const unsigned char*>(seed.data()));
    absl::StatusOr<crypto::DeviceIdentity> made = crypto::DeviceIdentity::FromSecrets(
        FixedId(0xD1), std::string_view(reinterpret_cast<const char*>(sk), sizeof sk),
        Filled(crypto::kBoxSecretBytes, 0x22));
    sodium_memzero(sk, sizeof sk);
    if (!made.ok()) std::abort();
    return new crypto::DeviceIdentity(std::move(*made));
  }();
  return *id;
}

// An office key pair from a fixed secret key: the data key seeds are sealed
// to it, so OpenDataKey opens them in the fuzz target.
inline const crypto::OfficeKey& FixedOfficeKey() {
  static const crypto::OfficeKey* key = [] {
    crypto::EnsureSodium();
    auto* k = new crypto::OfficeKey;
    k->id = FixedId(0x0F);
    k->province = "HN";
    k->generation = 2;
    k->secret_key = crypto::SecretBytes::Copy(Filled(32, 0x33));
    k->public_key.resize(32);
    crypto_scalarmult_base(reinterpret_cast<unsigned char*>(k->public_key.data()),
                           k->secret_key.data());
    return k;
  }();
  return *key;
}

inline constexpr uint64_t kFixedCreatedMillis = 1'764'000'000'000;

// The public record (kind 1) of FixedOfficeKey, signed by FixedSigner.
inline const crypto::KeyRecord& FixedOfficeKeyRecord() {
  static const crypto::KeyRecord* r = new crypto::KeyRecord(Must(crypto::OfficeKeyRecord(
      FixedSigner(), Hlc::FromParts(kFixedCreatedMillis, 0), FixedOfficeKey())));
  return *r;
}

}  // namespace fieldsync::fuzz

#endif  // FIELDSYNC_TESTS_FUZZ_FUZZ_FIXTURES_H_
