// The merge rule on one field: every delivery order of two and three writes,
// concurrent or causally related, reaches the same winner and the same
// conflict records, and those are what the rule says they are.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "merge/field_register.h"
#include "merge/merge.h"

namespace fieldsync {
namespace {

DeviceId Dev(uint8_t n) {
  std::array<uint8_t, 16> b{};
  b[15] = n;
  return Id16(b);
}

Version V(uint64_t ms, uint8_t dev) { return Version{Hlc::FromParts(ms, 0), Dev(dev)}; }

RegisterWrite W(Version v, std::string value, std::optional<Version> base = std::nullopt,
                std::vector<Version> resolves = {}) {
  return RegisterWrite{v, Value::Text(std::move(value)), base, std::move(resolves)};
}

// What the rule says, from the set of writes alone: the winner is the
// greatest version; the conflicts are the other writes no write supersedes.
struct Expected {
  Version winner;
  std::set<Version> conflicts;
};

Expected Oracle(const std::vector<RegisterWrite>& ws) {
  Expected e{ws[0].version, {}};
  for (const auto& w : ws) e.winner = std::max(e.winner, w.version);
  for (const auto& w : ws) {
    if (w.version == e.winner) continue;
    bool superseded = false;
    for (const auto& o : ws) {
      if (Supersedes(o.base, o.resolves, w.version)) superseded = true;
    }
    if (!superseded) e.conflicts.insert(w.version);
  }
  return e;
}

// True if the order delivers every write after the writes it names.
bool Causal(const std::vector<RegisterWrite>& order) {
  for (size_t i = 0; i < order.size(); ++i) {
    for (size_t j = i + 1; j < order.size(); ++j) {
      if (Supersedes(order[i].base, order[i].resolves, order[j].version)) return false;
    }
  }
  return true;
}

// Applies the writes in every causal order; checks each against the oracle.
// Returns how many orders were tried.
int CheckAllOrders(std::vector<RegisterWrite> ws) {
  const Expected want = Oracle(ws);
  std::sort(ws.begin(), ws.end(),
            [](const RegisterWrite& a, const RegisterWrite& b) { return a.version < b.version; });
  int orders = 0;
  do {
    if (!Causal(ws)) continue;
    ++orders;
    FieldRegister reg;
    std::string trace;
    for (const auto& w : ws) {
      reg.Apply(w);
      trace += w.value.str() + " ";
    }
    // Redelivery of everything changes nothing.
    for (const auto& w : ws) reg.Apply(w);
    SCOPED_TRACE("order: " + trace);
    if (!reg.current().has_value()) {
      ADD_FAILURE() << "no winner";
      continue;
    }
    EXPECT_EQ(reg.current()->version, want.winner);
    std::set<Version> got;
    for (const auto& [v, value] : reg.conflicts()) got.insert(v);
    EXPECT_EQ(got, want.conflicts);
    // Each conflict record keeps the losing write's own value.
    for (const auto& [v, value] : reg.conflicts()) {
      for (const auto& w : ws) {
        if (w.version == v) {
          EXPECT_EQ(value, w.value);
        }
      }
    }
  } while (std::next_permutation(
      ws.begin(), ws.end(),
      [](const RegisterWrite& a, const RegisterWrite& b) { return a.version < b.version; }));
  return orders;
}

TEST(DecideFieldTest, FirstWriteWinsWithoutConflict) {
  const std::optional<Version> none;
  const std::vector<Version> no;
  EXPECT_EQ(DecideField(std::nullopt, {V(1, 1), &none, &no}),
            (MergeDecision{true, ConflictAction::kNone}));
}

TEST(DecideFieldTest, GreaterVersionWinsAndTheConcurrentLoserIsKept) {
  const std::optional<Version> none;
  const std::vector<Version> no;
  const FieldVersion cur{V(5, 1), std::nullopt};
  EXPECT_EQ(DecideField(cur, {V(6, 2), &none, &no}),
            (MergeDecision{true, ConflictAction::kKeepCurrent}));
  EXPECT_EQ(DecideField(cur, {V(4, 2), &none, &no}),
            (MergeDecision{false, ConflictAction::kKeepIncoming}));
}

TEST(DecideFieldTest, EqualHlcIsBrokenByDeviceId) {
  const std::optional<Version> none;
  const std::vector<Version> no;
  const FieldVersion cur{V(5, 1), std::nullopt};
  EXPECT_TRUE(DecideField(cur, {V(5, 2), &none, &no}).incoming_wins);
  const FieldVersion cur2{V(5, 2), std::nullopt};
  EXPECT_FALSE(DecideField(cur2, {V(5, 1), &none, &no}).incoming_wins);
}

TEST(DecideFieldTest, ASuccessorReplacesItsBaseWithoutConflict) {
  const std::optional<Version> base = V(5, 1);
  const std::vector<Version> no;
  const FieldVersion cur{V(5, 1), std::nullopt};
  EXPECT_EQ(DecideField(cur, {V(6, 2), &base, &no}),
            (MergeDecision{true, ConflictAction::kNone}));
}

TEST(DecideFieldTest, RedeliveryChangesNothing) {
  const std::optional<Version> none;
  const std::vector<Version> no;
  const FieldVersion cur{V(5, 1), std::nullopt};
  EXPECT_EQ(DecideField(cur, {V(5, 1), &none, &no}),
            (MergeDecision{false, ConflictAction::kNone}));
}

TEST(MergeOrderTest, TwoConcurrentWritesInBothOrders) {
  EXPECT_EQ(CheckAllOrders({W(V(10, 1), "a"), W(V(11, 2), "b")}), 2);
  // Same HLC on two devices: the device id decides.
  EXPECT_EQ(CheckAllOrders({W(V(10, 2), "a"), W(V(10, 1), "b")}), 2);
  // Both based on the same earlier version, delivered after it.
  EXPECT_EQ(CheckAllOrders({W(V(1, 3), "o"), W(V(10, 1), "a", V(1, 3)),
                            W(V(11, 2), "b", V(1, 3))}),
            2);
}

TEST(MergeOrderTest, ThreeConcurrentWritesInAllSixOrders) {
  EXPECT_EQ(CheckAllOrders({W(V(10, 1), "a"), W(V(11, 2), "b"), W(V(12, 3), "c")}), 6);
  EXPECT_EQ(CheckAllOrders({W(V(12, 1), "a"), W(V(12, 2), "b"), W(V(12, 3), "c")}), 6);
}

TEST(MergeOrderTest, TwoWritesInSequenceNeverConflict) {
  EXPECT_EQ(CheckAllOrders({W(V(10, 1), "a"), W(V(11, 2), "b", V(10, 1))}), 1);
  const Expected e = Oracle({W(V(10, 1), "a"), W(V(11, 2), "b", V(10, 1))});
  EXPECT_TRUE(e.conflicts.empty());
}

TEST(MergeOrderTest, ASequenceBesideAConcurrentWrite) {
  // a <- c (c saw a), b concurrent with both: whichever wins, a is settled.
  EXPECT_EQ(CheckAllOrders({W(V(10, 1), "a"), W(V(11, 2), "b"), W(V(12, 3), "c", V(10, 1))}), 3);
  EXPECT_EQ(CheckAllOrders({W(V(10, 1), "a"), W(V(13, 2), "b"), W(V(12, 3), "c", V(10, 1))}), 3);
}

TEST(MergeOrderTest, AResolutionSettlesEveryConflictItNames) {
  const std::vector<RegisterWrite> ws = {
      W(V(10, 1), "a"), W(V(11, 2), "b"),
      W(V(12, 3), "resolved", V(11, 2), {V(10, 1)})};
  EXPECT_EQ(CheckAllOrders(ws), 2);
  EXPECT_TRUE(Oracle(ws).conflicts.empty());
}

// Every history of three writes of one field: the second based on nothing or
// on the first; the third based on nothing, on the first, on the second, or
// on the second while also resolving the first. With distinct HLCs and with
// one shared HLC (device ids decide), in every causal delivery order.
TEST(MergeOrderTest, ExhaustiveThreeWriteHistories) {
  int histories = 0;
  for (int hlc_pattern = 0; hlc_pattern < 2; ++hlc_pattern) {
    std::vector<Version> vs = hlc_pattern == 0
                                  ? std::vector<Version>{V(10, 1), V(11, 2), V(12, 3)}
                                  : std::vector<Version>{V(10, 3), V(10, 2), V(10, 1)};
    std::sort(vs.begin(), vs.end());
    for (int second = 0; second < 2; ++second) {
      for (int third = 0; third < 4; ++third) {
        std::vector<RegisterWrite> ws;
        ws.push_back(W(vs[0], "w0"));
        ws.push_back(W(vs[1], "w1", second ? std::optional<Version>(vs[0]) : std::nullopt));
        switch (third) {
          case 0: ws.push_back(W(vs[2], "w2")); break;
          case 1: ws.push_back(W(vs[2], "w2", vs[0])); break;
          case 2: ws.push_back(W(vs[2], "w2", vs[1])); break;
          case 3: ws.push_back(W(vs[2], "w2", vs[1], {vs[0]})); break;
        }
        SCOPED_TRACE(::testing::Message() << "pattern " << hlc_pattern << " second " << second
                                          << " third " << third);
        EXPECT_GE(CheckAllOrders(ws), 1);
        ++histories;
      }
    }
  }
  EXPECT_EQ(histories, 16);
}

}  // namespace
}  // namespace fieldsync
