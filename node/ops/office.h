// The node library: what a social worker does on a laptop's replica, as
// functions over typed inputs and results, called by the fieldnode commands
// (node/commands/) and by any other front end (a local web console): every
// rule about values and about what may be written is checked here, so every
// caller gets the same rules. Nothing here prints or reads argv.
//
// This file: the office a function acts for (replica, key ring, province,
// officer, clock) and what every operation shares: reading a row's fields
// (opened when sealed), committing, and recording openings in the access log.
//
// Errors: INVALID_ARGUMENT for a value that breaks a rule, NOT_FOUND for a
// reference that names nothing, FAILED_PRECONDITION for a refusal by the
// record's state ("Nothing was changed"), PERMISSION_DENIED for another
// office's record. Each message says what is wrong and what to do. A
// failed operation writes nothing: each writes in one commit after every
// check.
#ifndef FIELDSYNC_NODE_OPS_OFFICE_H_
#define FIELDSYNC_NODE_OPS_OFFICE_H_

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/message.h"
#include "clock/clock_source.h"
#include "store/keyring.h"
#include "store/replica.h"

namespace fieldsync::node::ops {

using Fields = LocalTxn::Fields;
using State = OpenedField::State;

// Openings already in the access log, for a front end that shows the same
// sealed fields again and again (the console re-reads a case file after
// each change, a search at each letter): AuditMany leaves out a case's
// field already logged with the same action, and adds what it wrote. The
// console keeps one per unlock (cleared when it locks): the log still says
// who opened which case's fields, and from when, once per unlock. The CLI
// keeps none (each command is one opening).
class AuditMemo {
 public:
  // The fields of `opened` not logged yet for (case, action).
  std::vector<std::pair<RowId, std::vector<std::string>>> New(
      const std::vector<std::pair<RowId, std::vector<std::string>>>& opened,
      const std::string& action) const;
  void Add(const std::vector<std::pair<RowId, std::vector<std::string>>>& logged,
           const std::string& action);
  void Clear();

 private:
  mutable std::mutex mu_;
  std::set<std::string> logged_;  // "CASE-ID ACTION FIELD"
};

// Whom an operation acts for. Borrowed references: the caller keeps the
// replica and the key ring open while it calls.
struct Office {
  Replica& replica;
  KeyRing& keys;
  std::string province;  // this office's province code (LC)
  std::string officer;   // who is at the laptop: new cases, consents, access log
  // What to do when the keystore is locked, said in the front end's words
  // (the CLI: "run fieldnode unlock ..."). Ends no sentence.
  std::string unlock_hint;
  ClockSource* clock = SystemClock::Get();
  // Openings not to log again (none: every opening is logged).
  AuditMemo* audited = nullptr;

  int64_t NowMillis() const { return clock->NowMillis(); }
  // YYYY-MM-DD (UTC) at this laptop's clock: the date it writes. Never the
  // hub's (a hub's clock, wrong or hostile, must not move laptops' dates).
  std::string Today() const;
  // The latest date a person may type for what already happened: Today(),
  // or the hub's date at the last sync when that is ahead of this clock by
  // at most tuning::kHubDateLeadMaxMillis (a laptop whose clock is behind:
  // the right date typed is not refused as in the future; DateWarning
  // says the clocks differ).
  std::string LatestDate() const;
  // One line for a date this laptop writes (opened_on, closed_on, typed or
  // today's), "" if none: this laptop's clock and the hub's time last seen
  // differ by more than a day (the hub's ahead now, or this laptop's ahead
  // at the last sync and not set back since) (issue 13, story 2). In words
  // that do not presume which clock is wrong. A warning, never a refusal:
  // a past date is often typed on purpose.
  std::string DateWarning() const;
  // DateWarning as a key and its parameters (node/ops/messages.h:
  // lib.clock.*; "days", "today"), for a front end's own words; nullopt
  // when there is no warning.
  std::optional<Message> DateWarningMessage() const;

  const TableDef& Table(std::string_view name) const;
  absl::StatusOr<std::optional<Row>> Get(std::string_view table, const RowId& id) const;
  // The live row; NOT_FOUND otherwise.
  absl::StatusOr<Row> MustGet(std::string_view table, const RowId& id) const;
  // The stored value of a column (sealed values stay sealed).
  const Value& Stored(const Row& row, std::string_view table, std::string_view col) const;
  // A clear column as text ("" if null).
  std::string Clear(const Row& row, std::string_view table, std::string_view col) const;
  // A column, opened if sealed.
  OpenedField Open(const Row& row, std::string_view table, std::string_view col) const;
  // A field as a person reads it: the value, "•••••• (sealed)" if locked,
  // or why it cannot be read.
  static std::string Shown(const OpenedField& f);
  // "lc2 (LC)" for a registered device, "this laptop", or its id's start.
  std::string DeviceName(const DeviceId& d) const;

  // Writes `txn` in one commit; FAILED_PRECONDITION with the unlock hint if
  // the keystore is locked (every change is signed).
  absl::Status Commit(const LocalTxn& txn) const;
  // FAILED_PRECONDITION "WHY needs the keystore unlocked: HINT" if locked.
  absl::Status RequireUnlocked(std::string_view why) const;
  // Records in the access log (in one commit: all or none) that sealed
  // fields of cases were opened; `opened` pairs a case with its fields
  // ("persons.full_name"). Entries without fields are skipped.
  absl::Status AuditMany(const std::vector<std::pair<RowId, std::vector<std::string>>>& opened,
                         const std::string& action) const;
};

// Why sealed fields are opened, for the access log: shown on a screen, or
// exported (JSON a program reads).
enum class Access { kShow, kExport };
std::string_view AccessAction(Access a);

// FAILED_PRECONDITION "WHAT. Nothing was changed".
absl::Status Refused(std::string_view what);
// Refused, for a referral no live consent covers: a front end says why in
// its own words (the console's err.no_consent). IsNoConsent tells it apart.
absl::Status NoConsent(std::string_view what);
bool IsNoConsent(const absl::Status& s);

// MalformedValue for a victim's full name emptied or typed as blanks: a case
// names its victim from intake on (the console's err.name_required).
// IsNameRequired tells it apart.
absl::Status NameRequired();
bool IsNameRequired(const absl::Status& s);

// INVALID_ARGUMENT for a request that lacks an input or mixes inputs that do
// not go together (a usage error of a command line: exit 2), as opposed to
// a value that breaks a rule. IsIncompleteRequest tells them apart.
absl::Status IncompleteRequest(std::string_view what);
bool IsIncompleteRequest(const absl::Status& s);

// INVALID_ARGUMENT for a value typed in a form or range its field never
// takes, whatever the records hold: a date that is not YYYY-MM-DD or is in
// the future, a word that is not among an enum's values, not a number, a
// malformed code or id, a field the record does not have. Also a usage
// error: a command line that gives it is wrong (exit 2). A value refused
// because of what the records hold (a case closed before it was opened, an
// office this laptop does not know) is not one.
absl::Status MalformedValue(std::string_view what);
// IncompleteRequest or MalformedValue: the request itself is wrong, and the
// front end says so as it says a wrong command line (fieldnode: exit 2).
bool IsRequestError(const absl::Status& s);

// The offices this laptop knows: its own and those of the hub's registry at
// the last sync (an office is listed once one of its laptops has enrolled).
std::set<std::string> KnownOffices(const Office& o);

// Rows of `table` that name case `case_id` in their case column (the
// schema's relation: referrals, consents), live ones.
absl::StatusOr<std::vector<Row>> RowsOfCase(const Office& o, std::string_view table,
                                            const RowId& case_id);

// The month a case was opened (YYYY-MM), clear: opened_month, or the month
// of a clear opened_on written before schema version 4.
std::string OpenedMonth(const Office& o, const Row& kase);

// The case's person, if it names one that this node holds.
absl::StatusOr<std::optional<Row>> PersonOf(const Office& o, const Row& kase);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_OFFICE_H_
