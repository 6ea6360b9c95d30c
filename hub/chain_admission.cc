#include "hub/chain_admission.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "change/commit_codec.h"
#include "crypto/commit_header.h"

namespace fieldsync::hub {
namespace {

// Whether `h` continues `head`: the next seq, naming the head's link.
bool Continues(const crypto::CommitHeader& h, const ChainPoint& head) {
  if (h.seq != head.seq + 1) return false;
  return h.prev_link == (head.seq == 0 ? crypto::NoLink() : head.link);
}

std::string Broken(const DeviceId& device, uint64_t seq, const ChainPoint& head) {
  return absl::StrCat("the header of commit ", device.ToString(), "#", seq,
                      " does not continue this device's chain at the hub (which ends at ",
                      head.seq, "): a device signs one history only; nothing of the push was "
                      "stored");
}

}  // namespace

absl::Status CheckPushedHeader(const NodeInfo& node, const Commit& c) {
  if (c.header.empty() && c.header_signature.empty()) return absl::OkStatus();
  absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(c.header);
  if (!h.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "commit ", c.Name(), ": ", h.status().message(), "; nothing of the push was stored"));
  }
  if (absl::Status v = crypto::VerifyCommitHeader(c.header, c.header_signature, node.keys.sign_pk);
      !v.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the header of commit ", c.Name(), ": ", v.message(), "; nothing of the push was stored"));
  }
  if (absl::Status v = crypto::CheckHeaderCoversCommit(*h, c, {}); !v.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(v.message(), "; nothing of the push was stored"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ChainAdmission> ChainAdmission::Begin(HubWriteTxn& hub, const NodeInfo& node) {
  FS_ASSIGN_OR_RETURN(ChainPoint head, hub.ChainHead(node.device));
  return ChainAdmission(node, std::move(head));
}

absl::Status ChainAdmission::Backfill(HubWriteTxn& hub,
                                      const std::vector<sync::ChainEntryBytes>& entries) {
  for (const sync::ChainEntryBytes& e : entries) {
    absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(e.header);
    if (!h.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a backfilled header: ", h.status().message(), "; nothing of the push was stored"));
    }
    if (h->author != node_.device || h->withdrawal) {
      return absl::PermissionDeniedError(
          "a backfilled header is not of one of this node's commits; nothing of the push was "
          "stored");
    }
    if (h->seq <= head_.seq) {
      // Held already (a push whose answer was lost): the same entry only.
      FS_ASSIGN_OR_RETURN(std::vector<StoredChainEntry> held,
                          hub.ChainEntries(node_.device, h->seq, h->seq, 1));
      if (held.empty() || held.front().link != crypto::CommitLink(e.header, e.signature)) {
        return absl::FailedPreconditionError(Broken(node_.device, h->seq, head_));
      }
      continue;
    }
    if (!Continues(*h, head_)) return absl::InvalidArgumentError(Broken(node_.device, h->seq, head_));
    if (absl::Status v = crypto::VerifyCommitHeader(e.header, e.signature, node_.keys.sign_pk);
        !v.ok()) {
      return absl::UnauthenticatedError(absl::StrCat("a backfilled header: ", v.message(),
                                                     "; nothing of the push was stored"));
    }
    FS_ASSIGN_OR_RETURN(std::optional<LogEntry> logged, hub.LoggedCommit(node_.device, h->seq));
    if (!logged) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a backfilled header names commit ", node_.device.ToString(), "#", h->seq,
          ", which the hub does not hold: push the commit with its header instead; nothing of "
          "the push was stored"));
    }
    FS_ASSIGN_OR_RETURN(Commit body, DecodeCommit(logged->body));
    if (absl::Status v = crypto::CheckHeaderCoversCommit(*h, body, {}); !v.ok()) {
      return absl::UnauthenticatedError(absl::StrCat(v.message(), "; nothing of the push was stored"));
    }
    StoredChainEntry s;
    s.seq = h->seq;
    s.position = logged->position;
    s.header = e.header;
    s.signature = e.signature;
    s.link = crypto::CommitLink(e.header, e.signature);
    FS_RETURN_IF_ERROR(hub.AddChainEntry(node_.device, s));
    head_ = ChainPoint{s.seq, s.link};
  }
  return absl::OkStatus();
}

absl::Status ChainAdmission::BackfillStored(HubWriteTxn& hub, const std::vector<Commit>& commits) {
  std::vector<sync::ChainEntryBytes> stored;
  for (const Commit& c : commits) {
    if (c.header.empty() || c.seq <= head_.seq) continue;
    if (c.seq != head_.seq + 1 + stored.size()) break;
    FS_ASSIGN_OR_RETURN(std::optional<LogEntry> logged, hub.LoggedCommit(node_.device, c.seq));
    if (!logged) break;
    stored.push_back(sync::ChainEntryBytes{c.header, c.header_signature});
  }
  return Backfill(hub, stored);
}

absl::Status ChainAdmission::Check(const Commit& c) const {
  if (c.header.empty()) {
    if (head_.seq == 0) return absl::OkStatus();  // its chain has not begun
    return absl::InvalidArgumentError(absl::StrCat(
        "commit ", c.Name(), " comes without its header, but this device's chain at the hub "
        "reached ", head_.seq, ": every later commit carries one; nothing of the push was "
        "stored"));
  }
  // Decoded and verified by CheckPushedHeader already.
  absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(c.header);
  if (!h.ok()) return h.status();
  if (head_.seq == 0 && h->seq > 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "commit ", c.Name(), " names a previous entry the hub lacks: send the headers of this "
        "device's earlier commits first (backfill); nothing of the push was stored"));
  }
  if (!Continues(*h, head_)) return absl::InvalidArgumentError(Broken(c.author, c.seq, head_));
  return absl::OkStatus();
}

absl::Status ChainAdmission::Record(HubWriteTxn& hub, const Commit& c, int64_t position) {
  if (c.header.empty()) return absl::OkStatus();
  StoredChainEntry s;
  s.seq = c.seq;
  s.position = position;
  s.header = c.header;
  s.signature = c.header_signature;
  s.link = crypto::CommitLink(c.header, c.header_signature);
  FS_RETURN_IF_ERROR(hub.AddChainEntry(c.author, s));
  head_ = ChainPoint{s.seq, s.link};
  return absl::OkStatus();
}

absl::Status ChainAdmission::RecordRefused(HubWriteTxn& hub, const Commit& c,
                                           sync::RefusalCode code) {
  return Record(hub, c, -static_cast<int64_t>(code));
}

absl::StatusOr<std::vector<sync::CommitRefusal>> ChainAdmission::Withdraw(
    HubWriteTxn& hub, MergeStore& rows, const sync::ChainEntryBytes& e) {
  absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(e.header);
  if (!h.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a withdrawal: ", h.status().message(), "; nothing of the push was stored"));
  }
  if (!h->withdrawal || h->author != node_.device) {
    return absl::PermissionDeniedError(
        "a withdrawal pushed is not a withdrawal entry of this node's own chain; nothing of the "
        "push was stored");
  }
  if (absl::Status v = crypto::VerifyCommitHeader(e.header, e.signature, node_.keys.sign_pk);
      !v.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("a withdrawal: ", v.message(), "; nothing of the push was stored"));
  }
  // A commit within its ranges that the hub holds stored: it stays stored.
  auto stays = [&](const StoredChainEntry& s) {
    sync::CommitRefusal refusal;
    refusal.seq = h->seq;
    refusal.code = sync::RefusalCode::kWithdrawnStored;
    refusal.depends_on = s.seq;
    refusal.reason = absl::StrCat(
        "withdrawal ", h->seq, " passes over commit ", s.seq, ", which the hub stored (log "
        "position ", s.position, "): a stored commit cannot be withdrawn, only superseded by a "
        "new write. It stays stored; the withdrawal is kept in this device's chain so that its "
        "later work continues");
    return refusal;
  };
  std::vector<sync::CommitRefusal> out;
  if (h->seq <= head_.seq) {
    // Held already (a push whose answer was lost): the same entry only,
    // and the same answer (the stored commits it passes over named again).
    FS_ASSIGN_OR_RETURN(std::vector<StoredChainEntry> held,
                        hub.ChainEntries(node_.device, h->seq, h->seq, 1));
    if (held.empty() || held.front().link != crypto::CommitLink(e.header, e.signature)) {
      return absl::FailedPreconditionError(Broken(node_.device, h->seq, head_));
    }
    for (const crypto::WithdrawnRange& r : h->withdrawn) {
      if (r.last < r.first || r.last >= h->seq) continue;
      FS_ASSIGN_OR_RETURN(std::vector<StoredChainEntry> in,
                          hub.ChainEntries(node_.device, r.first, r.last, r.last - r.first + 1));
      for (const StoredChainEntry& s : in) {
        if (s.position > 0) out.push_back(stays(s));
      }
    }
    return out;
  }
  if (!Continues(*h, head_)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "withdrawal ", h->seq, " of this node does not continue its chain at the hub (which "
        "ends at ", head_.seq, "): push the commits before it first; nothing of the push was "
        "stored"));
  }
  // Each range: the links around it as held, every seq in it refused and
  // not withdrawn yet, or stored. A stored one is not withdrawn (it may
  // have reached colleagues): it stays stored, said in a WITHDRAWN_STORED
  // refusal naming it (depends_on), and the withdrawal is kept all the
  // same, so that the device's chain goes on at the hub (attack review 66,
  // MEDIUM 2: a hub restored from a newer backup, or a colleague's relay,
  // gives it back a commit it had refused and its author withdrew; before,
  // the withdrawal was refused at every pass and nothing after it pushed).
  std::vector<StoredChainEntry> passed;
  for (const crypto::WithdrawnRange& r : h->withdrawn) {
    if (r.last >= h->seq) {
      return absl::InvalidArgumentError(absl::StrCat(
          "withdrawal ", h->seq, " passes over seqs after itself; nothing of the push was stored"));
    }
    std::string before = crypto::NoLink();
    if (r.first > 1) {
      FS_ASSIGN_OR_RETURN(std::vector<StoredChainEntry> b,
                          hub.ChainEntries(node_.device, r.first - 1, r.first - 1, 1));
      if (b.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "withdrawal ", h->seq, " passes over ", r.first, "..", r.last, ", but the hub holds "
            "no header of the entry before it; nothing of the push was stored"));
      }
      before = b.front().link;
    }
    FS_ASSIGN_OR_RETURN(std::vector<StoredChainEntry> in,
                        hub.ChainEntries(node_.device, r.first, r.last, r.last - r.first + 1));
    uint64_t next = r.first;
    std::string last_link;
    for (const StoredChainEntry& s : in) {
      if (s.seq != next) break;
      if (s.position == 0 || s.position <= -kWithdrawnRefusalOffset) {
        return absl::InvalidArgumentError(absl::StrCat(
            "withdrawal ", h->seq, " passes over entry ", s.seq, ", which is ",
            s.position == 0 ? "a withdrawal itself" : "withdrawn already",
            ": an author withdraws a seq once; nothing of the push was stored"));
      }
      if (s.position > 0) {
        out.push_back(stays(s));
      } else {
        passed.push_back(s);
      }
      last_link = s.link;
      ++next;
    }
    if (next != r.last + 1) {
      // A seq the hub holds no header of: a commit stored before the
      // device's chain began (no link to check the range against: not
      // taken), or none at all.
      FS_ASSIGN_OR_RETURN(std::optional<LogEntry> logged, hub.LoggedCommit(node_.device, next));
      if (logged) {
        sync::CommitRefusal refusal;
        refusal.seq = h->seq;
        refusal.code = sync::RefusalCode::kWithdrawnStored;
        refusal.reason = absl::StrCat("withdrawal ", h->seq, " passes over commit ", next,
                                      ", which the hub stored: a stored commit cannot be "
                                      "withdrawn. The withdrawal was not taken");
        return std::vector<sync::CommitRefusal>{std::move(refusal)};
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "withdrawal ", h->seq, " passes over commit ", next, ", which the hub never refused; "
          "nothing of the push was stored"));
    }
    if (before != r.link_before || last_link != r.link_last) {
      return absl::InvalidArgumentError(absl::StrCat(
          "withdrawal ", h->seq, " names other entries around ", r.first, "..", r.last,
          " than the hub holds of this node; nothing of the push was stored"));
    }
  }
  for (const StoredChainEntry& s : passed) {
    FS_RETURN_IF_ERROR(
        hub.SetChainPosition(node_.device, s.seq, s.position - kWithdrawnRefusalOffset));
  }
  StoredChainEntry s;
  s.seq = h->seq;
  s.position = 0;
  s.header = e.header;
  s.signature = e.signature;
  s.link = crypto::CommitLink(e.header, e.signature);
  FS_RETURN_IF_ERROR(hub.AddChainEntry(node_.device, s));
  FS_RETURN_IF_ERROR(rows.PassOver(node_.device, s.seq));
  head_ = ChainPoint{s.seq, s.link};
  return out;
}

absl::Status ChainAdmission::ResendRefused(HubWriteTxn& hub, MergeStore& rows,
                                           const sync::RefusedEntryBytes& e, bool relayed) {
  absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(e.entry.header);
  if (!h.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a refused header: ", h.status().message(), "; nothing of the push was stored"));
  }
  if (h->withdrawal || h->author != node_.device) {
    return absl::PermissionDeniedError(
        "a refused header sent again is not of one of this device's commits; nothing of the "
        "push was stored");
  }
  if (absl::Status v =
          crypto::VerifyCommitHeader(e.entry.header, e.entry.signature, node_.keys.sign_pk);
      !v.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("a refused header: ", v.message(), "; nothing of the push was stored"));
  }
  const std::string link = crypto::CommitLink(e.entry.header, e.entry.signature);
  if (h->seq <= head_.seq) {
    // Held already (a push whose answer was lost): the same entry only.
    FS_ASSIGN_OR_RETURN(std::vector<StoredChainEntry> held,
                        hub.ChainEntries(node_.device, h->seq, h->seq, 1));
    if (held.empty() || held.front().link != link) {
      return absl::FailedPreconditionError(Broken(node_.device, h->seq, head_));
    }
    return absl::OkStatus();
  }
  if (!Continues(*h, head_)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refused header ", h->seq, " of device ", node_.device.ToString(), " does not continue "
        "its chain at the hub (which ends at ", head_.seq, "): send the entries before it "
        "first; nothing of the push was stored"));
  }
  if (relayed) {
    // The author's own word that this seq was refused: a withdrawal it
    // signed passing over it.
    absl::StatusOr<crypto::CommitHeader> w = crypto::DecodeCommitHeader(e.withdrawn_by.header);
    bool covered = false;
    if (w.ok() && w->withdrawal && w->author == node_.device &&
        crypto::VerifyCommitHeader(e.withdrawn_by.header, e.withdrawn_by.signature,
                                   node_.keys.sign_pk)
            .ok()) {
      for (const crypto::WithdrawnRange& r : w->withdrawn) {
        covered |= r.first <= h->seq && h->seq <= r.last && r.last < w->seq;
      }
    }
    if (!covered) {
      return absl::PermissionDeniedError(absl::StrCat(
          "relayed refused header ", h->seq, " of device ", node_.device.ToString(),
          " carries no withdrawal of its author passing over it: only its author may say the "
          "hub refused it; nothing of the push was stored"));
    }
  }
  sync::RefusalCode code = e.code;
  const int c = static_cast<int>(code);
  if (c <= 0 || c >= kWithdrawnRefusalOffset || code == sync::RefusalCode::kWithdrawnStored) {
    code = sync::RefusalCode::kRelayed;
  }
  StoredChainEntry s;
  s.seq = h->seq;
  s.position = -static_cast<int64_t>(code);
  s.header = e.entry.header;
  s.signature = e.entry.signature;
  s.link = link;
  FS_RETURN_IF_ERROR(hub.AddChainEntry(node_.device, s));
  FS_RETURN_IF_ERROR(rows.PassOver(node_.device, s.seq));
  head_ = ChainPoint{s.seq, s.link};
  return absl::OkStatus();
}

}  // namespace fieldsync::hub
