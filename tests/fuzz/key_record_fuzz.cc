// libFuzzer target: key records (sync-core/crypto/key_record.h).
// ParseKeyRecord on every input; on records that parse, VerifyKeyRecord
// against the fixed signer of the seeds and against unrelated 32-byte keys;
// for data key records (kinds 3 and 5) OpenDataKey with the fixed office key,
// and for office key shares OpenOfficeShare with the fixed device as the
// recipient (all fixed keys: fuzz_fixtures.h).
//
// Properties checked (trap if broken):
//   - a parsed record keeps exactly the input bytes; kinds 1-4 carry a
//     64-byte signature, kind 5 (office data key) none;
//   - the parser accepts only the canonical encoding: re-encoding the parsed
//     fields gives the (signed) bytes back, so VerifyKeyRecord never answers
//     "fields differ from its (signed) bytes" for a record that parsed;
//   - a signed record (kinds 1-4) that verifies under the fixed signer does
//     not verify under unrelated keys;
//   - an opened data key is 32 bytes; an opened share holds the office key.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/strings.h"
#include "crypto/key_record.h"
#include "fuzz_fixtures.h"

namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The refusal for parsed fields that do not re-encode to the record's bytes.
// Matched at the end of the message only: the message quotes the record's
// province, which the fuzzer can make say anything.
bool SaysFieldsDiffer(const absl::Status& s) {
  const std::string_view m = fieldsync::SV(s.message());
  return s.code() == absl::StatusCode::kUnauthenticated &&
         (EndsWith(m, ": fields differ from its signed bytes") ||
          EndsWith(m, ": fields differ from its bytes"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fieldsync;
  using crypto::KeyRecordKind;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<crypto::KeyRecord> r = crypto::ParseKeyRecord(in);
  if (!r.ok()) return 0;
  const bool is_signed = r->kind != KeyRecordKind::kOfficeDataKey;
  if (r->bytes != in) __builtin_trap();
  if (r->signature.size() != (is_signed ? crypto::kSignatureBytes : 0)) __builtin_trap();
  (void)r->Id();
  (void)r->Describe();

  // Against the seeds' signer, under the record's own signer id (so the
  // check reaches the re-encoding and the signature).
  crypto::DevicePublic signer = fuzz::FixedSigner().public_keys();
  signer.device = r->signer;
  const absl::Status verified = crypto::VerifyKeyRecord(*r, signer);
  if (SaysFieldsDiffer(verified)) __builtin_trap();
  // Against any other 32-byte keys.
  const crypto::DevicePublic other{r->signer, fuzz::Filled(32, 0x42), fuzz::Filled(32, 0x43)};
  const absl::Status other_verified = crypto::VerifyKeyRecord(*r, other);
  if (SaysFieldsDiffer(other_verified)) __builtin_trap();
  if (is_signed && verified.ok() && other_verified.ok()) __builtin_trap();
  // The real signer id, as a caller that looked the signer up would pass.
  (void)crypto::VerifyKeyRecord(*r, fuzz::FixedSigner().public_keys());

  switch (r->kind) {
    case KeyRecordKind::kDataKey:
    case KeyRecordKind::kOfficeDataKey: {
      absl::StatusOr<crypto::SecretBytes> key = crypto::OpenDataKey(fuzz::FixedOfficeKey(), *r);
      if (key.ok() && key->size() != crypto::kDataKeyBytes) __builtin_trap();
      break;
    }
    case KeyRecordKind::kOfficeShare: {
      absl::StatusOr<crypto::OfficeKey> k =
          crypto::OpenOfficeShare(fuzz::FixedSigner(), *r, fuzz::FixedOfficeKeyRecord());
      if (k.ok() && k->public_key != fuzz::FixedOfficeKey().public_key) __builtin_trap();
      break;
    }
    default:
      break;
  }
  return 0;
}
