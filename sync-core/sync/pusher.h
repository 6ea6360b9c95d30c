// The node's push: its own commits, oldest first, in calls of bounded size,
// each acknowledged before the next; then its key records, those the hub
// refuses for good set aside one by one.
#ifndef FIELDSYNC_SYNC_PUSHER_H_
#define FIELDSYNC_SYNC_PUSHER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "base/tuning.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sync/budget.h"
#include "sync/messages.h"
#include "sync/own_check.h"
#include "sync/report.h"
#include "sync/transport.h"

namespace fieldsync::sync {

struct PushOptions {
  size_t max_commits = tuning::kPushCommitsPerCall;  // commits per call, at most
  size_t max_bytes = tuning::kPushBytesPerCall;      // bytes of commits per call (one may
                                                     // exceed it alone); with a budget,
                                                     // the lower of both
};

class Pusher {
 public:
  Pusher(Transport& transport, const Credential& cred, PushOptions options)
      : transport_(transport), cred_(cred), options_(options) {}

  // Pushes every commit after the pushed cursor, moving it after each
  // acknowledged call (acknowledged means stored at the hub for good).
  // CANCELLED when *stop becomes true between calls.
  absl::Status PushCommits(Replica& replica, const std::atomic<bool>* stop, SyncReport* report);

  // Pushes the key records not pushed yet; refused ones are set aside.
  // Then, up to tuning::kOwnKeyRecordsSentAgainPerPass a pass, those marked
  // to be sent again (KeyRing::ResendOwn). With `resend_before`, then sends
  // again records set aside before that time (KeyRing::ResendRefused), once.
  absl::Status PushKeys(KeyRing& keys, SyncReport* report,
                        std::optional<int64_t> resend_before = std::nullopt);

  // Version 3: hands this node's signed statement (sync/statement_keeper.h)
  // to the hub. Returns what the hub answered: why it did not keep it
  // (statement_refusal empty: kept), and for a checkpoint, whether it adopted
  // it; an error only if the hub could not be reached.
  absl::StatusOr<PushOutcome> PushStatement(const std::string& statement);

  // Version 3: other devices' commits relayed to a hub that lost them
  // (sync/relay.h), for every author whose relay cursor is set.
  absl::Status Relay(Replica& replica, KeyRing& keys, const std::atomic<bool>* stop,
                     SyncReport* report);

  // The protocol version agreed at Hello: from 3 on, commits carry their
  // headers, and those of commits the hub holds without one go first.
  void set_protocol_version(int v) { protocol_version_ = v; }
  // Version 3, with a hub that said it reads them (HelloReply.compact_headers):
  // commits travel with compact headers (sync/compact_header.h).
  void set_compact_headers(bool c) { compact_headers_ = c; }
  // The stop flag of the pass (SIGTERM): a call it cancelled is not a cut
  // of the link.
  void set_stop(const std::atomic<bool>* stop) { stop_ = stop; }
  // The hub's id (HelloReply.hub_id): what evidence against it names.
  void set_hub(const DeviceId& hub) { hub_ = hub; }
  // The byte budget of a push call (sync/budget.h): each call carries
  // commits, key records or headers up to it (at least one), and records
  // how it ended. Null: options.max_bytes alone.
  void set_budget(CallBudget* b) { budget_ = b; }
  // How a value this laptop stored is opened (KeyRing::Read, through
  // sync/restamp.h StoredOpener): for the commit that writes over a
  // set-aside commit the hub kept stored (Replica::SupersedeSetAside).
  // Unset: that commit waits (nothing after the withdrawal is pushed).
  void set_open(OpenStored open) { open_ = std::move(open); }
  // This laptop's own public signing key, of its unlocked identity (never
  // one the hub named): each commit is checked against it before it goes
  // (sync/own_check.h). A damaged one is set aside here and its signed
  // header alone sent; a hub refusing as not signed what passes the check
  // holds another key for this laptop (hub_holds_other_key). Empty (locked):
  // nothing is checked.
  void set_own_sign_pk(std::string pk) { own_sign_pk_ = std::move(pk); }
  // Whether the hub refused this laptop's own signature over something
  // this laptop's own key verifies: nothing it signs is taken this pass
  // (its key records and statement are not sent), the pull still runs.
  bool hub_holds_other_key() const { return hub_other_key_; }
  // Whether a call of this pusher moved something to the hub (commits or
  // headers acknowledged, key records taken or set aside).
  bool progressed() const { return progressed_; }

 private:
  // One author's commits relayed from its cursor `name` at `held`; whether
  // the hub took any (sync/relay.h).
  absl::StatusOr<bool> RelayAuthor(Replica& replica, const std::string& name, int64_t held,
                                   const std::atomic<bool>* stop, SyncReport* report);
  // The key records of the authors relayed (sync/relay.h).
  absl::Status RelayKeys(Replica& replica, KeyRing& keys, SyncReport* report);
  // Bytes one call may carry now.
  size_t Limit() const;
  // Records the end of a call in the budget: a success, or a failure of
  // the link (the call applied nothing). A refusal changes nothing.
  absl::Status Account(const absl::Status& call);
  PushRequest NewRequest() const;
  // A push of what this laptop signed refused (Refused): the hub's
  // UNAUTHENTICATED (a signature it says does not verify) is a refusal that
  // still lets the pass pull, worded as this laptop's own check finds it.
  absl::Status RefusedOwn(std::string_view call, const absl::Status& s);
  // This laptop's signed header of `what` checked against its own key
  // before it goes: PERMISSION_DENIED naming it if damaged (OK if locked).
  absl::Status OwnHeaderSound(const std::string& header, const std::string& signature,
                              std::string_view what) const;
  // Commit `c`, which failed this laptop's own check (`own`): set aside
  // (code DAMAGED) and added to `aside`, so that its header alone goes next;
  // PERMISSION_DENIED if it cannot be (no sound header, or version 2).
  absl::Status SetAsideDamaged(Replica& replica, const Commit& c, const OwnCheck& own,
                               std::map<uint64_t, SetAsideRow>* aside, SyncReport* report);
  // Version 3: the headers of this node's commits up to `pushed` that the
  // hub has not accounted yet.
  absl::Status Backfill(Replica& replica, int64_t pushed);
  // Version 3: pushes this laptop's withdrawal entry at *pushed + 1, if
  // that seq is one (store/replica.h, ChainRow::kWithdrawal), and moves
  // *pushed past it. False if it is not.
  absl::StatusOr<bool> PushWithdrawal(Replica& replica, int64_t* pushed, SyncReport* report);
  // The hub kept withdrawal `w` but holds the set-aside commits `stored`
  // it passes over stored (WITHDRAWN_STORED naming each): each written over
  // by a new commit of this laptop (Replica::SupersedeSetAside), said once.
  absl::Status SupersedeStored(Replica& replica, uint64_t w, const std::vector<uint64_t>& stored,
                               SyncReport* report);
  // Version 3: this laptop's commits set aside from *pushed + 1 on, sent
  // again to a hub that went back as it had them: their headers alone,
  // refused with the code it gave, with the withdrawal passing over each if
  // there is one (PushRequest.refused); never the commit, which the hub
  // would judge anew. Moves *pushed past them. False if *pushed + 1 is not
  // set aside (`aside`: the set-aside rows by seq).
  absl::StatusOr<bool> PushRefusedAgain(Replica& replica,
                                        const std::map<uint64_t, SetAsideRow>& aside,
                                        int64_t* pushed, SyncReport* report);
  // One entry of `author` at `next` that this laptop holds without its body
  // relayed: a withdrawal entry, or refused headers a withdrawal of the
  // author it holds passes over (sync/relay.h). The hub's acknowledged seq
  // of the author after it; nullopt if there is no such entry to relay.
  absl::StatusOr<std::optional<int64_t>> RelayWithdrawn(Replica& replica, const DeviceId& author,
                                                        uint64_t next, SyncReport* report);

  Transport& transport_;
  const Credential& cred_;
  PushOptions options_;
  int protocol_version_ = kProtocolVersion;
  bool compact_headers_ = false;
  CallBudget* budget_ = nullptr;
  OpenStored open_;
  bool progressed_ = false;
  DeviceId hub_;
  std::string own_sign_pk_;
  bool hub_other_key_ = false;
  const std::atomic<bool>* stop_ = nullptr;
  // Seqs whose refusal, once acknowledged, was counted this pass
  // (BelieveRefusalOfAcknowledged counts passes, not pushes).
  std::set<uint64_t> counted_acked_;
  // Of those, the ones believed (set aside when the pusher reaches them).
  std::set<uint64_t> believed_acked_;
  // This laptop's key records sent again this pass (PushKeys; at most
  // tuning::kOwnKeyRecordsSentAgainPerPass).
  size_t own_resent_ = 0;
};

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_PUSHER_H_
