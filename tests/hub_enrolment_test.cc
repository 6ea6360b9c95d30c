// The enrolment rules (hub/enrolment.h) as engine code over the registry
// transaction of a real hub.db (HubStorage::EnrolTransaction), in process:
// a retry by the device that used its token replaces the credential, every
// refusal changes nothing.
#include "hub/enrolment.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/identity.h"
#include "hub/sqlite_storage.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync::hub {
namespace {

using fieldsync::testing::kTestEpochMillis;

class HubEnrolmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteHubStorage::Open(dir_.File("hub.db"), &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    storage_ = std::move(s).value();
    ASSERT_TRUE(storage_->AddProvince("LC", "Lào Cai", "admin").ok());
    ASSERT_TRUE(storage_->AddProvince("HN", "Hà Nội", "admin").ok());
  }

  std::string Token(const std::string& province) {
    auto t = storage_->MakeEnrollToken(province, 3'600'000, "admin");
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->token : "";
  }

  absl::StatusOr<Enrolment> Enrol(const std::string& token, const crypto::DevicePublic& keys,
                                  bool proven = true) {
    Enrolment out;
    absl::Status s = storage_->EnrolTransaction([&](HubEnrolTxn& txn) -> absl::Status {
      auto e = EnrolNode(txn, token, keys.device, "laptop", keys, proven, clock_.NowMillis());
      if (!e.ok()) return e.status();
      out = *e;
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  size_t AuditEntries() {
    auto t = storage_->AuditTrail();
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->entries.size() : 0;
  }

  fieldsync::testing::TempDir dir_;
  FakeClock clock_{kTestEpochMillis};
  std::unique_ptr<SqliteHubStorage> storage_;
};

TEST_F(HubEnrolmentTest, ARetryWithTheSameKeysReplacesTheCredential) {
  const crypto::DeviceIdentity id = crypto::DeviceIdentity::Generate(DeviceId::NewRandom());
  const std::string token = Token("LC");
  auto first = Enrol(token, id.public_keys());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->province, "LC");
  EXPECT_TRUE(
      storage_->CheckCredential(id.public_keys().device, CredentialCheck::Secret(first->secret))
          .ok());

  // Not proven from its keystore: refused, the credential kept.
  EXPECT_EQ(Enrol(token, id.public_keys(), /*proven=*/false).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(
      storage_->CheckCredential(id.public_keys().device, CredentialCheck::Secret(first->secret))
          .ok());

  auto again = Enrol(token, id.public_keys());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(again->secret, first->secret);
  EXPECT_TRUE(
      storage_->CheckCredential(id.public_keys().device, CredentialCheck::Secret(again->secret))
          .ok());
  EXPECT_FALSE(
      storage_->CheckCredential(id.public_keys().device, CredentialCheck::Secret(first->secret))
          .ok());
}

TEST_F(HubEnrolmentTest, EveryRefusalChangesNothing) {
  const crypto::DeviceIdentity id = crypto::DeviceIdentity::Generate(DeviceId::NewRandom());
  const std::string token = Token("LC");
  auto first = Enrol(token, id.public_keys());
  ASSERT_TRUE(first.ok()) << first.status();
  const size_t audit = AuditEntries();

  // The same device id with other keys: a takeover.
  crypto::DeviceIdentity other = crypto::DeviceIdentity::Generate(id.public_keys().device);
  auto takeover = Enrol(token, other.public_keys());
  EXPECT_EQ(takeover.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(takeover.status().message().find("other public keys"), std::string::npos)
      << takeover.status();
  // Another device with the used token.
  const crypto::DeviceIdentity second = crypto::DeviceIdentity::Generate(DeviceId::NewRandom());
  EXPECT_NE(Enrol(token, second.public_keys()).status().message().find("already used"),
            std::string::npos);
  // The enrolled device with a fresh token: enrolled already.
  EXPECT_EQ(Enrol(Token("LC"), id.public_keys()).status().code(),
            absl::StatusCode::kAlreadyExists);
  // ... of another province.
  EXPECT_EQ(Enrol(Token("HN"), id.public_keys()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // An unknown token, an expired one.
  EXPECT_EQ(Enrol("no-such-token", second.public_keys()).status().code(),
            absl::StatusCode::kPermissionDenied);
  const std::string late = Token("LC");
  clock_.Advance(3'600'001);
  EXPECT_NE(Enrol(late, second.public_keys()).status().message().find("expired"),
            std::string::npos);

  EXPECT_TRUE(
      storage_->CheckCredential(id.public_keys().device, CredentialCheck::Secret(first->secret))
          .ok());
  EXPECT_FALSE(
      storage_->CheckCredential(second.public_keys().device, CredentialCheck::Secret("x")).ok());
  auto nodes = storage_->Nodes();
  ASSERT_TRUE(nodes.ok());
  EXPECT_EQ(nodes->size(), 1u);
  EXPECT_EQ(AuditEntries(), audit + 3) << "only the three tokens made were audited";
}

}  // namespace
}  // namespace fieldsync::hub
