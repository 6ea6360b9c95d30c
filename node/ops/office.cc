#include "node/ops/office.h"

#include <ctime>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "node/ops/messages.h"
#include "node/ops/values.h"
#include "store/access_log.h"
#include "sync/report.h"

namespace fieldsync::node::ops {

namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;

std::string DateAt(int64_t millis) {
  const std::time_t t = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

std::string Days(int64_t ms) {
  const int64_t d = (ms + kDay / 2) / kDay;
  return absl::StrCat(d, d == 1 ? " day" : " days");
}

}  // namespace

// This laptop's own date: a hub's time never dates what a person records
// here (attack review 80, MED 5: a hub whose clock is wrong, or hostile,
// would move every laptop's dates). DateWarning says when the two differ.
std::string Office::Today() const { return DateAt(NowMillis()); }

std::string Office::LatestDate() const {
  int64_t now = NowMillis();
  absl::StatusOr<int64_t> seen = replica.GetCursor(sync::kHubTimeSeenCursor);
  if (seen.ok() && *seen > now && *seen - now <= tuning::kHubDateLeadMaxMillis) now = *seen;
  return DateAt(now);
}

namespace {

// How this laptop's clock and the hub's time last seen differ, if by more
// than a day: the hub's ahead now, or this laptop's ahead at the last sync
// and not set back since.
struct ClockGap {
  bool hub_ahead = false;
  int64_t millis = 0;
};
std::optional<ClockGap> Gap(const Office& o) {
  const int64_t now = o.NowMillis();
  absl::StatusOr<int64_t> seen = o.replica.GetCursor(sync::kHubTimeSeenCursor);
  absl::StatusOr<int64_t> last = o.replica.GetCursor(sync::kLastSyncCursor);
  if (!seen.ok() || !last.ok() || *seen == 0) return std::nullopt;
  if (*seen - now > kDay) return ClockGap{true, *seen - now};
  if (*last != 0 && *last - *seen > kDay && now >= *last) return ClockGap{false, *last - *seen};
  return std::nullopt;
}

}  // namespace

std::string Office::DateWarning() const {
  const std::optional<ClockGap> gap = Gap(*this);
  if (!gap) return "";
  // Which of the two clocks is wrong is not known here: the laptop's
  // battery may be flat, or the hub's clock wrong (or the hub lying).
  constexpr char kAdvice[] = "check the date and time here; if they are right, tell the hub "
                             "administrator. Check the date written";
  if (gap->hub_ahead) {
    return absl::StrCat("this laptop's clock and the hub's differ by ", Days(gap->millis),
                        " (the hub's is ahead): the date here is ", Today(), "; ", kAdvice);
  }
  return absl::StrCat("this laptop's clock and the hub's differed by ", Days(gap->millis),
                      " at the last sync (this laptop's is ahead): the date here is ", Today(),
                      "; ", kAdvice);
}

std::optional<Message> Office::DateWarningMessage() const {
  const std::optional<ClockGap> gap = Gap(*this);
  if (!gap) return std::nullopt;
  return Message{std::string(MessageKey(gap->hub_ahead ? Msg::kClockHubAhead
                                                       : Msg::kClockLaptopAhead)),
                 {{"days", absl::StrCat((gap->millis + kDay / 2) / kDay)}, {"today", Today()}}};
}

const TableDef& Office::Table(std::string_view name) const {
  return *replica.schema().FindTable(name);
}

absl::StatusOr<std::optional<Row>> Office::Get(std::string_view table, const RowId& id) const {
  return replica.Get(std::string(table), id);
}

absl::StatusOr<Row> Office::MustGet(std::string_view table, const RowId& id) const {
  FS_ASSIGN_OR_RETURN(auto row, Get(table, id));
  if (!row || !row->live) {
    return Coded(absl::NotFoundError(
                     absl::StrCat("no ", AV(table), " record ", id.ToString(), " on this node")),
                 Msg::kRecordGone);
  }
  return *std::move(row);
}

const Value& Office::Stored(const Row& row, std::string_view table, std::string_view col) const {
  return row.values[static_cast<size_t>(Table(table).ColumnIndex(col))];
}

std::string Office::Clear(const Row& row, std::string_view table, std::string_view col) const {
  return ShowValue(Stored(row, table, col));
}

OpenedField Office::Open(const Row& row, std::string_view table, std::string_view col) const {
  const size_t i = static_cast<size_t>(Table(table).ColumnIndex(col));
  std::optional<Version> v;
  if (row.versions[i]) v = row.versions[i]->version;
  return keys.Read(table, row.id, col, row.values[i], v);
}

std::string Office::Shown(const OpenedField& f) {
  switch (f.state) {
    case State::kClear:
    case State::kOpened: return ShowValue(f.value);
    case State::kLocked: return "•••••• (sealed)";
    default: return absl::StrCat("[cannot be read: ", f.problem, "]");
  }
}

std::string Office::DeviceName(const DeviceId& d) const {
  if (const RegisteredDevice* dev = keys.FindDevice(d)) {
    return absl::StrCat(dev->name.empty() ? d.ToString().substr(0, 8) : dev->name, " (",
                        dev->province, ")");
  }
  if (d == replica.device_id()) return "this laptop";
  return d.ToString().substr(0, 8);
}

absl::Status Office::Commit(const LocalTxn& txn) const {
  auto w = replica.Write(txn);
  if (!w.ok()) {
    if (w.status().code() == absl::StatusCode::kFailedPrecondition && !keys.unlocked()) {
      return Coded(absl::FailedPreconditionError(absl::StrCat(
                       "writing needs the keystore unlocked (every change is signed): ",
                       unlock_hint, ". Nothing was changed")),
                   Msg::kNeedsUnlock);
    }
    return w.status();
  }
  return absl::OkStatus();
}

absl::Status Office::RequireUnlocked(std::string_view why) const {
  if (keys.unlocked()) return absl::OkStatus();
  return Coded(absl::FailedPreconditionError(
                   absl::StrCat(AV(why), " needs the keystore unlocked: ", unlock_hint)),
               Msg::kNeedsUnlock);
}

namespace {
std::string MemoKey(const RowId& case_id, const std::string& action, const std::string& field) {
  return absl::StrCat(case_id.ToString(), " ", action, " ", field);
}
}  // namespace

std::vector<std::pair<RowId, std::vector<std::string>>> AuditMemo::New(
    const std::vector<std::pair<RowId, std::vector<std::string>>>& opened,
    const std::string& action) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::pair<RowId, std::vector<std::string>>> out;
  for (const auto& [case_id, fields] : opened) {
    std::vector<std::string> fresh;
    for (const std::string& f : fields) {
      if (!logged_.count(MemoKey(case_id, action, f))) fresh.push_back(f);
    }
    if (!fresh.empty()) out.emplace_back(case_id, std::move(fresh));
  }
  return out;
}

void AuditMemo::Add(const std::vector<std::pair<RowId, std::vector<std::string>>>& logged,
                    const std::string& action) {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [case_id, fields] : logged) {
    for (const std::string& f : fields) logged_.insert(MemoKey(case_id, action, f));
  }
}

void AuditMemo::Clear() {
  std::lock_guard<std::mutex> l(mu_);
  logged_.clear();
}

absl::Status Office::AuditMany(
    const std::vector<std::pair<RowId, std::vector<std::string>>>& opened,
    const std::string& action) const {
  const auto fresh = audited ? audited->New(opened, action) : opened;
  std::vector<AccessRequest> reqs;
  for (const auto& [case_id, fields] : fresh) {
    if (!fields.empty()) reqs.push_back({case_id, action, absl::StrJoin(fields, ",")});
  }
  if (reqs.empty()) return absl::OkStatus();
  auto e = AppendAccessMany(replica, province, officer, reqs, NowMillis());
  if (!e.ok()) return e.status();
  if (audited) audited->Add(fresh, action);
  return absl::OkStatus();
}

std::string_view AccessAction(Access a) { return a == Access::kExport ? "export" : "show"; }

absl::Status Refused(std::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat(AV(what), ". Nothing was changed"));
}

namespace {
constexpr std::string_view kNoConsentUrl = "fieldsync.node.ops/no-consent";
}  // namespace

absl::Status NoConsent(std::string_view what) {
  absl::Status s = Refused(what);
  s.SetPayload(AV(kNoConsentUrl), absl::Cord("1"));
  return s;
}

bool IsNoConsent(const absl::Status& s) { return s.GetPayload(AV(kNoConsentUrl)).has_value(); }

namespace {
constexpr std::string_view kIncompleteUrl = "fieldsync.node.ops/incomplete-request";
}  // namespace

absl::Status IncompleteRequest(std::string_view what) {
  absl::Status s = absl::InvalidArgumentError(AV(what));
  s.SetPayload(AV(kIncompleteUrl), absl::Cord("1"));
  return s;
}

bool IsIncompleteRequest(const absl::Status& s) {
  return s.GetPayload(AV(kIncompleteUrl)).has_value();
}

namespace {
constexpr std::string_view kMalformedUrl = "fieldsync.node.ops/malformed-value";
}  // namespace

absl::Status MalformedValue(std::string_view what) {
  absl::Status s = absl::InvalidArgumentError(AV(what));
  s.SetPayload(AV(kMalformedUrl), absl::Cord("1"));
  return s;
}

bool IsRequestError(const absl::Status& s) {
  return IsIncompleteRequest(s) || s.GetPayload(AV(kMalformedUrl)).has_value();
}

namespace {
constexpr std::string_view kNameRequiredUrl = "fieldsync.node.ops/name-required";
}  // namespace

absl::Status NameRequired() {
  absl::Status s = Coded(
      MalformedValue(
          "persons.full_name cannot be empty: a case needs the victim's full name (write another "
          "name instead). Nothing was changed"),
      Msg::kNameRequired, {{"field", "persons.full_name"}});
  s.SetPayload(AV(kNameRequiredUrl), absl::Cord("1"));
  return s;
}

bool IsNameRequired(const absl::Status& s) {
  return s.GetPayload(AV(kNameRequiredUrl)).has_value();
}

std::set<std::string> KnownOffices(const Office& o) {
  std::set<std::string> out = {o.province};
  for (const RegisteredDevice& d : o.keys.Registry()) out.insert(d.province);
  return out;
}

absl::StatusOr<std::vector<Row>> RowsOfCase(const Office& o, std::string_view table,
                                            const RowId& case_id) {
  FS_ASSIGN_OR_RETURN(std::vector<RowId> ids,
                      o.replica.RowsWhere(std::string(table),
                                          std::string(o.Table(table).case_relation.column),
                                          IdValue(case_id),
                                          /*include_deleted=*/false));
  std::vector<Row> out;
  for (const RowId& id : ids) {
    FS_ASSIGN_OR_RETURN(auto row, o.Get(table, id));
    if (row) out.push_back(*std::move(row));
  }
  return out;
}

std::string OpenedMonth(const Office& o, const Row& kase) {
  std::string m = o.Clear(kase, "cases", "opened_month");
  const Value& legacy = o.Stored(kase, "cases", "opened_on");
  if (m.empty() && legacy.kind() == Value::Kind::kText) m = legacy.str().substr(0, 7);
  return m;
}

absl::StatusOr<std::optional<Row>> PersonOf(const Office& o, const Row& kase) {
  auto pid = IdOf(o.Stored(kase, "cases", "person_id"));
  if (!pid) return std::optional<Row>();
  return o.Get("persons", *pid);
}

}  // namespace fieldsync::node::ops
