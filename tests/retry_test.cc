// The retry policy (sync/retry.h): which failures a laptop tries again soon,
// and what the daemon's schedule does with the others.
#include "sync/retry.h"

#include <gtest/gtest.h>

#include "node/grpc_transport.h"
#include "proto/wire.h"
#include "sync/schedule.h"

namespace fieldsync::sync {
namespace {

TEST(RetryableTest, TheLinksFailuresAreRetriedTheHubsInternalErrorsAreNot) {
  for (const absl::Status& s :
       {absl::UnavailableError("the link broke"), absl::DeadlineExceededError("slow"),
        absl::AbortedError("busy"), absl::ResourceExhaustedError("too much"),
        absl::CancelledError("cut")}) {
    EXPECT_TRUE(Retryable(s)) << s;
  }
  // A hub's internal error is not mended by asking again at once; the
  // transport reports a broken link as UNAVAILABLE whatever gRPC said.
  for (const absl::Status& s :
       {absl::InternalError("the hub's store failed"), absl::UnknownError("unexpected"),
        absl::InvalidArgumentError("malformed"), absl::PermissionDeniedError("revoked"),
        absl::UnauthenticatedError("no credential"), absl::FailedPreconditionError("clock"),
        absl::DataLossError("malformed batch")}) {
    EXPECT_FALSE(Retryable(s)) << s;
  }
}

// The daemon does not give up on an internal error: it tries again at its
// next scheduled pass (--every), neither at once nor after a backoff meant
// for a link that comes and goes.
TEST(RetryableTest, TheDaemonTriesAnInternalErrorAgainAtItsNextPass) {
  ScheduleOptions o;
  o.every_millis = 300'000;
  o.backoff_base_millis = 2'000;
  o.max_backoff_millis = 600'000;
  DaemonSchedule s(o, 7);
  EXPECT_EQ(s.AfterPass(absl::InternalError("the hub's store failed"), false), 300'000);
  EXPECT_EQ(s.AfterPass(absl::UnknownError("unexpected"), false), 300'000);
  EXPECT_EQ(s.AfterPass(absl::InternalError("the hub's store failed"), true), 300'000);
  const int64_t backoff = s.AfterPass(absl::UnavailableError("the link broke"), false);
  EXPECT_LT(backoff, 300'000);
}

// What gRPC 1.51 says when the link breaks under a call with INTERNAL or
// UNKNOWN is read as a broken link (reported UNAVAILABLE, retried); what a
// hub says of its own failure is not.
TEST(RetryableTest, TheTransportKnowsABrokenLinkFromTheHubsOwnError) {
  for (const char* link :
       {"Received RST_STREAM with error code 2", "Stream removed", "Socket closed",
        "Connection reset by peer", "Broken pipe", "Transport closed", "Endpoint closing",
        "FD shutdown", "GOAWAY received", "Failed parsing HTTP/2",
        "keepalive watchdog timeout"}) {
    EXPECT_TRUE(node::SaysTheLinkBroke(link)) << link;
  }
  for (const char* hub :
       {"database is locked", "the hub's store failed: disk I/O error",
        "Unexpected error in RPC handling", "the hub refused the push: internal error", ""}) {
    EXPECT_FALSE(node::SaysTheLinkBroke(hub)) << hub;
  }
}

// A cut gRPC reports in words the list lacks is still a broken link: only
// what the hub marked as its own error is not (wire::kHubErrorDetails).
TEST(RetryableTest, OnlyWhatTheHubMarkedAsItsOwnErrorIsNotABrokenLink) {
  const grpc::Status hub = wire::ToGrpc(absl::InternalError("the hub's store failed"));
  EXPECT_FALSE(node::LinkBroke(hub));
  EXPECT_FALSE(node::LinkBroke(wire::ToGrpc(absl::UnknownError("unexpected"))));
  EXPECT_TRUE(node::LinkBroke(grpc::Status(grpc::StatusCode::INTERNAL, "Endpoint read failed")));
  EXPECT_TRUE(node::LinkBroke(grpc::Status(grpc::StatusCode::UNKNOWN, "")));
  // A marked answer whose words say the link broke: the words win.
  EXPECT_TRUE(node::LinkBroke(
      grpc::Status(grpc::StatusCode::INTERNAL, "Stream removed", wire::kHubErrorDetails)));
  // Other codes are not a broken link by this rule.
  EXPECT_FALSE(node::LinkBroke(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "Socket closed")));
}

}  // namespace
}  // namespace fieldsync::sync
