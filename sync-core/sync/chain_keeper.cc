#include "sync/chain_keeper.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "change/commit_codec.h"
#include "crypto/commit_header.h"
#include "crypto/commit_signature.h"
#include "sync/chain.h"
#include "sync/laptop_name.h"
#include "sync/protocol.h"
#include "sync/refused_gaps.h"

namespace fieldsync::sync {
namespace {

// One entry of a message (or held here before), decoded.
struct Item {
  int64_t position = 0;
  crypto::CommitHeader h;
  std::string header, header_signature;
  std::optional<Commit> body;  // with its signature and omitted changes
  bool covers = false;         // the body is the commit the header names
  bool from_held = false;
};

HeldEntry ToHeld(const Item& it) {
  HeldEntry e;
  e.device = it.h.author;
  e.seq = it.h.seq;
  e.position = it.position;
  e.header = it.header;
  e.header_signature = it.header_signature;
  if (it.body) {
    e.body = EncodeCommit(*it.body);
    e.signature = it.body->signature;
    e.omitted = it.body->omitted;
    e.omitted_tags = it.body->omitted_tags;
  }
  return e;
}

absl::StatusOr<Item> FromHeld(const HeldEntry& e) {
  Item it;
  it.position = e.position;
  it.header = e.header;
  it.header_signature = e.header_signature;
  it.from_held = true;
  FS_ASSIGN_OR_RETURN(it.h, crypto::DecodeCommitHeader(e.header));
  if (!e.body.empty()) {
    FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(e.body));
    c.signature = e.signature;
    c.omitted = e.omitted;
    c.omitted_tags = e.omitted_tags;
    c.header = e.header;
    c.header_signature = e.header_signature;
    it.covers = crypto::CheckHeaderCoversCommit(it.h, c, c.omitted_tags).ok();
    it.body = std::move(c);
  }
  return it;
}


}  // namespace

absl::StatusOr<std::vector<std::pair<DeviceId, uint64_t>>> ChainKeeper::Heads() {
  FS_ASSIGN_OR_RETURN(std::vector<ChainRow> heads, replica_.ChainHeads());
  std::vector<std::pair<DeviceId, uint64_t>> out;
  std::set<DeviceId> tracked;
  for (const ChainRow& r : heads) {
    if (out.size() >= static_cast<size_t>(kMaxChainHeads)) break;
    out.emplace_back(r.device, r.seq);
    tracked.insert(r.device);
  }
  // An author whose commit 1 was refused here: tracked from the start, so
  // that the hub sends it again (sync/refused_gaps.h).
  FS_ASSIGN_OR_RETURN(auto refused, RefusedGaps(replica_));
  for (const auto& [author, seq] : refused) {
    if (out.size() >= static_cast<size_t>(kMaxChainHeads)) break;
    if (tracked.count(author) == 0) out.emplace_back(author, 0);
  }
  return out;
}

absl::Status ChainKeeper::Sort(std::vector<PulledEntry>& entries, PulledBatch* batch,
                               ChainReport* report) {
  // Per author, in the order authors first appear.
  std::vector<DeviceId> order;
  std::map<DeviceId, std::vector<Item>> by_author;
  std::vector<std::pair<int64_t, Commit>> apply;
  FS_ASSIGN_OR_RETURN(std::vector<ChainRow> heads, replica_.ChainHeads());
  std::map<DeviceId, ChainRow> head_of;
  for (ChainRow& r : heads) head_of.emplace(r.device, std::move(r));
  // Header-less commits of tracked authors, not applied: per author, the
  // lowest and highest seq and how many (one line each, not one a commit:
  // a version 2 hub sends every commit so).
  std::map<DeviceId, std::tuple<uint64_t, uint64_t, uint64_t>> headerless;
  std::vector<DeviceId> headerless_order;
  for (PulledEntry& e : entries) {
    if (e.header.empty()) {
      // A commit without a header: its author wrote it before it was
      // upgraded (or is not yet). Applied as version 2 applies it, unless
      // its author's chain is tracked here and it comes after the head: a
      // hub that strips a header must not get a commit past a gap. It is
      // not applied (nothing of it is kept: it has no header to be held
      // by); the author's chain shows the gap until the hub sends it whole.
      if (e.canonical.empty()) {
        return absl::DataLossError("the hub sent an entry with neither a commit nor a header");
      }
      absl::StatusOr<Commit> c = DecodeCommit(e.canonical);
      if (!c.ok()) return absl::DataLossError(c.status().message());
      if (auto h = head_of.find(c->author); h != head_of.end() && c->seq > h->second.seq) {
        auto [slot, fresh] = headerless.try_emplace(c->author, c->seq, c->seq, 0);
        if (fresh) headerless_order.push_back(c->author);
        std::get<0>(slot->second) = std::min(std::get<0>(slot->second), c->seq);
        std::get<1>(slot->second) = std::max(std::get<1>(slot->second), c->seq);
        ++std::get<2>(slot->second);
        continue;
      }
      c->signature = std::move(e.signature);
      c->omitted = std::move(e.omitted);
      ++report->unchecked;
      // Verified by ApplyPulled as before: no chain holds it, and a replica
      // that verifies nothing (no keys) takes it (no header, no signature).
      apply.emplace_back(e.position, *std::move(c));
      continue;
    }
    Item it;
    it.position = e.position;
    absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(e.header);
    if (!h.ok()) return absl::DataLossError(h.status().message());
    it.h = *std::move(h);
    it.header = std::move(e.header);
    it.header_signature = std::move(e.header_signature);
    if (!e.canonical.empty()) {
      absl::StatusOr<Commit> c = DecodeCommit(e.canonical);
      if (!c.ok()) return absl::DataLossError(c.status().message());
      c->signature = std::move(e.signature);
      c->omitted = std::move(e.omitted);
      c->omitted_tags = std::move(e.omitted_tags);
      c->header = it.header;
      c->header_signature = it.header_signature;
      absl::Status covers = crypto::CheckHeaderCoversCommit(it.h, *c, c->omitted_tags);
      it.covers = covers.ok();
      if (!covers.ok()) {
        report->problems.push_back(absl::StrCat(covers.message(), ": held back"));
      }
      it.body = *std::move(c);
    }
    auto [slot, fresh] = by_author.try_emplace(it.h.author);
    if (fresh) order.push_back(it.h.author);
    slot->second.push_back(std::move(it));
  }

  for (const DeviceId& author : headerless_order) {
    const auto& [first, last, count] = headerless[author];
    report->problems.push_back(absl::StrCat(
        count == 1 ? "commit " : absl::StrCat(count, " commits ("), first,
        count == 1 ? "" : absl::StrCat("..", last, ")"), " of ",
        LaptopName(keys_.FindDevice(author), author), " came"
        " without a header although that laptop's history is tracked here: not applied; taken "
        "when the hub sends ", count == 1 ? "it" : "them", " with ",
        count == 1 ? "its header" : "their headers"));
  }
  FS_ASSIGN_OR_RETURN(std::vector<TrustEvidence> evidence, replica_.Evidence());
  FS_ASSIGN_OR_RETURN(const int64_t read_to, replica_.GetCursor(kEvidenceReadCursor));
  std::set<DeviceId> stopped;
  // Withdrawn seqs delivered whole, on record: noted once.
  std::set<std::pair<DeviceId, uint64_t>> noted;
  // Authors with an entry relayed under a signature they did not make on
  // record, not yet read: no other is recorded until it is (a hub can make
  // up any number of such entries).
  std::set<DeviceId> forged_unread;
  for (const TrustEvidence& e : evidence) {
    if (e.kind == static_cast<int>(ChainEvidence::Kind::kRelayedUnverified) && e.id > read_to) {
      forged_unread.insert(e.device);
    }
    // Only a fork by the author stops its entries; evidence against the hub
    // (a downgrade, a statement's contradiction, a withheld commit, a
    // withdrawn commit delivered whole, a signature the author did not
    // make) names what the hub did, and holds nobody's entries back.
    if (e.kind == static_cast<int>(ChainEvidence::Kind::kFork)) stopped.insert(e.device);
    if (e.kind == static_cast<int>(ChainEvidence::Kind::kWithdrawnDelivered)) {
      noted.emplace(e.device, e.seq);
    }
  }
  ChainWrites& w = batch->chain;
  // Evidence against the hub: `body` (a commit's header), of a seq the
  // withdrawal `withdrawal` passes over, came whole. Once a seq.
  auto against_hub = [&](const RegisteredDevice* dev, const DeviceId& author, uint64_t seq,
                         const std::string& withdrawal, const std::string& withdrawal_sig,
                         const std::string& body, const std::string& body_sig, uint64_t w_seq,
                         bool applied) {
    if (!noted.emplace(author, seq).second) return;
    TrustEvidence ev;
    ev.device = author;
    ev.seq = seq;
    ev.kind = static_cast<int>(ChainEvidence::Kind::kWithdrawnDelivered);
    ev.held_header = withdrawal;
    ev.held_signature = withdrawal_sig;
    ev.other_header = body;
    ev.other_signature = body_sig;
    // Neither is to blame alone (attack review 77, M2): a hub that stored
    // what it said it refused, or that laptop withdrawing a commit the hub
    // had stored (the hub keeps such a withdrawal, and an honest author
    // then writes over the commit: Replica::SupersedeSetAside).
    ev.what = absl::StrCat(
        "the hub delivered commit ", seq, " of ", LaptopName(dev, author), " with its content, "
        "yet that laptop signed (entry ", w_seq, ") that the hub refused it: either the hub "
        "stored what it said it refused, or that laptop withdrew a commit the hub had stored. ",
        applied ? "It was applied here before the withdrawal came"
                : "Not applied here: laptops that applied it before the withdrawal came may "
                  "show its fields otherwise until that laptop writes over it",
        "; that laptop's later work is taken");
    ev.found_at_millis = clock_.NowMillis();
    report->problems.push_back(ev.what);
    w.evidence.push_back(std::move(ev));
    ++report->new_evidence;
  };
  auto hold = [&](const Item& it) {
    if (!it.from_held) w.held.push_back(ToHeld(it));
  };
  // Commits refused here before, by author: the highest seq (sync/refused_gaps.h).
  FS_ASSIGN_OR_RETURN(RefusedGapMap refused_gaps, RefusedGaps(replica_));
  // A body this laptop does not verify (KeyRing's verify) is never applied
  // nor offered. Its header first: one its author did not sign is the
  // hub's making (kForged: evidence against the hub, at most one unread an
  // author, and nothing else -- no gap, no held entry released, no
  // statement passed over). One its author signed, covering the body, is
  // that author's commit, refused here now (kHere: a gap of that author,
  // asked for again; evidence against the hub only if the commit's own
  // signature is not the author's, the hub having checked both).
  const CommitSecurity security = keys_.Security();
  enum class Refusal { kNone, kForged, kHere };
  std::map<DeviceId, size_t> forged_count;
  auto note_forged = [&](const RegisteredDevice* dev, const DeviceId& author, uint64_t seq,
                         const std::string& header, const std::string& header_sig,
                         absl::string_view what, absl::string_view why) {
    ++forged_count[author];
    if (!forged_unread.insert(author).second) return;
    TrustEvidence ev;
    ev.device = author;
    ev.seq = seq;
    ev.kind = static_cast<int>(ChainEvidence::Kind::kRelayedUnverified);
    ev.other_header = header;
    ev.other_signature = header_sig;
    ev.what = absl::StrCat(
        "the hub relayed entry ", seq, " of ", LaptopName(dev, author), " with a ", what,
        " that laptop did not make (", why, "): nothing of it was applied, and no other entry "
        "of that laptop relayed so is recorded until this is marked read. The hub (or what it "
        "ran) is suspect, not that laptop: tell the hub administrator");
    ev.found_at_millis = clock_.NowMillis();
    report->problems.push_back(ev.what);
    w.evidence.push_back(std::move(ev));
    ++report->new_evidence;
  };
  auto refusal = [&](const RegisteredDevice* dev, const Item& it, bool header_placed,
                     bool passed) -> Refusal {
    if (!security.verify) return Refusal::kNone;
    absl::Status s = security.verify(*it.body, it.position);
    if (s.ok()) return Refusal::kNone;
    const DeviceId& author = it.h.author;
    if (!header_placed) {
      absl::Status h = crypto::VerifyCommitHeader(it.header, it.header_signature,
                                                  dev->keys.sign_pk);
      if (!h.ok()) {
        note_forged(dev, author, it.h.seq, it.header, it.header_signature, "header signature",
                    h.message());
        return Refusal::kForged;
      }
    }
    if (absl::Status c = crypto::VerifyCommitSignature(*it.body, dev->keys.sign_pk); !c.ok()) {
      note_forged(dev, author, it.h.seq, it.header, it.header_signature, "commit signature",
                  c.message());
    }
    report->problems.push_back(absl::StrCat(
        "commit ", it.h.seq, " of ", LaptopName(dev, author), " does not verify here (",
        s.message(), "): not applied",
        passed ? "; this laptop's history of that laptop passed it already (it came as a header "
                 "alone), so it cannot be asked for again"
               : "; that laptop's later commits wait here, and it is asked for again"));
    return Refusal::kHere;
  };

  for (const DeviceId& author : order) {
    std::vector<Item>& items = by_author[author];
    const RegisteredDevice* dev = keys_.FindDevice(author);
    if (author == replica_.device_id()) continue;  // a hub relays no node its own
    if (dev == nullptr || stopped.count(author) > 0) {
      for (const Item& it : items) hold(it);
      report->problems.push_back(absl::StrCat(
          LaptopName(dev, author), ": ", items.size(), " entries held back (",
          dev == nullptr ? "a device the hub's registry does not name"
                         : "evidence against its history is on record",
          ")"));
      continue;
    }
    // What waits here already joins what came (a body over a header alone).
    FS_ASSIGN_OR_RETURN(std::vector<HeldEntry> held, replica_.Held(author));
    // Of two entries for one seq, the one to offer: a body its header
    // covers, else the header alone (a body its header does not cover is
    // never offered: it would hold the author's chain for good).
    auto better = [](const Item& a, const Item& b) {
      auto rank = [](const Item& i) { return i.body ? (i.covers ? 2 : 0) : 1; };
      return rank(a) > rank(b);
    };
    std::map<uint64_t, Item> by_seq;
    for (Item& it : items) {
      auto [slot, fresh] = by_seq.try_emplace(it.h.seq, std::move(it));
      if (!fresh && better(it, slot->second)) slot->second = std::move(it);
    }
    for (const HeldEntry& he : held) {
      absl::StatusOr<Item> it = FromHeld(he);
      if (!it.ok()) {
        w.released.emplace_back(he.device, he.seq);  // damaged: dropped, said
        report->problems.push_back(absl::StrCat(LaptopName(dev, author), ": a held entry could not "
                                                "be read and was dropped: ",
                                                it.status().message()));
        continue;
      }
      auto [slot, fresh] = by_seq.try_emplace(it->h.seq, *std::move(it));
      if (!fresh) {
        // Came again: the better of the two is offered; the held copy is
        // released either way once that one is placed.
        if (better(*it, slot->second)) {
          slot->second = *std::move(it);
        } else {
          slot->second.from_held = true;
        }
      }
    }
    const auto head_it = head_of.find(author);
    const uint64_t head = head_it == head_of.end() ? 0 : head_it->second.seq;
    bool tracked = head_it != head_of.end();
    // The withdrawals placed here (by earlier pulls) that pass over a seq
    // whose body came now: read only when one did.
    std::optional<std::vector<std::pair<crypto::CommitHeader, ChainRow>>> placed_withdrawals;
    auto withdrawn_here = [&](uint64_t seq) -> absl::StatusOr<const ChainRow*> {
      if (!placed_withdrawals) {
        placed_withdrawals.emplace();
        FS_ASSIGN_OR_RETURN(std::vector<ChainRow> rows,
                            replica_.ChainWithdrawalsAfter(author, by_seq.begin()->first));
        for (ChainRow& row : rows) {
          absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(row.header);
          if (h.ok() && h->withdrawal) placed_withdrawals->emplace_back(*std::move(h), row);
        }
      }
      for (const auto& [h, row] : *placed_withdrawals) {
        for (const crypto::WithdrawnRange& range : h.withdrawn) {
          if (range.first <= seq && seq <= range.last) return &row;
        }
      }
      return nullptr;
    };
    std::vector<AuthorChain::Offered> offered;
    std::map<uint64_t, Item*> offered_items;
    std::map<uint64_t, Item*> unverified_items;  // bodies refused here, not offered
    bool forked = false;
    for (auto& [seq, it] : by_seq) {
      if (tracked && seq <= head) {
        // Placed already: the same entry, or a fork.
        FS_ASSIGN_OR_RETURN(std::optional<ChainRow> mine, replica_.ChainEntryAt(author, seq));
        if (mine && mine->link != crypto::CommitLink(it.header, it.header_signature) &&
            crypto::VerifyCommitHeader(it.header, it.header_signature, dev->keys.sign_pk).ok()) {
          TrustEvidence ev;
          ev.device = author;
          ev.seq = seq;
          ev.kind = static_cast<int>(ChainEvidence::Kind::kFork);
          ev.held_header = mine->header;
          ev.held_signature = mine->signature;
          ev.other_header = it.header;
          ev.other_signature = it.header_signature;
          ev.what = absl::StrCat(LaptopName(dev, author), ": two signed entries for its commit ",
                                 seq, ", the hub showed this laptop two histories");
          ev.found_at_millis = clock_.NowMillis();
          w.evidence.push_back(ev);
          report->problems.push_back(ev.what);
          ++report->new_evidence;
          forked = true;
          break;
        }
        if (it.from_held) w.released.emplace_back(author, seq);
        if (it.body && it.covers) {
          // Withdrawn by its author: the hub's contradiction, not applied.
          FS_ASSIGN_OR_RETURN(const ChainRow* withdrawal, withdrawn_here(seq));
          if (withdrawal != nullptr) {
            against_hub(dev, author, seq, withdrawal->header, withdrawal->signature, it.header,
                        it.header_signature, withdrawal->seq, /*applied=*/false);
            continue;
          }
          const bool placed_as_is =
              mine && mine->link == crypto::CommitLink(it.header, it.header_signature);
          if (refusal(dev, it, placed_as_is, /*passed=*/true) != Refusal::kNone) continue;
          Commit c = *it.body;
          apply.emplace_back(it.position, std::move(c));
        }
        continue;
      }
      // A withdrawal passing over commits applied here by an earlier pull:
      // the hub delivered them whole although it had refused them. Only a
      // withdrawal its author signed (the chain checks it again below).
      if (it.h.withdrawal &&
          crypto::VerifyCommitHeader(it.header, it.header_signature, dev->keys.sign_pk).ok()) {
        for (const crypto::WithdrawnRange& range : it.h.withdrawn) {
          FS_ASSIGN_OR_RETURN(std::vector<ChainRow> bodies,
                              replica_.ChainBodiesWithin(author, range.first, range.last));
          for (const ChainRow& b : bodies) {
            against_hub(dev, author, b.seq, it.header, it.header_signature, b.header, b.signature,
                        seq, /*applied=*/true);
          }
        }
      }
      if (it.body && !it.covers) {
        hold(it);
        continue;
      }
      // A body this laptop refuses. Made up by the hub: dropped (a held
      // copy of its seq stays held). Its author's, refused here: a gap its
      // later entries wait behind, asked for again (sync/refused_gaps.h); a
      // held copy stays held, checked again when the author's entries come.
      if (it.body) {
        const Refusal r = refusal(dev, it, /*header_placed=*/false, /*passed=*/false);
        if (r == Refusal::kForged) continue;
        if (r == Refusal::kHere) {
          unverified_items[seq] = &it;
          continue;
        }
      }
      offered.push_back(AuthorChain::Offered{it.header, it.header_signature, it.body.has_value()});
      offered_items[seq] = &it;
    }
    if (forked) {
      for (auto& [seq, it] : by_seq) hold(it);
      continue;
    }
    if (forged_count.count(author) > 0) {
      report->problems.push_back(absl::StrCat(
          LaptopName(dev, author), ": ", forged_count[author], " entries the hub relayed under a "
          "signature that laptop did not make, not taken"));
    }
    const bool refused_before = refused_gaps.count(author) > 0;
    if (!unverified_items.empty()) {
      uint64_t& gap = refused_gaps[author];
      gap = std::max(gap, unverified_items.rbegin()->first);
      batch->cursors.emplace_back(RefusedGapCursor(author), static_cast<int64_t>(gap));
    }
    if (offered.empty() && unverified_items.empty()) continue;
    // Not tracked yet: from its first entry if that is seq 1, else anchored
    // at what the first entry received names before it. A commit refused
    // here (its header signed by its author) stays a gap the later entries
    // wait behind: the anchor before it is placed (state kAnchor), so that
    // the author is tracked and the hub asked for it; one of seq 1 is asked
    // for from the start (ChainKeeper::Heads).
    const bool refused_first =
        !unverified_items.empty() &&
        (offered_items.empty() || unverified_items.begin()->first < offered_items.begin()->first);
    std::optional<std::pair<uint64_t, std::string>> anchor;
    if (!tracked) {
      const Item& first =
          refused_first ? *unverified_items.begin()->second : *offered_items.begin()->second;
      const bool from_start = first.h.seq == 1 || (!refused_first && refused_before);
      if (!from_start) anchor.emplace(first.h.seq - 1, first.h.prev_link);
      if (anchor && refused_first) {
        ChainRow row;
        row.device = author;
        row.seq = anchor->first;
        row.link = anchor->second;
        row.state = ChainRow::State::kAnchor;
        w.placed.push_back(std::move(row));
      }
    }
    AuthorChain chain = tracked  ? AuthorChain(author, dev->keys.sign_pk, head, head_it->second.link)
                        : anchor ? AuthorChain(author, dev->keys.sign_pk, anchor->first, anchor->second)
                                 : AuthorChain(author, dev->keys.sign_pk);
    AuthorChain::Result r = chain.Offer(offered);
    std::set<uint64_t> placed(r.placed.begin(), r.placed.end());
    for (auto& [seq, it] : offered_items) {
      if (placed.count(seq) == 0) {
        // Passed over (a withdrawn seq) or held already: nothing waits.
        if (!chain.evidence() && seq <= chain.head()) {
          if (it->from_held) w.released.emplace_back(author, seq);
          continue;
        }
        hold(*it);
        continue;
      }
      ChainRow row;
      row.device = author;
      row.seq = seq;
      row.header = it->header;
      row.signature = it->header_signature;
      row.link = crypto::CommitLink(it->header, it->header_signature);
      row.state = it->body ? ChainRow::State::kWithBody : ChainRow::State::kHeaderOnly;
      w.placed.push_back(std::move(row));
      ++report->placed;
      if (!it->body) ++report->header_only;
      if (it->from_held) {
        w.released.emplace_back(author, seq);
        ++report->released;
      }
      if (it->body) apply.emplace_back(it->position, *it->body);
    }
    // Bodies of withdrawn seqs in this message: never placed by the chain,
    // so never applied. Said once, in this laptop's words.
    std::set<std::string> against_hub_lines;
    for (const ChainEvidence& ce : r.against_hub) {
      against_hub_lines.insert(ce.what);
      absl::StatusOr<crypto::CommitHeader> wh = crypto::DecodeCommitHeader(ce.held_header);
      against_hub(dev, author, ce.seq, ce.held_header, ce.held_signature, ce.other_header,
                  ce.other_signature, wh.ok() ? wh->seq : 0, /*applied=*/false);
    }
    for (const std::string& p : r.problems) {
      if (against_hub_lines.count(p) == 0) report->problems.push_back(p);
    }
    if (r.refused > 0) {
      report->problems.push_back(absl::StrCat(LaptopName(dev, author), ": ", r.refused,
                                              " entries refused (malformed or not signed by it)"));
    }
    if (r.new_evidence && chain.evidence()) {
      const ChainEvidence& ce = *chain.evidence();
      TrustEvidence ev;
      ev.device = author;
      ev.seq = ce.seq;
      ev.kind = static_cast<int>(ce.kind);
      ev.held_header = ce.held_header;
      ev.held_signature = ce.held_signature;
      ev.other_header = ce.other_header;
      ev.other_signature = ce.other_signature;
      ev.what = ce.what;
      ev.found_at_millis = clock_.NowMillis();
      w.evidence.push_back(std::move(ev));
      ++report->new_evidence;
    }
    if (auto missing = chain.Missing()) {
      if (auto g = refused_gaps.find(author); g != refused_gaps.end() && g->second > chain.head()) {
        report->problems.push_back(absl::StrCat(
            "commits ", missing->first, "..", missing->second, " of ", LaptopName(dev, author),
            " have not come in a form this laptop verifies: its later commits wait here, and "
            "they are asked for again (", chain.waiting(), " waiting)"));
        continue;
      }
      report->problems.push_back(absl::StrCat(
          "the hub has not sent commits ", missing->first, "..", missing->second, " of ",
          LaptopName(dev, author), ": its later commits wait here until they come (",
          chain.waiting(), " waiting)"));
    }
  }
  std::stable_sort(apply.begin(), apply.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  batch->commits = std::move(apply);
  return absl::OkStatus();
}

absl::Status CountEvidence(Replica& replica, ChainReport* report) {
  FS_ASSIGN_OR_RETURN(std::vector<TrustEvidence> evidence, replica.Evidence());
  FS_ASSIGN_OR_RETURN(int64_t read_to, replica.GetCursor(kEvidenceReadCursor));
  report->evidence = evidence.size();
  report->unacknowledged = 0;
  for (const TrustEvidence& e : evidence) report->unacknowledged += e.id > read_to ? 1 : 0;
  return absl::OkStatus();
}

}  // namespace fieldsync::sync
