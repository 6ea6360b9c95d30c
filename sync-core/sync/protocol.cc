#include "sync/protocol.h"

#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sync/messages.h"
#include "base/strings.h"

namespace fieldsync::sync {

absl::Status CheckProtocol(int theirs, std::string_view who) {
  if (theirs >= kMinProtocolVersion && theirs <= kMaxProtocolVersion) return absl::OkStatus();
  if (theirs == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the ", AV(who), " did not say which protocol version it speaks (this side speaks ",
        kProtocolVersion, "); it is not a fieldsync peer of a known version"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "protocol version mismatch: the ", AV(who), " speaks version ", theirs,
      ", this side speaks versions ", kMinProtocolVersion, " to ", kMaxProtocolVersion,
      "; upgrade the older of the two so that both speak the same version"));
}

int AgreedVersion(int said, int max) {
  return std::clamp(std::max(said, max), said, kMaxProtocolVersion);
}

absl::Status WaitsForLostCommitsError(std::string_view message) {
  absl::Status s = absl::FailedPreconditionError(AV(message));
  s.SetPayload(AV(kWaitsForLostCommitsUrl), absl::Cord("1"));
  return s;
}

bool WaitsForLostCommits(const absl::Status& s) {
  if (s.code() != absl::StatusCode::kFailedPrecondition) return false;
  return s.GetPayload(AV(kWaitsForLostCommitsUrl)).has_value() ||
         absl::StrContains(s.message(), "depends on commits the hub does not hold");
}

const char* RefusalCodeName(RefusalCode code) {
  switch (code) {
    case RefusalCode::kRowCollected: return "ROW_COLLECTED";
    case RefusalCode::kOutOfScope: return "OUT_OF_SCOPE";
    case RefusalCode::kRule: return "RULE";
    case RefusalCode::kSealing: return "SEALING";
    case RefusalCode::kDependsOnRefused: return "DEPENDS_ON_REFUSED";
    case RefusalCode::kWithdrawnStored: return "WITHDRAWN_STORED";
    case RefusalCode::kClockAhead: return "CLOCK_AHEAD";
    case RefusalCode::kRelayed: return "RELAYED";
    case RefusalCode::kDamaged: return "DAMAGED";
    case RefusalCode::kColleagueRefused: return "COLLEAGUE_REFUSED";
    case RefusalCode::kUnspecified: break;
  }
  return "REFUSED";
}

}  // namespace fieldsync::sync
