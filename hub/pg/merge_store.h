// The merge's storage primitives on PostgreSQL (merge/commit_merge.h,
// MergeStore and MergeRow; docs/POSTGRES.md, "Schema, version 2"): a row's
// field registers (hub_fields), its open conflict records (hub_conflicts),
// the log (hub_log) with positions after the head the caller locked, and
// each author's commits held (hub_authors). No merge rule here: the engine
// (merge/commit_merge.cc) runs over it as over the SQLite replica.
//
// Used inside one write transaction the caller holds, after it took
// `SELECT position FROM hub_log_head FOR UPDATE` (PgWriteView::
// MergeTransaction): positions are head+1, head+2 ...; the caller stores
// head() back before committing. HeldSeq() and Knows() cannot return an
// error: a failed read is kept in error(), which the caller checks before
// committing (the transaction is then rolled back).
#ifndef FIELDSYNC_HUB_PG_MERGE_STORE_H_
#define FIELDSYNC_HUB_PG_MERGE_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hub/pg/connection.h"
#include "merge/commit_merge.h"

namespace fieldsync::hub::pg {

// A Value in the columns (kind, ival, sval) of hub_fields / hub_conflicts.
void AppendValue(const Value& v, std::vector<Param>* params);
// The Value of columns col, col+1, col+2 of `r`'s row `row`.
Value ValueAt(const Result& r, int row, int col);

// A row's registers as the merge holds them: whether the hub holds the
// row, and each slot's version and value (slot 0 the liveness register,
// 1 + i column i; no version and NULL where no register is held).
struct HeldRow {
  bool exists = false;
  std::vector<std::optional<FieldVersion>> versions;
  std::vector<Value> values;
};

class PgMergeRow : public MergeRow {
 public:
  PgMergeRow(Connection& conn, const TableDef& table, const RowId& row)
      : conn_(conn), table_(table), row_(row) {}
  // Reads the row's registers (and values) from the database.
  absl::Status Load();
  // Or takes them as held already (PgMergeStore::PrefetchRows).
  void LoadFrom(const HeldRow& held);
  // Its registers now (after Store(): with what it wrote).
  HeldRow Held() const;

  bool exists() const override { return exists_; }
  std::optional<FieldVersion> Current(size_t slot) const override;
  absl::StatusOr<Value> CurrentValue(size_t slot) override;
  absl::Status DropConflicts(size_t slot, const std::optional<Version>& base,
                             const std::vector<Version>& resolves) override;
  absl::Status KeepConflict(size_t slot, const Version& version,
                            const std::optional<Version>& base, const Value& value) override;
  absl::Status Win(size_t slot, const Version& version, const std::optional<Version>& base,
                   const Value& value) override;

  // Writes the winners (and the row, if new).
  absl::Status Store();
  const TableDef& table() const { return table_; }
  const RowId& id() const { return row_; }

 private:
  std::string Column(size_t slot) const;
  struct Slot {
    std::optional<FieldVersion> version;
    Value value;
    const Value* written = nullptr;  // the new winner's value, stored by Store()
  };
  Connection& conn_;
  const TableDef& table_;
  const RowId row_;
  bool exists_ = false;
  std::vector<Slot> slots_;
};

class PgMergeStore : public MergeStore {
 public:
  PgMergeStore(Connection& conn, const Schema& schema, HybridClock& clock,
               const DeviceId& self, int64_t head)
      : conn_(conn), schema_(schema), clock_(clock), self_(self), head_(head) {}

  const Schema& schema() const override { return schema_; }
  HybridClock& clock() override { return clock_; }
  uint64_t HeldSeq(const DeviceId& author) override;
  bool Knows(const Version& v) override;
  absl::StatusOr<bool> RowExists(size_t table, const RowId& row) override;
  absl::StatusOr<MergeRow*> OpenRow(const Commit& commit, size_t change, size_t table,
                                    const RowId& row) override;
  absl::Status StoreRow(MergeRow& row) override;
  absl::StatusOr<int64_t> AppendLog(const Commit& commit) override;
  absl::Status PassOver(const DeviceId& author, uint64_t seq) override;

  // Reads the registers of `rows` (table, row), a query a table, and keeps
  // them for the transaction: OpenRow takes them from here, StoreRow keeps
  // what it wrote, Held answers the hub's reads of them. Nothing else
  // writes hub_rows or hub_fields in the transaction (the merge's own
  // rows), and the caller holds the log head's lock.
  absl::Status PrefetchRows(const std::set<std::pair<std::string, RowId>>& rows);
  // A row prefetched or opened by the merge, as held now; null otherwise.
  using HeldRow = pg::HeldRow;
  const HeldRow* Held(const std::string& table, const RowId& row) const;

  // The log's last position after what was appended.
  int64_t head() const { return head_; }
  // The first failed read of HeldSeq() or Knows() (OK if none).
  const absl::Status& error() const { return error_; }

 private:
  struct Author {
    uint64_t held_seq = 0;
    uint64_t max_hlc = 0;
  };
  // The author's entry, read once per transaction; nullptr after an error.
  Author* AuthorOf(const DeviceId& device);

  Connection& conn_;
  const Schema& schema_;
  HybridClock& clock_;
  const DeviceId self_;
  int64_t head_;
  absl::Status error_;
  std::map<DeviceId, Author> authors_;
  std::optional<PgMergeRow> open_;
  std::map<std::pair<std::string, RowId>, HeldRow> held_;
  std::string body_buf_;
};

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_MERGE_STORE_H_
