// Helpers shared by the crypto tests (tests/crypto/*.cc): hex, fixed ids,
// and independent re-implementations of the documented byte formats
// (sync-core/crypto/*.h), so the tests check the code against what the
// headers say rather than against itself.
#ifndef FIELDSYNC_TESTS_CRYPTO_CRYPTO_TEST_UTIL_H_
#define FIELDSYNC_TESTS_CRYPTO_CRYPTO_TEST_UTIL_H_

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "base/strings.h"
#include "change/id.h"
#include "crypto/envelope.h"
#include "crypto/identity.h"
#include "crypto/key_record.h"
#include "crypto/secret.h"
#include "support/must.h"

namespace fieldsync::crypto_test {

inline std::string Hex(std::string_view bytes) { return absl::BytesToHexString(AV(bytes)); }
inline std::string Unhex(std::string_view hex) { return absl::HexStringToBytes(AV(hex)); }

// 16 bytes first, first+1, ..., first+15 (mod 256).
inline Id16 FixedId(uint8_t first) {
  std::array<uint8_t, Id16::kSize> b;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(first + i);
  return Id16(b);
}

inline Id16 IdFromHex(std::string_view hex) {
  std::string raw = Unhex(hex);
  std::array<uint8_t, Id16::kSize> b{};
  for (size_t i = 0; i < b.size() && i < raw.size(); ++i) b[i] = static_cast<uint8_t>(raw[i]);
  return Id16(b);
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A device identity from fixed secrets: the Ed25519 key pair of a 32-byte
// seed (crypto_sign_seed_keypair) and an X25519 secret key, all as hex.
inline crypto::DeviceIdentity IdentityFromSeeds(std::string_view device_hex,
                                                std::string_view sign_seed_hex,
                                                std::string_view box_secret_hex) {
  crypto::EnsureSodium();
  const std::string seed = Unhex(sign_seed_hex);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  std::string sk(crypto_sign_SECRETKEYBYTES, '\0');
  crypto_sign_seed_keypair(pk, reinterpret_cast<unsigned char*>(sk.data()), U(seed));
  absl::StatusOr<crypto::DeviceIdentity> id =
      crypto::DeviceIdentity::FromSecrets(IdFromHex(device_hex), sk, Unhex(box_secret_hex));
  sodium_memzero(sk.data(), sk.size());
  if (!id.ok()) std::abort();
  return std::move(*id);
}

// ---- The sealed field envelope, as envelope.h documents it. ----

// BLAKE2b-256 keyed with the data key over "fieldsync field key v1" 0x00
// table 0x00 column.
inline std::string SpecFieldKey(std::string_view data_key, std::string_view table,
                                std::string_view column) {
  std::string msg = "fieldsync field key v1";
  msg.push_back('\0');
  msg.append(table.data(), table.size());
  msg.push_back('\0');
  msg.append(column.data(), column.size());
  std::string k(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(k.data()), k.size(), U(msg), msg.size(),
                     U(data_key), data_key.size());
  return k;
}

// BLAKE2b-256 keyed with the field key over "fieldsync key commitment v1" || nonce.
inline std::string SpecCommitment(std::string_view field_key, std::string_view nonce) {
  std::string msg = "fieldsync key commitment v1";
  msg.append(nonce.data(), nonce.size());
  std::string c(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(c.data()), c.size(), U(msg), msg.size(),
                     U(field_key), field_key.size());
  return c;
}

inline void PutU32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline void PutU64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline void PutShort(std::string* out, std::string_view s) {
  out->push_back(static_cast<char>(s.size()));
  out->append(s.data(), s.size());
}

// "fieldsync sealed field v1" 0x00, the 78 header bytes, then table, row id,
// column, HLC and author (strings length first).
inline std::string SpecAad(std::string_view header, const crypto::FieldContext& w) {
  std::string aad = "fieldsync sealed field v1";
  aad.push_back('\0');
  aad.append(header.data(), header.size());
  PutShort(&aad, w.table);
  aad.append(w.row.view().data(), 16);
  PutShort(&aad, w.column);
  PutU64(&aad, w.hlc.packed());
  aad.append(w.author.view().data(), 16);
  return aad;
}

inline std::string SpecHeader(const RowId& keyring, uint32_t key_version, std::string_view nonce,
                              std::string_view commitment) {
  std::string h;
  h.push_back(static_cast<char>(crypto::kEnvelopeMagic));
  h.push_back(static_cast<char>(crypto::kEnvelopeVersion));
  h.append(keyring.view().data(), 16);
  PutU32(&h, key_version);
  h.append(nonce.data(), nonce.size());
  h.append(commitment.data(), commitment.size());
  return h;
}

// The plaintext: kind byte, payload, ISO/IEC 7816-4 padding (0x80 then
// zeros) to PaddedLength(1 + payload).
inline std::string SpecPlaintext(uint8_t kind, std::string_view payload) {
  std::string p;
  p.push_back(static_cast<char>(kind));
  p.append(payload.data(), payload.size());
  size_t padded = crypto::PaddedLength(p.size());
  p.push_back(static_cast<char>(0x80));
  p.resize(padded, '\0');
  return p;
}

// An envelope built from the documentation with raw libsodium: header
// (with `commitment` as given), AEAD of `padded_plain` under `field_key`.
inline std::string SpecSeal(std::string_view field_key, const RowId& keyring, uint32_t key_version,
                            std::string_view nonce, std::string_view commitment,
                            const crypto::FieldContext& w, std::string_view padded_plain) {
  std::string out = SpecHeader(keyring, key_version, nonce, commitment);
  std::string aad = SpecAad(out, w);
  size_t header = out.size();
  out.resize(header + padded_plain.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(out.data()) + header,
                                             &clen, U(padded_plain), padded_plain.size(), U(aad),
                                             aad.size(), nullptr, U(nonce), U(field_key));
  return out;
}

// ---- Key records, as key_record.h documents them. ----

// Every byte before the signature (the whole record for kind 5, which has none).
inline std::string SpecKeyRecordBody(const crypto::KeyRecord& r) {
  std::string out;
  out.push_back(static_cast<char>(crypto::kKeyRecordMagic));
  out.push_back(static_cast<char>(crypto::kKeyRecordVersion));
  out.push_back(static_cast<char>(r.kind));
  out.append(r.signer.view().data(), 16);
  PutU64(&out, r.created.packed());
  switch (r.kind) {
    case crypto::KeyRecordKind::kOfficeKey:
      PutShort(&out, r.province);
      PutU32(&out, r.generation);
      out.append(r.office_key_id.view().data(), 16);
      out.append(r.office_pk);
      break;
    case crypto::KeyRecordKind::kOfficeShare:
      PutShort(&out, r.province);
      PutU32(&out, r.generation);
      out.append(r.office_key_id.view().data(), 16);
      out.append(r.recipient.view().data(), 16);
      out.append(r.sealed);
      break;
    case crypto::KeyRecordKind::kDataKey:
      out.append(r.keyring.view().data(), 16);
      PutU32(&out, r.key_version);
      PutShort(&out, r.province);
      out.append(r.office_key_id.view().data(), 16);
      out.push_back(static_cast<char>(r.purpose));
      out.append(r.sealed);
      break;
    case crypto::KeyRecordKind::kErasure:
      out.append(r.keyring.view().data(), 16);
      break;
    case crypto::KeyRecordKind::kOfficeDataKey:
      out.append(r.keyring.view().data(), 16);
      PutU32(&out, r.key_version);
      PutShort(&out, r.province);
      out.append(r.office_key_id.view().data(), 16);
      out.append(r.sealed);
      break;
    case crypto::KeyRecordKind::kMembership:
      PutShort(&out, r.province);
      out.push_back(static_cast<char>(r.action));
      out.append(r.subject.device.view().data(), 16);
      out.append(r.subject.sign_pk);
      out.append(r.subject.box_pk);
      out.push_back(static_cast<char>(r.kept.size()));
      for (const std::string& k : r.kept) out.append(k);
      break;
  }
  return out;
}

// `r` (kinds 1-4, 6) encoded by hand and signed by `signer` exactly as a
// legitimate device would sign it (the library keeps its encoder private).
inline crypto::KeyRecord SignByHand(const crypto::DeviceIdentity& signer, crypto::KeyRecord r) {
  r.signer = signer.device();
  std::string body = SpecKeyRecordBody(r);
  r.signature = Must(signer.Sign(crypto::kKeyRecordSignDomain, body));
  r.bytes = body + r.signature;
  return r;
}

}  // namespace fieldsync::crypto_test

#endif  // FIELDSYNC_TESTS_CRYPTO_CRYPTO_TEST_UTIL_H_
