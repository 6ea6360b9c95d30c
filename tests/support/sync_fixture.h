// A hub and in-process nodes for the sync integration tests; helpers to
// write field-office records. SyncTest serves the hub in the test's own
// process (support/in_process_hub.h: the hub's engine and store, no gRPC,
// no socket); SyncProcessTest runs `fieldhub serve` over TLS on loopback,
// for tests that need a socket (a proxy in front of the hub, TLS, a hub
// killed) or the gRPC layer itself.
#ifndef FIELDSYNC_TESTS_SUPPORT_SYNC_FIXTURE_H_
#define FIELDSYNC_TESTS_SUPPORT_SYNC_FIXTURE_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/json.h"
#include "change/commit_codec.h"
#include "base/file.h"
#include "clock/clock_source.h"
#include "crypto/credential_proof.h"
#include "crypto/commit_header.h"
#include "crypto/commit_signature.h"
#include "store/sqlite.h"
#include "hub/pg/connection.h"
#include "node/client.h"
#include "proto/tls_files.h"
#include "proto/wire.h"
#include "support/hub_rows.h"
#include "support/hub_store_choice.h"
#include "support/in_process_hub.h"
#include "support/must.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"
#include "sync/messages.h"
#include "tools/lib/sync_harness.h"

namespace fieldsync::testing {

class SyncTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_dir_ = new TempDir();
    auto pki = harness::CopyRunPki(pki_dir_->path() + "/tls");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = new harness::Pki(*pki);
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete pki_dir_;
  }

  // Whether the hub runs as a `fieldhub serve` process (SyncProcessTest).
  virtual bool NeedsHubProcess() const { return false; }

  void SetUp() override {
    hub_ = std::make_unique<harness::HubProcess>(dir_.File("hub"), *pki_);
    if (!NeedsHubProcess()) hub_->set_in_process(std::make_unique<InProcessHub>());
    absl::Status store = store_.Apply(*hub_);
    ASSERT_TRUE(store.ok()) << store;
    absl::Status started = hub_->Start();
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_TRUE(hub_->AddProvince("LC", "Lào Cai").ok());
    ASSERT_TRUE(hub_->AddProvince("HN", "Hà Nội").ok());
  }

  void TearDown() override {
    if (HasFailure() && hub_) {
      harness::CommandResult log = harness::Run({"/usr/bin/tail", "-n", "30", hub_->log_path()});
      std::cerr << "--- hub log (last lines) ---\n" << log.out;
    }
  }

  // With `clock`, the node's own clock (a laptop whose clock is wrong).
  harness::LocalNode& AddNode(const std::string& province, const std::string& address = "",
                              ClockSource* clock = nullptr) {
    auto n = harness::LocalNode::Create(dir_.File(absl::StrCat("node", nodes_.size())),
                                        /*crypto=*/true, clock);
    EXPECT_TRUE(n.ok()) << n.status();
    absl::Status s = (*n)->Enroll(*hub_, province, address);
    EXPECT_TRUE(s.ok()) << s;
    nodes_.push_back(*std::move(n));
    harness::LocalNode& added = *nodes_.back();
    // Each office's first node becomes its first device; the others are
    // approved by it (docs/CRYPTO.md, "Office membership").
    if (join_offices_) {
      auto first = first_of_office_.find(province);
      s = first == first_of_office_.end() ? added.BecomeFirstDevice()
                                          : added.JoinOffice(*first->second);
      EXPECT_TRUE(s.ok()) << s;
      first_of_office_.emplace(province, &added);
    }
    return added;
  }

  // Runs `sql` on the hub's database with the hub stopped, as someone with
  // its disk would, then starts it again.
  void EditHubWhileStopped(const std::string& sql,
                           const std::function<void(sqlite::Stmt*)>& bind = nullptr,
                           bool must_change = true) {
    ASSERT_FALSE(HubOnPostgres()) << "edits hub.db: FS_SKIP_ON_POSTGRES in this test";
    hub_->Stop();
    {
      auto db = sqlite::Db::Open(hub_->data_dir() + "/hub.db", "");
      ASSERT_TRUE(db.ok()) << db.status();
      auto st = (*db)->Prepared(sql);
      ASSERT_TRUE(st.ok()) << st.status();
      if (bind) bind(st->get());
      ASSERT_TRUE((*st)->Run().ok());
      if (must_change) {
        ASSERT_GT((*db)->Changes(), 0) << sql;
      }
    }
    ASSERT_TRUE(hub_->Start().ok());
  }

  // SQL for the hub's tables on either store: `sqlite` for hub.db, and
  // `postgres` for the PostgreSQL database where the two differ (empty: the
  // same text, ?N read as $N). Tables and columns named alike on both are
  // listed in docs/POSTGRES.md, "Schema".
  struct StoreSql {
    StoreSql(const char* both) : sqlite(both) {}  // NOLINT: one text for both stores
    StoreSql(std::string both) : sqlite(std::move(both)) {}  // NOLINT
    StoreSql(std::string lite, std::string pg) : sqlite(std::move(lite)), postgres(std::move(pg)) {}
    std::string sqlite, postgres;
  };

  // `sql` (parameters ?1, ?2 ... as SQLite writes them; $1, $2 ... on
  // PostgreSQL) run on the hub's tables: on hub.db with the hub stopped, by
  // someone with its disk, then the hub started again; on PostgreSQL by an
  // administrator with psql while the hub serves (attack review 23, L7: a
  // restart would reset what the hub keeps in memory, which a live edit
  // has to get past). At least one row must change if `must_change`.
  void TamperWithHub(const StoreSql& sql, const std::vector<Value>& params,
                     bool must_change = true) {
    if (!HubOnPostgres()) {
      EditHubWhileStopped(
          sql.sqlite,
          [&](sqlite::Stmt* st) {
            for (size_t i = 0; i < params.size(); ++i) {
              st->BindValue(static_cast<int>(i + 1), params[i]);
            }
          },
          must_change);
      return;
    }
    auto r = OnHubsPostgres(sql, params);
    ASSERT_TRUE(r.ok()) << r.status();
    if (must_change) {
      ASSERT_GT(r->Affected(), 0) << (sql.postgres.empty() ? sql.sqlite : sql.postgres);
    }
  }

  // SQL setting the text the hub serves in `column` of a `table` row (?1:
  // the row's id), its version kept: on hub.db the replica's column, on
  // PostgreSQL the field's register (hub_fields, slot 1 + column index).
  static StoreSql SetHubText(const std::string& table, const std::string& column,
                             const std::string& text) {
    const int slot = 1 + FieldOfficeSchema().FindTable(table)->ColumnIndex(column);
    return {absl::StrCat("UPDATE ", table, " SET ", column, " = '", text, "' WHERE id = ?1"),
            absl::StrCat("UPDATE hub_fields SET sval = convert_to('", text, "', 'UTF8') WHERE "
                         "tbl = '", table, "' AND row = ?1 AND slot = ", slot)};
  }
  // SQL on the hub's tables (as TamperWithHub's) that withholds every
  // office's checkpoints: a new laptop then bootstraps from rows whole.
  static std::vector<StoreSql> WithholdCheckpoints() {
    return {StoreSql("DELETE FROM hub_checkpoint_rows"), StoreSql("DELETE FROM hub_checkpoints")};
  }

  // The first column of the first row `sql` reads from the hub's tables (as
  // TamperWithHub's), the hub serving; -1 and a failure if none.
  int64_t HubQueryInt(const StoreSql& sql, const std::vector<Value>& params = {}) {
    if (!HubOnPostgres()) {
      auto db = sqlite::Db::Open(hub_->data_dir() + "/hub.db", "");
      EXPECT_TRUE(db.ok()) << db.status();
      if (!db.ok()) return -1;
      auto st = (*db)->Prepared(sql.sqlite);
      EXPECT_TRUE(st.ok()) << st.status();
      if (!st.ok()) return -1;
      for (size_t i = 0; i < params.size(); ++i) {
        (*st)->BindValue(static_cast<int>(i + 1), params[i]);
      }
      auto row = (*st)->Step();
      EXPECT_TRUE(row.ok() && *row) << sql.sqlite;
      return row.ok() && *row ? (*st)->ColumnInt(0) : -1;
    }
    auto r = OnHubsPostgres(sql, params);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || r->rows() == 0) {
      ADD_FAILURE() << "no row: " << (sql.postgres.empty() ? sql.sqlite : sql.postgres);
      return -1;
    }
    auto v = r->Int(0, 0);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : -1;
  }

  // The first column of every row `sql` reads from the hub's tables (as
  // TamperWithHub's), as bytes, the hub serving.
  std::vector<std::string> HubQueryStrings(const StoreSql& sql,
                                           const std::vector<Value>& params = {}) {
    std::vector<std::string> out;
    if (!HubOnPostgres()) {
      auto db = sqlite::Db::Open(hub_->data_dir() + "/hub.db", "");
      EXPECT_TRUE(db.ok()) << db.status();
      if (!db.ok()) return out;
      auto st = (*db)->Prepared(sql.sqlite);
      EXPECT_TRUE(st.ok()) << st.status();
      if (!st.ok()) return out;
      for (size_t i = 0; i < params.size(); ++i) {
        (*st)->BindValue(static_cast<int>(i + 1), params[i]);
      }
      while (true) {
        auto row = (*st)->Step();
        EXPECT_TRUE(row.ok()) << row.status();
        if (!row.ok() || !*row) break;
        out.push_back((*st)->ColumnString(0));
      }
      return out;
    }
    auto r = OnHubsPostgres(sql, params);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return out;
    for (int i = 0; i < r->rows(); ++i) out.push_back(r->Bytes(i, 0));
    return out;
  }

  // `sql` run on the hub's PostgreSQL database in a connection of its own.
  absl::StatusOr<hub::pg::Result> OnHubsPostgres(StoreSql sql, const std::vector<Value>& params) {
    std::string& pg_sql = sql.postgres;
    if (pg_sql.empty()) pg_sql = sql.sqlite;
    for (size_t i = params.size(); i >= 1; --i) {
      const std::string from = absl::StrCat("?", i), to = absl::StrCat("$", i);
      for (size_t at = pg_sql.find(from); at != std::string::npos; at = pg_sql.find(from, at)) {
        pg_sql.replace(at, from.size(), to);
      }
    }
    std::vector<hub::pg::Param> bound;
    for (const Value& v : params) {
      switch (v.kind()) {
        case Value::Kind::kInt: bound.push_back(hub::pg::Param::Int(v.int_value())); break;
        case Value::Kind::kText: bound.push_back(hub::pg::Param::Text(v.str())); break;
        case Value::Kind::kBytes: bound.push_back(hub::pg::Param::Bytes(v.str())); break;
        default: bound.push_back(hub::pg::Param::Null()); break;
      }
    }
    auto conn = hub::pg::Connection::Open(hub_->store());
    if (!conn.ok()) return conn.status();
    return (*conn)->Exec(pg_sql, bound);
  }

  // The metadata a laptop of today puts on a call, for a call the test
  // makes by hand at the hub process (a crafted push or pull) as the node
  // of credential `c`: both its proofs, over the hub's certificate (the
  // hub holds its link key from its enrolment: its bearer is refused).
  std::vector<std::pair<std::string, std::string>> LaptopCallMetadata(const node::Credential& c) {
    DeviceId hub;
    for (const auto& n : nodes_) {
      if (n->credential().device != c.device) continue;
      absl::StatusOr<node::HubConfig> conf = node::LoadHubConfig(n->dir());
      EXPECT_TRUE(conf.ok()) << conf.status();
      if (conf.ok()) hub = Must(Id16::Parse(conf->hub_id, "hub id"));
    }
    std::string digest = crypto::NoCertificateDigest();
    if (!hub_->insecure()) {
      digest = Must(wire::LeafCertificateDigest(Must(ReadWholeFile(pki_->cert()))));
    }
    return {{wire::kProofKey,
             wire::ProofHeader(c.device, crypto::CredentialProof(crypto::SecretHash(c.secret),
                                                                 hub, c.device, digest))},
            {wire::kLinkProofKey,
             wire::LinkProofHeader(c.device, digest,
                                   crypto::LinkKey(c.secret).Proof(hub, c.device, digest))}};
  }

  // hub.db, checkpointed, copied aside as `name` with the hub stopped (a
  // backup), then the hub started again; the copy's path.
  std::string CopyHubFile(const std::string& name) {
    EXPECT_FALSE(HubOnPostgres()) << "copies hub.db: FS_SKIP_ON_POSTGRES in this test";
    const std::string db = hub_->data_dir() + "/hub.db";
    hub_->Stop();
    {
      auto d = sqlite::Db::Open(db, "");
      EXPECT_TRUE(d.ok());
      EXPECT_TRUE((*d)->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
    }
    std::filesystem::copy_file(db, dir_.File(name));
    EXPECT_TRUE(hub_->Start().ok());
    return dir_.File(name);
  }

  // Puts a copy CopyHubFile made back in place of hub.db, as someone with
  // the hub's disk would, and starts the hub.
  void PutHubFileBack(const std::string& saved) {
    ASSERT_FALSE(HubOnPostgres()) << "replaces hub.db: FS_SKIP_ON_POSTGRES in this test";
    const std::string db = hub_->data_dir() + "/hub.db";
    hub_->Stop();
    std::filesystem::remove(db + "-wal");
    std::filesystem::remove(db + "-shm");
    std::filesystem::copy_file(saved, db, std::filesystem::copy_options::overwrite_existing);
    ASSERT_TRUE(hub_->Start().ok());
  }

  // The pairing code `on` shows for device `d` of its office ("" if none).
  static std::string CodeShownFor(harness::LocalNode& on, const DeviceId& d) {
    auto v = on.keys()->Office();
    EXPECT_TRUE(v.ok());
    if (!v.ok()) return "";
    for (const auto& od : v->devices) {
      if (od.device.keys.device == d) return od.code;
    }
    return "";
  }

  // Whether `n` holds the row (live or deleted).
  static bool Holds(harness::LocalNode& n, const std::string& table, const RowId& row) {
    auto r = n.replica().Get(table, row);
    return r.ok() && r->has_value();
  }
  // A shared directory entry: every office receives it.
  static RowId NewOrg(Replica& r, const std::string& name) {
    const RowId org = Id16::NewRandom();
    LocalTxn t;
    t.Create("organisations", org, {{"name", Value::Text(name)}, {"kind", Value::Text("ngo")}});
    EXPECT_TRUE(r.Write(t).ok());
    return org;
  }
  // The sequence number of the last commit `n` wrote.
  static uint64_t LastSeq(harness::LocalNode& n) {
    auto s = n.replica().Stats();
    EXPECT_TRUE(s.ok());
    return s.ok() ? s->local_seq : 0;
  }
  // Whether a line of the pass's history report mentions `what`.
  static bool Mentions(const node::SyncReport& r, const std::string& what) {
    for (const std::string& p : r.chain.problems) {
      if (p.find(what) != std::string::npos) return true;
    }
    return false;
  }

  static Hlc NowHlc() { return Hlc::FromParts(SystemClock::Get()->NowMillis(), 0); }

  static node::SyncReport MustSync(harness::LocalNode& n) {
    auto r = n.Sync();
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(!r.ok() || r->push_refused.ok()) << r->push_refused;
    EXPECT_TRUE(!r.ok() || r->key_records_refused == 0) << r->key_refusal;
    EXPECT_TRUE(!r.ok() || r->key_records_refused_by_hub == 0) << r->key_push_refusal;
    return r.ok() ? *r : node::SyncReport{};
  }

  // A sync pass whose push the hub refuses for good: the pass still pulls;
  // returns the refusal. In protocol version 3 a commit refused by the
  // hub's rules is refused alone and set aside (docs/PROTOCOL.md, "Refusals
  // per commit and set-aside work"): its refusal as a status,
  // INVALID_ARGUMENT for a field that had to be sealed, else
  // PERMISSION_DENIED, with the hub's reason.
  static absl::Status RefusedPush(harness::LocalNode& n) {
    auto r = n.Sync();
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return r.status();
    if (r->push_refused.ok() && r->set_aside > 0) {
      constexpr int kSealing = static_cast<int>(sync::RefusalCode::kSealing);
      return r->set_aside_code == kSealing ? absl::InvalidArgumentError(r->set_aside_reason)
                                           : absl::PermissionDeniedError(r->set_aside_reason);
    }
    EXPECT_FALSE(r->push_refused.ok()) << "the hub accepted the push";
    return r->push_refused;
  }

  // A case (and its person) owned by `province`.
  static RowId NewCase(Replica& r, const std::string& province, const std::string& name,
                       const std::string& narrative = "") {
    const RowId person = Id16::NewRandom();
    const RowId kase = Id16::NewRandom();
    LocalTxn t;
    t.Create("persons", person, {{"full_name", Value::Text(name)},
                                 {"province", Value::Text(province)},
                                 {"sex", Value::Text("female")}});
    t.Create("cases", kase, {{"case_code", Value::Text(absl::StrCat(province, "-", kase.ToString().substr(0, 8)))},
                             {"person_id", Value::Bytes(std::string(person.view()))},
                             {"province", Value::Text(province)},
                             {"status", Value::Text("intake")},
                             {"narrative", Value::Text(narrative.empty() ? name : narrative)}});
    auto c = r.Write(t);
    EXPECT_TRUE(c.ok()) << c.status();
    return kase;
  }

  // `receiver` accepts `ref`, sent by `owner`, as its office would, with
  // the syncs around it: both sync (the receiver holds the referral), the
  // receiver writes "accepted", then receiver, owner (the grant is made)
  // and receiver again (the grant arrives).
  static void AcceptReferral(harness::LocalNode& owner, harness::LocalNode& receiver,
                             const RowId& ref) {
    MustSync(owner);
    MustSync(receiver);
    SetField(receiver.replica(), "referrals", ref, "status", Value::Text("accepted"));
    MustSync(receiver);
    MustSync(owner);
    MustSync(receiver);
  }

  // A write as a patched build of fieldsync makes it on a malicious
  // office's laptop: signed by the laptop's device, with none of the
  // laptop's own checks (change/referral_rules.h) and nothing sealed.
  static absl::StatusOr<Commit> WriteAsPatchedBuild(harness::LocalNode& n, const LocalTxn& t) {
    CommitSecurity patched;
    const crypto::DeviceIdentity* id = &n.identity();
    patched.sign = [id](const Commit& c) { return crypto::SignCommit(*id, c); };
    patched.sign_header = [id](std::string_view h) { return crypto::SignCommitHeader(*id, h); };
    n.replica().SetSecurity(patched);
    absl::StatusOr<Commit> c = n.replica().Write(t);
    n.replica().SetSecurity(n.keys()->Security());
    return c;
  }

  static void SetField(Replica& r, const std::string& table, const RowId& row,
                       const std::string& column, Value v) {
    LocalTxn t;
    t.Set(table, row, {{column, std::move(v)}});
    auto c = r.Write(t);
    EXPECT_TRUE(c.ok()) << c.status();
  }

  // A referral of `kase` from `from` to `to`, as its owning office creates
  // it: sent (the receiving office answers it, AcceptReferral; a status
  // other than "sent" is refused by the hub).
  static RowId Refer(Replica& r, const RowId& kase, const std::string& from,
                     const std::string& to, const std::string& status = "sent") {
    const RowId ref = Id16::NewRandom();
    LocalTxn t;
    t.Create("referrals", ref, {{"case_id", Value::Bytes(std::string(kase.view()))},
                                {"from_office", Value::Text(from)},
                                {"to_office", Value::Text(to)},
                                {"status", Value::Text(status)},
                                {"reason", Value::Text("victim returns home")}});
    auto c = r.Write(t);
    EXPECT_TRUE(c.ok()) << c.status();
    return ref;
  }

  static std::set<RowId> Rows(Replica& r, const std::string& table) {
    auto ids = r.ListRows(table, /*include_deleted=*/true);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? std::set<RowId>(ids->begin(), ids->end()) : std::set<RowId>{};
  }

  // The row is held identically (values and versions) by every node given.
  static void ExpectSameRowEverywhere(const RowId& row, std::vector<harness::LocalNode*> nodes,
                                      const std::string& table = "cases") {
    auto first = nodes[0]->replica().ExportRow(table, row);
    ASSERT_TRUE(first.ok() && first->has_value());
    for (size_t i = 1; i < nodes.size(); ++i) {
      auto other = nodes[i]->replica().ExportRow(table, row);
      ASSERT_TRUE(other.ok() && other->has_value()) << "node " << i << " lacks the row";
      ASSERT_EQ((*first)->fields.size(), (*other)->fields.size()) << "node " << i;
      for (size_t f = 0; f < (*first)->fields.size(); ++f) {
        EXPECT_EQ((*first)->fields[f].value, (*other)->fields[f].value)
            << "node " << i << " " << (*first)->fields[f].column;
        EXPECT_EQ((*first)->fields[f].version.version, (*other)->fields[f].version.version);
      }
      EXPECT_EQ((*first)->conflicts.size(), (*other)->conflicts.size()) << "node " << i;
    }
  }

  // The hub's log head, on either store: hub.db's replica, or what
  // `fieldhub status --json` says of the PostgreSQL store.
  absl::StatusOr<int64_t> HubLogHead() {
    if (!HubOnPostgres()) return OpenHubReplica()->LogHead();
    harness::CommandResult r = hub_->Admin({"status", "--json"});
    if (r.exit_code != 0) return absl::InternalError(r.err);
    return Json::parse(r.out)["log_head"].get<int64_t>();
  }

  // Whether the hub holds `row` of `table` (nullopt: not at all), and
  // whether live, on either store: hub.db's replica, or the PostgreSQL
  // store's rows and liveness register (slot 0) read directly.
  absl::StatusOr<std::optional<bool>> HubRowLive(const std::string& table, const RowId& row) {
    if (!HubOnPostgres()) {
      auto r = OpenHubReplica()->Get(table, row);
      if (!r.ok()) return r.status();
      if (!r->has_value()) return std::optional<bool>();
      return std::optional<bool>((*r)->live);
    }
    auto conn = hub::pg::Connection::Open(hub_->store());
    if (!conn.ok()) return conn.status();
    auto f = (*conn)->Exec("SELECT r.row, f.ival FROM hub_rows r LEFT JOIN hub_fields f ON "
                           "f.tbl = r.tbl AND f.row = r.row AND f.slot = 0 WHERE r.tbl = $1 "
                           "AND r.row = $2",
                           {hub::pg::Param::Text(table), hub::pg::Param::Bytes(row.view())});
    if (!f.ok()) return f.status();
    if (f->rows() == 0) return std::optional<bool>();
    auto live = f->Int(0, 1);
    if (!live.ok()) return live.status();
    return std::optional<bool>(*live != 0);
  }

  // The hub's rows on either store, read through its storage interface
  // (support/hub_rows.h): what a test asserts about what the hub holds.
  std::unique_ptr<HubRows> OpenHubRows() {
    auto r = HubRows::Open(hub_->data_dir() + "/hub.db", HubOnPostgres() ? hub_->store() : "");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : nullptr;
  }

  // The hub's own replica file, opened read-side in this process. Not on
  // PostgreSQL (it would make an empty hub.db): such a test has
  // FS_SKIP_ON_POSTGRES, or reads through OpenHubRows or HubLogHead.
  std::unique_ptr<Replica> OpenHubReplica() {
    if (HubOnPostgres()) {
      ADD_FAILURE() << "OpenHubReplica reads hub.db: FS_SKIP_ON_POSTGRES in this test";
      return nullptr;
    }
    ReplicaOptions o;
    o.path = hub_->data_dir() + "/hub.db";
    auto r = Replica::Open(o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : nullptr;
  }

  TempDir dir_;
  // The hub's database when the suite runs on PostgreSQL; outlives hub_.
  HubStoreChoice store_;
  std::unique_ptr<harness::HubProcess> hub_;
  std::vector<std::unique_ptr<harness::LocalNode>> nodes_;
  // Whether AddNode makes each node a member of its office (a test of
  // membership itself turns it off).
  bool join_offices_ = true;
  std::map<std::string, harness::LocalNode*> first_of_office_;
  static TempDir* pki_dir_;
  static harness::Pki* pki_;
};

inline TempDir* SyncTest::pki_dir_ = nullptr;
inline harness::Pki* SyncTest::pki_ = nullptr;

// SyncTest with the hub a `fieldhub serve` process (TLS on loopback): for
// tests that need a socket (a proxy in front of the hub, a rewriting hub,
// TLS), kill the hub, or test the gRPC layer itself.
class SyncProcessTest : public SyncTest {
 protected:
  bool NeedsHubProcess() const override { return true; }
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_SYNC_FIXTURE_H_
