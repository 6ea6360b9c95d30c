#include "merge/field_register.h"

namespace fieldsync {

void FieldRegister::Apply(const RegisterWrite& w) {
  if (!seen_.insert(w.version).second) return;  // redelivery
  if (w.base) conflicts_.erase(*w.base);
  for (const Version& r : w.resolves) conflicts_.erase(r);
  const MergeDecision d = DecideField(current_, IncomingWrite{w.version, &w.base, &w.resolves});
  if (d.conflict == ConflictAction::kKeepCurrent) conflicts_[current_->version] = value_;
  if (d.conflict == ConflictAction::kKeepIncoming) conflicts_[w.version] = w.value;
  if (d.incoming_wins) {
    current_ = FieldVersion{w.version, w.base};
    value_ = w.value;
  }
}

}  // namespace fieldsync
