#include "tools/bench/hubstore/hub_side.h"

#include <chrono>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "clock/clock_source.h"
#include "crypto/pairing_code.h"
#include "sync/pass.h"
#include "tools/bench/common/case_data.h"
#include "tools/bench/common/case_writes.h"

namespace fieldsync::bench_hubstore {
namespace {

using Steady = std::chrono::steady_clock;

int64_t NanosSince(Steady::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - t0).count();
}

}  // namespace

TimedHub::TimedHub(std::unique_ptr<hub::HubStorage> storage, ClockSource* clock)
    : storage_(std::move(storage)),
      engine_(std::make_unique<hub::HubEngine>(storage_.get(), clock)),
      handler_(std::make_unique<hub::SyncHandler>(engine_.get(), clock, /*verbose=*/false,
                                                  nullptr)) {}

TimedHub::~TimedHub() = default;

absl::StatusOr<sync::PushOutcome> TimedHub::Push(const sync::PushRequest& r) {
  const Steady::time_point t0 = Steady::now();
  absl::StatusOr<sync::PushOutcome> out = handler_->Push(r);
  push_nanos_ += NanosSince(t0);
  if (!out.ok()) {
    absl::MutexLock l(&mu_);
    if (first_error_.empty()) first_error_ = out.status().ToString();
  }
  return out;
}

absl::Status TimedHub::Pull(const sync::PullRequest& r,
                            const std::function<absl::Status(sync::PullChunk&)>& f) {
  int64_t node_side = 0;
  const Steady::time_point t0 = Steady::now();
  absl::Status out = handler_->Pull(r, [&](sync::PullChunk& chunk) {
    const Steady::time_point c0 = Steady::now();
    absl::Status s = f(chunk);
    node_side += NanosSince(c0);
    return s;
  });
  pull_nanos_ += NanosSince(t0) - node_side;
  if (!out.ok()) {
    absl::MutexLock l(&mu_);
    if (first_error_.empty()) first_error_ = out.ToString();
  }
  return out;
}

std::string TimedHub::first_error() {
  absl::MutexLock l(&mu_);
  return first_error_.empty() ? "none" : first_error_;
}

absl::StatusOr<std::unique_ptr<Node>> Node::Create(const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::unique_ptr<Node> n(new Node());
  ReplicaOptions o;
  o.path = absl::StrCat(dir, "/replica.db");
  FS_ASSIGN_OR_RETURN(n->replica_, Replica::Open(o));
  n->identity_ = std::make_unique<crypto::DeviceIdentity>(
      crypto::DeviceIdentity::Generate(n->replica_->device_id()));
  return n;
}

absl::Status Node::Enrol(TimedHub& hub, const std::string& province) {
  FS_ASSIGN_OR_RETURN(hub::EnrollToken token,
                      hub.engine().MakeEnrollToken(province, 3'600'000, "bench"));
  FS_ASSIGN_OR_RETURN(sync::EnrollReply e, sync::Enrol(hub, token.token, *identity_, "bench node",
                                                       *SystemClock::Get()));
  cred_ = sync::Credential{replica_->device_id(), e.secret};
  province_ = province;
  FS_ASSIGN_OR_RETURN(keys_, KeyRing::Open(replica_.get(), province));
  FS_RETURN_IF_ERROR(keys_->Unlock(identity_->Clone()));
  replica_->SetSecurity(keys_->Security());
  return absl::OkStatus();
}

absl::Status Node::EnrolFirst(TimedHub& hub, const std::string& province) {
  FS_RETURN_IF_ERROR(Enrol(hub, province));
  FS_RETURN_IF_ERROR(Pass(hub).status());
  const crypto::DevicePublic me = identity_->public_keys();
  FS_RETURN_IF_ERROR(keys_->ApproveFirst(crypto::PairingCode(me, me)));
  return Pass(hub).status();
}

absl::Status Node::WriteCases(int64_t first, int64_t count, size_t batch) {
  std::vector<RowId> ids;
  ids.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) ids.push_back(Id16::NewV7(SystemClock::Get()));
  for (size_t start = 0; start < ids.size(); start += batch) {
    const size_t end = std::min(ids.size(), start + batch);
    std::vector<LocalTxn> txns =
        bench::CaseTxns(ids, start, end, first,
                        bench::CaseProfile::kFull, province_);
    FS_RETURN_IF_ERROR(replica_->WriteMany(txns).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<sync::SyncReport> Node::Pass(TimedHub& hub) {
  sync::PassOptions o;
  return sync::RunPass(hub, *replica_, *keys_, cred_, o);
}

}  // namespace fieldsync::bench_hubstore
