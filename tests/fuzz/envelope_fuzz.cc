// libFuzzer target: the sealed field envelope (sync-core/crypto/envelope.h).
// ParseEnvelope on every input; on inputs that parse, OpenValue with a fixed
// data key at a fixed place (fuzz_fixtures.h), which the seeds were sealed
// for, so mutations of the header and body reach the commitment and AEAD
// checks and the seeds themselves reach the padding and value-kind code.
//
// Properties checked (trap if broken):
//   - a header that parses has a 24-byte nonce and a 32-byte commitment;
//   - OpenValue never opens what ParseEnvelope refuses;
//   - an opened value is never NULL (NULL is never sealed).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crypto/envelope.h"
#include "fuzz_fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fieldsync;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)crypto::LooksSealed(in);
  absl::StatusOr<crypto::EnvelopeHeader> h = crypto::ParseEnvelope(in);
  if (!h.ok()) {
    if (crypto::OpenValue(fuzz::FixedDataKey(), in, fuzz::FixedFieldContext()).ok()) {
      __builtin_trap();
    }
    return 0;
  }
  if (h->nonce.size() != 24 || h->commitment.size() != 32) __builtin_trap();
  if (size < crypto::kEnvelopeHeaderBytes + crypto::kEnvelopeTagBytes + 32) __builtin_trap();
  absl::StatusOr<Value> v = crypto::OpenValue(fuzz::FixedDataKey(), in, fuzz::FixedFieldContext());
  if (v.ok()) {
    if (v->is_null()) __builtin_trap();
    (void)v->DebugString();
  }
  return 0;
}
