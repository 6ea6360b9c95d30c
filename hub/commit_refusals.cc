#include "hub/commit_refusals.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/status_macros.h"
#include "crypto/commit_header.h"
#include "schema/schema.h"

namespace fieldsync::hub {
namespace {

// The code of a refused entry from its position (hub/storage.h).
sync::RefusalCode CodeAt(int64_t position) {
  int64_t code = -position;
  if (code >= kWithdrawnRefusalOffset) code -= kWithdrawnRefusalOffset;
  return static_cast<sync::RefusalCode>(code);
}

}  // namespace

sync::CommitRefusal RefusalOf(const Commit& c, sync::RefusalCode code, const absl::Status& why) {
  // The batch's words dropped: this commit alone is refused.
  std::string reason = absl::StrReplaceAll(
      why.message(), {{" refused, nothing of the batch stored:", ":"},
                      {". Nothing of the batch was stored", ""},
                      {"; nothing of the batch was stored", ""},
                      {"; nothing of the push was stored", ""}});
  sync::CommitRefusal r;
  r.seq = c.seq;
  r.code = code;
  r.reason = std::move(reason);
  return r;
}

std::optional<sync::CommitRefusal> ClockAhead(const HybridClock& clock, const Commit& c) {
  if (!clock.TooFarAhead(c.hlc)) return std::nullopt;
  const int64_t ahead_s =
      (static_cast<int64_t>(c.hlc.wall_millis()) - clock.WallMillis()) / 1000;
  sync::CommitRefusal r;
  r.seq = c.seq;
  r.code = sync::RefusalCode::kClockAhead;
  r.reason = absl::StrCat("commit ", c.Name(), " is stamped ", ahead_s,
                          " s past the hub's clock (the limit is ",
                          clock.max_skew_millis() / 1000,
                          " s): the laptop's clock was ahead; the laptop re-dates it once its "
                          "clock is right");
  return r;
}

absl::StatusOr<CommitRefusals> CommitRefusals::Begin(HubWriteTxn& hub, const DeviceId& device) {
  CommitRefusals out;
  out.device_ = device;
  FS_ASSIGN_OR_RETURN(std::vector<StoredChainEntry> refused, hub.RefusedChainEntries(device));
  for (const StoredChainEntry& e : refused) {
    out.earlier_[e.seq] = CodeAt(e.position);
    absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(e.header);
    if (h.ok()) out.versions_[h->hlc] = e.seq;
  }
  return out;
}

std::optional<sync::CommitRefusal> CommitRefusals::DependsOnRefused(
    const Commit& c, bool waiting, const std::function<bool(const Version&)>& held) const {
  auto refuse = [&](uint64_t needed, std::string what) {
    sync::CommitRefusal r;
    r.seq = c.seq;
    r.code = sync::RefusalCode::kDependsOnRefused;
    r.depends_on = needed;
    r.reason = absl::StrCat("commit ", c.Name(), " ", what, " of commit ", needed,
                            " of this laptop, which the hub refused");
    return std::optional<sync::CommitRefusal>(std::move(r));
  };
  if (versions_.empty() && created_.empty()) return std::nullopt;
  for (const RowChange& rc : c.changes) {
    for (const FieldWrite& f : rc.fields) {
      auto named = [&](const Version& v) -> std::optional<uint64_t> {
        if (v.device != c.author) return std::nullopt;
        auto it = versions_.find(v.hlc.packed());
        if (it == versions_.end() || it->second >= c.seq) return std::nullopt;
        return it->second;
      };
      if (f.base) {
        if (auto s = named(*f.base)) {
          return refuse(*s, absl::StrCat("edits ", rc.table, ".", f.column, " over the version"));
        }
      }
      for (const Version& v : f.resolves) {
        if (auto s = named(v)) {
          return refuse(*s, absl::StrCat("settles ", rc.table, ".", f.column, " over a version"));
        }
      }
    }
  }
  if (!waiting) return std::nullopt;
  for (const RowChange& rc : c.changes) {
    auto it = created_.find({rc.table, rc.row});
    if (it != created_.end() && it->second < c.seq) {
      return refuse(it->second, absl::StrCat("writes ", rc.table, " row ", rc.row.ToString(),
                                             ", the creation"));
    }
  }
  // Waiting for a version of another author the hub does not hold: that
  // author's commit, lost by a hub put back from a backup (a colleague
  // relays it), never this laptop's refused work. Refused for good here, it
  // stayed refused once relayed, and the laptop, whose records bear out no
  // such claim, doubted it at every sync (simulation seed
  // 12804643150799131624).
  if (held) {
    for (const RowChange& rc : c.changes) {
      for (const FieldWrite& f : rc.fields) {
        auto foreign = [&](const Version& v) { return v.device != c.author && !held(v); };
        if (f.base && foreign(*f.base)) return std::nullopt;
        for (const Version& v : f.resolves) {
          if (foreign(v)) return std::nullopt;
        }
      }
    }
  }
  // Waiting for something not held, after refused commits: theirs.
  uint64_t last = 0;
  for (const auto& [hlc, seq] : versions_) {
    if (seq < c.seq) last = std::max(last, seq);
  }
  for (const auto& [row, seq] : created_) {
    if (seq < c.seq) last = std::max(last, seq);
  }
  if (last == 0) return std::nullopt;
  return refuse(last, "needs a row or version the hub does not hold: it can only be the work");
}

absl::StatusOr<const ColleagueVersions::Author*> ColleagueVersions::AuthorOf(
    HubWriteTxn& hub, const DeviceId& device) {
  if (auto it = authors_.find(device); it != authors_.end()) return &it->second;
  Author a;
  FS_ASSIGN_OR_RETURN(a.revoked, hub.NodeRevoked(device));
  if (a.revoked) {
    FS_ASSIGN_OR_RETURN(a.held_seq, hub.AcknowledgedSeq(device));
  }
  FS_ASSIGN_OR_RETURN(std::vector<StoredChainEntry> refused, hub.RefusedChainEntries(device));
  for (const StoredChainEntry& e : refused) {
    absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(e.header);
    if (h.ok()) a.refused[h->hlc] = {e.seq, CodeAt(e.position)};
  }
  return &authors_.emplace(device, std::move(a)).first->second;
}

absl::StatusOr<std::optional<sync::CommitRefusal>> ColleagueVersions::NeverComing(
    HubWriteTxn& hub, const Commit& c, const std::function<bool(const Version&)>& held) {
  auto never = [&](const Version& v) -> absl::StatusOr<std::optional<std::string>> {
    if (v.device == c.author || held(v)) return std::nullopt;
    FS_ASSIGN_OR_RETURN(const Author* a, AuthorOf(hub, v.device));
    if (a->revoked) {
      return absl::StrCat("of device ", v.device.ToString(),
                          ", which the hub administrator revoked (its work never reaches the "
                          "hub again)");
    }
    // Only the commit that wrote `v` itself, refused for good here: one
    // refused after it says nothing of `v` (a relayed refused header is
    // stored RELAYED whatever its code, so a clock-ahead one, whose author
    // re-dates its versions, would make them "never coming" while they are
    // on their way: attack review 26, H-MED 2).
    if (auto it = a->refused.find(v.hlc.packed()); it != a->refused.end()) {
      const auto& [seq, code] = it->second;
      return absl::StrCat("of device ", v.device.ToString(), " (its commit ", seq,
                          "), which the hub refused for good (", sync::RefusalCodeName(code), ")");
    }
    return std::nullopt;
  };
  // Every such version is named (never_coming), not only the first: the
  // laptop passes over those alone when the officer resolves the commit, and
  // keeps a colleague's stored version another field of it stood on (attack
  // review 26, H-MED 1).
  std::optional<sync::CommitRefusal> out;
  std::set<Version> seen;
  for (const RowChange& rc : c.changes) {
    for (const FieldWrite& f : rc.fields) {
      std::vector<std::pair<const Version*, const char*>> named;
      if (f.base) named.push_back({&*f.base, "edits"});
      for (const Version& v : f.resolves) named.push_back({&v, "settles"});
      for (const auto& [v, verb] : named) {
        if (!seen.insert(*v).second) continue;
        FS_ASSIGN_OR_RETURN(std::optional<std::string> why, never(*v));
        if (!why) continue;
        if (!out) {
          out.emplace();
          out->seq = c.seq;
          out->code = sync::RefusalCode::kColleagueRefused;
          out->reason = absl::StrCat("commit ", c.Name(), " ", verb, " ", rc.table, ".", f.column,
                                     " over a version ", *why, ": the hub will never hold that "
                                     "version. Set aside: redo the change over what the hub "
                                     "holds");
        }
        out->never_coming.push_back(*v);
        FS_ASSIGN_OR_RETURN(const Author* a, AuthorOf(hub, v->device));
        const DeviceId& author = v->device;  // a binding a lambda may capture (clang 14)
        const bool listed = std::any_of(out->never_after.begin(), out->never_after.end(),
                                        [&](const auto& h) { return h.first == author; });
        if (a->revoked && !listed) out->never_after.emplace_back(v->device, a->held_seq);
      }
    }
  }
  return out;
}

void CommitRefusals::Add(const Commit& c, sync::CommitRefusal r) {
  versions_[c.hlc.packed()] = c.seq;
  for (const RowChange& rc : c.changes) {
    for (const FieldWrite& f : rc.fields) {
      if (f.column == kLiveColumn) created_.try_emplace({rc.table, rc.row}, c.seq);
    }
  }
  out_.push_back(std::move(r));
}

void CommitRefusals::Repeat(const std::vector<Commit>& commits,
                            const std::vector<ApplyOutcome>& outcomes) {
  auto repeated = [&](size_t i) {
    return i < outcomes.size() && outcomes[i] == ApplyOutcome::kDuplicate &&
           earlier_.count(commits[i].seq) > 0;
  };
  // The rows the repeated refused commits created, for the commits after
  // them that write one (DependsOnRefused).
  for (size_t i = 0; i < commits.size(); ++i) {
    if (!repeated(i)) continue;
    for (const RowChange& rc : commits[i].changes) {
      for (const FieldWrite& f : rc.fields) {
        if (f.column == kLiveColumn) created_.try_emplace({rc.table, rc.row}, commits[i].seq);
      }
    }
  }
  for (size_t i = 0; i < commits.size() && i < outcomes.size(); ++i) {
    if (!repeated(i)) continue;
    auto it = earlier_.find(commits[i].seq);
    sync::CommitRefusal r;
    r.seq = commits[i].seq;
    r.code = it->second;
    r.reason = absl::StrCat("commit ", commits[i].Name(), " was refused by the hub in an earlier "
                            "push (", sync::RefusalCodeName(it->second), ")");
    // DEPENDS_ON_REFUSED names again the refused commit it needs, found as
    // at first: a laptop keeps a commit that needs one stamped by a clock
    // ahead waiting, to be re-dated with it; with no such commit named it
    // was set aside for the officer, whose discard took the work back for
    // good (simulation seeds 5968627282967065902, 62188250464392446).
    if (r.code == sync::RefusalCode::kDependsOnRefused) {
      if (std::optional<sync::CommitRefusal> d = DependsOnRefused(commits[i], /*waiting=*/true)) {
        r.depends_on = d->depends_on;
      }
    }
    if (auto n = named_again_.find(commits[i].seq); n != named_again_.end()) {
      r.never_coming = n->second.never_coming;
      r.never_after = n->second.never_after;
    }
    out_.push_back(std::move(r));
  }
}

bool CommitRefusals::EarlierColleagueRefused(uint64_t seq) const {
  auto it = earlier_.find(seq);
  return it != earlier_.end() && it->second == sync::RefusalCode::kColleagueRefused;
}

void CommitRefusals::NameAgain(const sync::CommitRefusal& judged) {
  named_again_[judged.seq] = judged;
}

std::vector<sync::CommitRefusal> CommitRefusals::Take() {
  std::sort(out_.begin(), out_.end(),
            [](const sync::CommitRefusal& a, const sync::CommitRefusal& b) { return a.seq < b.seq; });
  return std::move(out_);
}

}  // namespace fieldsync::hub
