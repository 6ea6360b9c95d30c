// The challenges a hub hands out for enrolment proofs (crypto/
// enrolment_proof.h): 8 bytes of issue time (Unix milliseconds, big-endian)
// and a 24-byte keyed BLAKE2b of them under a key this process drew at
// start. The hub keeps no state: it takes back a challenge of its own
// younger than wire::kEnrolChallengeMillis. A restarted hub no longer takes
// the challenges it made before (the node runs `fieldnode enroll` again).
#ifndef FIELDSYNC_HUB_ENROL_CHALLENGE_H_
#define FIELDSYNC_HUB_ENROL_CHALLENGE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace fieldsync::hub {

class EnrolChallenges {
 public:
  EnrolChallenges();
  // A challenge issued at `now_millis`.
  std::string Issue(int64_t now_millis) const;
  // PERMISSION_DENIED saying what to do unless `challenge` was issued by
  // this object at most `max_age_millis` before `now_millis` (and not after
  // it by more than a minute).
  absl::Status Check(std::string_view challenge, int64_t now_millis,
                     int64_t max_age_millis) const;

 private:
  std::string Tag(std::string_view issued) const;
  std::string key_;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_ENROL_CHALLENGE_H_
