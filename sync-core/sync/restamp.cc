#include "sync/restamp.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "sync/messages.h"
#include "sync/own_check.h"
#include "sync/retry.h"

namespace fieldsync::sync {
namespace {

constexpr int64_t kMinuteMillis = 60 * 1000;
constexpr int64_t kHourMillis = 60 * kMinuteMillis;
constexpr int64_t kDayMillis = 24 * kHourMillis;

std::string Count(int64_t n, const char* one, const char* many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

// The commits the hub refused as stamped ahead that no withdrawal passes
// over yet.
absl::StatusOr<int64_t> Waiting(Replica& replica) {
  FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> rows, replica.SetAsideList());
  int64_t n = 0;
  for (const SetAsideRow& r : rows) {
    n += r.code == static_cast<int>(RefusalCode::kClockAhead) && r.withdrawal == 0 ? 1 : 0;
  }
  return n;
}

}  // namespace

std::string AheadInWords(int64_t millis) {
  if (millis >= kDayMillis - kHourMillis / 2) {
    return Count(std::llround(static_cast<double>(millis) / kDayMillis), "day", "days");
  }
  if (millis >= kHourMillis - kMinuteMillis / 2) {
    return Count(std::llround(static_cast<double>(millis) / kHourMillis), "hour", "hours");
  }
  return Count(std::max<int64_t>(1, std::llround(static_cast<double>(millis) / kMinuteMillis)),
               "minute", "minutes");
}

OpenStored StoredOpener(KeyRing& keys) {
  return [&keys](const std::string& table, const RowId& row, const std::string& column,
                 const Value& stored, const Version& version) -> absl::StatusOr<Value> {
    OpenedField f = keys.Read(table, row, column, stored, version);
    if (f.state == OpenedField::State::kClear || f.state == OpenedField::State::kOpened) {
      return std::move(f.value);
    }
    return absl::FailedPreconditionError(absl::StrCat(table, ".", column, " of row ",
                                                      row.ToString(), ": ", f.problem));
  };
}

absl::Status RedateRefused(Replica& replica, KeyRing& keys, const HelloInfo& hello,
                           ClockSource& clock, Pusher& pusher, const std::atomic<bool>* stop,
                           SyncReport* report) {
  FS_ASSIGN_OR_RETURN(const int64_t waiting, Waiting(replica));
  if (waiting == 0) return absl::OkStatus();
  const std::string changes = Count(waiting, "change", "changes");
  // Stamped with the corrected clock, the rewrites must not be refused in
  // turn: a minute of margin under the hub's limit.
  const int64_t skew =
      std::max(hello.skew_millis, hello.skew_millis + replica.ClockMillis() - clock.NowMillis());
  if (skew > tuning::kDefaultMaxClockSkewMillis - kMinuteMillis) {
    report->redate_note = absl::StrCat(
        "this laptop's clock is ", AheadInWords(skew),
        " ahead of the hub's: the hub does not take work stamped by it (", changes,
        waiting == 1 ? " waits" : " wait", "). Set this laptop's date and time right; the next sync then re-dates and sends "
        "them");
    return absl::OkStatus();
  }
  if (!keys.unlocked()) {
    report->redate_note = absl::StrCat(
        changes, " written while this laptop's clock was ahead ", waiting == 1 ? "waits" : "wait",
        " to be re-dated and sent: the next unlock finishes it");
    return absl::OkStatus();
  }
  // A waiting commit whose stored body or header no longer verifies by
  // this laptop's own key (attack review 86, LOW 4) was altered or damaged
  // on its disk since it was refused: re-dating signs a commit's changes
  // anew, so none is re-dated while one of them is so. Checked inside
  // Restamp's transaction, on the commits it re-dates (attack review 89,
  // LOW: checked before it, a write between the two was signed anew).
  const std::string own_sign_pk(keys.identity()->public_keys().sign_pk);
  absl::StatusOr<RestampResult> done = replica.Restamp(
      static_cast<int>(RefusalCode::kClockAhead), StoredOpener(keys),
      [&own_sign_pk](const Commit& c) {
        return CheckOwnCommit(c, own_sign_pk).kind == OwnCheck::Kind::kSound;
      });
  if (done.ok() && !done->unsound.empty()) {
    const std::vector<uint64_t>& altered = done->unsound;
    const bool one = altered.size() == 1;
    report->redate_note = absl::StrCat(
        Count(static_cast<int64_t>(altered.size()), "change", "changes"), " (",
        absl::StrJoin(altered, ", "), ") written while this laptop's clock was ahead ",
        one ? "no longer matches" : "no longer match", " this laptop's signature (altered or "
        "damaged on its disk): nothing was re-dated, since re-dating signs them anew. Discard ",
        one ? "it" : "them", " (fieldnode set-aside discard ", altered.front(), "), then write "
        "the values again");
    return absl::OkStatus();
  }
  if (!done.ok()) {
    report->redate_note = absl::StrCat(
        changes, " written while this laptop's clock was ahead could not be re-dated (",
        done.status().message(), "); the next sync tries again");
    return absl::OkStatus();
  }
  if (done->redated.empty()) {
    // Not one is stamped past this laptop's clock: the hub's word alone
    // withdraws nothing (Replica::Restamp).
    report->redate_note = absl::StrCat(
        "the hub refused ", changes, " as stamped ahead of its clock, but ",
        waiting == 1 ? "it is" : "they are", " not ahead of this laptop's clock: ",
        waiting == 1 ? "it waits" : "they wait", " here, not re-dated. If this laptop's date is "
        "right, tell the hub administrator (the hub's clock may be behind)");
    return absl::OkStatus();
  }
  report->redated = done->redated.size();
  const std::string redated = Count(static_cast<int64_t>(done->redated.size()), "change",
                                    "changes");
  const std::string was =
      absl::StrCat("this laptop's clock was ", AheadInWords(done->ahead_millis), " ahead; ",
                   redated, done->redated.size() == 1 ? " was" : " were", " re-dated");
  absl::Status pushed = pusher.PushCommits(replica, stop, report);
  if (!pushed.ok()) {
    report->redate_note = absl::StrCat(was, "; they are sent at the next sync");
    if (!PermanentRefusal(pushed)) return pushed;
    report->push_refused = pushed;
    return absl::OkStatus();
  }
  report->redate_note = absl::StrCat(was, " and sent");
  return absl::OkStatus();
}

}  // namespace fieldsync::sync
