// The hub's side of the sync protocol, whatever carries it: the protocol
// version and the node's credential checked on every call, the limits of a
// push, an older node's pull held back before what it cannot take, the
// bookkeeping of each call; the work itself is the store's (hub/store.h).
// The gRPC service (hub/service.cc) converts fieldsync.v1 messages to and
// from these; the in-process loopback (sync-core/sync/loopback.h) calls it
// directly. Thread-safe as the store is.
#ifndef FIELDSYNC_HUB_SYNC_HANDLER_H_
#define FIELDSYNC_HUB_SYNC_HANDLER_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "clock/clock_source.h"
#include "hub/alarm_limiter.h"
#include "hub/enrol_challenge.h"
#include "hub/store.h"
#include "sync/transport.h"

namespace fieldsync::hub {

class SyncHandler final : public sync::Transport {
 public:
  // `log`: one line per refusal (`refusal` true) and per enrolment (and per
  // call when verbose); null: none.
  using LogLine = std::function<void(const std::string& line, bool refusal)>;
  // `proof_certificates`: the digests a credential proof may be bound to
  // (hub/credential_check.h; the gRPC service gives its certificate's and
  // those of `serve --proof-cert`); none: every proof is refused.
  SyncHandler(HubStore* store, ClockSource* clock, bool verbose, LogLine log,
              std::vector<std::string> proof_certificates = {})
      : store_(store),
        clock_(clock),
        verbose_(verbose),
        log_(std::move(log)),
        proof_certificates_(std::move(proof_certificates)) {}
  // Audits the two-holders alarms the hub-wide limit held back (a summary
  // entry), if any: the store must still be open.
  ~SyncHandler() override;

  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& req) override;
  absl::StatusOr<sync::EnrollReply> Enroll(const sync::EnrollRequest& req) override;
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override;
  // `on_chunk` sends a message; an error from it (the node has gone, the
  // link was cut) ends the pull and is returned.
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override;

  // `fieldhub serve --refuse-bearer`: no call is authenticated by a bearer
  // (the secret itself), whatever the device.
  void set_refuse_bearer(bool refuse) { refuse_bearer_ = refuse; }
  // Where the call being served comes from (the gRPC peer), for the audit
  // entries of a link key's registration and of a two-holders alarm; none:
  // "in process".
  void set_peer(std::function<std::string()> peer) { peer_ = std::move(peer); }

  // INVALID_ARGUMENT for a push over the limits of docs/PROTOCOL.md.
  static absl::Status CheckPushLimits(size_t commits, size_t key_records);

 private:
  // `offered_link_key`: the key a Hello offers to register (for the
  // alarm's audit entry).
  absl::StatusOr<NodeInfo> Authenticate(const sync::Credential& cred,
                                        std::string_view offered_link_key = {});
  // A two-holders alarm raised by `cred`'s call against the stored link
  // key `link_pk`: audited (kAuditLinkKeyAlarm) unless `alarms_` counts it;
  // nothing of the device changes.
  void AuditAlarm(const sync::Credential& cred, const std::string& link_pk,
                  std::string_view offered_link_key);
  // The summary entry of the alarms the hub-wide limit held back
  // (hub/alarm_limiter.h), by kAlarmSummaryActor.
  absl::Status AuditHeldAlarms(const AlarmLimiter::Summary& s);
  std::string Peer() const;
  // The check of `cred` against the store (hub/credential_check.h).
  CredentialCheck CheckOf(const sync::Credential& cred) const;
  // A Hello's registration of the caller's link key, authenticated as
  // `node`; whether the hub holds it (now or before).
  bool RegisterLinkKey(const sync::HelloRequest& req, const NodeInfo& node);
  absl::Status Fail(std::string_view call, const absl::Status& s, const NodeInfo* node = nullptr);
  void Log(const std::string& line, bool refusal = false);

  HubStore* store_;
  ClockSource* clock_;
  bool verbose_;
  LogLine log_;
  const EnrolChallenges challenges_;
  const std::vector<std::string> proof_certificates_;
  bool refuse_bearer_ = false;
  std::function<std::string()> peer_;
  AlarmLimiter alarms_;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_SYNC_HANDLER_H_
