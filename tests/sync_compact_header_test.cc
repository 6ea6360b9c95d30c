// Compact commit headers on the wire (sync/compact_header.h; docs/CRYPTO.md,
// "Compact headers on the wire"): for random messages (seeded: the seed is
// printed; replay with FIELDSYNC_SEED=<seed>) the receiver rebuilds every
// header byte for byte, whole or trimmed bodies, interleaved authors, gaps;
// header-only entries, withdrawals and a header that does not cover its body
// travel whole; and any field the hub could change (a value, the clock, an
// omitted digest or row tag, a prev link, the signature, an entry dropped
// before one that leaves its prev link out) makes the rebuilt header fail
// the author's signature, or the message refused: nothing is trusted more
// than with whole headers.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "change/commit_codec.h"
#include "crypto/commit_header.h"
#include "crypto/commit_signature.h"
#include "crypto/identity.h"
#include "support/must.h"
#include "sync/compact_header.h"

namespace fieldsync::sync {
namespace {

uint64_t SeedFromEnv() {
  const char* s = std::getenv("FIELDSYNC_SEED");
  if (s != nullptr && *s != '\0') return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// One author's entry as the hub stores it: the whole commit (none for a
// withdrawal), its header and signature.
struct Stored {
  size_t author = 0;
  std::optional<Commit> whole;
  std::string header, signature;
};

class ChainCompactHeaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = SeedFromEnv();
    std::cout << "FIELDSYNC_SEED=" << seed_ << " (set it to replay this run)" << std::endl;
    rng_.seed(seed_);
    for (int i = 0; i < 3; ++i) ids_.push_back(crypto::DeviceIdentity::Generate(Id16::NewRandom()));
  }

  uint64_t Rand(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

  RowId RandomRow() {
    std::string raw(16, '\0');
    for (char& c : raw) c = static_cast<char>(Rand(256));
    return Must(Id16::FromBytes(raw, "row"));
  }

  Commit RandomCommit(size_t author, uint64_t seq) {
    static const char* kTables[] = {"cases", "persons", "organisations", "referrals"};
    static const char* kNames[] = {"Lò Thị Mai", "Vàng Thị Dợ", "Đỗ Thị Hoa", "Hoàng Thị Lan"};
    Commit c;
    c.author = ids_[author].device();
    c.seq = seq;
    c.hlc = Hlc::FromParts(1'700'000'000'000 + Rand(1'000'000'000), Rand(100));
    const uint64_t n = 1 + Rand(5);
    for (uint64_t i = 0; i < n; ++i) {
      RowChange rc{kTables[Rand(4)], RandomRow(), {}};
      rc.fields.push_back(FieldWrite{"name", Value::Text(absl::StrCat(kNames[Rand(4)], " ", Rand(1000))),
                                     std::nullopt, {}});
      if (Rand(2) == 0) rc.fields.push_back(FieldWrite{"age", Value::Int(static_cast<int64_t>(Rand(90))), std::nullopt, {}});
      c.changes.push_back(std::move(rc));
    }
    return c;
  }

  // `count` entries of `author` from seq 1, chained; now and then a
  // withdrawal of the entry before it (header only, whole on the wire).
  std::vector<Stored> Chain(size_t author, uint64_t count, bool withdrawals) {
    std::vector<Stored> out;
    std::string prev = crypto::NoLink();
    for (uint64_t seq = 1; seq <= count; ++seq) {
      Stored s;
      s.author = author;
      crypto::CommitHeader h;
      if (withdrawals && seq > 2 && Rand(8) == 0) {
        const Stored& before = out.back();
        const std::string before_link = out.size() >= 2
                                            ? crypto::CommitLink(out[out.size() - 2].header,
                                                                 out[out.size() - 2].signature)
                                            : crypto::NoLink();
        h = Must(crypto::WithdrawalHeader(
            ids_[author].device(), seq, 1, prev,
            {{seq - 1, seq - 1, before_link, crypto::CommitLink(before.header, before.signature)}}));
      } else {
        s.whole = RandomCommit(author, seq);
        h = Must(crypto::HeaderOfCommit(*s.whole, prev));
      }
      s.header = Must(crypto::EncodeCommitHeader(h));
      s.signature = Must(crypto::SignCommitHeader(ids_[author], s.header));
      prev = crypto::CommitLink(s.header, s.signature);
      out.push_back(std::move(s));
    }
    return out;
  }

  // The entry as a pull sends it: header only (no body), whole, or trimmed
  // (some changes left out, by digest and row tag).
  PulledEntry Pulled(const Stored& s, int64_t position, bool header_only, bool trim) {
    PulledEntry e;
    e.position = position;
    e.header = s.header;
    e.header_signature = s.signature;
    if (!s.whole || header_only) return e;
    Commit body = *s.whole;
    if (trim && body.changes.size() > 1) {
      std::vector<RowChange> kept;
      for (size_t i = 0; i < s.whole->changes.size(); ++i) {
        const RowChange& rc = s.whole->changes[i];
        if (i > 0 && Rand(2) == 0) {  // the first is kept: a body is never empty
          e.omitted.emplace_back(static_cast<uint32_t>(i), crypto::ChangeDigest(rc));
          e.omitted_tags.push_back(Must(crypto::RowTag(rc.table, rc.row)));
        } else {
          kept.push_back(rc);
        }
      }
      body.changes = std::move(kept);
    }
    body.omitted.clear();
    e.canonical = EncodeCommit(body);
    e.signature = "v1 signature (not looked at here)";
    return e;
  }

  // A pull message: the three authors' chains interleaved in log order,
  // each from a random seq, with random gaps, header-only and trimmed
  // entries. `sent` receives the stored entry of each.
  std::vector<PulledEntry> RandomMessage(std::vector<const Stored*>* sent) {
    std::vector<std::vector<Stored>*> chains;
    for (auto& c : chains_) chains.push_back(&c);
    std::vector<size_t> next(chains.size());
    for (size_t a = 0; a < chains.size(); ++a) next[a] = Rand(3);  // 0: from seq 1
    std::vector<PulledEntry> out;
    while (true) {
      std::vector<size_t> left;
      for (size_t a = 0; a < chains.size(); ++a) {
        if (next[a] < chains[a]->size()) left.push_back(a);
      }
      if (left.empty()) break;
      const size_t a = left[Rand(left.size())];
      const Stored& s = (*chains[a])[next[a]];
      next[a] += Rand(6) == 0 ? 2 : 1;  // a gap now and then
      out.push_back(Pulled(s, static_cast<int64_t>(out.size() + 1), Rand(6) == 0, Rand(3) == 0));
      sent->push_back(&s);
    }
    return out;
  }

  // Whether the rebuilt header of `e` is its author's, as a laptop checks.
  bool Verifies(const PulledEntry& e, const Stored& s) {
    return crypto::VerifyCommitHeader(e.header, e.header_signature,
                                      ids_[s.author].public_keys().sign_pk)
        .ok();
  }

  void MakeChains() {
    // Author 0 withdraws nothing: all its entries have a body.
    for (size_t a = 0; a < ids_.size(); ++a) chains_.push_back(Chain(a, 6 + Rand(20), a > 0));
  }

  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  std::vector<crypto::DeviceIdentity> ids_;
  std::vector<std::vector<Stored>> chains_;
};

TEST_F(ChainCompactHeaderTest, RandomPullMessagesRebuildEveryHeaderByteForByte) {
  MakeChains();
  size_t compact = 0, with_prev = 0, whole = 0;
  for (int round = 0; round < 40; ++round) {
    std::vector<const Stored*> sent;
    const std::vector<PulledEntry> original = RandomMessage(&sent);
    std::vector<PulledEntry> wire = original;
    CompactPulled(wire);
    // What the receiver can rebuild travels compact; the rest whole. The
    // prev link is left out for seq 1 and after the author's seq - 1.
    std::map<DeviceId, uint64_t> last;
    for (size_t i = 0; i < wire.size(); ++i) {
      const Stored& s = *sent[i];
      const crypto::CommitHeader h = Must(crypto::DecodeCommitHeader(s.header));
      const bool rebuildable = !original[i].canonical.empty() && !h.withdrawal;
      ASSERT_EQ(IsCompactHeader(wire[i].header, wire[i].header_signature), rebuildable)
          << "entry " << i << " seed " << seed_;
      if (rebuildable) {
        ++compact;
        auto it = last.find(h.author);
        const bool known = h.seq == 1 || (it != last.end() && it->second == h.seq - 1);
        EXPECT_EQ(wire[i].header_prev_link, known ? "" : h.prev_link) << "seed " << seed_;
        with_prev += known ? 0 : 1;
      } else {
        ++whole;
        EXPECT_EQ(wire[i].header, s.header);
        EXPECT_TRUE(wire[i].header_prev_link.empty());
      }
      last[h.author] = h.seq;
    }
    ASSERT_TRUE(ExpandPulled(wire).ok()) << "seed " << seed_;
    for (size_t i = 0; i < wire.size(); ++i) {
      EXPECT_EQ(wire[i].header, sent[i]->header) << "entry " << i << " seed " << seed_;
      EXPECT_TRUE(wire[i].header_prev_link.empty());
      EXPECT_TRUE(Verifies(wire[i], *sent[i]));
      EXPECT_EQ(wire[i].canonical, original[i].canonical);
    }
  }
  // The random messages did exercise every case.
  EXPECT_GT(compact, 100u) << "seed " << seed_;
  EXPECT_GT(with_prev, 3u) << "seed " << seed_;
  EXPECT_GT(whole, 3u) << "seed " << seed_;
}

TEST_F(ChainCompactHeaderTest, APushOfOneAuthorsCommitsNeedsOnlyTheFirstPrevLink) {
  MakeChains();
  const std::vector<Stored>& chain = chains_[0];
  for (size_t from : {size_t{0}, size_t{2}}) {
    std::vector<PushedCommit> push;
    HeaderCompactor compactor;
    std::vector<std::string> headers;
    for (size_t i = from; i < chain.size(); ++i) {
      if (!chain[i].whole) break;  // a withdrawal is not pushed as a commit
      PushedCommit pc{EncodeCommit(*chain[i].whole), "v1", chain[i].header, chain[i].signature, {}};
      compactor.Offer(&*chain[i].whole, {}, &pc.header, pc.header_signature, &pc.header_prev_link);
      EXPECT_TRUE(pc.header.empty());
      EXPECT_EQ(pc.header_prev_link.empty(), i == 0 || i > from) << i;
      headers.push_back(chain[i].header);
      push.push_back(std::move(pc));
    }
    ASSERT_FALSE(push.empty());
    EXPECT_TRUE(AnyCompact(push));
    ASSERT_TRUE(ExpandPushed(push).ok());
    for (size_t i = 0; i < push.size(); ++i) EXPECT_EQ(push[i].header, headers[i]);
  }
}

TEST_F(ChainCompactHeaderTest, AHeaderThatDoesNotCoverItsBodyTravelsWhole) {
  MakeChains();
  const Stored* s = nullptr;
  for (const Stored& e : chains_[1]) {
    if (e.whole) s = &e;
  }
  ASSERT_NE(s, nullptr);
  PulledEntry e = Pulled(*s, 1, false, false);
  Commit other = *s->whole;
  other.changes.front().fields.front().value = Value::Text("tường thuật khác");
  e.canonical = EncodeCommit(other);  // the hub's store is inconsistent
  std::vector<PulledEntry> wire{e};
  CompactPulled(wire);
  EXPECT_EQ(wire[0].header, s->header) << "sent whole: the laptop holds the body back against it";
}

TEST_F(ChainCompactHeaderTest, EveryFieldTheHubCouldChangeFailsTheSignatureOrTheMessage) {
  MakeChains();
  // A message of one author's entries from seq 1, every one with its body
  // (trimmed now and then), so that each later one leaves its prev link out.
  std::vector<const Stored*> sent;
  std::vector<PulledEntry> good;
  for (const Stored& s : chains_[0]) {
    good.push_back(Pulled(s, static_cast<int64_t>(good.size() + 1), false, Rand(2) == 0));
    sent.push_back(&s);
  }
  ASSERT_GE(good.size(), 3u) << "seed " << seed_;
  CompactPulled(good);
  const size_t k = 1 + Rand(good.size() - 1);  // the entry tampered with, not the first
  const std::string base_prev = Must(crypto::DecodeCommitHeader(sent[k]->header)).prev_link;

  // Each tampering, then whether the laptop would take entry k (expansion
  // refused, or the rebuilt header not the author's).
  const auto refused = [&](const std::function<void(std::vector<PulledEntry>&)>& tamper,
                           const std::string& what) {
    std::vector<PulledEntry> wire = good;
    tamper(wire);
    absl::Status s = ExpandPulled(wire);
    if (!s.ok()) return;
    bool found = false;
    for (size_t i = 0; i < wire.size(); ++i) {
      if (wire[i].position == static_cast<int64_t>(k + 1)) {
        found = true;
        EXPECT_FALSE(Verifies(wire[i], *sent[k])) << what << " was not noticed, seed " << seed_;
      }
    }
    EXPECT_TRUE(found) << what;
  };
  const auto body = [&](std::vector<PulledEntry>& w) { return Must(DecodeCommit(w[k].canonical)); };
  refused([&](auto& w) {
    Commit c = body(w);
    c.changes.back().fields.front().value = Value::Text("Nguyễn Văn Giả");
    w[k].canonical = EncodeCommit(c);
  }, "a value");
  refused([&](auto& w) {
    Commit c = body(w);
    c.hlc = Hlc::FromPacked(c.hlc.packed() + 1);
    w[k].canonical = EncodeCommit(c);
  }, "the clock");
  refused([&](auto& w) {
    Commit c = body(w);
    if (c.changes.size() > 1) c.changes.pop_back();
    else c.changes.push_back(c.changes.front());
    w[k].canonical = EncodeCommit(c);
  }, "the changes");
  refused([&](auto& w) {
    Commit c = body(w);
    c.seq += 1;
    w[k].canonical = EncodeCommit(c);
  }, "the seq");
  refused([&](auto& w) {
    if (w[k].omitted.empty()) {
      w[k].omitted.emplace_back(99, std::string(32, '\x01'));
      w[k].omitted_tags.push_back(std::string(16, '\x02'));
    } else {
      w[k].omitted.front().second[0] ^= 1;
    }
  }, "an omitted digest");
  refused([&](auto& w) {
    if (w[k].omitted_tags.empty()) {
      w[k].omitted_tags.push_back(std::string(16, '\x02'));
    } else {
      w[k].omitted_tags.front()[3] ^= 1;
    }
  }, "an omitted row tag");
  refused([&](auto& w) {
    std::string prev = base_prev;
    prev[7] ^= 1;
    w[k].header_prev_link = prev;
  }, "the prev link");
  refused([&](auto& w) { w[k].header_signature[10] ^= 1; }, "the signature");
  refused([&](auto& w) {
    Commit c = Must(DecodeCommit(w[k - 1].canonical));
    c.changes.front().fields.front().value = Value::Text("Trần Thị Giả");
    w[k - 1].canonical = EncodeCommit(c);
  }, "the entry before it, whose link it takes");
  // Dropped: the entry before k (which k takes its prev link from) is not
  // in the message; the message is refused, as a malformed one.
  std::vector<PulledEntry> dropped = good;
  dropped.erase(dropped.begin() + static_cast<std::ptrdiff_t>(k - 1));
  absl::Status s = ExpandPulled(dropped);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("its author's entry before it is not earlier in the message"),
            std::string::npos)
      << s;
  // The untouched message rebuilds and verifies.
  std::vector<PulledEntry> wire = good;
  ASSERT_TRUE(ExpandPulled(wire).ok());
  for (size_t i = 0; i < wire.size(); ++i) EXPECT_TRUE(Verifies(wire[i], *sent[i])) << i;
}

TEST_F(ChainCompactHeaderTest, MalformedCompactEntriesAreRefusedInOneLine) {
  MakeChains();
  const Stored& s = chains_[0][1];
  ASSERT_TRUE(s.whole);
  PushedCommit pc{EncodeCommit(*s.whole), "v1", "", s.signature, std::string(31, '\x01')};
  std::vector<PushedCommit> push{pc};
  absl::Status r = ExpandPushed(push);
  EXPECT_EQ(r.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.message().find("prev link of 31 bytes"), std::string::npos) << r;
  EXPECT_NE(r.message().find("nothing of the push was stored"), std::string::npos) << r;
  push = {PushedCommit{EncodeCommit(*s.whole), "v1", s.header, s.signature, std::string(32, 'x')}};
  EXPECT_EQ(ExpandPushed(push).code(), absl::StatusCode::kInvalidArgument)
      << "a prev link beside a whole header";
  std::vector<PulledEntry> pulled{PulledEntry{}};
  pulled[0].header_signature = s.signature;  // compact, without its commit
  EXPECT_EQ(ExpandPulled(pulled).code(), absl::StatusCode::kInvalidArgument);
  pulled[0].canonical = "not a commit";
  EXPECT_FALSE(ExpandPulled(pulled).ok());
}

}  // namespace
}  // namespace fieldsync::sync
