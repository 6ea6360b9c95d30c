#include "merge/merge.h"

#include <algorithm>

namespace fieldsync {

bool Supersedes(const std::optional<Version>& base, const std::vector<Version>& resolves,
                const Version& v) {
  if (base && *base == v) return true;
  return std::find(resolves.begin(), resolves.end(), v) != resolves.end();
}

MergeDecision DecideField(const std::optional<FieldVersion>& current, const IncomingWrite& in) {
  if (!current) return {true, ConflictAction::kNone};
  if (in.version == current->version) return {false, ConflictAction::kNone};
  if (in.version > current->version) {
    const bool seen = Supersedes(*in.base, *in.resolves, current->version);
    return {true, seen ? ConflictAction::kNone : ConflictAction::kKeepCurrent};
  }
  // The incoming write loses. It was concurrent unless the current winner's
  // author had seen it (possible only if delivery was not causal).
  const bool seen = current->base && *current->base == in.version;
  return {false, seen ? ConflictAction::kNone : ConflictAction::kKeepIncoming};
}

}  // namespace fieldsync
