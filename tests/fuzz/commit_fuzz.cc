// libFuzzer target: the canonical commit codec (sync-core/change/commit_codec.h).
// DecodeCommit on every input; on success ValidateCommit against the
// field-office schema, and the codec's promise Encode(Decode(b)) == b.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "change/commit.h"
#include "change/commit_codec.h"
#include "schema/schema.h"
#include "schema/validate_commit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fieldsync;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Commit> c = DecodeCommit(in);
  if (!c.ok()) return 0;
  (void)ValidateCommit(FieldOfficeSchema(), *c);
  (void)c->Name();
  const std::string again = EncodeCommit(*c);
  if (again != in) __builtin_trap();  // the decoder accepted a non-canonical form
  return 0;
}
