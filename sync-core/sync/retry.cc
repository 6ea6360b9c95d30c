#include "sync/retry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace fieldsync::sync {

bool Retryable(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

bool PermanentRefusal(const absl::Status& s) {
  // FAILED_PRECONDITION is not among them: it also means a clock far ahead
  // or a hub restored from a backup, which must stop the pass rather than
  // let it pull as if nothing had happened.
  return s.code() == absl::StatusCode::kPermissionDenied ||
         s.code() == absl::StatusCode::kInvalidArgument;
}

absl::Status OwnStop(std::string_view message) {
  absl::Status s = absl::CancelledError(AV(message));
  s.SetPayload(kOwnStopPayload, absl::Cord("1"));
  return s;
}

bool IsOwnStop(const absl::Status& s) {
  return s.code() == absl::StatusCode::kCancelled && s.GetPayload(kOwnStopPayload).has_value();
}

absl::Status Refused(std::string_view call, const absl::Status& s) {
  if (s.ok() || IsOwnStop(s) || s.code() == absl::StatusCode::kUnavailable ||
      s.code() == absl::StatusCode::kDeadlineExceeded ||
      s.code() == absl::StatusCode::kDataLoss) {
    return s;
  }
  absl::Status out(s.code(), absl::StrCat("the hub refused ", AV(call), ": ", s.message()));
  // Its marks kept (sync/protocol.h, WaitsForLostCommits).
  s.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

int64_t Backoff::WaitMillis(int failures, std::mt19937_64& rng) const {
  const int doublings = std::clamp(failures - 1, 0, 20);
  const int64_t b = std::max<int64_t>(1, std::min<int64_t>(cap_, base_ << doublings));
  return b / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(b / 2 + 1));
}

}  // namespace fieldsync::sync
