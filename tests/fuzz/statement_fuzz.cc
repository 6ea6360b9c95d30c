// libFuzzer target: statements (sync-core/crypto/statement.h), which a hub
// relays from other laptops and a laptop decodes before checking anything.
// DecodeStatement on every input; VerifyStatement against the fixed signer
// of the seeds (fuzz_fixtures.h) and against an unrelated 32-byte key.
//
// Properties checked (trap if broken):
//   - a statement that decodes is at most 8 KB, holds at most 128 heads,
//     sorted by author with no repeat and no seq 0, 32-byte links, and at
//     most 16 refused ranges in ascending order;
//   - decoding is canonical: signing the decoded statement with the fixed
//     signer gives back the input's bytes before its signature;
//   - nothing verifies under an unrelated key.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/statement.h"
#include "fuzz_fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fieldsync;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<crypto::Statement> s = crypto::DecodeStatement(in);
  const std::string unrelated(32, '\x5A');
  if (crypto::VerifyStatement(in, unrelated).ok()) __builtin_trap();
  if (!s.ok()) return 0;
  if (in.size() > crypto::kMaxStatementBytes) __builtin_trap();
  if (s->heads.size() > crypto::kMaxStatedHeads) __builtin_trap();
  for (size_t i = 0; i < s->heads.size(); ++i) {
    if (s->heads[i].seq == 0 || s->heads[i].link.size() != 32) __builtin_trap();
    if (i > 0 && !(s->heads[i - 1].author < s->heads[i].author)) __builtin_trap();
  }
  if (s->refused.size() > crypto::kMaxStatedRefusedRanges) __builtin_trap();
  uint64_t after = 0;
  for (const crypto::StatedRange& r : s->refused) {
    if (r.first == 0 || r.first > r.last || r.first <= after) __builtin_trap();
    after = r.last;
  }
  // Canonical: the fixed signer's encoding of the decoded fields is the
  // input's body (when the statement names that signer).
  const crypto::DeviceIdentity& signer = fuzz::FixedSigner();
  if (s->signer == signer.device()) {
    absl::StatusOr<std::string> again = crypto::SignStatement(signer, *s);
    if (!again.ok()) __builtin_trap();
    if (again->substr(0, again->size() - 64) != in.substr(0, in.size() - 64)) __builtin_trap();
  }
  (void)crypto::VerifyStatement(in, signer.public_keys().sign_pk);
  return 0;
}
