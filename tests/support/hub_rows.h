// The hub's rows as a test reads them, on either store (issue 15): hub.db
// or the PostgreSQL database a `.postgresql` suite gives its hub. Read
// through the hub's own storage interface (hub/storage.h), one snapshot a
// call, so that an assertion about what the hub holds -- a row stored
// sealed, the log, the access log, the state digest -- is the same
// assertion on both stores. Open it while the hub runs: it writes nothing.
#ifndef FIELDSYNC_TESTS_SUPPORT_HUB_ROWS_H_
#define FIELDSYNC_TESTS_SUPPORT_HUB_ROWS_H_

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "change/commit_codec.h"
#include "clock/clock_source.h"
#include "hub/pg/storage.h"
#include "hub/sqlite_storage.h"
#include "store/access_log.h"
#include "store/state_digest.h"

namespace fieldsync::testing {

class HubRows {
 public:
  // hub.db at `hub_db` if `pg_uri` is empty, else the PostgreSQL store.
  static absl::StatusOr<std::unique_ptr<HubRows>> Open(const std::string& hub_db,
                                                       const std::string& pg_uri) {
    std::unique_ptr<hub::HubStorage> s;
    if (pg_uri.empty()) {
      auto lite = hub::SqliteHubStorage::Open(hub_db, SystemClock::Get());
      if (!lite.ok()) return lite.status();
      s = *std::move(lite);
    } else {
      auto pg = hub::PostgresHubStorage::Open(pg_uri, SystemClock::Get());
      if (!pg.ok()) return pg.status();
      s = *std::move(pg);
    }
    return std::unique_ptr<HubRows>(new HubRows(std::move(s)));
  }

  absl::StatusOr<int64_t> LogHead() { return storage_->LogHead(); }

  // `body` in one read transaction of the hub's store: what the hub's own
  // reads (hub/scope.h ...) give, where the calls below do not say it.
  absl::Status Read(const std::function<absl::Status(hub::HubReadTxn&)>& body) {
    return storage_->Read(body);
  }

  // A row as Replica::Get gives it (values by declared column, NULL for a
  // field never written); nullopt if the hub holds none.
  absl::StatusOr<std::optional<Row>> Get(const std::string& table, const RowId& row) {
    std::optional<Row> out;
    absl::Status s = storage_->Read([&](hub::HubReadTxn& r) -> absl::Status {
      auto snap = r.ExportRow(table, row);
      if (!snap.ok()) return snap.status();
      if (!snap->has_value()) return absl::OkStatus();
      const TableDef& t = *r.schema().FindTable(table);
      Row got;
      got.id = row;
      got.values.assign(t.columns.size(), Value::Null());
      got.versions.assign(t.columns.size(), std::nullopt);
      for (const FieldState& f : (*snap)->fields) {
        if (f.column == kLiveColumn) {
          got.live = f.value == Value::Int(1);
          got.live_version = f.version;
          continue;
        }
        const int ci = t.ColumnIndex(f.column);
        if (ci < 0) return absl::InternalError("a field of no column: " + f.column);
        got.values[static_cast<size_t>(ci)] = f.value;
        got.versions[static_cast<size_t>(ci)] = f.version;
      }
      out = std::move(got);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  // A row as Replica::ExportRow gives it (its registers and conflict
  // records); nullopt if the hub holds none.
  absl::StatusOr<std::optional<RowSnapshot>> ExportRow(const std::string& table,
                                                       const RowId& row) {
    std::optional<RowSnapshot> out;
    absl::Status s = storage_->Read([&](hub::HubReadTxn& r) -> absl::Status {
      auto snap = r.ExportRow(table, row);
      if (!snap.ok()) return snap.status();
      out = *std::move(snap);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  // The ids of every row of `table` the hub holds, deleted ones included.
  absl::StatusOr<std::vector<RowId>> RowIds(const std::string& table) {
    std::vector<RowId> out;
    absl::Status s = storage_->Read([&](hub::HubReadTxn& r) {
      return r.ScanRows(table, {}, /*include_deleted=*/true,
                        [&](const RowId& id, bool, const std::vector<Value>&) {
                          out.push_back(id);
                          return absl::OkStatus();
                        });
    });
    if (!s.ok()) return s;
    return out;
  }

  // The conflict records the hub keeps on a row, as Replica::Conflicts
  // gives them (none for a row it does not hold).
  absl::StatusOr<std::vector<ConflictRecord>> Conflicts(const std::string& table,
                                                        const RowId& row) {
    std::vector<ConflictRecord> out;
    absl::Status s = storage_->Read([&](hub::HubReadTxn& r) -> absl::Status {
      auto snap = r.ExportRow(table, row);
      if (!snap.ok()) return snap.status();
      if (snap->has_value()) out = (*snap)->conflicts;
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  // The log after `after`, as Replica::LogAfter gives it: (position,
  // commit), at most `limit`.
  absl::StatusOr<std::vector<std::pair<int64_t, Commit>>> LogAfter(int64_t after, size_t limit) {
    std::vector<std::pair<int64_t, Commit>> out;
    absl::Status s = storage_->Read([&](hub::HubReadTxn& r) -> absl::Status {
      auto entries = r.LogEntriesAfter(after, limit);
      if (!entries.ok()) return entries.status();
      for (const hub::LogEntry& e : *entries) {
        auto c = DecodeCommit(e.body);
        if (!c.ok()) return c.status();
        out.emplace_back(e.position, *std::move(c));
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  // The log entry of the commit that wrote `version` (as
  // Replica::RawLogEntryAt finds it on a laptop); nullopt if none.
  absl::StatusOr<std::optional<hub::LogEntry>> LogEntryOf(const Version& version) {
    std::optional<hub::LogEntry> out;
    absl::Status s = storage_->Read([&](hub::HubReadTxn& r) -> absl::Status {
      auto got = r.CommitOfVersion(version);
      if (!got.ok()) return got.status();
      out = *std::move(got);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  // Every access-log entry the hub holds (store/access_log.h).
  absl::StatusOr<std::vector<AccessEntry>> AccessLog() {
    std::vector<AccessEntry> out;
    absl::Status s = storage_->Read([&](hub::HubReadTxn& r) -> absl::Status {
      auto got = ReadAccessLog(r);
      if (!got.ok()) return got.status();
      out = *std::move(got);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  // The bytes of every key record the hub holds (hub_keys), in seq order.
  absl::StatusOr<std::vector<std::string>> KeyRecords() {
    std::vector<std::string> out;
    absl::Status s = storage_->Read([&](hub::HubReadTxn& r) {
      return r.ForEachKeyRecordAfter(0, [&](const hub::StoredKeyRecord& k) {
        out.push_back(k.bytes);
        return absl::OkStatus();
      });
    });
    if (!s.ok()) return s;
    return out;
  }

  // Replica::StateDigest of the hub's rows: equal to a laptop's that holds
  // the same commits.
  absl::StatusOr<std::string> StateDigest() {
    StateHasher h;
    std::vector<ConflictRecord> conflicts;
    absl::Status s = storage_->Read([&](hub::HubReadTxn& r) -> absl::Status {
      for (const TableDef& t : r.schema().tables()) {
        const std::string table(t.name);
        h.Table(table);
        std::vector<RowId> ids;
        absl::Status scan = r.ScanRows(table, {}, /*include_deleted=*/true,
                                       [&](const RowId& id, bool, const std::vector<Value>&) {
                                         ids.push_back(id);
                                         return absl::OkStatus();
                                       });
        if (!scan.ok()) return scan;
        for (const RowId& id : ids) {
          auto snap = r.ExportRow(table, id);
          if (!snap.ok()) return snap.status();
          if (!snap->has_value()) return absl::InternalError("a row scanned but not exported");
          h.Row(id.view());
          for (size_t slot = 0; slot <= t.columns.size(); ++slot) {
            const std::string column =
                slot == 0 ? std::string(kLiveColumn) : std::string(t.columns[slot - 1].name);
            const FieldState* f = nullptr;
            for (const FieldState& g : (*snap)->fields) {
              if (g.column == column) f = &g;
            }
            if (f == nullptr) {
              h.Slot(Value::Null(), std::nullopt, std::nullopt);
            } else {
              h.Slot(f->value, f->version.version, f->version.base);
            }
          }
          for (const ConflictRecord& c : (*snap)->conflicts) conflicts.push_back(c);
        }
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    // In Replica::Conflicts' order: table, row, column, version.
    std::sort(conflicts.begin(), conflicts.end(),
              [](const ConflictRecord& a, const ConflictRecord& b) {
                return std::make_tuple(a.table, std::string(a.row.view()), a.column,
                                       static_cast<int64_t>(a.version.hlc.packed()),
                                       std::string(a.version.device.view())) <
                       std::make_tuple(b.table, std::string(b.row.view()), b.column,
                                       static_cast<int64_t>(b.version.hlc.packed()),
                                       std::string(b.version.device.view()));
              });
    h.Conflicts();
    for (const ConflictRecord& c : conflicts) {
      h.Conflict(c.table, c.row.view(), c.column, c.version, c.base, c.value);
    }
    return h.HexDigest();
  }

 private:
  explicit HubRows(std::unique_ptr<hub::HubStorage> s) : storage_(std::move(s)) {}
  std::unique_ptr<hub::HubStorage> storage_;
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_HUB_ROWS_H_
