// The hash of a replicated state (Replica::StateDigest): every row of every
// table in schema order, rows in id order, each slot's value, version and
// base (slot 0 the liveness register), then every open conflict record in
// (table, row, column, version) order. Shared so that a state held
// elsewhere -- the hub's rows on PostgreSQL -- hashes the same way.
#ifndef FIELDSYNC_STORE_STATE_DIGEST_H_
#define FIELDSYNC_STORE_STATE_DIGEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "change/commit.h"
#include "change/value.h"
#include "crypto/hash.h"

namespace fieldsync {

class StateHasher {
 public:
  void Bytes(std::string_view b) {
    U64(b.size());
    h_.Update(b);
  }
  void U64(uint64_t v) {
    char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
    h_.Update(std::string_view(buf, sizeof(buf)));
  }
  void Val(const Value& v) {
    U64(static_cast<uint64_t>(v.kind()));
    if (v.kind() == Value::Kind::kInt) U64(static_cast<uint64_t>(v.int_value()));
    if (v.kind() == Value::Kind::kText || v.kind() == Value::Kind::kBytes) Bytes(v.str());
  }
  void Ver(const std::optional<Version>& v) {
    U64(v ? 1 : 0);
    if (v) {
      U64(v->hlc.packed());
      Bytes(v->device.view());
    }
  }
  // A table's name, before its rows.
  void Table(std::string_view name) { Bytes(name); }
  // A row's id, before its slots.
  void Row(std::string_view id) { Bytes(id); }
  // One slot of the row: its value, its version and the version it replaced.
  void Slot(const Value& value, const std::optional<Version>& version,
            const std::optional<Version>& base) {
    Val(value);
    Ver(version);
    Ver(base);
  }
  // Before the conflict records.
  void Conflicts() { Bytes("_fs_conflicts"); }
  void Conflict(std::string_view table, std::string_view row, std::string_view column,
                const Version& version, const std::optional<Version>& base, const Value& value) {
    Bytes(table);
    Bytes(row);
    Bytes(column);
    Ver(version);
    Ver(base);
    Val(value);
  }
  std::string HexDigest() { return crypto::HashHex(h_.Final()); }

 private:
  crypto::Blake2bHasher h_;
};

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_STATE_DIGEST_H_
