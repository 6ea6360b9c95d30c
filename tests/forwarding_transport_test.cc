// sync::ForwardingTransport: each call handed on as it is, answers handed
// back as they are; a subclass's Next() decides where calls go.
#include "sync/forwarding_transport.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fieldsync::sync {
namespace {

// Answers each call with what the test set, recording what it was asked.
class Recorder : public Transport {
 public:
  absl::StatusOr<HelloReply> Hello(const HelloRequest&) override {
    calls.push_back("hello");
    HelloReply r;
    r.protocol_version = 7;
    return r;
  }
  absl::StatusOr<EnrollReply> Enroll(const EnrollRequest&) override {
    calls.push_back("enroll");
    return absl::PermissionDeniedError("unknown token");
  }
  absl::StatusOr<PushOutcome> Push(const PushRequest& req) override {
    calls.push_back("push " + std::to_string(req.commits.size()));
    return PushOutcome{};
  }
  absl::Status Pull(const PullRequest&,
                    const std::function<absl::Status(PullChunk&)>& on_chunk) override {
    calls.push_back("pull");
    PullChunk c;
    c.log_head = 42;
    return on_chunk(c);
  }
  void Reset() override { calls.push_back("reset"); }
  std::vector<std::string> calls;
};

TEST(ForwardingTransportTest, HandsEveryCallOnAndEveryAnswerBack) {
  Recorder next;
  ForwardingTransport f(next);
  absl::StatusOr<HelloReply> hello = f.Hello(HelloRequest{});
  ASSERT_TRUE(hello.ok()) << hello.status();
  EXPECT_EQ(hello->protocol_version, 7);
  EXPECT_EQ(f.Enroll(EnrollRequest{}).status().code(), absl::StatusCode::kPermissionDenied);
  PushRequest push;
  push.commits.resize(2);
  EXPECT_TRUE(f.Push(push).ok());
  int64_t head = 0;
  EXPECT_TRUE(f.Pull(PullRequest{}, [&](PullChunk& c) {
                 head = c.log_head;
                 return absl::OkStatus();
               }).ok());
  EXPECT_EQ(head, 42);
  f.Reset();
  EXPECT_EQ(next.calls, (std::vector<std::string>{"hello", "enroll", "push 2", "pull", "reset"}));
}

// A subclass that changes one call keeps the others as they were.
class OlderHub : public ForwardingTransport {
 public:
  using ForwardingTransport::ForwardingTransport;
  absl::StatusOr<HelloReply> Hello(const HelloRequest& req) override {
    absl::StatusOr<HelloReply> r = ForwardingTransport::Hello(req);
    if (r.ok()) r->protocol_version = 2;
    return r;
  }
};

TEST(ForwardingTransportTest, ASubclassChangesOnlyWhatItOverrides) {
  Recorder next;
  OlderHub older(next);
  EXPECT_EQ(older.Hello(HelloRequest{})->protocol_version, 2);
  EXPECT_TRUE(older.Push(PushRequest{}).ok());
  EXPECT_EQ(next.calls, (std::vector<std::string>{"hello", "push 0"}));
}

// Where calls go found at each call (a hub that may be stopped): its error
// is the call's answer, and Reset has nowhere to go.
class Switchable : public ForwardingTransport {
 public:
  Transport* target = nullptr;

 protected:
  absl::StatusOr<Transport*> Next() const override {
    if (target == nullptr) return absl::UnavailableError("stopped");
    return target;
  }
};

TEST(ForwardingTransportTest, WhereCallsGoMayBeFoundAtEachCall) {
  Recorder next;
  Switchable s;
  EXPECT_EQ(s.Hello(HelloRequest{}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.Pull(PullRequest{}, [](PullChunk&) { return absl::OkStatus(); }).code(),
            absl::StatusCode::kUnavailable);
  s.Reset();
  s.target = &next;
  EXPECT_TRUE(s.Push(PushRequest{}).ok());
  EXPECT_EQ(next.calls, (std::vector<std::string>{"push 0"}));
}

}  // namespace
}  // namespace fieldsync::sync
