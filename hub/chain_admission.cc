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

}  // namespace fieldsync::hub
