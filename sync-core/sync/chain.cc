#include "sync/chain.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace fieldsync::sync {

using crypto::CommitHeader;
using crypto::WithdrawnRange;

AuthorChain::AuthorChain(DeviceId author, std::string sign_pk)
    : AuthorChain(author, std::move(sign_pk), 0, crypto::NoLink()) {}

AuthorChain::AuthorChain(DeviceId author, std::string sign_pk, uint64_t anchor_seq,
                         std::string anchor_link)
    : author_(author),
      sign_pk_(std::move(sign_pk)),
      anchor_(anchor_seq),
      anchor_link_(anchor_link),
      head_(anchor_seq),
      head_link_(std::move(anchor_link)) {}

std::optional<std::pair<uint64_t, uint64_t>> AuthorChain::Missing() const {
  uint64_t next = UINT64_MAX;
  if (!waiting_.empty()) next = waiting_.begin()->first;
  if (!bridges_.empty()) next = std::min(next, bridges_.begin()->first);
  if (next == UINT64_MAX || next <= head_ + 1) return std::nullopt;
  return std::make_pair(head_ + 1, next - 1);
}

std::optional<std::string> AuthorChain::KnownLink(uint64_t seq) const {
  if (seq == anchor_) return anchor_link_;
  if (auto it = held_.find(seq); it != held_.end()) return it->second.link;
  for (const auto& [first, range] : withdrawn_) {
    if (range.first.last == seq) return range.first.link_last;
  }
  return std::nullopt;
}

std::vector<const AuthorChain::Entry*> AuthorChain::BodiesWithin(uint64_t first,
                                                                 uint64_t last) const {
  std::vector<const Entry*> out;
  for (const auto* m : {&held_, &waiting_}) {
    for (auto it = m->lower_bound(first); it != m->end() && it->first <= last; ++it) {
      if (it->second.with_body && !it->second.h.withdrawal) out.push_back(&it->second);
    }
  }
  return out;
}

void AuthorChain::NoteWithdrawnDelivered(const Entry& withdrawal, const Entry& body, Result* r) {
  if (!withdrawn_delivered_.insert(body.h.seq).second) return;
  ChainEvidence e;
  e.kind = ChainEvidence::Kind::kWithdrawnDelivered;
  e.seq = body.h.seq;
  e.held_header = withdrawal.header;
  e.held_signature = withdrawal.signature;
  e.other_header = body.header;
  e.other_signature = body.signature;
  e.what = absl::StrCat("the hub delivered commit ", body.h.seq, " of laptop ",
                        author_.ToString(), " with its content, yet that laptop signed (entry ",
                        withdrawal.h.seq, ") that the hub refused it: either the hub stored "
                        "what it said it refused, or that laptop withdrew a commit the hub had "
                        "stored (since session 17 the hub keeps such a withdrawal, and the "
                        "author writes over the commit): neither is to blame alone. Not "
                        "applied; that laptop's later work is taken");
  r->problems.push_back(e.what);
  r->against_hub.push_back(std::move(e));
}

void AuthorChain::Stop(ChainEvidence::Kind kind, uint64_t seq, const Entry* held,
                       const Entry& other, std::string what, Result* r) {
  if (evidence_) return;
  ChainEvidence e;
  e.kind = kind;
  e.seq = seq;
  if (held != nullptr) {
    e.held_header = held->header;
    e.held_signature = held->signature;
  }
  e.other_header = other.header;
  e.other_signature = other.signature;
  e.what = absl::StrCat("laptop ", author_.ToString(), ": ", what);
  evidence_ = std::move(e);
  r->new_evidence = true;
  r->problems.push_back(evidence_->what);
}

AuthorChain::Result AuthorChain::Offer(const std::vector<Offered>& offered) {
  Result r;
  if (evidence_) {
    r.problems.push_back(absl::StrCat("laptop ", author_.ToString(),
                                      ": its entries are held back since ", evidence_->what));
    return r;
  }
  // Decode; another author's or a malformed entry is refused.
  std::vector<Entry> entries;
  std::set<std::pair<uint64_t, std::string>> seen;
  for (const Offered& o : offered) {
    absl::StatusOr<CommitHeader> h = crypto::DecodeCommitHeader(o.header);
    if (!h.ok() || h->author != author_) {
      ++r.refused;
      r.problems.push_back(h.ok() ? "an entry of another author offered in its chain"
                                  : std::string(h.status().message()));
      continue;
    }
    Entry e{*std::move(h), o.header, o.signature, crypto::CommitLink(o.header, o.signature),
            o.with_body};
    if (!seen.insert({e.h.seq, e.link}).second) {
      // The same entry twice in one message; keep the one with its body.
      for (Entry& other : entries) {
        if (other.h.seq == e.h.seq && other.link == e.link) other.with_body |= e.with_body;
      }
      ++r.duplicates;
      continue;
    }
    entries.push_back(std::move(e));
  }

  // Authentic: descending, so an entry is vouched for by the later ones
  // (and by what is held) before it is looked at.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.h.seq > b.h.seq; });
  std::set<std::pair<uint64_t, std::string>> vouched;
  const auto vouch_for = [&](const Entry& e) {
    if (e.h.seq > 1) vouched.insert({e.h.seq - 1, e.h.prev_link});
    for (const WithdrawnRange& w : e.h.withdrawn) {
      if (w.first > 1) vouched.insert({w.first - 1, w.link_before});
      vouched.insert({w.last, w.link_last});
    }
  };
  // Entries beyond the head vouch for what comes before them.
  for (const auto& [seq, e] : waiting_) vouch_for(e);
  for (const auto& [first, b] : bridges_) vouch_for(b.second);
  const auto held_as_is = [&](const Entry& e) {
    for (const auto* m : {&held_, &waiting_}) {
      auto it = m->find(e.h.seq);
      if (it != m->end() && it->second.link == e.link) return true;
    }
    return false;
  };
  std::vector<Entry> authentic;
  for (Entry& e : entries) {
    const bool ok = held_as_is(e) || (!e.h.withdrawal && vouched.count({e.h.seq, e.link}) > 0) ||
                    crypto::VerifyCommitHeader(e.header, e.signature, sign_pk_).ok();
    if (!ok) {
      ++r.refused;
      r.problems.push_back(absl::StrCat("laptop ", author_.ToString(), ": entry ", e.h.seq,
                                        " is not signed by it"));
      continue;
    }
    vouch_for(e);
    authentic.push_back(std::move(e));
  }

  std::reverse(authentic.begin(), authentic.end());  // ascending
  for (Entry& e : authentic) {
    Take(std::move(e), &r);
    if (evidence_) return r;
  }
  Advance(&r);
  return r;
}

void AuthorChain::Take(Entry e, Result* r) {
  const uint64_t seq = e.h.seq;
  if (seq < anchor_) {
    ++r->duplicates;  // before what this laptop checks
    return;
  }
  if (seq == anchor_) {
    if (e.link != anchor_link_) {
      return Stop(ChainEvidence::Kind::kFork, seq, nullptr, e,
                  absl::StrCat("entry ", seq, " differs from the one this laptop was anchored at"),
                  r);
    }
    ++r->duplicates;
    return;
  }
  // A commit's body within a range passed over, or one a withdrawal waits
  // to pass over: the hub stored what its author says it never will.
  // Evidence against the hub; the body is dropped (never placed), its
  // header treated as any other of a withdrawn seq. Looked at before the
  // entries held, which may be that commit's header-only copy.
  if (e.with_body && !e.h.withdrawal) {
    if (const Entry* withdrawal = WithdrawalOver(seq)) {
      NoteWithdrawnDelivered(*withdrawal, e, r);
      e.with_body = false;
    }
  }
  const auto same_seq = [&](Entry& held) {
    if (held.link == e.link) {
      // A header-only copy now delivered whole: a withdrawal arriving later
      // must find its body (BodyWithin).
      held.with_body |= e.with_body;
      ++r->duplicates;
      return;
    }
    Stop(ChainEvidence::Kind::kFork, seq, &held, e,
         absl::StrCat("two different entries ", seq, " (a fork)"), r);
  };
  if (auto it = held_.find(seq); it != held_.end()) return same_seq(it->second);
  if (auto it = waiting_.find(seq); it != waiting_.end()) return same_seq(it->second);
  if (WithdrawalOver(seq) != nullptr) {
    ++r->duplicates;  // a refused commit's header, relayed before it was withdrawn
    return;
  }
  if (seq <= head_) {
    ++r->duplicates;  // placed before this chain held entries (cannot happen past the anchor)
    return;
  }
  const bool withdrawal = e.h.withdrawal;
  Entry copy = withdrawal ? e : Entry{};
  waiting_.emplace(seq, std::move(e));
  if (withdrawal) AddBridges(copy, r);
}

const AuthorChain::Entry* AuthorChain::WithdrawalOver(uint64_t seq) const {
  for (const auto* m : {&withdrawn_, &bridges_}) {
    auto it = m->upper_bound(seq);
    if (it == m->begin()) continue;
    --it;
    if (seq <= it->second.first.last) return &it->second.second;
  }
  return nullptr;
}

const AuthorChain::Entry* AuthorChain::OtherWithdrawalWithin(uint64_t first, uint64_t last,
                                                             const std::string& link) const {
  // The ranges held are apart (an overlap stops the chain), so only the
  // last one starting at or before `last` can reach `first`.
  for (const auto* m : {&withdrawn_, &bridges_}) {
    auto it = m->upper_bound(last);
    if (it == m->begin()) continue;
    --it;
    const auto& [range, w] = it->second;
    if (range.last >= first && w.link != link) return &w;
  }
  return nullptr;
}

void AuthorChain::AddBridges(const Entry& w, Result* r) {
  for (const WithdrawnRange& range : w.h.withdrawn) {
    // Bodies within it came before it: evidence against the hub. One
    // waiting is never placed (the range passes over it); one placed
    // already was applied (docs/PROTOCOL.md, "re-dating").
    for (const Entry* body : BodiesWithin(range.first, range.last)) {
      NoteWithdrawnDelivered(w, *body, r);
    }
    // An author withdraws a seq once: two different withdrawals sharing
    // a seq (a range withdrawn again, or withdrawn further) are two signed
    // accounts of one stretch of its chain, a fork (docs/PROTOCOL-v3.md,
    // section 2). Keeping either alone would let a body of a seq the other
    // passes over through unchallenged.
    if (const Entry* other = OtherWithdrawalWithin(range.first, range.last, w.link)) {
      return Stop(ChainEvidence::Kind::kFork, range.first, other, w,
                  absl::StrCat("its withdrawals ", other->h.seq, " and ", w.h.seq,
                               " both pass over seqs within ", range.first, "..", range.last,
                               " (a fork)"),
                  r);
    }
    const std::optional<std::string> before = KnownLink(range.first - 1);
    const std::optional<std::string> last = KnownLink(range.last);
    if ((before && *before != range.link_before) || (last && *last != range.link_last)) {
      return Stop(ChainEvidence::Kind::kFork, range.first, nullptr, w,
                  absl::StrCat("its withdrawal ", w.h.seq, " names other entries around ",
                               range.first, "..", range.last, " than this laptop holds"),
                  r);
    }
    if (range.first <= head_ + 1) {
      // Reaches the head, or was passed already: the held entries within it
      // are header only (checked above), and a body delivered for one of
      // them later is evidence (Take), so the range is recorded either way.
      for (auto it = held_.lower_bound(range.first);
           it != held_.end() && it->first <= range.last;) {
        it = held_.erase(it);
      }
      withdrawn_.emplace(range.first, std::make_pair(range, w));
      if (range.last <= head_) continue;
      r->withdrawn.emplace_back(std::max(range.first, head_ + 1), range.last);
      MoveHead(range.last, range.link_last);
      continue;
    }
    bridges_[range.first] = {range, w};
  }
}

void AuthorChain::MoveHead(uint64_t seq, const std::string& link) {
  head_ = seq;
  head_link_ = link;
  // Header-only entries of a range passed over wait no more.
  for (auto it = waiting_.begin(); it != waiting_.end() && it->first <= head_;) {
    it = waiting_.erase(it);
  }
}

void AuthorChain::Advance(Result* r) {
  while (!evidence_) {
    // A range withdrawn goes first: header-only copies of its refused
    // commits may wait at the same seqs.
    if (auto it = bridges_.find(head_ + 1); it != bridges_.end()) {
      const auto& [range, w] = it->second;
      if (range.link_before != head_link_) {
        return Stop(ChainEvidence::Kind::kFork, range.first, nullptr, w,
                    absl::StrCat("its withdrawal ", w.h.seq, " does not follow the entry ", head_,
                                 " this laptop holds"),
                    r);
      }
      r->withdrawn.emplace_back(range.first, range.last);
      const uint64_t last = range.last;
      const std::string link = range.link_last;
      withdrawn_.insert(bridges_.extract(it));
      MoveHead(last, link);
      continue;
    }
    if (auto it = waiting_.find(head_ + 1); it != waiting_.end()) {
      Entry& e = it->second;
      if (e.h.prev_link != head_link_) {
        const Entry* held = nullptr;
        if (auto h = held_.find(head_); h != held_.end()) held = &h->second;
        return Stop(ChainEvidence::Kind::kFork, e.h.seq, held, e,
                    absl::StrCat("entry ", e.h.seq, " does not follow the entry ", head_,
                                 " this laptop holds (a fork)"),
                    r);
      }
      head_ = e.h.seq;
      head_link_ = e.link;
      r->placed.push_back(head_);
      held_.emplace(head_, std::move(e));
      waiting_.erase(it);
      continue;
    }
    return;
  }
}

}  // namespace fieldsync::sync
