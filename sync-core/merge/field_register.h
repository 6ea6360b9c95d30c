// One field merged in memory with DecideField: the reference model of what
// the replica stores for a field (winner, its value, conflict records). Used
// by tests to check the rule on every delivery order, and by anything that
// needs to merge without a database.
#ifndef FIELDSYNC_MERGE_FIELD_REGISTER_H_
#define FIELDSYNC_MERGE_FIELD_REGISTER_H_

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "merge/merge.h"

namespace fieldsync {

struct RegisterWrite {
  Version version;
  Value value;
  std::optional<Version> base;
  std::vector<Version> resolves;
};

class FieldRegister {
 public:
  void Apply(const RegisterWrite& w);

  const std::optional<FieldVersion>& current() const { return current_; }
  const Value& value() const { return value_; }
  // Conflict records: version -> losing value, ordered by version.
  const std::map<Version, Value>& conflicts() const { return conflicts_; }

 private:
  std::optional<FieldVersion> current_;
  Value value_;
  std::map<Version, Value> conflicts_;
  // Every version applied, so redelivery is recognised (the replica does the
  // same per commit, with each device's sequence numbers).
  std::set<Version> seen_;
};

}  // namespace fieldsync

#endif  // FIELDSYNC_MERGE_FIELD_REGISTER_H_
