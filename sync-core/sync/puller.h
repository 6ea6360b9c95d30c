// The node's pull: one stream from its cursor until the hub says it is
// caught up. Each message is verified and applied in one transaction with
// the cursors it moves, so a cut link loses nothing already applied.
#ifndef FIELDSYNC_SYNC_PULLER_H_
#define FIELDSYNC_SYNC_PULLER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sync/budget.h"
#include "sync/messages.h"
#include "sync/report.h"
#include "sync/transport.h"

namespace fieldsync::sync {

struct PullOptions {
  uint32_t max_batch = 0;  // items per message; 0: the hub's default
  // Makes each pull's call id (PullParams.call_id); null: 16 random bytes
  // (libsodium). The simulation numbers its calls instead, so that the ids
  // draw nothing from the randomness its schedules replay.
  std::function<std::string()> call_id;
};

class Puller {
 public:
  Puller(Transport& transport, const Credential& cred, PullOptions options)
      : transport_(transport), cred_(cred), options_(options) {}

  // Pulls until caught up. The registry and key records of a message go to
  // `keys` before its commits, which are verified against them. Stops
  // between messages when *stop becomes true (CANCELLED; what was applied
  // is kept). `progress` is called after each applied message.
  absl::Status PullAll(Replica& replica, KeyRing& keys, const std::atomic<bool>* stop,
                       const std::function<void(const SyncReport&)>& progress,
                       SyncReport* report);

  // The protocol version agreed at Hello: from 3 on, commit chains are
  // checked (sync/chain_keeper.h).
  void set_protocol_version(int v) { protocol_version_ = v; }
  // Version 3: entries of tracked authors the next pull asks for
  // (PullParams.chain_wants; sync/statement_keeper.h).
  void set_chain_wants(std::vector<std::pair<DeviceId, uint64_t>> wants) {
    chain_wants_ = std::move(wants);
  }
  // Below version 3 with a hub that agreed 3 before (sync/downgrade.h): the
  // pulled commits still go through the chain keeper, which applies no
  // header-less commit of an author tracked here past its head.
  void set_downgraded(bool d) { downgraded_ = d; }
  // Version 3: ask for compact headers (sync/compact_header.h), rebuilt
  // here before the chains are checked.
  void set_compact_headers(bool c) { compact_headers_ = c; }
  // The byte budget of a pull's messages (sync/budget.h), sent as
  // PullParams.max_message_bytes; the pull records how it ended. Null: the
  // hub's own size.
  void set_budget(CallBudget* b) { budget_ = b; }
  // How far the hub's clock was ahead of this laptop's at the hello: pulled
  // commits are judged against this clock corrected by it (ClockLead).
  void set_clock_lead(const ClockLead& lead) { clock_lead_ = lead; }
  // Whether a pull of this puller applied something (commits, rows, key
  // records, statements) or moved a cursor.
  bool progressed() const { return progressed_; }

 private:
  Transport& transport_;
  const Credential& cred_;
  PullOptions options_;
  int protocol_version_ = kProtocolVersion;
  std::vector<std::pair<DeviceId, uint64_t>> chain_wants_;
  bool downgraded_ = false;
  bool compact_headers_ = false;
  CallBudget* budget_ = nullptr;
  ClockLead clock_lead_;
  bool progressed_ = false;
};

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_PULLER_H_
