// One author's commit chain as a laptop tracks it (docs/PROTOCOL-v3.md
// section 1; issue 11 point 3): signed headers (crypto/commit_header.h)
// offered as pulls bring them, in any order, placed when they continue what
// is held. The rules, apart from where the entries are stored and how they
// travel:
//
// - Authentic: a withdrawal by its own signature; any other entry by its
//   signature, or because an authentic entry names its link (the next
//   entry's prev link, a withdrawn range's link before or link last): the
//   author hashed it when signing, so one Ed25519 verify covers a run.
// - Placed: an entry whose prev link is the link of the head (every seq up
//   to the head is placed or withdrawn); a withdrawal's ranges bridge seqs
//   as soon as it is authentic, so later entries can be placed.
// - A gap: authentic entries beyond the head wait; Missing() names what the
//   next pull asks for. Nothing else is held back.
// - Evidence, after which this author's later entries are held back: two
//   authentic entries of one seq with different links (a fork), two
//   withdrawals passing over one seq (a fork too), an entry
//   whose prev link is not the link held before it, or a range whose links
//   do not fit what is held.
// - Evidence against the hub, which holds nothing back: a withdrawn seq
//   delivered with its body. The author signed that the hub refused it and
//   that it never will be delivered; a hub that relays it whole (one that
//   kept a refused original) contradicts itself, not the author. The body
//   is never placed (so never applied), the evidence is noted once a seq
//   (Result::against_hub), and the chain goes on past the range. A header
//   alone may be relayed for a commit the hub refused: no evidence.
#ifndef FIELDSYNC_SYNC_CHAIN_H_
#define FIELDSYNC_SYNC_CHAIN_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "change/id.h"
#include "crypto/commit_header.h"

namespace fieldsync::sync {

// Two signed entries the author (or the hub) cannot both stand behind.
struct ChainEvidence {
  enum class Kind {
    kFork,               // two entries of one seq, a prev link not the held one, or
                         // two withdrawals passing over one seq
    kWithdrawnDelivered,  // a seq a signed withdrawal passes over came with its body
    kHubDowngrade,  // not of a chain: the hub agreed a lower protocol version than it
                    // once did with this laptop (sync/downgrade.h; device: the hub)
    // Found by comparing a colleague's or partner's signed statement
    // (sync/statement_keeper.h); these do not hold the author's entries back:
    kStatementContradicts,  // the statement names another link for an entry held here
    kWithheld,              // the hub did not send, when asked, an entry a statement names
    // Not of a chain: a checkpoint page whose rows the proof does not place
    // under the signed root (sync/checkpoint_keeper.h; device: the signer)
    kForgedCheckpointPage,
    // Not of a chain: a row installed whole (a case newly referred) whose
    // value or base for a version is not what that version's signed commit
    // wrote (sync/row_witness.h; device: that commit's author)
    kForgedInstalledRow,
    // Not of a chain: the hub refused for good a commit of this laptop it
    // had acknowledged stored before it said it lost it (a hub put back
    // from a backup, or lying; sync/set_aside.h; device: the hub, seq: the
    // commit's, held_header: its signed header)
    kHubRefusedAcknowledged,
    // Against the hub: a pulled entry whose body does not verify here,
    // relayed under a signature its author did not make -- its header's,
    // or, under a header the author signed, the commit's (the hub checked
    // both when it took the commit; sync/chain_keeper.h). At most one not
    // yet read an author; stops nobody (device: the author named, seq: as
    // the header names it, other_header/other_signature: the header and
    // its signature as relayed)
    kRelayedUnverified
  };
  Kind kind = Kind::kFork;
  uint64_t seq = 0;
  std::string held_header, held_signature;    // what this laptop held
  std::string other_header, other_signature;  // what contradicts it
  std::string what;                           // one line, for status and the log
};

class AuthorChain {
 public:
  // Tracked from the author's first entry (an office colleague).
  AuthorChain(DeviceId author, std::string sign_pk);
  // Tracked from an anchor: the author's entry `seq` with link `link` (a
  // checkpoint's head, say); entries at or before it are not checked.
  AuthorChain(DeviceId author, std::string sign_pk, uint64_t anchor_seq, std::string anchor_link);

  struct Offered {
    std::string header;     // encoded commit header
    std::string signature;  // its author's
    // Delivered with its commit's body, not header only. Set it only once
    // the body was checked to be the commit this header covers
    // (crypto::CheckHeaderCoversCommit): a body is evidence against the hub.
    bool with_body = false;
  };
  struct Result {
    std::vector<uint64_t> placed;     // seqs placed by this offer, ascending
    // Ranges of seqs passed over by a withdrawal, first..last.
    std::vector<std::pair<uint64_t, uint64_t>> withdrawn;
    size_t duplicates = 0;            // held already, same link
    size_t refused = 0;               // malformed, another author's, or not authentic
    std::vector<std::string> problems;  // one line each
    bool new_evidence = false;        // evidence() was set by this offer
    // Evidence against the hub found by this offer (kWithdrawnDelivered),
    // one a seq over the chain's life; the chain goes on.
    std::vector<ChainEvidence> against_hub;
  };
  Result Offer(const std::vector<Offered>& entries);

  const DeviceId& author() const { return author_; }
  // Every seq up to head() is placed, withdrawn, or at or before the anchor.
  uint64_t head() const { return head_; }
  const std::string& head_link() const { return head_link_; }
  // Seqs first..last the next pull should ask for: authentic entries or a
  // withdrawal wait beyond them. None if nothing waits.
  std::optional<std::pair<uint64_t, uint64_t>> Missing() const;
  size_t waiting() const { return waiting_.size(); }
  // Evidence against the author, set once; from then on Offer places
  // nothing.
  const std::optional<ChainEvidence>& evidence() const { return evidence_; }

 private:
  struct Entry {
    crypto::CommitHeader h;
    std::string header, signature, link;
    bool with_body = false;
  };
  void Stop(ChainEvidence::Kind kind, uint64_t seq, const Entry* held, const Entry& other,
            std::string what, Result* r);
  // The link of `seq` if this laptop knows it (the anchor, a placed entry,
  // the last seq of a passed range).
  std::optional<std::string> KnownLink(uint64_t seq) const;
  // Evidence against the hub: `body`, of a seq `withdrawal` passes over,
  // came whole. Noted once a seq; stops nothing.
  void NoteWithdrawnDelivered(const Entry& withdrawal, const Entry& body, Result* r);
  // The entries (placed or waiting) delivered with their bodies within
  // first..last.
  std::vector<const Entry*> BodiesWithin(uint64_t first, uint64_t last) const;
  // The withdrawal whose range (passed over or waiting to be) holds `seq`.
  const Entry* WithdrawalOver(uint64_t seq) const;
  // A withdrawal other than the one of link `link` with a range sharing a
  // seq with first..last (passed over or waiting to be).
  const Entry* OtherWithdrawalWithin(uint64_t first, uint64_t last,
                                     const std::string& link) const;
  void Take(Entry e, Result* r);
  void AddBridges(const Entry& withdrawal, Result* r);
  void Advance(Result* r);
  // The head passes over a withdrawn range to `seq`, whose link is `link`.
  void MoveHead(uint64_t seq, const std::string& link);

  DeviceId author_;
  std::string sign_pk_;
  uint64_t anchor_ = 0;
  std::string anchor_link_;
  uint64_t head_ = 0;
  std::string head_link_;
  std::map<uint64_t, Entry> held_;     // placed entries after the anchor
  std::map<uint64_t, Entry> waiting_;  // authentic, beyond the head
  std::map<uint64_t, std::pair<crypto::WithdrawnRange, Entry>> bridges_;  // by first seq
  // Ranges passed over, by first seq: their last seq and the withdrawal.
  std::map<uint64_t, std::pair<crypto::WithdrawnRange, Entry>> withdrawn_;
  std::optional<ChainEvidence> evidence_;
  std::set<uint64_t> withdrawn_delivered_;  // seqs noted against the hub
};

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_CHAIN_H_
