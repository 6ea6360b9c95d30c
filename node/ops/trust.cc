#include "node/ops/trust.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "crypto/statement.h"
#include "node/ops/office.h"
#include "sync/chain.h"
#include "sync/checkpoint_keeper.h"
#include "sync/downgrade.h"
#include "sync/refused_gaps.h"
#include "sync/report.h"
#include "sync/statement_keeper.h"

namespace fieldsync::node::ops {
namespace {

std::string Name(const KeyRing* keys, const DeviceId& id, const char* what) {
  const std::string short_id = id.ToString().substr(0, 8);
  const RegisteredDevice* d = keys != nullptr ? keys->FindDevice(id) : nullptr;
  if (d == nullptr) return absl::StrCat(what, " ", short_id);
  return absl::StrCat(what, " ", short_id, " (", d->province, ")");
}

std::string KindName(int kind) {
  switch (static_cast<sync::ChainEvidence::Kind>(kind)) {
    case sync::ChainEvidence::Kind::kFork:
      return "fork";
    case sync::ChainEvidence::Kind::kWithdrawnDelivered:
      return "withdrawn commit delivered";
    case sync::ChainEvidence::Kind::kHubDowngrade:
      return "hub downgrade";
    case sync::ChainEvidence::Kind::kStatementContradicts:
      return "a statement contradicts this laptop's history";
    case sync::ChainEvidence::Kind::kWithheld:
      return "a commit withheld from this laptop";
    case sync::ChainEvidence::Kind::kForgedCheckpointPage:
      return "a bootstrap page the office's checkpoint does not vouch for";
    case sync::ChainEvidence::Kind::kForgedInstalledRow:
      return "a record the hub altered against the signed commit that wrote it";
    case sync::ChainEvidence::Kind::kHubRefusedAcknowledged:
      return "the hub refused a change of this laptop it had acknowledged stored";
    case sync::ChainEvidence::Kind::kRelayedUnverified:
      return "the hub relayed an entry under a signature its author did not make";
  }
  return absl::StrCat("kind ", kind);
}

}  // namespace

absl::StatusOr<ChainStatus> ReadChainStatus(Replica& replica, KeyRing* keys,
                                            bool all_evidence) {
  ChainStatus out;
  FS_ASSIGN_OR_RETURN(std::vector<ChainRow> heads, replica.ChainHeads());
  std::map<DeviceId, uint64_t> head_of;
  for (const ChainRow& r : heads) head_of[r.device] = r.seq;
  FS_ASSIGN_OR_RETURN(std::vector<HeldEntry> held, replica.Held(std::nullopt));
  for (const HeldEntry& h : held) {  // by author, then seq
    if (out.held.empty() || out.held.back().author != h.device) {
      HeldOfAuthor a;
      a.author = h.device;
      a.name = Name(keys, h.device, "laptop");
      a.first = h.seq;
      const auto head = head_of.find(h.device);
      const uint64_t from = head == head_of.end() ? 1 : head->second + 1;
      // Untracked: anchored where its first entry comes; no range to name.
      if (head != head_of.end() && h.seq > from) {
        a.missing_from = from;
        a.missing_to = h.seq - 1;
      }
      out.held.push_back(std::move(a));
    }
    ++out.held.back().commits;
    out.held.back().last = h.seq;
  }
  FS_ASSIGN_OR_RETURN(int64_t read_to, replica.GetCursor(sync::kEvidenceReadCursor));
  FS_ASSIGN_OR_RETURN(std::vector<TrustEvidence> evidence, replica.Evidence());
  FS_ASSIGN_OR_RETURN(auto refused, sync::RefusedGaps(replica));
  for (HeldOfAuthor& a : out.held) {
    const auto r = refused.find(a.author);
    const auto head = head_of.find(a.author);
    if (r != refused.end() && (head == head_of.end() || r->second > head->second)) {
      a.refused_upto = r->second;
    }
  }
  for (const TrustEvidence& e : evidence) {
    const bool read = e.id <= read_to;
    if (!read) ++out.unread;
    if (read && !all_evidence) continue;
    EvidenceItem item;
    item.id = e.id;
    item.kind = KindName(e.kind);
    const bool hub = e.kind == static_cast<int>(sync::ChainEvidence::Kind::kHubDowngrade);
    // The hub is suspect, not the laptop whose commit it relayed.
    const bool relayed = e.kind == static_cast<int>(sync::ChainEvidence::Kind::kRelayedUnverified);
    item.about = hub       ? absl::StrCat("the hub ", e.device.ToString().substr(0, 8))
                 : relayed ? absl::StrCat("the hub, relaying entry ", e.seq, " of ",
                                          Name(keys, e.device, "laptop"))
                           : Name(keys, e.device, "laptop");
    item.found_at_millis = e.found_at_millis;
    item.what = e.what;
    item.read = read;
    out.evidence.push_back(std::move(item));
  }
  FS_ASSIGN_OR_RETURN(int64_t max_agreed, replica.GetCursor(sync::kMaxAgreedCursor));
  FS_ASSIGN_OR_RETURN(int64_t downgraded, replica.GetCursor(sync::kDowngradedCursor));
  out.max_agreed = static_cast<int>(max_agreed);
  out.downgraded_to = static_cast<int>(downgraded);
  if (downgraded != 0) {
    out.downgrade = sync::DowngradeLine(std::max(3, out.max_agreed), out.downgraded_to);
  }
  // How the rows installed at bootstrap were checked.
  FS_ASSIGN_OR_RETURN(std::optional<BootstrapProgress> boot, replica.Bootstrap());
  FS_ASSIGN_OR_RETURN(int64_t bootstrapped, replica.GetCursor(sync::kBootstrappedCursor));
  if (boot) {
    absl::StatusOr<crypto::Statement> ck = crypto::DecodeStatement(boot->statement);
    const std::string signer =
        ck.ok() ? Name(keys, ck->signer, "laptop") : std::string("an unreadable statement");
    FS_ASSIGN_OR_RETURN(int64_t verified, replica.VerifiedRows());
    if (bootstrapped != 1 && boot->confirmed == -1) {
      out.bootstrap = absl::StrCat("from a checkpoint of ", signer,
                                   ", not a member of the office: the next sync takes the "
                                   "records again from the hub, unverified");
    } else if (bootstrapped != 1) {
      out.bootstrap = absl::StrCat("under way from the checkpoint of ", signer, ": ",
                                   boot->next_index, " of ", ck.ok() ? ck->leaf_count : 0,
                                   " records; the next sync goes on from there");
    } else if (boot->confirmed == 1) {
      out.bootstrap = absl::StrCat("from the checkpoint of ", signer, ", a member of the office: ",
                                   verified, " records verified");
    } else if (boot->confirmed == 0) {
      out.bootstrap = absl::StrCat("from the checkpoint of ", signer,
                                   "; whether it is a member is judged once this laptop joined");
    } else {
      out.bootstrap = absl::StrCat("from a checkpoint of ", signer,
                                   ", not a member of the office: the records are as the hub "
                                   "served them and decide no key");
    }
  } else if (bootstrapped == 1) {
    FS_ASSIGN_OR_RETURN(int64_t refused, replica.GetCursor(sync::kCheckpointRefusedCursor));
    out.bootstrap = absl::StrCat(
        "records installed whole were taken unverified, as the hub served them (",
        refused == 1 ? "a checkpoint the hub served was refused, or its signer was not a member "
                       "of the office"
                     : "the office had no checkpoint then, or this laptop bootstrapped before "
                       "checkpoints",
        "): they decide no key");
  }
  // Colleagues silent for a week, an office of one laptop (statements).
  if (keys != nullptr) {
    FS_ASSIGN_OR_RETURN(out.warnings,
                        sync::StatementWarnings(replica, *keys, keys->clock().NowMillis()));
  }
  return out;
}

absl::StatusOr<size_t> MarkEvidenceRead(Replica& replica, std::optional<int64_t> up_to) {
  FS_ASSIGN_OR_RETURN(int64_t read_to, replica.GetCursor(sync::kEvidenceReadCursor));
  FS_ASSIGN_OR_RETURN(std::vector<TrustEvidence> evidence, replica.Evidence());
  int64_t to = read_to;
  if (up_to) {
    bool known = false;
    for (const TrustEvidence& e : evidence) known = known || e.id == *up_to;
    if (!known) {
      return MalformedValue(absl::StrCat("no evidence numbered ", *up_to,
                                         " is on record here: fieldnode trust lists it"));
    }
    to = std::max(read_to, *up_to);
  } else if (!evidence.empty()) {
    to = std::max(read_to, evidence.back().id);
  }
  size_t marked = 0;
  for (const TrustEvidence& e : evidence) marked += e.id > read_to && e.id <= to ? 1 : 0;
  if (to != read_to) FS_RETURN_IF_ERROR(replica.SetCursor(sync::kEvidenceReadCursor, to));
  return marked;
}

}  // namespace fieldsync::node::ops
