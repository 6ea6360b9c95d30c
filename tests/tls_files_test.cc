// The PEM files of TLS checked at load (proto/tls_files.h): real files made
// by tools/make-certs pass; a file of PEM markers around garbage, a file
// that is no PEM, a good certificate followed by a damaged one, and a key
// of another certificate are refused, in words. The hub refuses to serve
// with such files and a node refuses such a CA file before any connection
// (gRPC would only say "empty address list", as if the hub were down).
#include "proto/tls_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "hub/service.h"
#include "node/grpc_transport.h"
#include "support/temp_dir.h"
#include "tools/lib/sync_harness.h"

namespace fieldsync::wire {
namespace {

using ::testing::HasSubstr;

constexpr char kGarbageCert[] =
    "-----BEGIN CERTIFICATE-----\n"
    "Z2FyYmFnZSBub3QgYSBjZXJ0aWZpY2F0ZQ==\n"
    "-----END CERTIFICATE-----\n";
constexpr char kGarbageKey[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "Z2FyYmFnZSBub3QgYSBrZXk=\n"
    "-----END PRIVATE KEY-----\n";

std::string Read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

class TlsFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = harness::MakePki(dir_.File("pki"));
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *pki;
    auto other = harness::MakePki(dir_.File("other"));
    ASSERT_TRUE(other.ok()) << other.status();
    other_ = *other;
  }
  fieldsync::testing::TempDir dir_;
  harness::Pki pki_, other_;
};

TEST_F(TlsFilesTest, FilesMadeByMakeCertsPass) {
  auto n = CountCertificates(Read(pki_.ca()));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  n = CountCertificates(Read(pki_.cert()) + Read(pki_.ca()));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  EXPECT_TRUE(CheckPrivateKey(Read(pki_.key())).ok());
  EXPECT_TRUE(CheckKeyPair(Read(pki_.cert()), Read(pki_.key())).ok());
}

TEST_F(TlsFilesTest, WhatIsNoCertificateOrKeyIsRefused) {
  for (const std::string& bad : {std::string(kGarbageCert), std::string("not a certificate\n"),
                                 std::string(), Read(pki_.key()),
                                 Read(pki_.ca()) + kGarbageCert}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(CountCertificates(bad).status().code(), absl::StatusCode::kInvalidArgument);
  }
  for (const std::string& bad : {std::string(kGarbageKey), Read(pki_.cert()), std::string()}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(CheckPrivateKey(bad).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(CheckKeyPair(Read(pki_.cert()), Read(other_.key())).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TlsFilesTest, TheHubDoesNotServeWithACertificateOrKeyOfGarbage) {
  Write(dir_.File("garbage.crt"), kGarbageCert);
  Write(dir_.File("garbage.key"), kGarbageKey);
  const struct {
    std::string cert, key, what;
  } cases[] = {
      {dir_.File("garbage.crt"), pki_.key(), "garbage.crt holds no valid certificate"},
      {pki_.cert(), dir_.File("garbage.key"), "garbage.key holds no valid private key"},
      {pki_.cert(), other_.key(), "is not the key of its certificate"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    hub::ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.tls_cert = c.cert;
    o.tls_key = c.key;
    auto server = hub::StartServer(o, nullptr);
    ASSERT_FALSE(server.ok()) << "the hub listened with a bad certificate or key";
    EXPECT_THAT(std::string(server.status().message()), HasSubstr(c.what));
  }
}

TEST_F(TlsFilesTest, ANodeRefusesACaFileOfGarbageBeforeAnyConnection) {
  Write(dir_.File("garbage-ca.pem"), kGarbageCert);
  node::ClientOptions o;
  o.address = "127.0.0.1:1";
  o.ca_file = dir_.File("garbage-ca.pem");
  auto t = node::GrpcTransport::Create(o);
  ASSERT_FALSE(t.ok()) << "a CA file of garbage was taken";
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("garbage-ca.pem holds no valid certificate"));
  o.ca_file = pki_.ca();
  EXPECT_TRUE(node::GrpcTransport::Create(o).ok());
}

}  // namespace
}  // namespace fieldsync::wire
