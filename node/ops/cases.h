// Case files: opening one (a case and its person), changing a field,
// reading the whole file with its history, listing, searching names, and
// the one-step changes (urgent, crime report, close, delete).
#ifndef FIELDSYNC_NODE_OPS_CASES_H_
#define FIELDSYNC_NODE_OPS_CASES_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "node/ops/case_search.h"
#include "node/ops/office.h"
#include "node/ops/values.h"

namespace fieldsync::node::ops {

struct NewCase {
  // Columns of persons; full_name is required. A birth year (or a date of
  // birth) also sets age_band and is_child.
  TypedColumns person;
  // Columns of cases (intake_channel defaults to hotline_call, office to
  // this office's province).
  TypedColumns kase;
  std::optional<std::string> officer;  // assigned; default: the office's officer
  bool urgent = false;
};
struct OpenedCase {
  std::string code;  // LC-2611-K3QX7
  RowId case_id;
  RowId person_id;
  bool urgent = false;
  std::string date_warning;  // Office::DateWarning for its opened_on
  std::optional<Message> date_warning_message;  // as a key: DateWarningMessage
};
// Writes the person and the case in one commit, status intake, opened today.
absl::StatusOr<OpenedCase> OpenCase(const Office& o, const NewCase& in);
// OpenCase's checks and the two records it would write, nothing written:
// for writing many cases in one transaction (import_cases.h).
struct PreparedCase {
  OpenedCase opened;
  Fields person, kase;
};
absl::StatusOr<PreparedCase> PrepareCase(const Office& o, const NewCase& in);
// A new case's pseudonymous code (LC-2611-K3QX7): province, year and month,
// 5 random characters.
std::string NewCaseCode(const Office& o);
// A code from `draw` (NewCaseCode) that no live case of this replica holds:
// drawn again while one does (RESOURCE_EXHAUSTED after 64 draws). Two
// laptops of an office offline may still draw one code: CaseCodeShown.
absl::StatusOr<std::string> UniqueCaseCode(const Office& o,
                                           const std::function<std::string()>& draw);
// How a code held by several cases is shown and taken (ListCases, Resolve):
// CODE/XXXXXX, the last kCaseCodeTellApart hex digits of the case's id
// (docs/FORMATS.md, "Case codes").
inline constexpr size_t kCaseCodeTellApart = 6;
std::string CaseCodeShown(const std::string& code, const RowId& id);

struct CaseFieldChange {
  std::string case_ref;  // code, id or its start
  std::string field;     // a column of cases or persons ("person.", "case." to choose)
  std::string value;     // as typed; "" clears
};
struct ChangedCaseField {
  std::string code;
  std::string column;
  bool cleared = false;
  bool urgent = false;  // the change makes the commit urgent
  std::string date_warning;  // a date field: Office::DateWarning
  std::optional<Message> date_warning_message;  // as a key: DateWarningMessage
};
// Refuses the fields that decide who sees the case (province, person_id,
// case_code), closed_on before opened_on, an implausible year of birth.
absl::StatusOr<ChangedCaseField> SetCaseField(const Office& o, const CaseFieldChange& in);

// One field of a record as this laptop can read it.
struct FieldView {
  std::string column;
  ColumnType type = ColumnType::kText;
  OpenedField field;
  // For a link to the directories (service_id, organisation ids): the
  // entry's id and its name as shown, when the entry is held here.
  std::optional<std::pair<RowId, std::string>> linked;
};
// A record's fields that hold a value, in declaration order.
struct RecordView {
  RowId id;
  std::vector<FieldView> fields;
};
struct HistoryLine {
  int64_t millis = 0;
  std::string who;   // the device, as DeviceName
  std::string what;  // "cases: narrative, status" (the command line's words)
  // The same in parts, for a front end's own words (the console's labels):
  // the table, whether the change created or deleted its record, the
  // columns written, and whether the line comes from the fields' versions
  // of a file received whole rather than from the log.
  enum class Change { kChanged, kCreated, kDeleted };
  std::string table;
  Change change = Change::kChanged;
  std::vector<std::string> columns;
  bool received_whole = false;
  bool this_laptop = false;  // written by this laptop (`who`: its name, or "this laptop")
};
struct CaseFile {
  RowId id;
  std::string code;
  bool urgent = false;
  RecordView kase;
  std::optional<RecordView> person;
  std::vector<RecordView> consents;
  std::vector<RecordView> referrals;
  std::vector<HistoryLine> history;  // oldest first
  size_t open_conflicts = 0;         // of the case and its person
  bool locked = false;               // the keystore is locked: sealed fields masked
};
// The whole file, sealed fields opened where they can be; the opening is
// recorded in the access log (as `access`) before this returns.
absl::StatusOr<CaseFile> ReadCaseFile(const Office& o, const std::string& case_ref,
                                      Access access);

struct CaseFilter {
  std::string status;   // "" any; else a status of cases
  std::string urgency;  // "" any; normal, urgent
  std::string officer;  // "" any; words of the assigned officer's name
  std::string since;    // "" any; YYYY-MM-DD: updated on or after
};
struct CaseLine {
  std::string code, status, urgency, channel, officer, opened_month, updated, province, id;
};
// Cases by pseudonymous code, no sealed field: urgent first, then the most
// recently updated.
absl::StatusOr<std::vector<CaseLine>> ListCases(const Office& o, const CaseFilter& filter);

// Searching names: node/ops/case_search.h.

struct CaseChanged {
  std::string code;
  int64_t at_millis = 0;  // when (crime report)
  std::string on;         // YYYY-MM-DD (close)
};
absl::StatusOr<CaseChanged> MarkUrgent(const Office& o, const std::string& case_ref);
// Records the crime report now; urgent by nature.
absl::StatusOr<CaseChanged> RecordCrimeReport(const Office& o, const std::string& case_ref);
// Status closed, closed today; refused if already closed.
absl::StatusOr<CaseChanged> CloseCase(const Office& o, const std::string& case_ref);

// What deleting a case would delete: checked (only the owning office
// deletes), for the caller to confirm before DeleteCase.
struct CaseDeletion {
  RowId case_id;
  std::string code;
  std::vector<std::pair<std::string, RowId>> linked;  // its consents and referrals
  std::optional<RowId> person;  // deleted with it: no other case names them
  int64_t person_kept_for = 0;  // other live cases naming its person (kept)
};
absl::StatusOr<CaseDeletion> PlanCaseDeletion(const Office& o, const std::string& case_ref);
absl::Status DeleteCase(const Office& o, const CaseDeletion& plan);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_CASES_H_
