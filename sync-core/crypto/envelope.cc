#include "crypto/envelope.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "crypto/bytes.h"

namespace fieldsync::crypto {

namespace {

constexpr std::string_view kFieldKeyDomain = "fieldsync field key v1";
constexpr std::string_view kCommitmentDomain = "fieldsync key commitment v1";
constexpr std::string_view kAadDomain = "fieldsync sealed field v1";
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
static_assert(kNonceBytes == 24);
static_assert(kEnvelopeHeaderBytes == 2 + 16 + 4 + 24 + 32);

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A transient plaintext buffer: ordinary heap memory (a value is in clear
// in the caller's strings anyway), wiped when it goes.
class Scratch {
 public:
  explicit Scratch(size_t n) : b_(n, 0) {}
  ~Scratch() { sodium_memzero(b_.data(), b_.size()); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  uint8_t* data() { return b_.data(); }
  size_t size() const { return b_.size(); }

 private:
  std::vector<uint8_t> b_;
};

SecretBytes FieldKey(const SecretBytes& data_key, std::string_view table,
                     std::string_view column) {
  SecretBytes k(32);
  crypto_generichash_state st;
  crypto_generichash_init(&st, data_key.data(), data_key.size(), k.size());
  crypto_generichash_update(&st, U(kFieldKeyDomain), kFieldKeyDomain.size());
  const unsigned char zero = 0;
  crypto_generichash_update(&st, &zero, 1);
  crypto_generichash_update(&st, U(table), table.size());
  crypto_generichash_update(&st, &zero, 1);
  crypto_generichash_update(&st, U(column), column.size());
  crypto_generichash_final(&st, k.data(), k.size());
  sodium_memzero(&st, sizeof st);
  return k;
}

std::string Commitment(const SecretBytes& field_key, std::string_view nonce) {
  std::string c(32, '\0');
  crypto_generichash_state st;
  crypto_generichash_init(&st, field_key.data(), field_key.size(), c.size());
  crypto_generichash_update(&st, U(kCommitmentDomain), kCommitmentDomain.size());
  crypto_generichash_update(&st, U(nonce), nonce.size());
  crypto_generichash_final(&st, reinterpret_cast<unsigned char*>(c.data()), c.size());
  sodium_memzero(&st, sizeof st);
  return c;
}

std::string Aad(std::string_view header, const FieldContext& w) {
  std::string aad;
  ByteWriter out(&aad);
  out.Raw(kAadDomain);
  out.U8(0);
  out.Raw(header);
  out.Short(w.table);
  out.Raw(w.row.view());
  out.Short(w.column);
  out.U64(w.hlc.packed());
  out.Raw(w.author.view());
  return aad;
}

absl::Status CheckPlace(const FieldContext& w) {
  if (w.table.size() > 255 || w.column.size() > 255) {
    return absl::InvalidArgumentError("table or column name too long to seal");
  }
  return absl::OkStatus();
}

}  // namespace

size_t PaddedLength(size_t n) {
  size_t need = n + 1;  // at least one padding byte (0x80)
  for (size_t bucket : {32, 64, 128, 256}) {
    if (need <= bucket) return bucket;
  }
  return (need + 255) / 256 * 256;
}

bool LooksSealed(std::string_view bytes) {
  return !bytes.empty() && static_cast<uint8_t>(bytes[0]) == kEnvelopeMagic;
}

absl::StatusOr<EnvelopeHeader> ParseEnvelope(std::string_view bytes) {
  ByteReader in(bytes, "sealed value");
  uint8_t magic = in.U8();
  if (in.ok() && magic != kEnvelopeMagic) in.Fail("not a sealed value (wrong magic byte)");
  uint8_t version = in.U8();
  if (in.ok() && version != kEnvelopeVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sealed value in format version ", version, "; this build reads version ",
        kEnvelopeVersion, " only: upgrade fieldsync"));
  }
  EnvelopeHeader h;
  std::string_view ring = in.Raw(16, "key ring id");
  h.key_version = in.U32();
  h.nonce = std::string(in.Raw(kNonceBytes, "nonce"));
  h.commitment = std::string(in.Raw(32, "key commitment"));
  if (in.ok()) {
    std::array<uint8_t, 16> b;
    std::copy(ring.begin(), ring.end(), b.begin());
    h.keyring = RowId(b);
    size_t body = in.remaining();
    if (body < kEnvelopeTagBytes + 32) {
      in.Fail(absl::StrCat("ciphertext of ", body, " bytes is shorter than the smallest (48)"));
    } else if (body > kMaxSealedPlaintext + kEnvelopeTagBytes) {
      in.Fail(absl::StrCat("ciphertext of ", body, " bytes exceeds the limit"));
    } else if (PaddedLength(body - kEnvelopeTagBytes - 1) != body - kEnvelopeTagBytes) {
      in.Fail(absl::StrCat("ciphertext of ", body, " bytes is not a padding bucket"));
    }
  }
  if (!in.ok()) return in.status();
  return h;
}

absl::StatusOr<std::string> SealValueWithNonce(const SecretBytes& data_key, const RowId& keyring,
                                               uint32_t key_version, const FieldContext& where,
                                               const Value& value, std::string_view nonce) {
  EnsureSodium();
  if (data_key.size() != kDataKeyBytes) return absl::InternalError("data key of wrong length");
  if (nonce.size() != kNonceBytes) return absl::InternalError("nonce of wrong length");
  if (absl::Status s = CheckPlace(where); !s.ok()) return s;

  // The plaintext: kind, payload, padding -- built in guarded memory.
  // NULL (kind 0, no payload) is sealed like any value: an absent field
  // looks like a short one (docs/CRYPTO.md, "Absent values").
  size_t payload = value.kind() == Value::Kind::kInt ? 8
                   : value.is_null()                    ? 0
                                                        : value.str().size();
  if (payload > kMaxSealedValue) {
    return absl::InvalidArgumentError(absl::StrCat(
        AV(where.table), ".", AV(where.column), ": value of ", payload,
        " bytes is too long to seal (at most ", kMaxSealedValue, " bytes)"));
  }
  size_t padded = PaddedLength(payload + 1);
  Scratch plain(padded);
  plain.data()[0] = static_cast<uint8_t>(value.kind());
  if (value.kind() == Value::Kind::kInt) {
    uint64_t v = static_cast<uint64_t>(value.int_value());
    for (int i = 0; i < 8; ++i) plain.data()[1 + i] = static_cast<uint8_t>(v >> (56 - 8 * i));
  } else if (payload > 0) {
    std::memcpy(plain.data() + 1, value.str().data(), payload);
  }
  size_t padded_len = 0;
  if (sodium_pad(&padded_len, plain.data(), payload + 1, padded, padded) != 0 ||
      padded_len != padded) {
    return absl::InternalError("padding failed");
  }

  SecretBytes field_key = FieldKey(data_key, where.table, where.column);
  std::string out;
  out.reserve(kEnvelopeHeaderBytes + padded + kEnvelopeTagBytes);
  ByteWriter w(&out);
  w.U8(kEnvelopeMagic);
  w.U8(kEnvelopeVersion);
  w.Raw(keyring.view());
  w.U32(key_version);
  w.Raw(nonce);
  w.Raw(Commitment(field_key, nonce));
  std::string aad = Aad(out, where);
  out.resize(kEnvelopeHeaderBytes + padded + kEnvelopeTagBytes);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data()) + kEnvelopeHeaderBytes, &clen, plain.data(),
      padded, U(aad), aad.size(), nullptr, U(nonce), field_key.data());
  return out;
}

absl::StatusOr<std::string> SealValue(const SecretBytes& data_key, const RowId& keyring,
                                      uint32_t key_version, const FieldContext& where,
                                      const Value& value) {
  EnsureSodium();
  unsigned char nonce[kNonceBytes];
  randombytes_buf(nonce, sizeof nonce);
  return SealValueWithNonce(data_key, keyring, key_version, where, value,
                            std::string_view(reinterpret_cast<const char*>(nonce), sizeof nonce));
}

absl::StatusOr<Value> OpenValue(const SecretBytes& data_key, std::string_view sealed,
                                const FieldContext& where) {
  EnsureSodium();
  absl::StatusOr<EnvelopeHeader> h = ParseEnvelope(sealed);
  if (!h.ok()) return h.status();
  if (data_key.size() != kDataKeyBytes) return absl::InternalError("data key of wrong length");
  if (absl::Status s = CheckPlace(where); !s.ok()) return s;
  SecretBytes field_key = FieldKey(data_key, where.table, where.column);
  std::string expect = Commitment(field_key, h->nonce);
  if (sodium_memcmp(expect.data(), h->commitment.data(), 32) != 0) {
    return absl::UnauthenticatedError(absl::StrCat(
        AV(where.table), ".", AV(where.column),
        ": the key commitment does not match this field's key (moved from another field, "
        "sealed under another key, or its header was edited); not decrypted"));
  }
  std::string_view header = sealed.substr(0, kEnvelopeHeaderBytes);
  std::string_view body = sealed.substr(kEnvelopeHeaderBytes);
  std::string aad = Aad(header, where);
  Scratch plain(body.size() - kEnvelopeTagBytes);
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &plen, nullptr, U(body),
                                                 body.size(), U(aad), aad.size(),
                                                 U(h->nonce), field_key.data()) != 0) {
    return absl::UnauthenticatedError(absl::StrCat(
        AV(where.table), ".", AV(where.column),
        ": the sealed value does not authenticate here (moved from another row, case or "
        "version, or altered)"));
  }
  size_t unpadded = 0;
  if (sodium_unpad(&unpadded, plain.data(), plen, plen) != 0 || unpadded < 1) {
    return absl::InvalidArgumentError("sealed value has malformed padding");
  }
  uint8_t kind = plain.data()[0];
  std::string_view payload(reinterpret_cast<const char*>(plain.data()) + 1, unpadded - 1);
  switch (static_cast<Value::Kind>(kind)) {
    case Value::Kind::kNull:
      if (!payload.empty()) return absl::InvalidArgumentError("sealed NULL malformed");
      return Value::Null();
    case Value::Kind::kInt: {
      if (payload.size() != 8) return absl::InvalidArgumentError("sealed integer malformed");
      uint64_t v = 0;
      for (char c : payload) v = (v << 8) | static_cast<uint8_t>(c);
      return Value::Int(static_cast<int64_t>(v));
    }
    case Value::Kind::kText:
      return Value::Text(std::string(payload));
    case Value::Kind::kBytes:
      return Value::Bytes(std::string(payload));
    default:
      return absl::InvalidArgumentError("sealed value of unknown kind");
  }
}

}  // namespace fieldsync::crypto
