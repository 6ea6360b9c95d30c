// Field encryption through a real hub (docs/CRYPTO.md): the hub holds and
// relays no plaintext; office keys reach every device of an office;
// referrals grant a case's keys and ending one rotates them; revocation and
// erasure cut readers off; forged or tampered commits and key records are
// refused by the hub and by nodes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "base/strings.h"
#include "crypto/commit_signature.h"
#include "crypto/commit_header.h"
#include "crypto/envelope.h"
#include "crypto/key_record.h"
#include "crypto/keystore.h"
#include "node/ops/set_aside.h"
#include "store/data_dir.h"
#include "store/sqlite.h"
#include "support/raw_db.h"
#include "support/sync_fixture.h"
#include "tools/lib/cutting_proxy.h"

namespace fieldsync::testing {
namespace {

using State = OpenedField::State;

// What a node reads of a field: the value, or "<state: problem>".
std::string Opened(harness::LocalNode& n, const std::string& table, const RowId& row,
                   const std::string& column) {
  OpenedField f = n.Read(table, row, column);
  if (f.state != State::kOpened && f.state != State::kClear) {
    return absl::StrCat("<", AV(OpenedStateName(f.state)), ": ", f.problem, ">");
  }
  return f.value.kind() == Value::Kind::kText ? f.value.str() : f.value.DebugString();
}

State StateOf(harness::LocalNode& n, const std::string& table, const RowId& row,
              const std::string& column) {
  return n.Read(table, row, column).state;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every file under `dir`, concatenated (database, WAL, shared memory, logs).
std::string AllBytesUnder(const std::string& dir) {
  std::string all;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) all += ReadFileBytes(e.path().string()) + "\n";
  }
  return all;
}

// The forms a leaked string could take: as is, lower-cased, and base64 at
// each of the three alignments (the edges that depend on neighbours cut).
std::vector<std::string> Forms(const std::string& s) {
  std::vector<std::string> out{s, absl::AsciiStrToLower(s)};
  for (const std::string& prefix : {std::string(), std::string("x"), std::string("xy")}) {
    std::string b64;
    absl::Base64Escape(prefix + s, &b64);
    if (b64.size() > 8) out.push_back(b64.substr(4, b64.size() - 8));
  }
  return out;
}

// A unique value for a sensitive column of the given type.
Value Canary(const ColumnDef& col, std::mt19937_64& rng) {
  if (col.type == ColumnType::kDate) {
    return Value::Text(absl::StrFormat("%04d-%02d-%02d", 1940 + rng() % 60, 1 + rng() % 12,
                                       1 + rng() % 28));
  }
  if (col.type == ColumnType::kInteger || col.type == ColumnType::kTimestamp) {
    // 50 random bits, never on a whole hour (a coarse clear copy, such as
    // crime_reported_hour, must differ from the exact value).
    const int64_t v = static_cast<int64_t>(rng() >> 14);
    return Value::Int(v % 3'600'000 == 0 ? v + 1 : v);
  }
  return Value::Text(absl::StrFormat("Nguyễn Canary %s %016x", std::string(col.name), rng()));
}

// What a sealed canary must never be found as: text as itself; an integer
// as its low 6 big-endian bytes (inside SQLite's 6- or 8-byte record
// forms), its zigzag varint (commit format 1) and its decimal digits.
std::vector<std::string> Needles(const Value& v) {
  if (v.kind() != Value::Kind::kInt) return {v.str()};
  const auto u = static_cast<uint64_t>(v.int_value());
  std::string be(6, '\0');
  for (int i = 0; i < 6; ++i) be[static_cast<size_t>(i)] = static_cast<char>(u >> (40 - 8 * i));
  std::string varint;
  for (uint64_t z = u << 1; ; z >>= 7) {  // zigzag of a non-negative value
    if (z < 0x80) {
      varint.push_back(static_cast<char>(z));
      break;
    }
    varint.push_back(static_cast<char>((z & 0x7f) | 0x80));
  }
  return {be, varint, absl::StrCat(v.int_value())};
}

struct Planted {
  std::string table;
  RowId row;
  std::string column;
  std::string value;  // as Opened() shows it
  std::vector<std::string> needles;
  std::string owner;  // province
};

class CryptoSyncTest : public SyncTest {
 protected:
  // Fills every sensitive column of `table` (all but `skip`) with canaries.
  LocalTxn::Fields SensitiveFields(const std::string& table, const RowId& row,
                                   const std::string& owner, std::mt19937_64& rng) {
    LocalTxn::Fields f;
    const TableDef* t = FieldOfficeSchema().FindTable(table);
    for (const ColumnDef& c : t->columns) {
      if (c.sensitivity == Sensitivity::kClear) continue;
      Value v = Canary(c, rng);
      const std::string shown = v.kind() == Value::Kind::kText ? v.str() : v.DebugString();
      planted_.push_back(Planted{table, row, std::string(c.name), shown, Needles(v), owner});
      f.emplace_back(std::string(c.name), std::move(v));
    }
    return f;
  }

  RowId NewSealedCase(harness::LocalNode& n, const std::string& province, std::mt19937_64& rng) {
    const RowId person = Id16::NewRandom();
    const RowId kase = Id16::NewRandom();
    LocalTxn t;
    LocalTxn::Fields pf = SensitiveFields("persons", person, province, rng);
    pf.emplace_back("province", Value::Text(province));
    pf.emplace_back("sex", Value::Text("female"));
    t.Create("persons", person, pf);
    LocalTxn::Fields cf = SensitiveFields("cases", kase, province, rng);
    cf.emplace_back("case_code", Value::Text(absl::StrCat("CODE-", kase.ToString().substr(0, 8))));
    cf.emplace_back("person_id", Value::Bytes(std::string(person.view())));
    cf.emplace_back("province", Value::Text(province));
    cf.emplace_back("status", Value::Text("intake"));
    t.Create("cases", kase, cf);
    auto c = n.replica().Write(t);
    EXPECT_TRUE(c.ok()) << c.status();
    return kase;
  }

  RowId SealedReferral(harness::LocalNode& n, const RowId& kase, const std::string& from,
                       const std::string& to, std::mt19937_64& rng) {
    const RowId ref = Id16::NewRandom();
    LocalTxn::Fields f = SensitiveFields("referrals", ref, from, rng);
    f.emplace_back("case_id", Value::Bytes(std::string(kase.view())));
    f.emplace_back("from_office", Value::Text(from));
    f.emplace_back("to_office", Value::Text(to));
    f.emplace_back("status", Value::Text("sent"));
    LocalTxn t;
    t.Create("referrals", ref, f);
    auto c = n.replica().Write(t);
    EXPECT_TRUE(c.ok()) << c.status();
    return ref;
  }

  RowId RestrictedDirectoryRow(harness::LocalNode& n, const std::string& table,
                               const std::string& province, std::mt19937_64& rng) {
    const RowId row = Id16::NewRandom();
    LocalTxn::Fields f = SensitiveFields(table, row, province, rng);
    f.emplace_back("restriction", Value::Text("restricted"));
    if (table == "contacts") f.emplace_back("province", Value::Text(province));
    LocalTxn t;
    t.Create(table, row, f);
    auto c = n.replica().Write(t);
    EXPECT_TRUE(c.ok()) << c.status();
    return row;
  }

  void SyncAll(std::vector<harness::LocalNode*> nodes, int passes = 3) {
    for (int p = 0; p < passes; ++p) {
      for (auto* n : nodes) MustSync(*n);
    }
  }

  std::vector<Planted> planted_;
};

// CryptoSyncTest against a `fieldhub serve` process: the tests that call the hub over
// gRPC themselves, start fieldnode, or kill the hub.
class CryptoSyncProcessTest : public CryptoSyncTest {
 protected:
  bool NeedsHubProcess() const override { return true; }
};

TEST_F(CryptoSyncTest, TwoDevicesOfAnOfficeReadEachOthersCases) {
  auto& a = AddNode("LC");
  auto& b = AddNode("LC");
  const RowId by_a = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng", "câu chuyện của A");
  const RowId by_b = NewCase(b.replica(), "LC", "Lò Thị Mai", "câu chuyện của B");
  SyncAll({&a, &b});
  for (auto* n : {&a, &b}) {
    EXPECT_EQ(Opened(*n, "cases", by_a, "narrative"), "câu chuyện của A");
    EXPECT_EQ(Opened(*n, "cases", by_b, "narrative"), "câu chuyện của B");
  }
  // Locked, the keys opened so far are gone: nothing reads, nothing writes.
  b.keys()->Lock();
  EXPECT_EQ(StateOf(b, "cases", by_a, "narrative"), State::kLocked);
  LocalTxn t;
  t.Set("cases", by_a, {{"status", Value::Text("verifying")}});
  EXPECT_EQ(b.replica().Write(t).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(b.keys()->Unlock(b.identity().Clone()).ok());
  EXPECT_EQ(Opened(b, "cases", by_a, "narrative"), "câu chuyện của A");
  // Stored sealed on both, the hub's copy too.
  auto hub = OpenHubRows();
  auto row = hub->Get("cases", by_a);
  ASSERT_TRUE(row.ok() && row->has_value());
  const int ci = FieldOfficeSchema().FindTable("cases")->ColumnIndex("narrative");
  const Value& stored = (*row)->values[static_cast<size_t>(ci)];
  ASSERT_EQ(stored.kind(), Value::Kind::kBytes);
  EXPECT_TRUE(crypto::LooksSealed(stored.str()));
}

TEST_F(CryptoSyncTest, TheHubHoldsNoPlaintextOfAnySensitiveField) {
  // A plain-text hub without compression behind a recording proxy: what it
  // sent and received can be searched byte for byte (TLS and gzip would
  // hide a leak from the search, not prevent it).
  hub_ = std::make_unique<harness::HubProcess>(dir_.File("plainhub"), *pki_, /*insecure=*/true);
  hub_->set_serve_args({"--no-compression"});
  ASSERT_TRUE(hub_->Start().ok());
  ASSERT_TRUE(hub_->AddProvince("LC", "Lào Cai").ok());
  ASSERT_TRUE(hub_->AddProvince("HN", "Hà Nội").ok());
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.StartRecording();
  const std::string via = absl::StrCat("127.0.0.1:", proxy.port());
  auto& lc1 = AddNode("LC", via);
  auto& lc2 = AddNode("LC", via);
  auto& hn = AddNode("HN", via);
  for (auto* n : {&lc1, &lc2, &hn}) ASSERT_TRUE(n->Connect(via, 0, 0, /*compress=*/false).ok());

  const char* given = std::getenv("FIELDSYNC_SEED");
  const uint64_t seed = given != nullptr ? std::strtoull(given, nullptr, 10) : std::random_device{}();
  std::cout << "FIELDSYNC_SEED=" << seed << "\n";
  std::mt19937_64 rng(seed);
  std::vector<RowId> lc_cases, referred;
  for (int i = 0; i < 24; ++i) lc_cases.push_back(NewSealedCase(i % 2 ? lc2 : lc1, "LC", rng));
  std::vector<RowId> hn_cases;
  for (int i = 0; i < 8; ++i) hn_cases.push_back(NewSealedCase(hn, "HN", rng));
  std::vector<RowId> referrals;
  for (int i = 0; i < 6; ++i) {
    referred.push_back(lc_cases[static_cast<size_t>(i)]);
    referrals.push_back(SealedReferral(i % 2 ? lc2 : lc1, lc_cases[static_cast<size_t>(i)], "LC",
                                       "HN", rng));
  }
  std::vector<RowId> contacts, services;
  for (int i = 0; i < 5; ++i) contacts.push_back(RestrictedDirectoryRow(lc1, "contacts", "LC", rng));
  for (int i = 0; i < 3; ++i) services.push_back(RestrictedDirectoryRow(lc2, "services", "LC", rng));
  // A clear control value: the search below must find it, or it proves nothing.
  const std::string control = absl::StrFormat("clear-control-%016x", rng());
  SetField(lc1.replica(), "cases", lc_cases[0], "assigned_officer", Value::Text(control));
  SyncAll({&lc1, &lc2, &hn});
  // Hà Nội accepts the referrals: the owning office then grants the keys.
  for (const RowId& ref : referrals) {
    SetField(hn.replica(), "referrals", ref, "status", Value::Text("accepted"));
  }
  SyncAll({&hn, &lc1, &lc2, &hn});

  // The owning office reads everything back exactly, on both devices.
  size_t checked = 0;
  for (const Planted& p : planted_) {
    if (p.owner != "LC") continue;
    for (auto* n : {&lc1, &lc2}) {
      EXPECT_EQ(Opened(*n, p.table, p.row, p.column), p.value) << p.table << "." << p.column;
      ++checked;
    }
  }
  // The office the cases were referred to reads their whole file: case,
  // person, referral; and its own cases.
  std::set<RowId> hn_readable(hn_cases.begin(), hn_cases.end());
  for (const RowId& k : referred) {
    hn_readable.insert(k);
    auto row = hn.replica().Get("cases", k);
    ASSERT_TRUE(row.ok() && row->has_value()) << "Hà Nội lacks a referred case";
    const int pi = FieldOfficeSchema().FindTable("cases")->ColumnIndex("person_id");
    hn_readable.insert(*Id16::FromBytes((*row)->values[static_cast<size_t>(pi)].str(), "person"));
  }
  hn_readable.insert(referrals.begin(), referrals.end());
  size_t hn_checked = 0;
  for (const Planted& p : planted_) {
    if (p.table == "contacts" || p.table == "services") continue;
    const bool mine = p.owner == "HN";
    if (!mine && hn_readable.count(p.row) == 0) {
      // Never referred: Hà Nội does not even hold the row.
      auto row = hn.replica().Get(p.table, p.row);
      ASSERT_TRUE(row.ok());
      EXPECT_FALSE(row->has_value()) << p.table << " " << p.row.ToString();
      continue;
    }
    EXPECT_EQ(Opened(hn, p.table, p.row, p.column), p.value) << p.table << "." << p.column;
    ++hn_checked;
  }
  EXPECT_GT(hn_checked, 6u * 10);
  // Restricted shelters' addresses reach every office sealed: only Lào Cai
  // opens them.
  for (const RowId& s : services) EXPECT_EQ(StateOf(hn, "services", s, "address"), State::kNoKey);

  // Now search: the hub's files (database, WAL, log) while it runs and once
  // it stopped, and every byte it sent and received.
  std::vector<std::string> haystacks = {AllBytesUnder(hub_->data_dir()),
                                        proxy.Recorded(Direction::kUpstream),
                                        proxy.Recorded(Direction::kDownstream)};
  proxy.Stop();
  EXPECT_EQ(hub_->Stop(), 0);
  haystacks.push_back(AllBytesUnder(hub_->data_dir()));
  const char* names[] = {"hub files (running)", "bytes the hub received", "bytes the hub sent",
                         "hub files (stopped)"};
  for (size_t h = 0; h < haystacks.size(); ++h) {
    EXPECT_NE(haystacks[h].find(control), std::string::npos)
        << names[h] << ": the clear control value is missing, so the search cannot be trusted";
    EXPECT_GT(haystacks[h].size(), 10000u) << names[h];
    for (const Planted& p : planted_) {
      for (const std::string& needle : p.needles) {
        // Base64 cuts of a short binary needle are a few characters that
        // occur by chance (seed 3677928677): those are searched as is.
        const std::vector<std::string> forms =
            needle.size() >= 12 ? Forms(needle) : std::vector<std::string>{needle};
        for (const std::string& form : forms) {
          ASSERT_EQ(haystacks[h].find(form), std::string::npos)
              << names[h] << " holds " << p.table << "." << p.column << " (\"" << form << "\")";
        }
      }
    }
  }
  // At rest on a laptop, too: the replica holds ciphertext only.
  const std::string laptop = AllBytesUnder(lc1.dir());
  for (const Planted& p : planted_) {
    for (const std::string& needle : p.needles) {
      ASSERT_EQ(laptop.find(needle), std::string::npos) << "laptop holds " << p.column;
    }
  }
  std::cout << planted_.size() << " canaries planted, " << checked + hn_checked
            << " read back, none found in " << haystacks.size() << " haystacks\n";
}

// Schema version 4: an absent sensitive value is sealed like any other, so
// the hub cannot tell which fields a case, its person or its referral has;
// the laptop opens it as absent.
TEST_F(CryptoSyncTest, TheHubCannotTellWhichSensitiveFieldsARecordHas) {
  auto& lc = AddNode("LC");
  const RowId bare = NewCase(lc.replica(), "LC", "Hà Thị Sáu");  // a name and nothing else
  std::mt19937_64 rng(7);
  const RowId full = NewSealedCase(lc, "LC", rng);
  const RowId ref = Refer(lc.replica(), bare, "LC", "HN");  // no reason, no notes
  MustSync(lc);
  auto hub = OpenHubRows();
  auto person_of = [&](HubRows& r, const RowId& kase) {
    auto row = r.Get("cases", kase);
    const int pi = FieldOfficeSchema().FindTable("cases")->ColumnIndex("person_id");
    return *Id16::FromBytes((*row)->values[static_cast<size_t>(pi)].str(), "person");
  };
  struct Rec {
    std::string table;
    RowId row;
  };
  const std::vector<Rec> records = {{"cases", bare},
                                    {"cases", full},
                                    {"persons", person_of(*hub, bare)},
                                    {"persons", person_of(*hub, full)},
                                    {"referrals", ref}};
  size_t absent = 0;
  for (const Rec& r : records) {
    const TableDef& t = *FieldOfficeSchema().FindTable(r.table);
    auto row = hub->Get(r.table, r.row);
    ASSERT_TRUE(row.ok() && row->has_value()) << r.table;
    for (size_t ci = 0; ci < t.columns.size(); ++ci) {
      const ColumnDef& col = t.columns[ci];
      if (col.sensitivity != Sensitivity::kSensitive) continue;
      const Value& stored = (*row)->values[ci];
      // A column whose clear coarse copy (opened_month, crime_reported_hour)
      // shows whether it is set needs no sealed NULL: both stay empty.
      int copy = -1;
      for (size_t di = 0; di < t.columns.size(); ++di) {
        if (t.columns[di].derived_from == col.name) copy = static_cast<int>(di);
      }
      if (copy >= 0 && stored.is_null()) {
        EXPECT_TRUE((*row)->values[static_cast<size_t>(copy)].is_null()) << col.name;
        continue;
      }
      // Every sensitive column is written, and sealed, at the hub.
      ASSERT_EQ(stored.kind(), Value::Kind::kBytes) << r.table << "." << col.name << " is "
                                                   << Value::KindName(stored.kind());
      EXPECT_TRUE(crypto::LooksSealed(stored.str())) << r.table << "." << col.name;
      EXPECT_TRUE((*row)->versions[ci].has_value()) << r.table << "." << col.name;
      // On the laptop it opens as what was written: absent stays absent.
      OpenedField f = lc.Read(r.table, r.row, std::string(col.name));
      EXPECT_EQ(f.state, State::kOpened) << r.table << "." << col.name << ": " << f.problem;
      if (f.value.is_null()) {
        ++absent;
        // An absent value is as long as a short one: the bucket of 32.
        EXPECT_EQ(stored.str().size(), crypto::kEnvelopeHeaderBytes + 32 + crypto::kEnvelopeTagBytes)
            << r.table << "." << col.name;
      }
    }
  }
  EXPECT_GE(absent, 12u);  // the bare case's and its person's, the referral's reason
}

// Schema version 4: a referral's reason is sealed, under the referral's own
// key ring, granted to the receiving office with the referral: it reads why
// before it answers, and nothing else of the case; its decline reason goes
// back the same way.
TEST_F(CryptoSyncTest, TheReceivingOfficeReadsAReferralsReasonBeforeAcceptingAndNothingElse) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  MustSync(hn);  // Hà Nội's office key exists before the referral
  const RowId kase = NewCase(lc.replica(), "LC", "Hà Thị Sáu", "lời kể riêng");
  const RowId ref = Id16::NewRandom();
  LocalTxn t;
  t.Create("referrals", ref, {{"case_id", Value::Bytes(std::string(kase.view()))},
                              {"from_office", Value::Text("LC")},
                              {"to_office", Value::Text("HN")},
                              {"status", Value::Text("sent")},
                              {"reason", Value::Text("cần nhà tạm lánh ở Hà Nội")},
                              {"notes", Value::Text("ghi chú theo hồ sơ")}});
  ASSERT_TRUE(lc.replica().Write(t).ok());
  SyncAll({&lc, &hn}, 2);
  EXPECT_EQ(Opened(hn, "referrals", ref, "reason"), "cần nhà tạm lánh ở Hà Nội");
  EXPECT_EQ(StateOf(hn, "referrals", ref, "notes"), State::kNoKey);
  EXPECT_EQ(StateOf(hn, "cases", kase, "narrative"), State::kNoKey);
  // The hub holds the reason sealed.
  auto hub = OpenHubRows();
  auto row = hub->Get("referrals", ref);
  ASSERT_TRUE(row.ok() && row->has_value());
  const int ri = FieldOfficeSchema().FindTable("referrals")->ColumnIndex("reason");
  const Value& stored = (*row)->values[static_cast<size_t>(ri)];
  ASSERT_EQ(stored.kind(), Value::Kind::kBytes);
  EXPECT_TRUE(crypto::LooksSealed(stored.str()));
  hub.reset();
  // Hà Nội declines, saying why: Lào Cai reads it; the case stays closed to it.
  LocalTxn decline;
  decline.Set("referrals", ref, {{"status", Value::Text("declined")},
                                 {"decline_reason", Value::Text("hết chỗ ở nhà tạm lánh")}});
  ASSERT_TRUE(hn.replica().Write(decline).ok());
  SyncAll({&hn, &lc, &hn}, 1);
  EXPECT_EQ(Opened(lc, "referrals", ref, "decline_reason"), "hết chỗ ở nhà tạm lánh");
  EXPECT_EQ(Opened(hn, "referrals", ref, "decline_reason"), "hết chỗ ở nhà tạm lánh");
  EXPECT_EQ(StateOf(hn, "cases", kase, "narrative"), State::kNoKey);
}

// A referral's letter goes to the offices its referring office made it
// with, never to the ones its row shows now: a hub relaying another
// office's rewrite of to_office (one the hub should refuse) makes the
// referring laptop refuse to seal the letter, and the office named by the
// rewrite reads nothing.
TEST_F(CryptoSyncTest, ARewrittenReferralDoesNotChooseWhoReadsItsLetter) {
  ASSERT_TRUE(hub_->AddProvince("HG", "Hà Giang").ok());
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  auto& hg = AddNode("HG");
  MustSync(hn);
  MustSync(hg);
  const RowId kase = NewCase(lc.replica(), "LC", "Hà Thị Sáu");
  const RowId ref = Id16::NewRandom();
  LocalTxn t;
  t.Create("referrals", ref, {{"case_id", Value::Bytes(std::string(kase.view()))},
                              {"from_office", Value::Text("LC")},
                              {"to_office", Value::Text("HN")},
                              {"status", Value::Text("sent")},
                              {"reason", Value::Text("cần nhà tạm lánh ở Hà Nội")}});
  ASSERT_TRUE(lc.replica().Write(t).ok());
  SyncAll({&lc, &hn, &hg}, 2);
  ASSERT_EQ(Opened(hn, "referrals", ref, "reason"), "cần nhà tạm lánh ở Hà Nội");
  // Hà Nội, with a patched build, re-targets the referral to Hà Giang; the
  // hub relays it to Lào Cai as a malicious hub would (it was written on
  // Hà Nội's laptop, so it is taken in straight from there).
  LocalTxn retarget;
  retarget.Set("referrals", ref, {{"to_office", Value::Text("HG")}});
  auto forged = WriteAsPatchedBuild(hn, retarget);
  ASSERT_TRUE(forged.ok()) << forged.status();
  auto applied = lc.replica().Apply({*forged});
  ASSERT_TRUE(applied.ok()) << applied.status();
  auto row = lc.replica().Get("referrals", ref);
  ASSERT_TRUE(row.ok() && row->has_value());
  const TableDef& rt = *FieldOfficeSchema().FindTable("referrals");
  ASSERT_EQ((*row)->values[static_cast<size_t>(rt.ColumnIndex("to_office"))], Value::Text("HG"));
  // Lào Cai rewrites the reason: refused, rather than sealed for Hà Giang.
  LocalTxn edit;
  edit.Set("referrals", ref, {{"reason", Value::Text("nạn nhân cần về Hà Giang")}});
  auto w = lc.replica().Write(edit);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kFailedPrecondition) << w.status();
  EXPECT_NE(w.status().message().find("tell the hub administrator"), std::string::npos)
      << w.status();
  SyncAll({&lc, &hg, &lc, &hg}, 1);
  // No key of the letter was made for Hà Giang, on Lào Cai's laptop or
  // anywhere it could reach.
  for (harness::LocalNode* n : {&lc, &hg}) {
    auto st = testing::RawDb(n->replica()).Prepared(
        "SELECT count(*) FROM _fs_keys WHERE keyring = ?1 AND province = 'HG'");
    ASSERT_TRUE(st.ok());
    (*st)->BindBlob(1, ref.view());
    ASSERT_TRUE((*st)->Step().ok());
    EXPECT_EQ((*st)->ColumnInt(0), 0);
  }
  EXPECT_NE(Opened(hg, "referrals", ref, "reason"), "cần nhà tạm lánh ở Hà Nội");
}

// Grants go only to the offices concerned: an office no case was referred
// to receives no record of who holds which case's keys.
TEST_F(CryptoSyncTest, GrantsReachOnlyTheOfficesConcerned) {
  ASSERT_TRUE(hub_->AddProvince("DB", "Điện Biên").ok());
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  auto& db = AddNode("DB");
  SyncAll({&hn, &db}, 1);
  const RowId kase = NewCase(lc.replica(), "LC", "Hà Thị Sáu", "lời kể");
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  SyncAll({&lc, &hn}, 2);
  SetField(hn.replica(), "referrals", ref, "status", Value::Text("accepted"));
  SyncAll({&hn, &lc, &hn, &db}, 1);
  ASSERT_EQ(Opened(hn, "cases", kase, "narrative"), "lời kể");
  auto grants = [](harness::LocalNode& n) {
    auto counts = n.keys()->CountRecords();
    EXPECT_TRUE(counts.ok());
    return (*counts)[crypto::KeyRecordKind::kDataKey];
  };
  EXPECT_GT(grants(hn), 0);  // to Hà Nội, the office concerned
  EXPECT_GT(grants(lc), 0);  // the owner's own, to know when to rotate
  EXPECT_EQ(grants(db), 0);  // Điện Biên: nothing
}

// An office that gains sight of a case later (a second referral) receives
// the grants made before to the other offices concerned: it knows who holds
// which version, so it neither grants them again nor rotates for nothing.
TEST_F(CryptoSyncTest, AnOfficeReferredACaseLaterLearnsWhoAlreadyHoldsItsKeys) {
  ASSERT_TRUE(hub_->AddProvince("DB", "Điện Biên").ok());
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  auto& db = AddNode("DB");
  SyncAll({&hn, &db}, 1);
  const RowId kase = NewCase(lc.replica(), "LC", "Hà Thị Sáu", "lời kể");
  const RowId to_hn = Refer(lc.replica(), kase, "LC", "HN");
  AcceptReferral(lc, hn, to_hn);
  ASSERT_EQ(Opened(hn, "cases", kase, "narrative"), "lời kể");
  // Điện Biên syncs while it sees nothing of the case: the grants to Hà Nội
  // pass its key cursor without reaching it.
  // A second Hà Nội laptop joins: its approval (a record every office
  // receives) comes after those grants, so Điện Biên's key cursor moves
  // past them.
  AddNode("HN");
  MustSync(db);
  const RowId to_db = Refer(lc.replica(), kase, "LC", "DB");
  AcceptReferral(lc, db, to_db);
  SyncAll({&db, &lc, &db}, 1);
  ASSERT_EQ(Opened(db, "cases", kase, "narrative"), "lời kể");
  auto count = [&](harness::LocalNode& n, const char* province, const DeviceId* signer) {
    auto st = testing::RawDb(n.replica()).Prepared(
        "SELECT count(*) FROM _fs_keys WHERE keyring = ?1 AND kind = 3 AND province = ?2 AND "
        "(?3 IS NULL OR signer = ?3)");
    EXPECT_TRUE(st.ok());
    (*st)->BindBlob(1, kase.view());
    (*st)->BindText(2, province);
    if (signer != nullptr) (*st)->BindBlob(3, signer->view());
    EXPECT_TRUE((*st)->Step().ok());
    return (*st)->ColumnInt(0);
  };
  EXPECT_GT(count(db, "HN", nullptr), 0) << "Lào Cai's grants to Hà Nội reached Điện Biên";
  const DeviceId me = db.replica().device_id();
  EXPECT_EQ(count(db, "HN", &me), 0) << "Điện Biên granted Hà Nội what it already held";
}

TEST_F(CryptoSyncTest, AReferralGrantsTheWholeFileOnAcceptanceAndEndingItRotatesTheKey) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  MustSync(hn);  // Hà Nội's office key exists before the referral
  const RowId kase = NewCase(lc.replica(), "LC", "Hà Thị Sáu", "trước khi chuyển");
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  SyncAll({&lc, &hn}, 2);
  // Sent, not yet accepted: Hà Nội holds the case but not its key.
  EXPECT_EQ(StateOf(hn, "cases", kase, "narrative"), State::kNoKey);
  LocalTxn accept;
  accept.Set("referrals", ref, {{"status", Value::Text("accepted")},
                                {"responded_at", Value::Int(SystemClock::Get()->NowMillis())}});
  ASSERT_TRUE(hn.replica().Write(accept).ok());
  SyncAll({&hn, &lc, &hn}, 1);
  EXPECT_EQ(Opened(hn, "cases", kase, "narrative"), "trước khi chuyển");
  auto row = lc.replica().Get("cases", kase);
  const int pi = FieldOfficeSchema().FindTable("cases")->ColumnIndex("person_id");
  const RowId person = *Id16::FromBytes((*row)->values[static_cast<size_t>(pi)].str(), "person");
  EXPECT_EQ(Opened(hn, "persons", person, "full_name"), "Hà Thị Sáu");
  auto version_of = [&](harness::LocalNode& n) {
    auto r = n.replica().Get("cases", kase);
    const int ci = FieldOfficeSchema().FindTable("cases")->ColumnIndex("narrative");
    return crypto::ParseEnvelope((*r)->values[static_cast<size_t>(ci)].str())->key_version;
  };
  const uint32_t granted_version = version_of(lc);

  // Hà Nội completes the referral; Lào Cai's next write moves the case to
  // a new key version that Hà Nội is not given.
  LocalTxn t;
  t.Set("referrals", ref, {{"status", Value::Text("completed")},
                           {"completed_at", Value::Int(SystemClock::Get()->NowMillis())}});
  ASSERT_TRUE(hn.replica().Write(t).ok());
  SyncAll({&hn, &lc}, 1);
  SetField(lc.replica(), "cases", kase, "narrative", Value::Text("sau khi hoàn thành"));
  SyncAll({&lc, &hn}, 2);
  EXPECT_NE(version_of(lc), granted_version);
  EXPECT_EQ(Opened(lc, "cases", kase, "narrative"), "sau khi hoàn thành");
  EXPECT_EQ(version_of(hn), version_of(lc));  // Hà Nội holds the row...
  EXPECT_EQ(StateOf(hn, "cases", kase, "narrative"), State::kNoKey);  // ...but cannot read it
}

TEST_F(CryptoSyncTest, ARevokedDeviceCannotReadWhatIsWrittenAfterAndItsCommitsAreRefused) {
  auto& lc1 = AddNode("LC");
  auto& lost = AddNode("LC");  // the laptop that will be lost
  auto& lc3 = AddNode("LC");
  const RowId before = NewCase(lc1.replica(), "LC", "Lò Thị Mai", "viết trước khi mất máy");
  SyncAll({&lc1, &lost, &lc3});
  ASSERT_EQ(Opened(lost, "cases", before, "narrative"), "viết trước khi mất máy");

  ASSERT_EQ(hub_->Admin({"node", "revoke", lost.replica().device_id().ToString()}).exit_code, 0);
  // The hub refuses the device at once.
  auto refused = lost.Sync();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  // The others move the office to a new key generation, shared only among
  // themselves, and write on.
  SyncAll({&lc1, &lc3}, 2);
  const RowId after = NewCase(lc1.replica(), "LC", "Vàng Thị Dua", "viết sau khi thu hồi");
  SetField(lc3.replica(), "cases", before, "narrative", Value::Text("sửa sau khi thu hồi"));
  SyncAll({&lc1, &lc3}, 2);
  EXPECT_EQ(Opened(lc3, "cases", after, "narrative"), "viết sau khi thu hồi");
  EXPECT_EQ(Opened(lc1, "cases", before, "narrative"), "sửa sau khi thu hồi");

  // The lost laptop is handed every key record and the new ciphertexts
  // directly: none of what was written after the revocation opens.
  auto all = testing::RawDb(lc1.replica()).Prepared("SELECT bytes FROM _fs_keys ORDER BY seq");
  ASSERT_TRUE(all.ok());
  std::vector<std::string> records;
  while (*(*all)->Step()) records.push_back((*all)->ColumnString(0));
  (*all)->Reset();
  auto added = lost.keys()->AddRecords(records);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_GT(added->added, 0u);
  for (const auto& [row, column] : std::vector<std::pair<RowId, std::string>>{
           {after, "narrative"}, {before, "narrative"}}) {
    auto r = lc1.replica().Get("cases", row);
    ASSERT_TRUE(r.ok() && r->has_value());
    const size_t ci = static_cast<size_t>(
        FieldOfficeSchema().FindTable("cases")->ColumnIndex(column));
    OpenedField f = lost.keys()->Read("cases", row, column, (*r)->values[ci],
                                      (*r)->versions[ci]->version);
    EXPECT_NE(f.state, State::kOpened) << "the revoked device read " << f.value.str();
    EXPECT_EQ(f.state, State::kNoKey) << f.problem;
  }
  // What it read before stays read: revocation cannot undo that (docs).
  EXPECT_EQ(Opened(lost, "cases", before, "narrative"), "viết trước khi mất máy");

  // A commit it signs now is refused by the hub (above) and by the nodes:
  // delivered to one as if the hub had relayed it, after the revocation.
  const RowId forged = NewCase(lost.replica(), "LC", "Kẻ giả mạo", "giả mạo");
  auto mine = lost.replica().LocalCommitsAfter(0, 100);
  ASSERT_TRUE(mine.ok() && !mine->empty());
  auto head = HubLogHead();
  ASSERT_TRUE(head.ok());
  PulledBatch batch;
  batch.commits.emplace_back(*head + 1, mine->back());
  auto applied = lc1.replica().ApplyPulled(batch);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kPermissionDenied) << applied.status();
  EXPECT_NE(applied.status().message().find("after its revocation"), std::string::npos);
  auto none = lc1.replica().Get("cases", forged);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(CryptoSyncProcessTest, ErasureDestroysEveryCopyOfACasesKeysOnHubAndNodes) {
  // It reads the hub's files on disk after the erasure: PostgreSQL keeps a
  // deleted row's bytes until vacuum (docs/POSTGRES.md, "Erasure").
  FS_SKIP_ON_POSTGRES("asserts erased bytes are gone from hub.db's file and WAL");
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  auto& hn = AddNode("HN");
  MustSync(hn);
  const RowId kase = NewCase(lc1.replica(), "LC", "Đỗ Thị Erase", "sẽ bị xoá vĩnh viễn");
  const RowId keep = NewCase(lc1.replica(), "LC", "Đỗ Thị Keep", "vẫn đọc được");
  AcceptReferral(lc1, hn, Refer(lc1.replica(), kase, "LC", "HN"));
  SyncAll({&lc1, &lc2, &hn});
  for (auto* n : {&lc1, &lc2, &hn}) {
    ASSERT_EQ(Opened(*n, "cases", kase, "narrative"), "sẽ bị xoá vĩnh viễn");
  }
  // The wrapped copies of the case's keys, as the hub holds them.
  std::vector<std::string> wrapped;
  {
    auto hub = OpenHubReplica();
    auto st = testing::RawDb(*hub).Prepared("SELECT bytes FROM hub_keys WHERE keyring = ?1");
    (*st)->BindBlob(1, kase.view());
    while (*(*st)->Step()) wrapped.push_back((*st)->ColumnString(0));
  }
  ASSERT_GE(wrapped.size(), 2u);  // Lào Cai's and Hà Nội's grant at least
  for (auto* n : {&lc1, &lc2, &hn}) {
    auto st = testing::RawDb(n->replica()).Prepared("SELECT bytes FROM _fs_keys WHERE keyring = ?1");
    (*st)->BindBlob(1, kase.view());
    while (*(*st)->Step()) wrapped.push_back((*st)->ColumnString(0));
    (*st)->Reset();
  }

  ASSERT_TRUE(lc1.keys()->Erase({kase}).ok());
  SyncAll({&lc1, &lc2, &hn}, 2);
  for (auto* n : {&lc1, &lc2, &hn}) {
    EXPECT_EQ(StateOf(*n, "cases", kase, "narrative"), State::kErased);
    auto st = testing::RawDb(n->replica()).Prepared(
        "SELECT count(*) FROM _fs_keys WHERE keyring = ?1 AND kind IN (3, 5)");
    (*st)->BindBlob(1, kase.view());
    ASSERT_TRUE(*(*st)->Step());
    EXPECT_EQ((*st)->ColumnInt(0), 0);
  }
  EXPECT_EQ(Opened(lc2, "cases", keep, "narrative"), "vẫn đọc được");
  {
    auto hub = OpenHubReplica();
    auto st = testing::RawDb(*hub).Prepared("SELECT count(*) FROM hub_keys WHERE keyring = ?1 AND kind IN "
                                 "(3, 5)");
    (*st)->BindBlob(1, kase.view());
    ASSERT_TRUE(*(*st)->Step());
    EXPECT_EQ((*st)->ColumnInt(0), 0);
  }
  // Not even in the hub's file or WAL: overwritten, not merely unlinked --
  // as the files are at any instant (the hub is killed, not stopped).
  hub_->Kill();
  for (const std::string& dir : {hub_->data_dir(), lc1.dir(), lc2.dir(), hn.dir()}) {
    const std::string files = AllBytesUnder(dir);
    for (const std::string& w : wrapped) {
      auto r = crypto::ParseKeyRecord(w);
      ASSERT_TRUE(r.ok());
      if (r->kind == crypto::KeyRecordKind::kErasure) continue;
      EXPECT_EQ(files.find(r->sealed), std::string::npos) << "a wrapped key survived in " << dir;
    }
  }
  // Nothing more can be sealed under the erased case.
  LocalTxn t;
  t.Set("cases", kase, {{"narrative", Value::Text("ghi lại")}});
  auto w = lc2.replica().Write(t);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kFailedPrecondition) << w.status();
}

TEST_F(CryptoSyncTest, ForgedCommitsAndTamperedKeyRecordsAreRefusedByHubAndNodes) {
  auto& lc1 = AddNode("LC");
  join_offices_ = false;
  auto& lc2 = AddNode("LC");
  NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  NewCase(lc2.replica(), "LC", "Lò Thị Mai");  // before any sync: its own office key
  ASSERT_TRUE(lc2.JoinOffice(lc1).ok());
  SyncAll({&lc1, &lc2}, 1);
  const int64_t head = *HubLogHead();

  // A commit whose stored signature was altered on the laptop's disk: the
  // laptop's own check (sync/own_check.h, session 18) finds it before the
  // push and sets it aside as damaged; the hub stores nothing of it (before,
  // the hub refused the whole push at every pass, and the pull never ran).
  const RowId kase = NewCase(lc1.replica(), "LC", "Phạm Thị Lan");
  ASSERT_TRUE(testing::RawDb(lc1.replica()).Exec("UPDATE _fs_signatures SET sig = zeroblob(64) WHERE pos = "
                                      "(SELECT max(pos) FROM _fs_signatures)").ok());
  auto r = lc1.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  auto aside = node::ops::ListSetAside(lc1.replica(), false);
  ASSERT_TRUE(aside.ok()) << aside.status();
  ASSERT_EQ(aside->size(), 1u);
  EXPECT_EQ(aside->front().code, "DAMAGED");
  EXPECT_EQ(*HubLogHead(), head);

  // A node refuses a relayed commit whose signature does not verify, and
  // one whose content was changed after signing; nothing of the batch is
  // applied.
  auto mine = lc1.replica().LocalCommitsAfter(0, 100);
  ASSERT_TRUE(mine.ok() && mine->size() >= 2);
  Commit altered = (*mine)[0];
  altered.hlc = Hlc::FromPacked(altered.hlc.packed() + 1);  // a newer timestamp, forged
  PulledBatch batch;
  batch.commits.emplace_back(head + 1, altered);
  auto applied = lc2.replica().ApplyPulled(batch);
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kUnauthenticated) << applied.status();
  Commit unsigned_commit = (*mine)[1];
  unsigned_commit.signature.clear();
  batch.commits.clear();
  batch.commits.emplace_back(head + 1, unsigned_commit);
  applied = lc2.replica().ApplyPulled(batch);
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kUnauthenticated) << applied.status();
  auto none = lc2.replica().Get("cases", kase);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  // Key records: one byte changed anywhere is refused by a node...
  auto st = testing::RawDb(lc1.replica()).Prepared("SELECT bytes FROM _fs_keys WHERE kind = 1");
  ASSERT_TRUE(*(*st)->Step());
  const std::string office_key = (*st)->ColumnString(0);
  (*st)->Reset();
  size_t refused = 0;
  for (size_t i = 0; i < office_key.size(); ++i) {
    std::string bad = office_key;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto added = lc2.keys()->AddRecords({bad});
    ASSERT_TRUE(added.ok());
    refused += added->refused;
    EXPECT_EQ(added->added, 0u) << "byte " << i;
  }
  EXPECT_EQ(refused, office_key.size());
  // ...and by the hub, which stores nothing of that push: the node's own
  // office key record with its signature altered.
  auto own = testing::RawDb(lc2.replica()).Prepared("SELECT bytes FROM _fs_keys WHERE kind = 1 AND signer = ?1");
  (*own)->BindBlob(1, lc2.replica().device_id().view());
  ASSERT_TRUE(*(*own)->Step());
  std::string forged = (*own)->ColumnString(0);
  (*own)->Reset();
  ASSERT_TRUE(testing::RawDb(lc2.replica()).Exec("DELETE FROM _fs_keys WHERE kind = 1").ok());
  forged[forged.size() - 1] = static_cast<char>(forged[forged.size() - 1] ^ 0x80);
  auto parsed = crypto::ParseKeyRecord(forged);
  ASSERT_TRUE(parsed.ok());
  auto ins = testing::RawDb(lc2.replica()).Prepared(
      "INSERT INTO _fs_keys(id, kind, province, office_key, generation, signer, created, bytes, "
      "pushed, seq) VALUES (?1, 1, 'LC', ?2, 1, ?3, 0, ?4, 0, 1000000)");
  (*ins)->BindBlob(1, parsed->Id());
  (*ins)->BindBlob(2, parsed->office_key_id.view());
  (*ins)->BindBlob(3, parsed->signer.view());
  (*ins)->BindBlob(4, forged);
  ASSERT_TRUE((*ins)->Run().ok());
  (*ins)->Reset();
  auto pushed = lc2.Sync();
  ASSERT_FALSE(pushed.ok());
  EXPECT_EQ(pushed.status().code(), absl::StatusCode::kUnauthenticated) << pushed.status();
  auto held = OpenHubRows()->KeyRecords();
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(std::count(held->begin(), held->end(), forged), 0);
}

TEST_F(CryptoSyncTest, AClearSensitiveValueIsRefusedByTheHubWithoutRepeatingIt) {
  auto& lc = AddNode("LC");
  MustSync(lc);
  // A second handle on the node's replica that signs but does not seal (an
  // old or broken node).
  ReplicaOptions o;
  o.path = lc.dir() + "/replica.db";
  auto raw = Replica::Open(o);
  ASSERT_TRUE(raw.ok());
  CommitSecurity sign_only;
  sign_only.sign = [&](const Commit& c) { return crypto::SignCommit(lc.identity(), c); };
  (*raw)->SetSecurity(sign_only);
  const std::string secret = "Bí mật không được lộ 8f3a9c";
  NewCase(**raw, "LC", secret);
  auto r = lc.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->push_refused.ok());
  EXPECT_EQ(r->push_refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r->push_refused.message().find("in clear"), std::string::npos) << r->push_refused;
  EXPECT_EQ(r->push_refused.message().find(secret), std::string::npos);
  EXPECT_EQ(ReadFileBytes(hub_->log_path()).find(secret), std::string::npos);
  EXPECT_EQ(AllBytesUnder(hub_->data_dir()).find(secret), std::string::npos);

  // The same for a field sealed only when its row is restricted: a
  // restricted contact's mobile in clear.
  auto& lc2 = AddNode("LC");
  MustSync(lc2);
  ReplicaOptions o2;
  o2.path = lc2.dir() + "/replica.db";
  auto raw2 = Replica::Open(o2);
  ASSERT_TRUE(raw2.ok());
  CommitSecurity sign_only2;
  sign_only2.sign = [&](const Commit& c) { return crypto::SignCommit(lc2.identity(), c); };
  // With a header (a build of version 3): a commit without one is refused
  // with its batch (SetAsideTest.ARefusedCommitWithoutAHeader…).
  sign_only2.sign_header = [&](std::string_view h) {
    return crypto::SignCommitHeader(lc2.identity(), h);
  };
  (*raw2)->SetSecurity(sign_only2);
  const std::string mobile = "0912 345 678 restricted-8f3a9c";
  LocalTxn t;
  t.Create("contacts", Id16::NewRandom(), {{"name", Value::Text("Cán bộ A")},
                                           {"mobile", Value::Text(mobile)},
                                           {"restriction", Value::Text("restricted")},
                                           {"province", Value::Text("LC")}});
  ASSERT_TRUE((*raw2)->Write(t).ok());
  // Judged against what the hub holds (the row's restriction), it is
  // refused alone in version 3 and set aside on the laptop (SEALING).
  auto r2 = lc2.Sync();
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_TRUE(r2->push_refused.ok()) << r2->push_refused;
  EXPECT_EQ(r2->set_aside, 1u);
  EXPECT_EQ(r2->set_aside_code, static_cast<int>(sync::RefusalCode::kSealing));
  EXPECT_NE(r2->set_aside_reason.find("is restricted"), std::string::npos) << r2->set_aside_reason;
  EXPECT_EQ(r2->set_aside_reason.find(mobile), std::string::npos);
  EXPECT_EQ(ReadFileBytes(hub_->log_path()).find(mobile), std::string::npos);
  EXPECT_EQ(AllBytesUnder(hub_->data_dir()).find(mobile), std::string::npos);
}

uint32_t KeyVersionOf(harness::LocalNode& n, const RowId& kase) {
  auto r = n.replica().Get("cases", kase);
  const int ci = FieldOfficeSchema().FindTable("cases")->ColumnIndex("narrative");
  return crypto::ParseEnvelope((*r)->values[static_cast<size_t>(ci)].str())->key_version;
}

// Queues a key record on a node as if it had made it: pushed at its next sync.
void Queue(harness::LocalNode& n, const crypto::KeyRecord& r) {
  auto ins = testing::RawDb(n.replica()).Prepared(
      "INSERT INTO _fs_keys(id, kind, province, keyring, version, office_key, recipient, "
      "generation, signer, created, bytes, pushed, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
      "?9, 0, ?10, 0, 1000000 + (SELECT count(*) FROM _fs_keys))");
  ASSERT_TRUE(ins.ok());
  (*ins)->BindBlob(1, r.Id());
  (*ins)->BindInt(2, static_cast<int64_t>(r.kind));
  if (!r.province.empty()) (*ins)->BindText(3, r.province);
  (*ins)->BindBlob(4, r.keyring.view());
  (*ins)->BindInt(5, r.key_version);
  (*ins)->BindBlob(6, r.office_key_id.view());
  (*ins)->BindBlob(7, r.recipient.view());
  (*ins)->BindInt(8, r.generation);
  (*ins)->BindBlob(9, r.signer.view());
  (*ins)->BindBlob(10, r.bytes);
  ASSERT_TRUE((*ins)->Run().ok());
  (*ins)->Reset();
}

std::vector<std::string> AllKeyRecords(harness::LocalNode& n) {
  auto all = testing::RawDb(n.replica()).Prepared("SELECT bytes FROM _fs_keys ORDER BY seq");
  std::vector<std::string> out;
  while (*(*all)->Step()) out.push_back((*all)->ColumnString(0));
  (*all)->Reset();
  return out;
}

TEST_F(CryptoSyncTest, AnotherOfficeCannotChooseTheKeyACaseIsSealedUnder) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId kase = NewCase(lc.replica(), "LC", "Hà Thị Sáu", "của Lào Cai");
  SyncAll({&lc, &hn}, 2);
  // Hà Nội, never referred the case, makes a key it knows for it, sealed to
  // Lào Cai's office key, stamped far in the future, and signs it.
  std::string lc_office;
  for (const std::string& b : AllKeyRecords(hn)) {
    auto r = crypto::ParseKeyRecord(b);
    if (r.ok() && r->kind == crypto::KeyRecordKind::kOfficeKey && r->province == "LC") lc_office = b;
  }
  ASSERT_FALSE(lc_office.empty());
  const crypto::SecretBytes dek = crypto::SecretBytes::Random(32);
  const uint32_t chosen = 0x0BADC0DE;
  crypto::KeyRecord forged = Must(crypto::WrapDataKey(
      hn.identity(), Hlc::FromParts(static_cast<uint64_t>(SystemClock::Get()->NowMillis()) + 3600000, 0),
      kase, chosen, dek, *crypto::ParseKeyRecord(lc_office), crypto::DataKeyPurpose::kOwner));
  // The hub refuses it (and the node sets it aside, reported)...
  Queue(hn, forged);
  auto r = hn.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->key_records_refused_by_hub, 1u);
  EXPECT_NE(r->key_push_refusal.find("does not see the record"), std::string::npos)
      << r->key_push_refusal;
  // ...and Lào Cai, handed it directly, does not seal under it.
  auto added = lc.keys()->AddRecords({forged.bytes});
  ASSERT_TRUE(added.ok());
  SetField(lc.replica(), "cases", kase, "narrative", Value::Text("viết lại"));
  EXPECT_NE(KeyVersionOf(lc, kase), chosen);
  EXPECT_EQ(Opened(lc, "cases", kase, "narrative"), "viết lại");
}

TEST_F(CryptoSyncTest, RevokingADeviceOfAReferredOfficeRotatesTheCasesReferredToIt) {
  auto& lc = AddNode("LC");
  auto& hn1 = AddNode("HN");
  auto& hn_lost = AddNode("HN");
  SyncAll({&hn1, &hn_lost}, 2);
  const RowId kase = NewCase(lc.replica(), "LC", "Lò Thị Mai", "trước");
  AcceptReferral(lc, hn1, Refer(lc.replica(), kase, "LC", "HN"));
  SyncAll({&lc, &hn1, &hn_lost}, 2);
  ASSERT_EQ(Opened(hn_lost, "cases", kase, "narrative"), "trước");
  const uint32_t before = KeyVersionOf(lc, kase);

  ASSERT_EQ(hub_->Admin({"node", "revoke", hn_lost.replica().device_id().ToString()}).exit_code,
            0);
  SyncAll({&hn1, &lc}, 2);  // Hà Nội moves to a new generation; Lào Cai learns it
  SetField(lc.replica(), "cases", kase, "narrative", Value::Text("sau"));
  EXPECT_NE(KeyVersionOf(lc, kase), before) << "the case kept a key the lost laptop holds";
  SyncAll({&lc, &hn1}, 2);
  EXPECT_EQ(Opened(hn1, "cases", kase, "narrative"), "sau");
  // The lost laptop, handed every record and the new ciphertext, cannot.
  auto added = hn_lost.keys()->AddRecords(AllKeyRecords(lc));
  ASSERT_TRUE(added.ok());
  auto row = lc.replica().Get("cases", kase);
  const size_t ci =
      static_cast<size_t>(FieldOfficeSchema().FindTable("cases")->ColumnIndex("narrative"));
  OpenedField f = hn_lost.keys()->Read("cases", kase, "narrative", (*row)->values[ci],
                                       (*row)->versions[ci]->version);
  EXPECT_EQ(f.state, State::kNoKey) << f.problem;
}

TEST_F(CryptoSyncTest, TheHubRefusesKeyRecordsOutsideTheOfficeOfTheDeviceThatMadeThem) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  const RowId kase = NewCase(lc.replica(), "LC", "Hà Thị Sáu");
  SyncAll({&lc, &hn}, 2);
  auto stored = [&]() -> int64_t {
    auto held = OpenHubRows()->KeyRecords();
    return held.ok() ? static_cast<int64_t>(held->size()) : -1;
  };
  const int64_t stored_before = stored();
  auto refused = [&](harness::LocalNode& n, const crypto::KeyRecord& r, const std::string& why) {
    Queue(n, r);
    auto s = n.Sync();
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->key_records_refused_by_hub, 1u) << why;
    EXPECT_NE(s->key_push_refusal.find(why), std::string::npos) << s->key_push_refusal;
  };
  const Hlc now = Hlc::FromParts(static_cast<uint64_t>(SystemClock::Get()->NowMillis()), 0);
  // An office key of another office.
  crypto::OfficeKey theirs = crypto::NewOfficeKey("HN", 7);
  refused(lc, Must(crypto::OfficeKeyRecord(lc.identity(), now, theirs)), "of its own office only");
  // Its office's key shared with a device of another office.
  crypto::OfficeKey mine = crypto::NewOfficeKey("LC", 7);
  refused(lc, Must(crypto::ShareOfficeKey(lc.identity(), now, mine, hn.identity().public_keys())),
          "not an active device of that office");
  // An erasure of a case it does not own.
  refused(hn, Must(crypto::ErasureRecord(hn.identity(), now, kase)), "only a device of the office that owns");
  EXPECT_EQ(stored(), stored_before);
  EXPECT_EQ(Opened(lc, "cases", kase, "narrative"), "Hà Thị Sáu") << "the refused erasure erased";
}

TEST_F(CryptoSyncProcessTest, FieldnodeShowsSealedFieldsOpenedWhenUnlockedMaskedWhenLocked) {
  // A node made as an officer makes it: fieldnode init and enroll.
  const std::string dir = dir_.File("officer");
  const std::string pass = "FIELDSYNC_PASSPHRASE=một câu dài làm mật khẩu";
  const std::string bin = harness::BinDir() + "/fieldnode";
  // setsid: no terminal to ask on, whoever runs the test.
  auto fieldnode = [&](std::vector<std::string> args, const std::string& env) {
    std::vector<std::string> argv = {"/usr/bin/setsid", "-w", "/usr/bin/env", "-u",
                                     "FIELDSYNC_PASSPHRASE", "-u", "FIELDSYNC_PASSPHRASE_FILE"};
    if (!env.empty()) argv.push_back(env);
    argv.push_back(bin);
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data-dir", dir});
    return harness::Run(argv);
  };
  ASSERT_EQ(fieldnode({"init"}, pass).exit_code, 0);
  auto token = hub_->Token("LC");
  ASSERT_TRUE(token.ok());
  auto enrolled = fieldnode({"enroll", "--hub", hub_->address(), "--ca", pki_->ca(), "--token",
                             *token}, pass);
  ASSERT_EQ(enrolled.exit_code, 0) << enrolled.err;
  // A case written on that node, through its keystore.
  RowId kase;
  {
    auto replica = OpenReplicaIn(DataDir{dir, "replica.db", "fieldnode init", "X"});
    ASSERT_TRUE(replica.ok());
    auto keys = KeyRing::Open(replica->get(), "LC");
    ASSERT_TRUE(keys.ok());
    auto id = crypto::UnlockKeystoreFile(dir + "/keystore", "một câu dài làm mật khẩu");
    ASSERT_TRUE(id.ok()) << id.status();
    ASSERT_TRUE((*keys)->Unlock(*std::move(id)).ok());
    (*replica)->SetSecurity((*keys)->Security());
    kase = NewCase(**replica, "LC", "Nguyễn Thị Hằng", "Bị lừa sang biên giới");
  }
  const std::string id = kase.ToString();

  auto open = fieldnode({"show", "cases", id}, pass);
  ASSERT_EQ(open.exit_code, 0) << open.err;
  EXPECT_NE(open.out.find("narrative: Bị lừa sang biên giới"), std::string::npos) << open.out;
  EXPECT_NE(open.out.find("status: intake"), std::string::npos) << open.out;

  auto locked = fieldnode({"show", "cases", id}, "");
  ASSERT_EQ(locked.exit_code, 0) << locked.err;
  EXPECT_EQ(locked.out.find("Bị lừa"), std::string::npos) << locked.out;
  EXPECT_NE(locked.out.find("narrative: •••••• (sealed)"), std::string::npos) << locked.out;
  EXPECT_NE(locked.out.find("status: intake"), std::string::npos) << locked.out;  // clear
  EXPECT_NE(locked.out.find("Unlock it with --passphrase-file"), std::string::npos) << locked.out;
  auto json = fieldnode({"show", "cases", id, "--json"}, "");
  EXPECT_NE(json.out.find("\"narrative\": {\"state\": \"locked\""), std::string::npos)
      << json.out;

  auto wrong = fieldnode({"show", "cases", id}, "FIELDSYNC_PASSPHRASE=not the passphrase");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("wrong passphrase"), std::string::npos) << wrong.err;
  EXPECT_TRUE(wrong.out.empty()) << wrong.out;

  // A tampered ciphertext is reported on its field; the others still show.
  {
    auto replica = OpenReplicaIn(DataDir{dir, "replica.db", "fieldnode init", "X"});
    ASSERT_TRUE(replica.ok());
    auto get = testing::RawDb(*(*replica)).Prepared("SELECT narrative FROM cases WHERE id = ?1");
    ASSERT_TRUE(get.ok());
    (*get)->BindBlob(1, kase.view());
    ASSERT_TRUE(*(*get)->Step());
    std::string sealed = (*get)->ColumnString(0);
    (*get)->Reset();
    sealed[100] = static_cast<char>(sealed[100] ^ 0x01);  // in the ciphertext
    auto put = testing::RawDb(*(*replica)).Prepared("UPDATE cases SET narrative = ?2 WHERE id = ?1");
    ASSERT_TRUE(put.ok());
    (*put)->BindBlob(1, kase.view());
    (*put)->BindBlob(2, sealed);
    ASSERT_TRUE((*put)->Run().ok());
  }
  auto tampered = fieldnode({"show", "cases", id}, pass);
  ASSERT_EQ(tampered.exit_code, 0) << tampered.err;
  EXPECT_NE(tampered.out.find("narrative: [cannot be read: "), std::string::npos) << tampered.out;
  EXPECT_NE(tampered.out.find("status: intake"), std::string::npos) << tampered.out;
  // Erasure from the command line: refused locked, then done; the file's
  // sealed fields read as erased from then on.
  auto unconfirmed = fieldnode({"erase", "--case", id}, pass);
  EXPECT_EQ(unconfirmed.exit_code, 2);
  EXPECT_NE(unconfirmed.err.find("--yes"), std::string::npos) << unconfirmed.err;
  auto locked_erase = fieldnode({"erase", "--case", id, "--yes"}, "");
  EXPECT_EQ(locked_erase.exit_code, 1);
  EXPECT_NE(locked_erase.err.find("unlocked"), std::string::npos) << locked_erase.err;
  auto erased = fieldnode({"erase", "--case", id, "--yes"}, pass);
  ASSERT_EQ(erased.exit_code, 0) << erased.err;
  EXPECT_NE(erased.out.find("erased the keys of case " + id + " and of its person"),
            std::string::npos) << erased.out;
  auto after = fieldnode({"show", "cases", id}, pass);
  EXPECT_NE(after.out.find("narrative: [cannot be read: erased"), std::string::npos) << after.out;
}

}  // namespace
}  // namespace fieldsync::testing

