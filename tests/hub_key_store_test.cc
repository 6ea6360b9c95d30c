// Key records in the hub's storage (hub/storage.h: StoreKeyRecord,
// KeyHead, KeyRecordAt, ForEachKeyRecordAfter, KeyRecordsOfRing,
// KeyRecordsSignedBy, RingErased, EraseRing) the same on both stores:
// SQLite and PostgreSQL (support/hub_stores.h). Records are relayed, never
// opened: their bytes here are any bytes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/key_record.h"
#include "support/hub_stores.h"

namespace fieldsync::hub {
namespace {

using fieldsync::testing::HubStore;
using fieldsync::testing::HubStoreName;
using fieldsync::testing::SameBytesId;

constexpr int kDataKey = static_cast<int>(crypto::KeyRecordKind::kDataKey);
constexpr int kErasure = static_cast<int>(crypto::KeyRecordKind::kErasure);
constexpr int kMembership = static_cast<int>(crypto::KeyRecordKind::kMembership);

StoredKeyRecord Record(const std::string& name, int kind, const std::string& province,
                       std::optional<RowId> ring, const DeviceId& signer, int64_t at) {
  StoredKeyRecord r;
  r.kind = kind;
  r.province = province;
  r.keyring = ring;
  r.signer = signer;
  r.stored_at_millis = at;
  r.id = absl::StrCat("id:", name);
  r.bytes = absl::StrCat("bytes of ", name, " (Lào Cai, khóa dữ liệu)");
  return r;
}

// seq:id of each record after `seq`, as ForEachKeyRecordAfter visits them.
std::string Listed(HubReadTxn& r, int64_t seq) {
  std::string out;
  absl::Status s = r.ForEachKeyRecordAfter(seq, [&](const StoredKeyRecord& k) {
    absl::StrAppend(&out, out.empty() ? "" : " ", k.seq, ":", k.id);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

class HubKeyStoreTest : public fieldsync::testing::HubStoresTest {
 protected:
  const RowId ring_ = SameBytesId('\x11');
  const RowId other_ring_ = SameBytesId('\x12');
  const DeviceId signer_a_ = SameBytesId('\x21');
  const DeviceId signer_b_ = SameBytesId('\x22');
};

TEST_P(HubKeyStoreTest, RecordsAreKeptOnceInOrderAndReadBackWhole) {
  Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(*r.KeyHead(), 0);
    EXPECT_FALSE(r.KeyRecordAt(1)->has_value());
    EXPECT_EQ(Listed(r, 0), "");
    EXPECT_EQ(*r.KeyRecordsSignedBy(signer_a_), 0u);
    return absl::OkStatus();
  });
  const std::vector<StoredKeyRecord> records = {
      Record("lc", kDataKey, "LC", ring_, signer_a_, 1000),
      Record("hn", kDataKey, "HN", ring_, signer_a_, 1001),
      Record("member", kMembership, "LC", std::nullopt, signer_b_, 1002),
      Record("erasure", kErasure, "", ring_, signer_a_, 1003),
  };
  Write([&](HubWriteTxn& w) -> absl::Status {
    for (const StoredKeyRecord& k : records) {
      auto stored = w.StoreKeyRecord(k);
      if (!stored.ok()) return stored.status();
      EXPECT_TRUE(*stored) << k.id;
    }
    EXPECT_EQ(*w.KeyHead(), 4);
    auto again = w.StoreKeyRecord(records[0]);
    if (!again.ok()) return again.status();
    EXPECT_FALSE(*again) << "a record of an id held is not stored twice";
    return absl::OkStatus();
  });

  Read([&](HubReadTxn& r) -> absl::Status {
    // The duplicate may count in the head on SQLite (its AUTOINCREMENT
    // takes a seq for the row it then ignores), never as a record held.
    EXPECT_GE(*r.KeyHead(), 4);
    auto at2 = r.KeyRecordAt(2);
    EXPECT_TRUE(at2.ok() && at2->has_value());
    if (at2.ok() && at2->has_value()) {
      EXPECT_EQ((*at2)->seq, 2);
      EXPECT_EQ((*at2)->id, "id:hn");
      EXPECT_EQ((*at2)->stored_at_millis, 1001);
    }
    EXPECT_FALSE(r.KeyRecordAt(5)->has_value());
    EXPECT_EQ(Listed(r, 0), "1:id:lc 2:id:hn 3:id:member 4:id:erasure");
    EXPECT_EQ(Listed(r, 2), "3:id:member 4:id:erasure");
    std::vector<StoredKeyRecord> whole;
    EXPECT_TRUE(r.ForEachKeyRecordAfter(2, [&](const StoredKeyRecord& k) {
                   whole.push_back(k);
                   return absl::OkStatus();
                 }).ok());
    EXPECT_EQ(whole.size(), 2u);
    if (whole.size() == 2) {
      EXPECT_EQ(whole[0].kind, kMembership);
      EXPECT_EQ(whole[0].province, "LC");
      EXPECT_FALSE(whole[0].keyring.has_value());
      EXPECT_EQ(whole[0].signer, signer_b_);
      EXPECT_EQ(whole[0].stored_at_millis, 1002);
      EXPECT_EQ(whole[0].bytes, records[2].bytes);
      EXPECT_EQ(whole[1].province, "") << "a record naming no province";
      EXPECT_EQ(whole[1].keyring, std::optional<RowId>(ring_));
    }
    // The visit stops at its first error, which is the answer.
    int visited = 0;
    absl::Status stopped = r.ForEachKeyRecordAfter(0, [&](const StoredKeyRecord&) {
      return ++visited == 2 ? absl::CancelledError("enough") : absl::OkStatus();
    });
    EXPECT_EQ(stopped.code(), absl::StatusCode::kCancelled);
    EXPECT_EQ(visited, 2);
    // The ring's data keys naming another office, up to a seq; a record
    // naming none is not one naming another.
    EXPECT_EQ(*r.KeyRecordsOfRing(ring_, kDataKey, "LC", 4),
              std::vector<std::string>{records[1].bytes});
    EXPECT_EQ(*r.KeyRecordsOfRing(ring_, kDataKey, "QN", 1),
              std::vector<std::string>{records[0].bytes});
    EXPECT_TRUE(r.KeyRecordsOfRing(ring_, kErasure, "LC", 10)->empty());
    EXPECT_TRUE(r.KeyRecordsOfRing(other_ring_, kDataKey, "LC", 10)->empty());
    // Erasures left out of a signer's count.
    EXPECT_EQ(*r.KeyRecordsSignedBy(signer_a_), 2u);
    EXPECT_EQ(*r.KeyRecordsSignedBy(signer_b_), 1u);
    return absl::OkStatus();
  });
}

TEST_P(HubKeyStoreTest, AnErasureDeletesTheRingsRecordsButKeepsTheirMarksAndSeqs) {
  const std::vector<StoredKeyRecord> records = {
      Record("lc", kDataKey, "LC", ring_, signer_a_, 1000),
      Record("other", kDataKey, "LC", other_ring_, signer_a_, 1001),
      Record("hn", kDataKey, "HN", ring_, signer_b_, 1002),
      Record("erasure", kErasure, "", ring_, signer_a_, 1003),
  };
  Write([&](HubWriteTxn& w) -> absl::Status {
    for (const StoredKeyRecord& k : records) {
      auto stored = w.StoreKeyRecord(k);
      if (!stored.ok()) return stored.status();
    }
    EXPECT_FALSE(*w.RingErased(ring_));
    return w.Atomically([&] { return w.EraseRing(ring_, {kDataKey}, 5000, signer_a_); });
  });
  Write([&](HubWriteTxn& w) -> absl::Status {
    EXPECT_TRUE(*w.RingErased(ring_));
    EXPECT_FALSE(*w.RingErased(other_ring_));
    return absl::OkStatus();
  });
  Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(*r.KeyHead(), 4);
    EXPECT_EQ(Listed(r, 0), "2:id:other 4:id:erasure");
    // What the erasure left of each: seq, id, time stored; no bytes.
    for (int64_t seq : {1, 3}) {
      auto mark = r.KeyRecordAt(seq);
      EXPECT_TRUE(mark.ok() && mark->has_value()) << seq;
      if (mark.ok() && mark->has_value()) {
        EXPECT_EQ((*mark)->id, records[static_cast<size_t>(seq - 1)].id);
        const StoredKeyRecord& held = records[static_cast<size_t>(seq - 1)];
        EXPECT_EQ((*mark)->stored_at_millis, held.stored_at_millis);
        EXPECT_EQ((*mark)->bytes, "");
      }
    }
    EXPECT_TRUE(r.KeyRecordsOfRing(ring_, kDataKey, "QN", 10)->empty());
    EXPECT_EQ(*r.KeyRecordsSignedBy(signer_b_), 0u);
    EXPECT_EQ(*r.KeyRecordsSignedBy(signer_a_), 1u);
    return absl::OkStatus();
  });

  // The highest seq erased too: the head stays, and a seq is never given
  // twice.
  Write([&](HubWriteTxn& w) -> absl::Status {
    EXPECT_TRUE(*w.StoreKeyRecord(Record("last", kDataKey, "LC", other_ring_, signer_a_, 6000)));
    return w.EraseRing(other_ring_, {kDataKey, kErasure}, 7000, signer_a_);
  });
  Write([&](HubWriteTxn& w) -> absl::Status {
    EXPECT_TRUE(*w.StoreKeyRecord(Record("after", kDataKey, "LC", std::nullopt, signer_a_, 8000)));
    return absl::OkStatus();
  });
  Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(*r.KeyHead(), 6);
    EXPECT_EQ(Listed(r, 0), "4:id:erasure 6:id:after");
    auto mark = r.KeyRecordAt(5);
    EXPECT_TRUE(mark.ok() && mark->has_value());
    if (mark.ok() && mark->has_value()) {
      EXPECT_EQ((*mark)->id, "id:last");
    }
    return absl::OkStatus();
  });
}

// More records than one read of the PostgreSQL store takes: every one
// visited once, in order.
TEST_P(HubKeyStoreTest, ForEachKeyRecordAfterVisitsEveryRecordOnceInOrder) {
  constexpr int kRecords = 1205;
  Write([&](HubWriteTxn& w) {
    return w.Atomically([&]() -> absl::Status {
      for (int i = 1; i <= kRecords; ++i) {
        auto stored = w.StoreKeyRecord(
            Record(absl::StrCat(i), kDataKey, "LC", ring_, signer_a_, i));
        if (!stored.ok()) return stored.status();
      }
      return absl::OkStatus();
    });
  });
  Read([&](HubReadTxn& r) -> absl::Status {
    for (int64_t from : {0, 499, 500, 1204}) {
      int64_t expect = from + 1;
      absl::Status s = r.ForEachKeyRecordAfter(from, [&](const StoredKeyRecord& k) {
        EXPECT_EQ(k.seq, expect);
        EXPECT_EQ(k.id, absl::StrCat("id:", expect));
        ++expect;
        return absl::OkStatus();
      });
      EXPECT_TRUE(s.ok()) << s;
      EXPECT_EQ(expect, kRecords + 1) << "from " << from;
    }
    return absl::OkStatus();
  });
}

INSTANTIATE_TEST_SUITE_P(Stores, HubKeyStoreTest,
                         ::testing::Values(HubStore::kSqlite, HubStore::kPostgres), HubStoreName);

}  // namespace
}  // namespace fieldsync::hub
