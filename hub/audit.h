// The hub administrator's audit trail: table hub_audit of the hub's file,
// one entry per administrative act, appended in the same SQLite transaction
// as the act itself (province add, enrolment token issued, enrolment,
// revocation, tombstone collection, and at push time each accepted grant of
// a case's data key to another office and each erasure). `fieldhub audit`
// shows it beside the nodes' access logs and verifies both.
//
// The entries form one chain: entry `seq` = n carries the entry_hash of
// entry n-1 in prev_hash; its own entry_hash covers every field. The head of
// the chain (last seq and its hash) is also kept in hub_meta, so that a
// deleted last entry is noticed, and so that an entry appended after a
// deletion does not reuse the deleted seq. Format (version 1), in
// docs/FORMATS.md, "Hub audit trail":
//
//   entry_hash = hex(BLAKE2b-256(
//       "fieldsync hub audit v1" 0x00
//       || u64be(seq) || u64be(at) || field(actor) || field(action)
//       || field(detail) || field(prev_hash)))
//   field(x) = u32be(len(x)) || x;  prev_hash of seq 1 is "" (empty).
//
// What it proves: an entry edited, deleted or inserted by writing to the
// file (sqlite3, a restored backup) no longer verifies. What it cannot: a
// person able to write the file can also rewrite the whole chain after the
// point they changed, hashes included. Writing the head hash somewhere else
// now and then (`fieldhub audit --json` prints it) turns that into a
// detectable change too.
#ifndef FIELDSYNC_HUB_AUDIT_H_
#define FIELDSYNC_HUB_AUDIT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "store/sqlite.h"

namespace fieldsync::hub {

inline constexpr char kAuditTableSql[] =
    "CREATE TABLE IF NOT EXISTS hub_audit(seq INTEGER PRIMARY KEY, at INTEGER, actor TEXT, "
    "action TEXT, detail TEXT, prev_hash TEXT, entry_hash TEXT)";

// Actions (the `action` column).
inline constexpr char kAuditProvinceAdd[] = "province.add";
inline constexpr char kAuditTokenIssue[] = "enroll-token.issue";
inline constexpr char kAuditEnrol[] = "node.enrol";
inline constexpr char kAuditRevoke[] = "node.revoke";
inline constexpr char kAuditGc[] = "gc";
inline constexpr char kAuditGrant[] = "key.grant";
inline constexpr char kAuditErasure[] = "key.erase";
inline constexpr char kAuditMembership[] = "office.membership";
inline constexpr char kAuditBackup[] = "hub.backup";    // fieldhub backup
inline constexpr char kAuditRestore[] = "hub.restore";  // fieldhub restore
inline constexpr char kAuditMigrate[] = "hub.migrate";  // fieldhub migrate --to (PostgreSQL)
inline constexpr char kAuditLinkKey[] = "node.link-key";  // a device's link key registered
// A two-holders alarm closed a device (session 25's hubs; since session 26
// written only by a restore keeping such a closing, hub/commands/restore.cc).
inline constexpr char kAuditLinkKeyClosed[] = "node.link-key-closed";
// A two-holders alarm (hub/credential_check.h): the call refused, nothing
// changed; at most one entry a device an hour, and kAlarmEntriesPerWindow
// devices' entries an hour a hub process, the alarms held back past that
// summarised in one entry by kAlarmSummaryActor (hub/alarm_limiter.h).
inline constexpr char kAuditLinkKeyAlarm[] = "node.link-key-alarm";
inline constexpr char kAlarmSummaryActor[] = "fieldhub serve";

// The detail of the kAuditLinkKey entry of a restore that kept a device's
// link key (or its closing by a two-holders alarm, kLinkKeyClosed) from the
// store it replaced (`from`, "hub.db" or "the database"): the backup did
// not hold it, and the laptop still holds the key.
std::string LinkKeyKeptDetail(const std::string& device, std::string_view link_pk,
                              std::string_view from);

struct HubAuditEntry {
  int64_t seq = 0;
  int64_t at_millis = 0;
  std::string actor;
  std::string action;
  std::string detail;
  std::string prev_hash;
  std::string entry_hash;
};

// The entry_hash an entry must carry (hex, 64 characters).
std::string HubAuditHash(const HubAuditEntry& e);

// Appends one entry, chained to the head recorded in hub_meta. Must run
// inside the caller's write transaction (BEGIN IMMEDIATE), the one that
// makes the change it records.
absl::Status AppendHubAudit(sqlite::Db& db, int64_t at_millis, const std::string& actor,
                            const std::string& action, const std::string& detail);

struct HubAuditTrail {
  std::vector<HubAuditEntry> entries;  // by seq
  int64_t head_seq = 0;                // as recorded in hub_meta
  std::string head_hash;
};

// Every entry, and the recorded head. Read in one read transaction.
absl::StatusOr<HubAuditTrail> ReadHubAudit(sqlite::Db& db);

struct HubAuditProblem {
  int64_t seq = 0;       // the entry concerned (0: the trail as a whole)
  std::string problem;   // one line: what is wrong
};

// Checks the chain: seq from 1 without gaps, each entry_hash right, each
// prev_hash the entry_hash of the entry before, the last entry the recorded
// head. Empty when the trail is whole.
std::vector<HubAuditProblem> VerifyHubAudit(const HubAuditTrail& trail);

// "30d", "24h", "90m", "45s" or "1500ms": the largest unit that divides.
std::string FormatDurationMillis(int64_t millis);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_AUDIT_H_
