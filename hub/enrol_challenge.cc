#include "hub/enrol_challenge.h"

#include <sodium.h>

#include "crypto/enrolment_proof.h"
#include "crypto/hash.h"
#include "crypto/secret.h"

namespace fieldsync::hub {

namespace {
constexpr size_t kTimeBytes = 8;
constexpr size_t kTagBytes = crypto::kEnrolChallengeBytes - kTimeBytes;
constexpr std::string_view kTagDomain = "fieldsync hub enrolment challenge v1";
}  // namespace

EnrolChallenges::EnrolChallenges() {
  crypto::EnsureSodium();
  key_.resize(crypto::kHashKeyBytes);
  randombytes_buf(key_.data(), key_.size());
}

std::string EnrolChallenges::Tag(std::string_view issued) const {
  return crypto::Blake2bHasher(kTagBytes, key_).Update(kTagDomain).Update(issued).Final();
}

std::string EnrolChallenges::Issue(int64_t now_millis) const {
  std::string c(kTimeBytes, '\0');
  const uint64_t t = static_cast<uint64_t>(now_millis);
  for (size_t i = 0; i < kTimeBytes; ++i) {
    c[i] = static_cast<char>((t >> (8 * (kTimeBytes - 1 - i))) & 0xff);
  }
  return c + Tag(c);
}

absl::Status EnrolChallenges::Check(std::string_view challenge, int64_t now_millis,
                                    int64_t max_age_millis) const {
  const std::string expected_tag =
      challenge.size() == crypto::kEnrolChallengeBytes ? Tag(challenge.substr(0, kTimeBytes))
                                                       : std::string();
  if (expected_tag.empty() ||
      sodium_memcmp(expected_tag.data(), challenge.data() + kTimeBytes, kTagBytes) != 0) {
    return absl::PermissionDeniedError(
        "the enrolment's challenge was not made by this hub (or the hub was restarted since): "
        "run fieldnode enroll again; nothing was changed");
  }
  uint64_t t = 0;
  for (size_t i = 0; i < kTimeBytes; ++i) t = (t << 8) | static_cast<unsigned char>(challenge[i]);
  const int64_t issued = static_cast<int64_t>(t);
  if (issued < now_millis - max_age_millis || issued > now_millis + 60 * 1000) {
    return absl::PermissionDeniedError(
        "the enrolment's challenge has expired: run fieldnode enroll again; nothing was changed");
  }
  return absl::OkStatus();
}

}  // namespace fieldsync::hub
