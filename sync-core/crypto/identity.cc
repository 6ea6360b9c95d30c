#include "crypto/identity.h"

#include <sodium.h>

#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace fieldsync::crypto {

namespace {

// The payload that marks a KeysUnreachableError (absl::Status payloads are
// keyed by a type URL; nothing reads its value).
constexpr absl::string_view kKeysUnreachableUrl = "type.fieldsync/keys-unreachable";

std::string Message(std::string_view domain, std::string_view message) {
  std::string m;
  m.reserve(domain.size() + 1 + message.size());
  m.append(domain.data(), domain.size());
  m.push_back('\0');
  m.append(message.data(), message.size());
  return m;
}

}  // namespace

absl::Status CheckDevicePublic(const DevicePublic& pub) {
  if (pub.sign_pk.size() != kSignPublicBytes || pub.box_pk.size() != kBoxPublicBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "device ", pub.device.ToString(), " has malformed public keys (", pub.sign_pk.size(),
        " and ", pub.box_pk.size(), " bytes; 32 each expected)"));
  }
  if (sodium_is_zero(reinterpret_cast<const unsigned char*>(pub.box_pk.data()), 32)) {
    return absl::InvalidArgumentError(
        absl::StrCat("device ", pub.device.ToString(), " has an all-zero X25519 key"));
  }
  return absl::OkStatus();
}

DeviceIdentity DeviceIdentity::Generate(const DeviceId& device) {
  EnsureSodium();
  DeviceIdentity id;
  id.pub_.device = device;
  id.pub_.sign_pk.resize(kSignPublicBytes);
  id.pub_.box_pk.resize(kBoxPublicBytes);
  id.sign_sk_ = SecretBytes(kSignSecretBytes);
  id.box_sk_ = SecretBytes(kBoxSecretBytes);
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(id.pub_.sign_pk.data()),
                      id.sign_sk_.data());
  crypto_box_keypair(reinterpret_cast<unsigned char*>(id.pub_.box_pk.data()), id.box_sk_.data());
  return id;
}

absl::StatusOr<DeviceIdentity> DeviceIdentity::FromSecrets(const DeviceId& device,
                                                           std::string_view sign_sk,
                                                           std::string_view box_sk) {
  EnsureSodium();
  if (sign_sk.size() != kSignSecretBytes || box_sk.size() != kBoxSecretBytes) {
    return absl::InvalidArgumentError("device secret keys have the wrong length");
  }
  DeviceIdentity id;
  id.pub_.device = device;
  id.sign_sk_ = SecretBytes::Copy(sign_sk);
  id.box_sk_ = SecretBytes::Copy(box_sk);
  id.pub_.sign_pk.resize(kSignPublicBytes);
  id.pub_.box_pk.resize(kBoxPublicBytes);
  // An Ed25519 secret key is seed || public key: derive the public key from
  // the seed and refuse a key whose second half differs (signing with a
  // mismatched public key can leak the secret).
  {
    SecretBytes seed(crypto_sign_SEEDBYTES);
    SecretBytes derived_sk(kSignSecretBytes);
    crypto_sign_ed25519_sk_to_seed(seed.data(), id.sign_sk_.data());
    crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(id.pub_.sign_pk.data()),
                             derived_sk.data(), seed.data());
    if (sodium_memcmp(derived_sk.data(), id.sign_sk_.data(), kSignSecretBytes) != 0) {
      return absl::InvalidArgumentError(
          "the Ed25519 secret key is inconsistent (its public half does not match its seed)");
    }
  }
  crypto_scalarmult_base(reinterpret_cast<unsigned char*>(id.pub_.box_pk.data()),
                         id.box_sk_.data());
  return id;
}

absl::Status KeysUnreachableError(std::string_view message) {
  absl::Status s =
      absl::FailedPreconditionError(absl::string_view(message.data(), message.size()));
  s.SetPayload(kKeysUnreachableUrl, absl::Cord("1"));
  return s;
}

bool IsKeysUnreachable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         status.GetPayload(kKeysUnreachableUrl).has_value();
}

DeviceIdentity DeviceIdentity::Delegated(DevicePublic pub, std::shared_ptr<KeyOperations> ops) {
  DeviceIdentity id;
  id.pub_ = std::move(pub);
  id.ops_ = std::move(ops);
  return id;
}

namespace {
absl::Status NotHere() {
  return absl::FailedPreconditionError(
      "this device's secret keys are held by the key agent, not by this process");
}
}  // namespace

absl::StatusOr<std::string_view> DeviceIdentity::sign_secret() const {
  if (ops_) return NotHere();
  return sign_sk_.view();
}

absl::StatusOr<std::string_view> DeviceIdentity::box_secret() const {
  if (ops_) return NotHere();
  return box_sk_.view();
}

absl::StatusOr<std::string> SignWithSecret(std::string_view sign_sk, std::string_view domain,
                                           std::string_view message) {
  EnsureSodium();
  if (sign_sk.size() != kSignSecretBytes) {
    return absl::InvalidArgumentError("an Ed25519 secret key has 64 bytes");
  }
  std::string m = Message(domain, message);
  std::string sig(kSignatureBytes, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(m.data()), m.size(),
                       reinterpret_cast<const unsigned char*>(sign_sk.data()));
  return sig;
}

absl::StatusOr<SecretBytes> OpenSealedWithSecret(std::string_view box_pk, std::string_view box_sk,
                                                 std::string_view sealed) {
  EnsureSodium();
  if (box_pk.size() != kBoxPublicBytes || box_sk.size() != kBoxSecretBytes) {
    return absl::InvalidArgumentError("an X25519 key has 32 bytes");
  }
  if (sealed.size() < crypto_box_SEALBYTES) {
    return absl::UnauthenticatedError(absl::StrCat(
        "a sealed box of ", sealed.size(), " bytes is too short to open (", crypto_box_SEALBYTES,
        " at least)"));
  }
  SecretBytes plain(sealed.size() - crypto_box_SEALBYTES);
  // crypto_box_seal_open writes nothing for an empty plaintext; a zero-size
  // SecretBytes has no memory, so it gets a scratch byte.
  unsigned char scratch = 0;
  if (crypto_box_seal_open(plain.empty() ? &scratch : plain.data(),
                           reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                           reinterpret_cast<const unsigned char*>(box_pk.data()),
                           reinterpret_cast<const unsigned char*>(box_sk.data())) != 0) {
    return absl::UnauthenticatedError(
        "the sealed box does not open with this device's key (altered, or sealed to another)");
  }
  return plain;
}

absl::StatusOr<std::string> DeviceIdentity::Sign(std::string_view domain,
                                                 std::string_view message) const {
  if (ops_) return ops_->Sign(domain, message);
  return SignWithSecret(sign_sk_.view(), domain, message);
}

absl::StatusOr<SecretBytes> DeviceIdentity::OpenSealed(std::string_view sealed) const {
  if (ops_) return ops_->OpenSealed(sealed);
  return OpenSealedWithSecret(pub_.box_pk, box_sk_.view(), sealed);
}

DeviceIdentity DeviceIdentity::Clone() const {
  DeviceIdentity id;
  id.pub_ = pub_;
  if (ops_) {
    id.ops_ = ops_;
  } else {
    id.sign_sk_ = sign_sk_.Clone();
    id.box_sk_ = box_sk_.Clone();
  }
  return id;
}

absl::Status VerifySignature(std::string_view sign_pk, std::string_view domain,
                             std::string_view message, std::string_view signature,
                             std::string_view what) {
  EnsureSodium();
  if (sign_pk.size() != kSignPublicBytes) {
    return absl::UnauthenticatedError(
        absl::StrCat(AV(what), ": no valid signing key is known for its author"));
  }
  if (signature.size() != kSignatureBytes) {
    return absl::UnauthenticatedError(absl::StrCat(
        AV(what), ": signature missing or malformed (", signature.size(), " bytes, 64 expected)"));
  }
  std::string m = Message(domain, message);
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                  reinterpret_cast<const unsigned char*>(m.data()), m.size(),
                                  reinterpret_cast<const unsigned char*>(sign_pk.data())) != 0) {
    return absl::UnauthenticatedError(absl::StrCat(
        AV(what), ": signature does not verify against its author's key (forged or altered)"));
  }
  return absl::OkStatus();
}

std::string Fingerprint(const DevicePublic& pub) {
  EnsureSodium();
  unsigned char h[20];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof h);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(pub.sign_pk.data()),
                            pub.sign_pk.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(pub.box_pk.data()),
                            pub.box_pk.size());
  crypto_generichash_final(&st, h, sizeof h);
  std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(h), sizeof h));
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 8) {
    if (!out.empty()) out.push_back('-');
    out += hex.substr(i, 8);
  }
  return out;
}

}  // namespace fieldsync::crypto
