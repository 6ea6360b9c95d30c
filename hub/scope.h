// Scope: which records a province's nodes may see and write. The hub alone
// decides it (docs/PROTOCOL.md, "Scope"), from clear metadata of its own
// replica. The rules are here, once; the data is the storage's
// (hub/storage.h), which keeps it in tables such as these (the SQLite
// storage's, hub/sqlite_storage.cc):
//
//   hub_row_scope(tbl, row, owner, case_id, restricted, deleted_pos,
//                 deleted_at, ever_public)
//       per row: the owning province (the last non-empty `province` written;
//       a deleted row keeps it), the case a referral/consent belongs to,
//       whether a contact is restricted (and whether it ever was public:
//       then it stays visible to all), where and when it was deleted;
//   hub_public(tbl, row, position)
//       contacts created restricted and made public at `position`;
//   hub_moves(province, tbl, row, position)
//       a person moved to `province` (its office changed) at `position`,
//       the latest move kept: installed whole at the province's next pull
//       (session 24; made on open in hub.db, PostgreSQL schema version 5);
//   hub_grants(case_id, province, position)
//       a province that gained sight of a case it does not own (a referral
//       naming it, or the case moved to it), and the log position it did;
//   hub_person_case(person, case_id)
//       which cases name a person: a person is seen with its cases;
//   hub_log_scope(province, position)
//       for each log entry, the provinces that see what it touched ('*'
//       for the shared directory): the owners, and (from hub schema
//       version 7) every province granted a case it touched, when it was
//       written or later: a pull reads only the entries of its province
//       and '*', instead of decoding the whole log for every node. Entries
//       of an older file (up to hub_meta `log_scope_from`) were kept under
//       the owners alone, and are read by the older rule (LogKeys);
//   hub_log_subject(subject, position)
//       from version 7, the cases, persons and restricted contacts each
//       log entry touched, by id: a province granted a case later has the
//       case's earlier entries (and its persons') keyed under it then.
//
// A node of province P sees: cases P owns or was granted (a referral to P,
// or the case moved to or away from P); persons P owns or named by a case P
// sees; referrals and consents of cases P sees; every organisation and
// service; every contact except those restricted to another province since
// their creation. Visibility only grows. P may write what it sees, and
// create rows its own province owns; only the owner may change a record's
// province or a contact's restriction; the links that decide visibility
// (a case's person, a referral's or consent's case) are set once.
// Which tables are shared, an office's own (listed to every office or
// not), or their case's owner's, and which column grants a case to another
// office, is the schema's declaration (schema/relations.h: OwnerOf,
// CaseRelationOf; docs/SCHEMA.md), not a list of table names here.
#ifndef FIELDSYNC_HUB_SCOPE_H_
#define FIELDSYNC_HUB_SCOPE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/commit.h"
#include "hub/storage.h"

namespace fieldsync::hub {

class Scope {
 public:
  // Over a snapshot: answers only (Record() is refused).
  explicit Scope(HubReadTxn& data) : data_(data), writer_(nullptr) {}
  // Over the writer's view: answers, and records what each commit changed.
  explicit Scope(HubWriteTxn& data) : data_(data), writer_(&data) {}

  // Before the hub merges `c` from a node of `province`: PERMISSION_DENIED
  // naming the first row the node may not write.
  absl::Status CheckWritable(const std::string& province, const Commit& c);

  // Before the hub merges `c` from a device its office's chain never
  // approved (hub/office_removals.h: enrolled, not yet approved):
  // PERMISSION_DENIED if it moves an office's own row to another office.
  // Laptops take a move only from a device the owning office approved
  // (KeyRing::CheckOwnerMoves), and a pulled commit a laptop refuses stops
  // its pull: stored here, the move would stop every laptop of the office.
  absl::Status CheckMoveByUnapproved(const Commit& c);
  // After the merge, at log `position`: records owners, links and grants.
  absl::Status Record(const Commit& c, int64_t position);

  // Whether a node of `province` may see the row.
  absl::StatusOr<bool> Visible(const std::string& province, const std::string& table,
                               const RowId& row);

  // Rows that became visible to `province` through grants, moves and
  // contacts made public at positions in
  // (after, upto]: the cases granted and everything seen with them that the
  // province could not see before. Deduplicated.
  absl::StatusOr<std::vector<std::pair<std::string, RowId>>> NewlyVisible(
      const std::string& province, int64_t after, int64_t upto);

  // Up to `limit` log entries in (after, upto] a pull by `province` reads
  // (see hub_log_scope), in position order: after LogScopeFrom those kept
  // under itself and '*'; at or before it, those under LogKeys.
  absl::StatusOr<std::vector<LogEntry>> LogEntries(const std::string& province, int64_t after,
                                                   int64_t upto, size_t limit);

  // The older rule, for entries at or before LogScopeFrom (kept under the
  // owners alone): provinces a pull by `province` must read entries of:
  // itself, '*', and for the cases granted to it their owners now and
  // every province granted them (a case moved twice since its last pull
  // left entries under an office that owns it no more).
  absl::StatusOr<std::vector<std::string>> LogKeys(const std::string& province);

  // Every row of `table` a node of `province` may see, in id order (the
  // same answer as Visible() row by row, by a few indexed queries).
  absl::StatusOr<std::vector<RowId>> VisibleRows(const std::string& province,
                                                 const std::string& table);

 private:
  struct Entry {
    bool found = false;
    std::string owner;
    RowId case_id;
    bool restricted = false;
  };
  absl::StatusOr<Entry> Lookup(const std::string& table, const RowId& row);
  absl::Status RecordRows(const Commit& c, int64_t position);
  // `province` sees `case_id` from log `position` on (kept if it already did).
  absl::Status Grant(const RowId& case_id, const std::string& province, int64_t position);
  // A case may name a person only once, and only one the province sees (or
  // one not yet on the hub: created with it).
  absl::Status CheckPersonLink(const std::string& province, const Commit& c,
                               const RowChange& rc);
  absl::StatusOr<bool> CaseVisible(const std::string& province, const RowId& case_id);
  absl::StatusOr<bool> Granted(const std::string& province, const RowId& case_id);
  // The cases `province` sees (owned or granted).
  absl::StatusOr<absl::flat_hash_set<RowId>> VisibleCases(const std::string& province);

  // Of the commit being recorded: provinces newly granted a case, persons
  // newly named by a case, and subjects newly seen otherwise (a contact
  // made public: '*'; a person moved: its new owner); their earlier
  // entries are keyed under who sees them now (KeyEarlierEntries).
  struct NewSight {
    std::map<RowId, std::set<std::string>> grants;
    std::set<std::pair<RowId, RowId>> links;  // (person, case)
    std::map<RowId, std::set<std::string>> direct;
  };
  absl::Status KeyEarlierEntries();
  // Adds to `keys` the provinces that see case `k` (its owner and every
  // province granted it), and `k` to `subjects`.
  absl::Status AddCaseKeys(const RowId& k, std::set<std::string>& keys,
                           std::set<RowId>& subjects);

  HubReadTxn& data_;
  HubWriteTxn* writer_;
  NewSight new_sight_;
  // Per pull: LogScopeFrom, and LogKeys of the province last asked about.
  std::optional<int64_t> log_scope_from_;
  std::string old_keys_province_;
  std::optional<std::vector<std::string>> old_keys_;
  // Per pull: case id -> visible, for the province last asked about.
  std::string cache_province_;
  absl::flat_hash_map<RowId, bool> case_cache_;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_SCOPE_H_
