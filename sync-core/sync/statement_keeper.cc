#include "sync/statement_keeper.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "clock/hlc.h"
#include "crypto/statement.h"
#include "sync/chain.h"
#include "sync/checkpoint_keeper.h"
#include "sync/laptop_name.h"
#include "sync/refused_gaps.h"

namespace fieldsync::sync {
namespace {

std::string Day(int64_t millis) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::FromUnixMillis(millis), absl::UTCTimeZone());
}

}  // namespace

void StatementKeeper::Take(const std::vector<std::string>& statements, PulledBatch* batch,
                           ChainReport* report) {
  const int64_t now = clock_.NowMillis();
  for (const std::string& bytes : statements) {
    absl::StatusOr<crypto::Statement> s = crypto::DecodeStatement(bytes);
    if (!s.ok()) {
      report->problems.push_back(absl::StrCat("a statement the hub relayed was not taken: ",
                                              s.status().message()));
      continue;
    }
    const RegisteredDevice* dev = keys_.FindDevice(s->signer);
    auto refuse = [&](const char* why) {
      report->problems.push_back(absl::StrCat("a statement of ", LaptopName(dev, s->signer),
                                              " was not taken: ", why));
    };
    if (s->signer == replica_.device_id()) continue;  // a hub relays no node its own
    if (dev == nullptr) {
      refuse("a device this laptop does not know");
      continue;
    }
    if (dev->province != s->province) {
      refuse("it names another office than the device's");
      continue;
    }
    absl::StatusOr<bool> member = keys_.IsMember(s->province, s->signer);
    if (!member.ok() || !*member) {
      refuse("its signer is not a member of its office by the records this laptop holds");
      continue;
    }
    if (!crypto::VerifyStatement(bytes, dev->keys.sign_pk).ok()) {
      refuse("its signature does not verify with the device's key");
      continue;
    }
    const int64_t created = static_cast<int64_t>(Hlc::FromPacked(s->created_hlc).wall_millis());
    // This clock corrected by the hub's, as for pulled commits (ClockLead).
    if (created > now + batch->clock_lead.taken + tuning::kDefaultMaxClockSkewMillis) {
      refuse("it was made in the future by this laptop's clock");
      continue;
    }
    StatementRow row;
    row.signer = s->signer;
    row.province = s->province;
    row.created_millis = created;
    row.received_at_millis = now;
    row.bytes = bytes;
    batch->chain.statements.push_back(std::move(row));
    ++report->statements_received;
  }
}

absl::StatusOr<StatementKeeper::Comparison> StatementKeeper::Compare(
    int64_t cursor, const std::vector<std::pair<DeviceId, uint64_t>>* asked, ChainReport* report) {
  std::map<DeviceId, uint64_t> asked_for;
  if (asked != nullptr) {
    for (const auto& [author, seq] : *asked) asked_for[author] = seq;
  }
  Comparison out;
  FS_ASSIGN_OR_RETURN(std::vector<StatementRow> held, replica_.Statements());
  if (held.empty()) return out;
  FS_ASSIGN_OR_RETURN(std::vector<ChainRow> heads, replica_.ChainHeads());
  std::map<DeviceId, uint64_t> head_of;
  for (const ChainRow& r : heads) head_of[r.device] = r.seq;
  FS_ASSIGN_OR_RETURN(std::optional<ChainRow> own, replica_.OwnChainHead());
  head_of[replica_.device_id()] = own ? own->seq : 0;
  FS_ASSIGN_OR_RETURN(std::vector<TrustEvidence> on_record, replica_.Evidence());
  std::set<DeviceId> stopped;
  // Evidence from statements already on record, by kind, author, seq and
  // signer: a colleague that signs the same thing again (each statement
  // it makes while it lasts) is not new evidence.
  std::set<std::tuple<int, DeviceId, uint64_t, DeviceId>> known;
  // Entries the hub was found withholding: not asked for again at every
  // pass (each ask costs a second pull).
  std::map<DeviceId, uint64_t> withheld;
  // Commits of an author refused here though it signed them (a gap the
  // pass asks for again with a backoff, sync/refused_gaps.h): the hub sent
  // them, so entries after the head are neither judged withheld nor asked
  // for at every pass while the gap lasts. Only a header its author signed
  // makes one: the hub cannot make this laptop pass over a statement.
  FS_ASSIGN_OR_RETURN(RefusedGapMap refused, RefusedGaps(replica_));
  for (const TrustEvidence& e : on_record) {
    if (e.kind == static_cast<int>(ChainEvidence::Kind::kWithheld)) {
      withheld[e.device] = std::max(withheld[e.device], e.seq);
    }
    if (e.kind == static_cast<int>(ChainEvidence::Kind::kStatementContradicts) ||
        e.kind == static_cast<int>(ChainEvidence::Kind::kWithheld)) {
      absl::StatusOr<crypto::Statement> said = crypto::DecodeStatement(e.other_header);
      if (said.ok()) known.emplace(e.kind, e.device, e.seq, said->signer);
    }
    // A fork stops its author's entries: nothing to ask. A withdrawn
    // commit delivered whole is the hub's doing and stops nobody.
    if (e.kind == static_cast<int>(ChainEvidence::Kind::kFork)) stopped.insert(e.device);
  }
  std::map<DeviceId, uint64_t> wants;
  std::vector<TrustEvidence> found;
  const int64_t now = clock_.NowMillis();
  for (const StatementRow& row : held) {
    absl::StatusOr<crypto::Statement> s = crypto::DecodeStatement(row.bytes);
    if (!s.ok()) continue;  // checked when kept
    // A signer removed or revoked since is no one's witness any more.
    FS_ASSIGN_OR_RETURN(bool member, keys_.IsMember(row.province, row.signer));
    if (!member) continue;
    const RegisteredDevice* signer = keys_.FindDevice(row.signer);
    for (const crypto::StatedHead& h : s->heads) {
      const RegisteredDevice* author = keys_.FindDevice(h.author);
      auto evidence = [&](ChainEvidence::Kind kind, const ChainRow* mine, std::string what) {
        if (known.count({static_cast<int>(kind), h.author, h.seq, row.signer}) > 0) return;
        TrustEvidence e;
        e.device = h.author;
        e.seq = h.seq;
        e.kind = static_cast<int>(kind);
        if (mine != nullptr) {
          e.held_header = mine->header;
          e.held_signature = mine->signature;
        }
        e.other_header = row.bytes;  // the statement, signed by its signer
        e.what = std::move(what);
        e.found_at_millis = now;
        found.push_back(std::move(e));
      };
      FS_ASSIGN_OR_RETURN(std::optional<ChainRow> mine, replica_.ChainEntryAt(h.author, h.seq));
      if (mine) {
        if (mine->link != h.link) {
          evidence(ChainEvidence::Kind::kStatementContradicts, &*mine,
                   absl::StrCat(LaptopName(signer, row.signer), " signed that it holds another entry ",
                                h.seq, " of ", LaptopName(author, h.author),
                                " than this laptop does: the hub showed the two laptops two "
                                "histories, or ", LaptopName(signer, row.signer),
                                " signs false statements"));
        }
        continue;
      }
      auto head = head_of.find(h.author);
      if (h.author == replica_.device_id()) {
        evidence(ChainEvidence::Kind::kStatementContradicts, nullptr,
                 absl::StrCat(LaptopName(signer, row.signer), " signed that it holds commit ", h.seq,
                              " of this laptop, which this laptop never wrote: another device "
                              "signs with this laptop's key, or this laptop was restored from an "
                              "older copy of its files"));
        continue;
      }
      // Behind, or not tracking this author: only a tracked author's
      // entries can be asked for and judged.
      if (head == head_of.end() || head->second >= h.seq || stopped.count(h.author) > 0) continue;
      if (auto u = refused.find(h.author); u != refused.end() && u->second > head->second) continue;
      // Judged only for what the pull just made asked for: a statement
      // that arrived in that pull names entries nobody asked for yet. The
      // pull ended caught up at the hub's head (`cursor`), and a statement
      // reaches a laptop only after its signer's pull reached its position:
      // an honest hub's head is past it. A position beyond this laptop's
      // head is the hub's word too (unsigned), so it excuses nothing: the
      // hub numbered its log for the signer ahead of what it shows here.
      auto wanted = asked_for.find(h.author);
      if (wanted != asked_for.end() && wanted->second >= h.seq) {
        const bool shorter = static_cast<int64_t>(s->position) > cursor;
        evidence(ChainEvidence::Kind::kWithheld, nullptr,
                 absl::StrCat("the hub did not send commits ", head->second + 1, "..", h.seq,
                              " of ", LaptopName(author, h.author), " although ",
                              LaptopName(signer, row.signer), " signed that it received them by "
                              "position ", s->position, " of the hub's log and this laptop asked "
                              "for them: the hub withholds them from this laptop",
                              shorter ? absl::StrCat(" (and told it its log ends at ", cursor,
                                                     ": it shows the two laptops two logs)")
                                      : ""));
        continue;
      }
      if (auto w = withheld.find(h.author); w != withheld.end() && w->second >= h.seq) continue;
      uint64_t& want = wants[h.author];
      want = std::max(want, h.seq);
    }
  }
  for (const auto& [author, seq] : wants) out.wants.emplace_back(author, seq);
  FS_ASSIGN_OR_RETURN(size_t added, replica_.AddNewEvidence(found));
  report->new_evidence += added;
  if (added > 0) {
    for (const TrustEvidence& e : found) report->problems.push_back(e.what);
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> StatementKeeper::MakeIfDue(const DeviceId& hub_id,
                                                                      int64_t interval_millis,
                                                                      bool checkpoint) {
  const crypto::DeviceIdentity* id = keys_.identity();
  if (id == nullptr) return std::optional<std::string>();
  const int64_t now = clock_.NowMillis();
  FS_ASSIGN_OR_RETURN(int64_t last, replica_.GetCursor(kStatementMadeCursor));
  if (!checkpoint && last != 0 && now >= last && now - last < interval_millis) {
    return std::optional<std::string>();
  }
  crypto::Statement s;
  if (checkpoint) {
    CheckpointKeeper ck(replica_, keys_, clock_);
    FS_ASSIGN_OR_RETURN(auto root, ck.Root());
    s.kind = crypto::StatementKind::kSeenAndCheckpoint;
    s.leaf_count = root.first;
    s.root = std::move(root.second);
  }
  s.signer = replica_.device_id();
  s.created_hlc = Hlc::FromParts(static_cast<uint64_t>(std::max<int64_t>(now, 0)), 0).packed();
  s.province = keys_.province();
  s.hub_id = hub_id;
  FS_ASSIGN_OR_RETURN(int64_t cursor, replica_.GetCursor(kPulledCursor));
  FS_ASSIGN_OR_RETURN(int64_t key_cursor, replica_.GetCursor(kKeyCursor));
  s.position = static_cast<uint64_t>(std::max<int64_t>(cursor, 0));
  s.key_cursor = static_cast<uint64_t>(std::max<int64_t>(key_cursor, 0));
  // Its own chain and its office's devices first, then other authors, at
  // most 128 in all.
  // Its own chain as far as the hub acknowledged it (cursor hub:pushed):
  // a commit written after the push (while the pull ran) is not at the hub
  // yet, and a colleague asking the hub for it would record that the hub
  // withholds it.
  FS_ASSIGN_OR_RETURN(std::optional<ChainRow> own, replica_.OwnChainHead());
  FS_ASSIGN_OR_RETURN(int64_t pushed, replica_.GetCursor(kPushedCursor));
  if (own && own->seq > static_cast<uint64_t>(std::max<int64_t>(pushed, 0))) {
    own.reset();
    if (pushed > 0) {
      FS_ASSIGN_OR_RETURN(own, replica_.ChainEntryAt(replica_.device_id(),
                                                     static_cast<uint64_t>(pushed)));
    }
  }
  std::vector<crypto::StatedHead> office, others;
  if (own) office.push_back(crypto::StatedHead{own->device, own->seq, own->link});
  FS_ASSIGN_OR_RETURN(std::vector<ChainRow> heads, replica_.ChainHeads());
  for (const ChainRow& r : heads) {
    const RegisteredDevice* d = keys_.FindDevice(r.device);
    auto& to = d != nullptr && d->province == s.province ? office : others;
    to.push_back(crypto::StatedHead{r.device, r.seq, r.link});
  }
  for (crypto::StatedHead& h : others) {
    if (office.size() >= crypto::kMaxStatedHeads) break;
    office.push_back(std::move(h));
  }
  if (office.size() > crypto::kMaxStatedHeads) office.resize(crypto::kMaxStatedHeads);
  std::sort(office.begin(), office.end(),
            [](const crypto::StatedHead& a, const crypto::StatedHead& b) {
              return a.author < b.author;
            });
  s.heads = std::move(office);
  FS_ASSIGN_OR_RETURN(std::string bytes, crypto::SignStatement(*id, s));
  making_ = now;
  return std::optional<std::string>(std::move(bytes));
}

absl::Status StatementKeeper::Made() {
  return replica_.SetCursor(kStatementMadeCursor, making_);
}

absl::StatusOr<std::vector<std::string>> StatementWarnings(Replica& replica, KeyRing& keys,
                                                          int64_t now_millis, bool lone) {
  std::vector<std::string> out;
  FS_ASSIGN_OR_RETURN(std::vector<StatementRow> held, replica.Statements());
  std::map<DeviceId, const StatementRow*> newest;
  for (const StatementRow& r : held) newest[r.signer] = &r;
  FS_ASSIGN_OR_RETURN(KeyRing::OfficeView office, keys.Office());
  size_t colleagues = 0;
  for (const KeyRing::OfficeDevice& d : office.devices) {
    const DeviceId& id = d.device.keys.device;
    if (id == replica.device_id() || d.state != KeyRing::OfficeDevice::State::kMember) continue;
    ++colleagues;
    auto it = newest.find(id);
    if (it == newest.end()) continue;  // not synced since it was upgraded
    if (now_millis - it->second->created_millis > tuning::kStaleStatementMillis) {
      out.push_back(absl::StrCat("no statement from ", LaptopName(&d.device, id), " since ",
                                 Day(it->second->created_millis),
                                 ": it has not synced, or the hub withholds what it says"));
    }
  }
  if (lone && colleagues == 0 && office.member) {
    out.push_back("this office has one laptop: no colleague's statement to compare histories "
                  "with (referral partners' statements still are)");
  }
  return out;
}

}  // namespace fieldsync::sync
