// The registry half of the hub's storage (hub/storage.h) behaves the same on
// both stores: the embedded SQLite one and PostgreSQL (hub/pg/storage.h), on
// a real private cluster (support/pg_cluster.h). Each test runs once per
// store and expects the same answers, messages and audit trail, so a call
// that behaves differently on one store fails here. Enrolment goes through
// the engine's own rule (hub/enrolment.h) over the store's transaction.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "crypto/credential_proof.h"
#include "hub/audit.h"
#include "hub/enrolment.h"
#include "hub/pg/connection.h"
#include "hub/pg/storage.h"
#include "hub/sqlite_storage.h"
#include "support/pg_cluster.h"
#include "support/temp_dir.h"

namespace fieldsync::hub {
namespace {

constexpr int64_t kEpoch = 1'764'000'000'000;  // 2025-11-24
constexpr int64_t kDay = 86'400'000;

enum class Store { kSqlite, kPostgres };

std::string StoreName(const ::testing::TestParamInfo<Store>& info) {
  return info.param == Store::kSqlite ? "sqlite" : "postgresql";
}

class HubRegistryStoreTest : public ::testing::TestWithParam<Store> {
 protected:
  void SetUp() override {
    if (GetParam() == Store::kPostgres) {
      absl::Status s = db_.Create();
      ASSERT_TRUE(s.ok()) << s;
    }
    Reopen();
  }

  // Opens the store (again: what it holds must stay).
  void Reopen() {
    storage_.reset();
    if (GetParam() == Store::kSqlite) {
      auto s = SqliteHubStorage::Open(dir_.File("hub.db"), &clock_);
      ASSERT_TRUE(s.ok()) << s.status();
      storage_ = *std::move(s);
    } else {
      auto s = PostgresHubStorage::Open(db_.uri(), &clock_);
      ASSERT_TRUE(s.ok()) << s.status();
      storage_ = *std::move(s);
    }
  }

  HubStorage& store() { return *storage_; }

  std::string Token(const std::string& province, int64_t valid_for = kDay) {
    auto t = store().MakeEnrollToken(province, valid_for, "admin");
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->token : std::string();
  }

  absl::StatusOr<Enrolment> Enrol(const std::string& token, const crypto::DeviceIdentity& id,
                                  const std::string& name, bool proven = false) {
    absl::StatusOr<Enrolment> out = absl::InternalError("not run");
    absl::Status s = store().EnrolTransaction([&](HubEnrolTxn& txn) -> absl::Status {
      out = EnrolNode(txn, token, id.device(), name, id.public_keys(), proven,
                      clock_.NowMillis());
      return out.status();
    });
    if (!s.ok()) return s;
    return out;
  }

  std::vector<std::string> AuditActions() {
    auto t = store().AuditTrail();
    EXPECT_TRUE(t.ok()) << t.status();
    std::vector<std::string> out;
    if (t.ok()) {
      for (const HubAuditEntry& e : t->entries) out.push_back(e.action);
    }
    return out;
  }

  FakeClock clock_{kEpoch};
  fieldsync::testing::TempDir dir_;
  fieldsync::testing::PgDatabase db_;
  std::unique_ptr<HubStorage> storage_;
};

crypto::DeviceIdentity NewDevice() { return crypto::DeviceIdentity::Generate(Id16::NewRandom()); }

TEST_P(HubRegistryStoreTest, ProvincesAreListedByCodeBytesAndAddedOnce) {
  ASSERT_TRUE(store().AddProvince("LC", "Lào Cai", "admin").ok());
  clock_.Advance(1000);
  ASSERT_TRUE(store().AddProvince("b", "lower case", "admin").ok());
  ASSERT_TRUE(store().AddProvince("HN", "Hà Nội", "admin").ok());

  absl::Status again = store().AddProvince("LC", "Other", "admin");
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_EQ(again.message(), "province LC is already registered; see fieldhub province list");

  auto p = store().Provinces();
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 3u);
  // Byte order, as SQLite compares text: upper case before lower case
  // (a locale's order would put "b" first).
  EXPECT_EQ((*p)[0].code, "HN");
  EXPECT_EQ((*p)[1].code, "LC");
  EXPECT_EQ((*p)[2].code, "b");
  EXPECT_EQ((*p)[1].name, "Lào Cai");
  EXPECT_EQ((*p)[1].created_at_millis, kEpoch);
  EXPECT_EQ((*p)[0].created_at_millis, kEpoch + 1000);
  // The refused one left no audit entry.
  EXPECT_EQ(AuditActions(), std::vector<std::string>(3, kAuditProvinceAdd));
}

TEST_P(HubRegistryStoreTest, TokensNeedAKnownProvinceAndAreNeverInTheTrail) {
  auto unknown = store().MakeEnrollToken("XX", kDay, "admin");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(),
            "unknown province \"XX\"; add it first: fieldhub province add XX NAME");

  ASSERT_TRUE(store().AddProvince("LC", "Lào Cai", "admin").ok());
  auto t = store().MakeEnrollToken("LC", 2 * kDay, "alice");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(absl::StartsWith(t->token, "fsenroll-")) << t->token;
  EXPECT_EQ(t->token.size(), 9u + 40u);
  EXPECT_EQ(t->province, "LC");
  EXPECT_EQ(t->expires_at_millis, kEpoch + 2 * kDay);

  auto trail = store().AuditTrail();
  ASSERT_TRUE(trail.ok()) << trail.status();
  ASSERT_EQ(trail->entries.size(), 2u);
  const HubAuditEntry& e = trail->entries[1];
  EXPECT_EQ(e.action, kAuditTokenIssue);
  EXPECT_EQ(e.actor, "alice");
  EXPECT_EQ(e.at_millis, kEpoch);
  EXPECT_TRUE(absl::StartsWith(e.detail, "token for province LC, valid for 2d until "))
      << e.detail;
  EXPECT_EQ(e.detail.find(t->token), std::string::npos) << "the token is in the trail";
}

TEST_P(HubRegistryStoreTest, AnEnrolledNodeIsFoundByItsCredentialOnly) {
  ASSERT_TRUE(store().AddProvince("LC", "Lào Cai", "admin").ok());
  const crypto::DeviceIdentity id = NewDevice();
  const std::string token = Token("LC");
  clock_.Advance(5000);
  auto e = Enrol(token, id, "Laptop 1");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->province, "LC");
  ASSERT_EQ(e->secret.size(), 32u);

  auto n = store().CheckCredential(id.device(), CredentialCheck::Secret(e->secret));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->device, id.device());
  EXPECT_EQ(n->name, "Laptop 1");
  EXPECT_EQ(n->province, "LC");
  EXPECT_EQ(n->enrolled_at_millis, kEpoch + 5000);
  EXPECT_EQ(n->keys.sign_pk, id.public_keys().sign_pk);
  EXPECT_EQ(n->keys.box_pk, id.public_keys().box_pk);
  EXPECT_FALSE(n->revoked);
  EXPECT_EQ(n->last_seen_millis, 0);

  auto wrong = store().CheckCredential(id.device(), CredentialCheck::Secret(std::string(32, 'x')));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StartsWith(wrong.status().message(),
                               "the node's credential was not accepted by the hub"));
  const DeviceId stranger = Id16::NewRandom();
  auto unknown = store().CheckCredential(stranger, CredentialCheck::Secret(e->secret));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(unknown.status().message(), "is not enrolled at this hub"));
  auto none = store().NodeOf(stranger);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  auto reg = store().Registry();
  ASSERT_TRUE(reg.ok()) << reg.status();
  ASSERT_EQ(reg->size(), 1u);
  EXPECT_EQ((*reg)[0].keys.device, id.device());
  EXPECT_EQ((*reg)[0].keys.sign_pk, id.public_keys().sign_pk);
  EXPECT_EQ((*reg)[0].name, "Laptop 1");
  EXPECT_FALSE((*reg)[0].revoked());

  EXPECT_EQ(AuditActions(),
            (std::vector<std::string>{kAuditProvinceAdd, kAuditTokenIssue, kAuditEnrol}));
}

// A credential proof (crypto/credential_proof.h) is checked against the
// stored secret_hash over the certificate digests the hub gives, the same
// on both stores (hub/credential_check.h): one made over another
// certificate, for another hub or by another device's secret is refused
// in the words of a wrong secret.
TEST_P(HubRegistryStoreTest, AProofIsTakenOnlyOverACertificateTheHubServes) {
  ASSERT_TRUE(store().AddProvince("LC", "Lào Cai", "admin").ok());
  const crypto::DeviceIdentity id = NewDevice();
  auto e = Enrol(Token("LC"), id, "Laptop 1");
  ASSERT_TRUE(e.ok()) << e.status();
  const DeviceId hub = Id16::NewRandom();
  const std::string served(32, 'S'), proxy(32, 'P'), other(32, 'O');
  const std::string key = crypto::SecretHash(e->secret);
  auto check = [&](const DeviceId& for_hub, const std::string& over, const std::string& k) {
    return store().CheckCredential(
        id.device(), CredentialCheck::Proof(hub, id.device(),
                                            crypto::CredentialProof(k, for_hub, id.device(), over),
                                            {served, proxy}));
  };
  auto ok = check(hub, served, key);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->device, id.device());
  EXPECT_TRUE(check(hub, proxy, key).ok());
  for (const auto& refused : {check(hub, other, key), check(Id16::NewRandom(), served, key),
                              check(hub, served, crypto::SecretHash("another secret"))}) {
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
    EXPECT_TRUE(absl::StartsWith(refused.status().message(),
                                 "the node's credential was not accepted by the hub"));
  }
  // The secret's hash itself, sent as a proof, is no proof.
  EXPECT_FALSE(store()
                   .CheckCredential(id.device(),
                                    CredentialCheck::Proof(hub, id.device(), key, {served}))
                   .ok());
}

// Session 24 (attack review 23, MED 2 and MED 3): once a device's link key
// is registered, only its link proof is taken: the bearer and the version 1
// proof (which hub_nodes.secret_hash makes) are refused, with the reason
// for the hub's line alone. A key once kept is not replaced; an enrolment's
// retry (a new secret) clears it.
TEST_P(HubRegistryStoreTest, ARegisteredLinkKeyIsTheOnlyCredentialTakenUntilARetry) {
  ASSERT_TRUE(store().AddProvince("LC", "Lào Cai", "admin").ok());
  const crypto::DeviceIdentity id = NewDevice();
  const std::string token = Token("LC");
  auto e = Enrol(token, id, "Laptop 1");
  ASSERT_TRUE(e.ok()) << e.status();
  const DeviceId hub = Id16::NewRandom();
  const std::string served(32, 'S');
  const crypto::LinkKey link(e->secret);
  auto v1 = [&] {
    return CredentialCheck::Proof(hub, id.device(),
                                  crypto::CredentialProof(crypto::SecretHash(e->secret), hub,
                                                          id.device(), served),
                                  {served});
  };
  auto v2 = [&](const crypto::LinkKey& k) {
    CredentialCheck c = CredentialCheck::Proof(hub, id.device(), "", {served});
    c.WithLinkProof(k.Proof(hub, id.device(), served), served);
    return c;
  };
  // No link key yet: everything as before; a link proof alone is no proof.
  EXPECT_TRUE(store().CheckCredential(id.device(), v1()).ok());
  EXPECT_TRUE(store().CheckCredential(id.device(), CredentialCheck::Secret(e->secret)).ok());
  EXPECT_FALSE(store().CheckCredential(id.device(), v2(link)).ok());

  auto reg = [&](const crypto::LinkKey& k) {
    return store().SwapLinkKey(id.device(), "", k.public_key(), "device", kAuditLinkKey,
                               "registered");
  };
  ASSERT_EQ(reg(link), absl::StatusOr<bool>(true));
  EXPECT_TRUE(store().CheckCredential(id.device(), v2(link)).ok());
  for (const auto& refused : {store().CheckCredential(id.device(), v1()),
                              store().CheckCredential(id.device(),
                                                      CredentialCheck::Secret(e->secret))}) {
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
    EXPECT_TRUE(absl::StartsWith(refused.status().message(),
                                 "the node's credential was not accepted by the hub"));
    auto why = CredentialRefusalWhy(refused.status());
    ASSERT_TRUE(why.has_value());
    EXPECT_NE(why->find("stolen-secret alarm"), std::string::npos) << *why;
  }
  // Another key is not taken in its place.
  const crypto::LinkKey other("another secret");
  ASSERT_EQ(reg(other), absl::StatusOr<bool>(false));
  EXPECT_FALSE(store().CheckCredential(id.device(), v2(other)).ok());
  EXPECT_TRUE(store().CheckCredential(id.device(), v2(link)).ok());

  // A retry gives a new secret and clears the key: the new secret's
  // credentials are taken, and its link key can be registered.
  auto retry = Enrol(token, id, "Laptop 1", /*proven=*/true);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(store().CheckCredential(id.device(), CredentialCheck::Secret(retry->secret)).ok());
  const crypto::LinkKey renewed(retry->secret);
  ASSERT_EQ(reg(renewed), absl::StatusOr<bool>(true));
  EXPECT_TRUE(store().CheckCredential(id.device(), v2(renewed)).ok());
  EXPECT_FALSE(store().CheckCredential(id.device(), v2(link)).ok());
}

TEST_P(HubRegistryStoreTest, ATokenEnrolsOneDeviceAndItsRetryReplacesTheCredential) {
  ASSERT_TRUE(store().AddProvince("LC", "Lào Cai", "admin").ok());
  const crypto::DeviceIdentity a = NewDevice(), b = NewDevice();
  const std::string token = Token("LC");
  auto first = Enrol(token, a, "A");
  ASSERT_TRUE(first.ok()) << first.status();

  auto other = Enrol(token, b, "B");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied) << other.status();
  auto b_node = store().NodeOf(b.device());
  ASSERT_TRUE(b_node.ok());
  EXPECT_FALSE(b_node->has_value()) << "a refused enrolment left its node";

  auto unproven = Enrol(token, a, "A again");
  EXPECT_EQ(unproven.status().code(), absl::StatusCode::kPermissionDenied);
  auto retry = Enrol(token, a, "A renamed", /*proven=*/true);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_NE(retry->secret, first->secret);
  EXPECT_EQ(
      store().CheckCredential(a.device(), CredentialCheck::Secret(first->secret)).status().code(),
      absl::StatusCode::kUnauthenticated);
  auto n = store().CheckCredential(a.device(), CredentialCheck::Secret(retry->secret));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->name, "A renamed");
  EXPECT_EQ(n->enrolled_at_millis, kEpoch) << "a retry keeps the enrolment time";

  const std::string late = Token("LC", 1000);
  clock_.Advance(1000);
  EXPECT_EQ(Enrol(late, b, "B").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AuditActions(),
            (std::vector<std::string>{kAuditProvinceAdd, kAuditTokenIssue, kAuditEnrol,
                                      kAuditEnrol, kAuditTokenIssue}));
}

TEST_P(HubRegistryStoreTest, AnEnrolmentThatFailsLeavesNothing) {
  ASSERT_TRUE(store().AddProvince("LC", "Lào Cai", "admin").ok());
  const crypto::DeviceIdentity id = NewDevice();
  const std::string token = Token("LC");
  absl::Status s = store().EnrolTransaction([&](HubEnrolTxn& txn) -> absl::Status {
    EXPECT_TRUE(txn.StoreNode(id.device(), "X", "LC", std::string(32, 's'), id.public_keys(),
                              kEpoch)
                    .ok());
    EXPECT_TRUE(txn.UseToken(token, id.device(), kEpoch).ok());
    EXPECT_TRUE(txn.AppendAudit(kEpoch, "x", kAuditEnrol, "x").ok());
    auto node = txn.Node(id.device());
    EXPECT_TRUE(node.ok() && node->has_value()) << "the transaction does not see its write";
    return absl::InternalError("the body failed");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  auto n = store().NodeOf(id.device());
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->has_value());
  EXPECT_EQ(AuditActions(), (std::vector<std::string>{kAuditProvinceAdd, kAuditTokenIssue}));
  // The token is still unused: it enrols the device.
  EXPECT_TRUE(Enrol(token, id, "X").ok());
}

TEST_P(HubRegistryStoreTest, ARevocationIsStoredOnceAndTheEngineIsToldEachTime) {
  ASSERT_TRUE(store().AddProvince("LC", "Lào Cai", "admin").ok());
  const crypto::DeviceIdentity id = NewDevice();
  ASSERT_TRUE(Enrol(Token("LC"), id, "Laptop").ok());
  int told = 0;
  const DeviceId stranger = Id16::NewRandom();
  absl::Status unknown = store().RevokeNode(stranger, "admin", [&] { ++told; });
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.message(),
            "no enrolled node " + stranger.ToString() + "; see fieldhub node list");
  EXPECT_EQ(told, 1);

  clock_.Advance(7000);
  ASSERT_TRUE(store().RevokeNode(id.device(), "bob", [&] { ++told; }).ok());
  EXPECT_EQ(told, 2);
  absl::Status again = store().RevokeNode(id.device(), "bob", [&] { ++told; });
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(again.message(), "was already revoked on")) << again;
  EXPECT_EQ(told, 3);

  auto n = store().NodeOf(id.device());
  ASSERT_TRUE(n.ok() && n->has_value());
  EXPECT_TRUE((*n)->revoked);
  EXPECT_EQ((*n)->revoked_at_millis, kEpoch + 7000);
  EXPECT_EQ((*n)->revoked_position, 0);
  auto reg = store().Registry();
  ASSERT_TRUE(reg.ok());
  ASSERT_EQ(reg->size(), 1u);
  EXPECT_EQ((*reg)[0].revoked_at_millis, kEpoch + 7000);
  auto office = store().OfficeRecordsOf("LC");
  ASSERT_TRUE(office.ok()) << office.status();
  EXPECT_TRUE(office->membership.empty());
  EXPECT_EQ(office->revoked, std::set<DeviceId>{id.device()});
  auto none = store().OfficeRecordsOf("HN");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->revoked.empty());

  auto trail = store().AuditTrail();
  ASSERT_TRUE(trail.ok());
  const HubAuditEntry& last = trail->entries.back();
  EXPECT_EQ(last.action, kAuditRevoke);
  EXPECT_EQ(last.actor, "bob");
  EXPECT_EQ(last.detail, "device " + id.device().ToString() +
                             " \"Laptop\" of province LC revoked at log position 0");
  // A revoked device stays revoked: a new token does not bring it back.
  EXPECT_EQ(Enrol(Token("LC"), id, "Laptop", true).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_P(HubRegistryStoreTest, CallsAndDeliveriesAreKeptAsTheNodeListShowsThem) {
  ASSERT_TRUE(store().AddProvince("LC", "Lào Cai", "admin").ok());
  ASSERT_TRUE(store().AddProvince("HN", "Hà Nội", "admin").ok());
  const crypto::DeviceIdentity a = NewDevice(), b = NewDevice(), c = NewDevice();
  ASSERT_TRUE(Enrol(Token("LC"), a, "Zeta").ok());
  ASSERT_TRUE(Enrol(Token("LC"), b, "alpha").ok());
  ASSERT_TRUE(Enrol(Token("HN"), c, "Mid").ok());

  clock_.Advance(60'000);
  ASSERT_TRUE(store().RecordCall(a.device(), 3, 1500, 7).ok());
  clock_.Advance(1000);
  ASSERT_TRUE(store().RecordCall(a.device(), 2, std::nullopt, std::nullopt).ok());
  ASSERT_TRUE(store().RecordDelivered(a.device(), 5).ok());
  ASSERT_TRUE(store().RecordDelivered(b.device(), 9).ok());
  ASSERT_TRUE(store().RecordDelivered(b.device(), 4).ok());
  // Unknown devices change nothing, and are no error.
  ASSERT_TRUE(store().RecordCall(Id16::NewRandom(), 3, 1, 1).ok());
  ASSERT_TRUE(store().RecordDelivered(Id16::NewRandom(), 1).ok());

  auto nodes = store().Nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 3u);
  // By province, then name, in byte order ("Zeta" before "alpha").
  EXPECT_EQ((*nodes)[0].name, "Mid");
  EXPECT_EQ((*nodes)[1].name, "Zeta");
  EXPECT_EQ((*nodes)[2].name, "alpha");
  const NodeInfo& na = (*nodes)[1];
  EXPECT_EQ(na.last_seen_millis, kEpoch + 61'000);
  EXPECT_EQ(na.protocol_version, 2);
  EXPECT_EQ(na.clock_skew_millis, 1500) << "an absent skew keeps the last one";
  EXPECT_EQ(na.cursor, 7) << "an absent cursor keeps the last one";
  EXPECT_EQ(na.delivered, 7) << "delivered is never below the acknowledged cursor";
  EXPECT_EQ((*nodes)[2].delivered, 9) << "delivered never goes back";
  for (const NodeInfo& n : *nodes) {
    EXPECT_EQ(n.pending, 0u);
    EXPECT_EQ(n.acknowledged_seq, 0u);
    EXPECT_EQ(n.set_aside, 0u);
  }
  auto one = store().NodeOf(a.device());
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->cursor, 7);
  EXPECT_EQ((*one)->delivered, 0) << "NodeOf leaves delivered to Nodes()";
  auto head = store().LogHead();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(*head, 0);
}

TEST_P(HubRegistryStoreTest, TheAuditTrailVerifiesAndEverythingStaysOnReopening) {
  ASSERT_TRUE(store().AddProvince("LC", "Lào Cai", "admin").ok());
  const crypto::DeviceIdentity id = NewDevice();
  auto e = Enrol(Token("LC"), id, "Laptop");
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(store().RevokeNode(id.device(), "admin", [] {}).ok());
  const DeviceId hub = store().hub_id();
  EXPECT_FALSE(hub.is_nil());

  Reopen();
  EXPECT_EQ(store().hub_id(), hub);
  auto trail = store().AuditTrail();
  ASSERT_TRUE(trail.ok()) << trail.status();
  ASSERT_EQ(trail->entries.size(), 4u);
  EXPECT_EQ(trail->head_seq, 4);
  EXPECT_EQ(trail->head_hash, trail->entries.back().entry_hash);
  EXPECT_TRUE(trail->entries[0].prev_hash.empty());
  EXPECT_TRUE(VerifyHubAudit(*trail).empty());
  EXPECT_EQ(trail->entries[0].detail, "province LC \"Lào Cai\"");
  auto n = store().CheckCredential(id.device(), CredentialCheck::Secret(e->secret));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_TRUE(n->revoked);
}

// Two hub processes on one database (two storages, two connections): an
// enrolment of one, still open, holds back the other's enrolment with the
// same token, which then finds the token used. Both would pass the rules'
// checks if each read the token before the other stored its use.
TEST(PostgresHubProcessesTest, OneTokenEnrolsOnceWhicheverProcessesAreAsked) {
  fieldsync::testing::PgDatabase db;
  ASSERT_TRUE(db.Create().ok());
  FakeClock clock(kEpoch);
  auto a = PostgresHubStorage::Open(db.uri(), &clock);
  auto b = PostgresHubStorage::Open(db.uri(), &clock);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  ASSERT_TRUE((*a)->AddProvince("LC", "Lào Cai", "admin").ok());
  auto token = (*b)->MakeEnrollToken("LC", kDay, "admin");
  ASSERT_TRUE(token.ok());
  auto watch = pg::Connection::Open(db.uri());
  ASSERT_TRUE(watch.ok()) << watch.status();
  const crypto::DeviceIdentity first = NewDevice(), second = NewDevice();

  absl::StatusOr<Enrolment> ra = absl::InternalError("not run"), rb = ra;
  std::thread other;
  bool waited = false;
  absl::Status sa = (*a)->EnrolTransaction([&](HubEnrolTxn& txn) -> absl::Status {
    ra = EnrolNode(txn, token->token, first.device(), "First", first.public_keys(), false,
                   clock.NowMillis());
    other = std::thread([&] {
      (void)(*b)->EnrolTransaction([&](HubEnrolTxn& t) -> absl::Status {
        rb = EnrolNode(t, token->token, second.device(), "Second", second.public_keys(), false,
                       clock.NowMillis());
        return rb.status();
      });
    });
    // Until the other process waits on a lock this transaction holds
    // (bounded: it must come).
    for (int i = 0; i < 600 && !waited; ++i) {
      auto r = (*watch)->Exec("SELECT count(*) FROM pg_locks WHERE NOT granted");
      if (!r.ok()) return r.status();
      waited = *r->Int(0, 0) > 0;
      if (!waited) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return ra.status();
  });
  other.join();
  EXPECT_TRUE(waited) << "the second enrolment never waited for the first";
  ASSERT_TRUE(sa.ok()) << sa;
  EXPECT_EQ(rb.status().code(), absl::StatusCode::kPermissionDenied) << rb.status();
  EXPECT_TRUE(absl::StrContains(rb.status().message(), "already used")) << rb.status();
  auto n = (*a)->NodeOf(second.device());
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->has_value());
}

INSTANTIATE_TEST_SUITE_P(Stores, HubRegistryStoreTest,
                         ::testing::Values(Store::kSqlite, Store::kPostgres), StoreName);

}  // namespace
}  // namespace fieldsync::hub
