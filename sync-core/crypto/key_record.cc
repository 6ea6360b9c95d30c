#include "crypto/key_record.h"

#include <sodium.h>

#include <array>
#include <cstring>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "base/utf8.h"
#include "crypto/bytes.h"

namespace fieldsync::crypto {

namespace {

constexpr size_t kShareSealedBytes = 16 + 32 + crypto_box_SEALBYTES;        // 96
constexpr size_t kDataKeySealedBytes = 16 + 4 + 32 + crypto_box_SEALBYTES;  // 100
constexpr size_t kOfficeDataKeySealedBytes = 24 + 16 + 4 + 32 + 16;         // 92
constexpr std::string_view kWrapKeyDomain = "fieldsync office wrap key v1";

SecretBytes WrapKey(const SecretBytes& office_secret) {
  SecretBytes k(32);
  crypto_generichash(k.data(), k.size(), reinterpret_cast<const unsigned char*>(kWrapKeyDomain.data()),
                     kWrapKeyDomain.size(), office_secret.data(), office_secret.size());
  return k;
}

SecretBytes DataKeyPlain(const RowId& keyring, uint32_t key_version, const SecretBytes& data_key) {
  SecretBytes plain(52);
  std::memcpy(plain.data(), keyring.data(), 16);
  for (int i = 0; i < 4; ++i) plain.data()[16 + i] = static_cast<uint8_t>(key_version >> (24 - 8 * i));
  std::memcpy(plain.data() + 20, data_key.data(), 32);
  return plain;
}
static_assert(kShareSealedBytes == 96 && kDataKeySealedBytes == 100);

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Id16 IdOf(std::string_view raw) {
  std::array<uint8_t, 16> b{};
  if (raw.size() == 16) std::memcpy(b.data(), raw.data(), 16);
  return Id16(b);
}

std::string EncodeUnsigned(const KeyRecord& r) {
  std::string out;
  ByteWriter w(&out);
  w.U8(kKeyRecordMagic);
  w.U8(kKeyRecordVersion);
  w.U8(static_cast<uint8_t>(r.kind));
  w.Raw(r.signer.view());
  w.U64(r.created.packed());
  switch (r.kind) {
    case KeyRecordKind::kOfficeKey:
      w.Short(r.province);
      w.U32(r.generation);
      w.Raw(r.office_key_id.view());
      w.Raw(r.office_pk);
      break;
    case KeyRecordKind::kOfficeShare:
      w.Short(r.province);
      w.U32(r.generation);
      w.Raw(r.office_key_id.view());
      w.Raw(r.recipient.view());
      w.Raw(r.sealed);
      break;
    case KeyRecordKind::kDataKey:
      w.Raw(r.keyring.view());
      w.U32(r.key_version);
      w.Short(r.province);
      w.Raw(r.office_key_id.view());
      w.U8(static_cast<uint8_t>(r.purpose));
      w.Raw(r.sealed);
      break;
    case KeyRecordKind::kErasure:
      w.Raw(r.keyring.view());
      break;
    case KeyRecordKind::kOfficeDataKey:
      w.Raw(r.keyring.view());
      w.U32(r.key_version);
      w.Short(r.province);
      w.Raw(r.office_key_id.view());
      w.Raw(r.sealed);
      break;
    case KeyRecordKind::kMembership:
      w.Short(r.province);
      w.U8(static_cast<uint8_t>(r.action));
      w.Raw(r.subject.device.view());
      w.Raw(r.subject.sign_pk);
      w.Raw(r.subject.box_pk);
      w.U8(static_cast<uint8_t>(r.kept.size()));
      for (const std::string& k : r.kept) w.Raw(k);
      break;
  }
  return out;
}

// Kind 5's additional data: the record up to its sealed part.
std::string OfficeDataKeyAad(const KeyRecord& r) {
  KeyRecord head = r;
  head.sealed.clear();
  return EncodeUnsigned(head);
}

absl::StatusOr<KeyRecord> Finish(const DeviceIdentity& signer, KeyRecord r) {
  r.signer = signer.device();
  std::string body = EncodeUnsigned(r);
  absl::StatusOr<std::string> signature = signer.Sign(kKeyRecordSignDomain, body);
  if (!signature.ok()) return signature.status();
  r.signature = *std::move(signature);
  r.bytes = body + r.signature;
  return r;
}

std::string SealTo(std::string_view recipient_pk, const SecretBytes& plain) {
  std::string sealed(plain.size() + crypto_box_SEALBYTES, '\0');
  crypto_box_seal(reinterpret_cast<unsigned char*>(sealed.data()), plain.data(), plain.size(),
                  U(recipient_pk));
  return sealed;
}

}  // namespace

std::string_view KeyRecordKindName(KeyRecordKind k) {
  switch (k) {
    case KeyRecordKind::kOfficeKey: return "office key";
    case KeyRecordKind::kOfficeShare: return "office key share";
    case KeyRecordKind::kDataKey: return "data key";
    case KeyRecordKind::kErasure: return "erasure";
    case KeyRecordKind::kOfficeDataKey: return "office data key";
    case KeyRecordKind::kMembership: return "membership";
  }
  return "unknown";
}

std::optional<KeyRecordKind> KeyRecordKindOf(int64_t stored) {
  if (stored < 1 || stored > kMaxKeyRecordKind) return std::nullopt;
  return static_cast<KeyRecordKind>(stored);
}

std::string KindsSql(std::initializer_list<KeyRecordKind> kinds) {
  std::string out;
  for (KeyRecordKind k : kinds) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", static_cast<int>(k));
  }
  return out;
}

std::string_view MembershipActionName(MembershipAction a) {
  switch (a) {
    case MembershipAction::kFirstDevice: return "first device";
    case MembershipAction::kApprove: return "approval";
    case MembershipAction::kRemove: return "removal";
  }
  return "unknown";
}

std::string KeyRecord::Id() const {
  EnsureSodium();
  std::string id(16, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(id.data()), id.size(), U(bytes),
                     bytes.size(), nullptr, 0);
  return id;
}

std::string KeyRecord::Describe() const {
  std::string s(KeyRecordKindName(kind));
  if (!province.empty()) absl::StrAppend(&s, " of office ", AV(province));
  if (kind == KeyRecordKind::kOfficeKey || kind == KeyRecordKind::kOfficeShare) {
    absl::StrAppend(&s, " generation ", generation);
  }
  if (kind == KeyRecordKind::kDataKey || kind == KeyRecordKind::kErasure ||
      kind == KeyRecordKind::kOfficeDataKey) {
    absl::StrAppend(&s, " for ", keyring.ToString());
  }
  if (kind == KeyRecordKind::kDataKey || kind == KeyRecordKind::kOfficeDataKey) {
    absl::StrAppend(&s, " version ", key_version);
  }
  if (kind == KeyRecordKind::kMembership) {
    absl::StrAppend(&s, " (", AV(MembershipActionName(action)), " of device ",
                    subject.device.ToString(), ")");
  }
  absl::StrAppend(&s, ", signed by ", signer.ToString());
  return s;
}

absl::StatusOr<KeyRecord> ParseKeyRecord(std::string_view bytes) {
  ByteReader in(bytes, "key record");
  if (bytes.size() > kMaxKeyRecordBytes) {
    return absl::InvalidArgumentError(absl::StrCat("malformed key record: ", bytes.size(),
                                                   " bytes exceeds the limit of ",
                                                   kMaxKeyRecordBytes));
  }
  KeyRecord r;
  uint8_t magic = in.U8();
  if (in.ok() && magic != kKeyRecordMagic) in.Fail("not a key record (wrong magic byte)");
  uint8_t version = in.U8();
  if (in.ok() && version != kKeyRecordVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key record in format version ", version, "; this build reads version ",
        kKeyRecordVersion, " only: upgrade fieldsync"));
  }
  uint8_t kind = in.U8();
  if (in.ok() && (kind < 1 || kind > kMaxKeyRecordKind)) in.Fail(absl::StrCat("unknown kind ", kind));
  r.kind = static_cast<KeyRecordKind>(kind);
  r.signer = IdOf(in.Raw(16, "signer"));
  r.created = Hlc::FromPacked(in.U64());
  auto province = [&] {
    r.province = std::string(in.Short("province"));
    if (in.ok() && (r.province.empty() || r.province.size() > 64 ||
                    !IsValidUtf8(r.province))) {
      in.Fail("province must be 1 to 64 bytes of UTF-8");
    }
  };
  if (in.ok()) {
    switch (r.kind) {
      case KeyRecordKind::kOfficeKey:
        province();
        r.generation = in.U32();
        r.office_key_id = IdOf(in.Raw(16, "office key id"));
        r.office_pk = std::string(in.Raw(32, "office public key"));
        break;
      case KeyRecordKind::kOfficeShare:
        province();
        r.generation = in.U32();
        r.office_key_id = IdOf(in.Raw(16, "office key id"));
        r.recipient = IdOf(in.Raw(16, "recipient"));
        r.sealed = std::string(in.Raw(kShareSealedBytes, "sealed office key"));
        break;
      case KeyRecordKind::kDataKey: {
        r.keyring = IdOf(in.Raw(16, "key ring"));
        r.key_version = in.U32();
        province();
        r.office_key_id = IdOf(in.Raw(16, "office key id"));
        uint8_t purpose = in.U8();
        if (in.ok() && (purpose < 1 || purpose > 3)) {
          in.Fail(absl::StrCat("unknown data key purpose ", purpose));
        }
        r.purpose = static_cast<DataKeyPurpose>(purpose);
        r.sealed = std::string(in.Raw(kDataKeySealedBytes, "sealed data key"));
        break;
      }
      case KeyRecordKind::kErasure:
        r.keyring = IdOf(in.Raw(16, "key ring"));
        break;
      case KeyRecordKind::kOfficeDataKey:
        r.keyring = IdOf(in.Raw(16, "key ring"));
        r.key_version = in.U32();
        province();
        r.office_key_id = IdOf(in.Raw(16, "office key id"));
        r.sealed = std::string(in.Raw(kOfficeDataKeySealedBytes, "wrapped data key"));
        break;
      case KeyRecordKind::kMembership: {
        province();
        const uint8_t action = in.U8();
        if (in.ok() && (action < 1 || action > 3)) {
          in.Fail(absl::StrCat("unknown membership action ", action));
        }
        r.action = static_cast<MembershipAction>(action);
        r.subject.device = IdOf(in.Raw(16, "subject device"));
        r.subject.sign_pk = std::string(in.Raw(32, "subject Ed25519 key"));
        r.subject.box_pk = std::string(in.Raw(32, "subject X25519 key"));
        const uint8_t kept = in.U8();
        if (in.ok() && kept > kMaxKeptApprovals) {
          in.Fail(absl::StrCat("a removal keeps at most ", kMaxKeptApprovals, " approvals, not ",
                               kept));
        }
        if (in.ok() && kept > 0 && r.action != MembershipAction::kRemove) {
          in.Fail("only a removal keeps approvals");
        }
        for (uint8_t i = 0; in.ok() && i < kept; ++i) {
          r.kept.emplace_back(in.Raw(16, "kept approval id"));
        }
        break;
      }
    }
  }
  if (r.kind != KeyRecordKind::kOfficeDataKey) {
    r.signature = std::string(in.Raw(kSignatureBytes, "signature"));
  }
  in.ExpectEnd();
  if (!in.ok()) return in.status();
  if ((r.kind == KeyRecordKind::kOfficeKey || r.kind == KeyRecordKind::kOfficeShare) &&
      (r.generation == 0 || r.generation > kMaxOfficeGeneration)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed key record: office key generation ", r.generation, " (1 to ",
        kMaxOfficeGeneration, ")"));
  }
  if ((r.kind == KeyRecordKind::kDataKey || r.kind == KeyRecordKind::kOfficeDataKey) &&
      r.key_version == 0) {
    return absl::InvalidArgumentError("malformed key record: data key version 0");
  }
  if (r.kind == KeyRecordKind::kMembership &&
      (r.action == MembershipAction::kFirstDevice) != (r.subject.device == r.signer)) {
    return absl::InvalidArgumentError(
        r.action == MembershipAction::kFirstDevice
            ? "malformed key record: a first-device record must be signed by its subject"
            : "malformed key record: a device cannot approve or remove itself");
  }
  r.bytes = std::string(bytes);
  return r;
}

absl::Status VerifyKeyRecord(const KeyRecord& record, const DevicePublic& signer) {
  std::string what = absl::StrCat("key record (", record.Describe(), ")");
  if (record.signer != signer.device) {
    return absl::UnauthenticatedError(
        absl::StrCat(what, ": verified against device ", signer.device.ToString()));
  }
  if (record.kind == KeyRecordKind::kOfficeDataKey) {
    if (EncodeUnsigned(record) != record.bytes) {
      return absl::UnauthenticatedError(absl::StrCat(what, ": fields differ from its bytes"));
    }
    return absl::OkStatus();
  }
  if (record.bytes.size() < kSignatureBytes) {
    return absl::UnauthenticatedError(absl::StrCat(what, ": not encoded"));
  }
  std::string_view body(record.bytes.data(), record.bytes.size() - kSignatureBytes);
  // The fields parsed from the record must be what the signed bytes say.
  if (EncodeUnsigned(record) != body ||
      record.bytes.substr(record.bytes.size() - kSignatureBytes) != record.signature) {
    return absl::UnauthenticatedError(absl::StrCat(what, ": fields differ from its signed bytes"));
  }
  return VerifySignature(signer.sign_pk, kKeyRecordSignDomain, body, record.signature, what);
}

OfficeKey NewOfficeKey(const std::string& province, uint32_t generation) {
  EnsureSodium();
  OfficeKey k;
  k.id = Id16::NewRandom();
  k.province = province;
  k.generation = generation;
  k.public_key.resize(32);
  k.secret_key = SecretBytes(32);
  crypto_box_keypair(reinterpret_cast<unsigned char*>(k.public_key.data()), k.secret_key.data());
  return k;
}

absl::StatusOr<KeyRecord> OfficeKeyRecord(const DeviceIdentity& signer, Hlc created,
                                          const OfficeKey& key) {
  KeyRecord r;
  r.kind = KeyRecordKind::kOfficeKey;
  r.created = created;
  r.province = key.province;
  r.generation = key.generation;
  r.office_key_id = key.id;
  r.office_pk = key.public_key;
  return Finish(signer, std::move(r));
}

absl::StatusOr<KeyRecord> ShareOfficeKey(const DeviceIdentity& signer, Hlc created,
                                         const OfficeKey& key, const DevicePublic& recipient) {
  SecretBytes plain(48);
  std::memcpy(plain.data(), key.id.data(), 16);
  std::memcpy(plain.data() + 16, key.secret_key.data(), 32);
  KeyRecord r;
  r.kind = KeyRecordKind::kOfficeShare;
  r.created = created;
  r.province = key.province;
  r.generation = key.generation;
  r.office_key_id = key.id;
  r.recipient = recipient.device;
  r.sealed = SealTo(recipient.box_pk, plain);
  return Finish(signer, std::move(r));
}

absl::StatusOr<OfficeKey> OpenOfficeShare(const DeviceIdentity& me, const KeyRecord& share,
                                          const KeyRecord& office_key) {
  EnsureSodium();
  if (share.kind != KeyRecordKind::kOfficeShare || office_key.kind != KeyRecordKind::kOfficeKey) {
    return absl::InvalidArgumentError("not an office key share and its office key");
  }
  if (share.recipient != me.device()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "office key share is addressed to device ", share.recipient.ToString(), ", not this one"));
  }
  if (share.office_key_id != office_key.office_key_id || share.province != office_key.province ||
      share.generation != office_key.generation) {
    return absl::UnauthenticatedError("office key share does not match the office key it names");
  }
  if (share.sealed.size() != kShareSealedBytes) {
    return absl::UnauthenticatedError(absl::StrCat("office key share holds ", share.sealed.size(),
                                                   " sealed bytes, not ", kShareSealedBytes));
  }
  // Opened by the device's identity: here, or in the key agent.
  absl::StatusOr<SecretBytes> opened = me.OpenSealed(share.sealed);
  if (!opened.ok()) {
    if (opened.status().code() != absl::StatusCode::kUnauthenticated) return opened.status();
    return absl::UnauthenticatedError(
        "office key share does not open with this device's key (altered, or sealed to another)");
  }
  const SecretBytes& plain = *opened;
  if (plain.size() != 48) {
    return absl::UnauthenticatedError("office key share opened to the wrong length");
  }
  if (sodium_memcmp(plain.data(), office_key.office_key_id.data(), 16) != 0) {
    return absl::UnauthenticatedError("office key share holds the key of another office key id");
  }
  OfficeKey k;
  k.id = office_key.office_key_id;
  k.province = office_key.province;
  k.generation = office_key.generation;
  k.secret_key = SecretBytes::Copy(plain.view().substr(16, 32));
  k.public_key.resize(32);
  crypto_scalarmult_base(reinterpret_cast<unsigned char*>(k.public_key.data()),
                         k.secret_key.data());
  if (k.public_key != office_key.office_pk) {
    return absl::UnauthenticatedError(
        "office key share holds a secret key that does not match the office's public key");
  }
  return k;
}

absl::StatusOr<KeyRecord> WrapDataKey(const DeviceIdentity& signer, Hlc created,
                                      const RowId& keyring, uint32_t key_version,
                                      const SecretBytes& data_key, const KeyRecord& office_key,
                                      DataKeyPurpose purpose) {
  SecretBytes plain = DataKeyPlain(keyring, key_version, data_key);
  KeyRecord r;
  r.kind = KeyRecordKind::kDataKey;
  r.created = created;
  r.keyring = keyring;
  r.key_version = key_version;
  r.province = office_key.province;
  r.office_key_id = office_key.office_key_id;
  r.purpose = purpose;
  r.sealed = SealTo(office_key.office_pk, plain);
  return Finish(signer, std::move(r));
}

KeyRecord WrapDataKeyForOffice(const DeviceId& creator, Hlc created, const RowId& keyring,
                               uint32_t key_version, const SecretBytes& data_key,
                               const OfficeKey& office) {
  EnsureSodium();
  KeyRecord r;
  r.kind = KeyRecordKind::kOfficeDataKey;
  r.signer = creator;
  r.created = created;
  r.keyring = keyring;
  r.key_version = key_version;
  r.province = office.province;
  r.office_key_id = office.id;
  std::string aad = OfficeDataKeyAad(r);
  SecretBytes plain = DataKeyPlain(keyring, key_version, data_key);
  SecretBytes wrap = WrapKey(office.secret_key);
  r.sealed.resize(kOfficeDataKeySealedBytes);
  unsigned char* nonce = reinterpret_cast<unsigned char*>(r.sealed.data());
  randombytes_buf(nonce, 24);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + 24, &clen, plain.data(), plain.size(),
                                             U(aad), aad.size(), nullptr, nonce, wrap.data());
  r.bytes = EncodeUnsigned(r);
  return r;
}

absl::StatusOr<SecretBytes> OpenDataKey(const OfficeKey& office, const KeyRecord& wrap) {
  EnsureSodium();
  if (wrap.kind != KeyRecordKind::kDataKey && wrap.kind != KeyRecordKind::kOfficeDataKey) {
    return absl::InvalidArgumentError("not a data key");
  }
  if (wrap.office_key_id != office.id) {
    return absl::InvalidArgumentError("data key is sealed to another office key");
  }
  SecretBytes plain(52);
  if (wrap.kind == KeyRecordKind::kOfficeDataKey) {
    std::string aad = OfficeDataKeyAad(wrap);
    SecretBytes key = WrapKey(office.secret_key);
    unsigned long long plen = 0;
    if (wrap.sealed.size() != kOfficeDataKeySealedBytes ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            plain.data(), &plen, nullptr, U(wrap.sealed) + 24, wrap.sealed.size() - 24, U(aad),
            aad.size(), U(wrap.sealed), key.data()) != 0) {
      return absl::UnauthenticatedError(absl::StrCat(
          "office data key for ", wrap.keyring.ToString(), " version ", wrap.key_version,
          " does not open with office key generation ", office.generation,
          " (altered, or not made by a member of the office)"));
    }
  } else if (wrap.sealed.size() != kDataKeySealedBytes ||
      crypto_box_seal_open(plain.data(), U(wrap.sealed), wrap.sealed.size(), U(office.public_key),
                           office.secret_key.data()) != 0) {
    return absl::UnauthenticatedError(absl::StrCat(
        "data key for ", wrap.keyring.ToString(), " version ", wrap.key_version,
        " does not open with office key generation ", office.generation, " (altered)"));
  }
  uint32_t version = 0;
  for (int i = 0; i < 4; ++i) version = (version << 8) | plain.data()[16 + i];
  if (sodium_memcmp(plain.data(), wrap.keyring.data(), 16) != 0 || version != wrap.key_version) {
    return absl::UnauthenticatedError(absl::StrCat(
        "data key record for ", wrap.keyring.ToString(), " version ", wrap.key_version,
        " holds the key of another case or version (a replayed grant); refused"));
  }
  return SecretBytes::Copy(plain.view().substr(20, 32));
}

absl::StatusOr<KeyRecord> ErasureRecord(const DeviceIdentity& signer, Hlc created,
                                        const RowId& keyring) {
  KeyRecord r;
  r.kind = KeyRecordKind::kErasure;
  r.created = created;
  r.keyring = keyring;
  return Finish(signer, std::move(r));
}

absl::StatusOr<KeyRecord> MembershipRecord(const DeviceIdentity& signer, Hlc created,
                                           const std::string& province, MembershipAction action,
                                           const DevicePublic& subject,
                                           std::vector<std::string> kept) {
  KeyRecord r;
  r.kind = KeyRecordKind::kMembership;
  r.created = created;
  r.province = province;
  r.action = action;
  r.subject = subject;
  r.kept = std::move(kept);
  return Finish(signer, std::move(r));
}

}  // namespace fieldsync::crypto
