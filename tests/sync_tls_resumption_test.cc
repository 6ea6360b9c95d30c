// TLS session resumption between a laptop and its hub (issue 13,
// "Performance"; node/tls_sessions.h): a link that cuts every connection
// after 20 KB pays a handshake at every connection, and a resumed one does
// not carry the hub's certificate again. Seen in the bytes the cutting
// proxy reads from the TLS record headers (CuttingProxy::Connections), not
// assumed. And a resumed session must not stand in for checking the hub
// against the CA a channel is pinned to.
#include <gtest/gtest.h>

#include "node/client.h"
#include "support/sync_fixture.h"
#include "tools/lib/cutting_proxy.h"

namespace fieldsync::testing {
namespace {

class TlsResumptionTest : public SyncProcessTest {};

// The hub's certificate from tools/make-certs (EC P-256) is some 450 bytes:
// a second connection's handshake from the hub must be smaller by more
// than this margin, else it carried the certificate again.
constexpr uint64_t kCertificateMargin = 300;

TEST_F(TlsResumptionTest, ANewConnectionResumesTheSessionWithoutTheHubsCertificate) {
  auto& n = AddNode("LC");
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  const std::string address = absl::StrCat("localhost:", proxy.port());
  ASSERT_TRUE(n.Connect(address).ok());
  MustSync(n);
  // A new channel, as after a failed pass (GrpcTransport::Reset): a new
  // connection, a new handshake.
  ASSERT_TRUE(n.Connect(address).ok());
  MustSync(n);

  const std::vector<ConnectionBytes> conns = proxy.Connections();
  ASSERT_GE(conns.size(), 2u);
  ASSERT_GT(conns[0].handshake_down, 0u) << "no TLS handshake seen on the first connection";
  ASSERT_GT(conns[1].handshake_down, 0u) << "no TLS handshake seen on the second connection";
  EXPECT_LT(conns[1].handshake_down + kCertificateMargin, conns[0].handshake_down)
      << "the second connection's handshake from the hub (" << conns[1].handshake_down
      << " bytes) is not smaller than the first's (" << conns[0].handshake_down
      << " bytes) by a certificate: the session was not resumed";
}

// A session made by a channel that checked the hub against its CA is not
// offered by a channel pinned to another CA for the same address: that one
// makes a full handshake and refuses the hub's certificate, as it would
// with no session at hand.
TEST_F(TlsResumptionTest, AChannelPinnedToAnotherCaDoesNotResumeTheSession) {
  auto& n = AddNode("LC");
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  const std::string address = absl::StrCat("localhost:", proxy.port());
  ASSERT_TRUE(n.Connect(address).ok());
  MustSync(n);  // a session for `address`, under the hub's own CA

  TempDir other;
  absl::StatusOr<harness::Pki> stranger = harness::MakePki(other.File("tls"));
  ASSERT_TRUE(stranger.ok()) << stranger.status();
  node::ClientOptions o;
  o.address = address;
  o.ca_file = stranger->ca();
  absl::StatusOr<std::unique_ptr<node::SyncClient>> c = node::SyncClient::Create(o);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<node::HelloInfo> h = (*c)->Hello(nullptr);
  ASSERT_FALSE(h.ok()) << "a channel pinned to another CA reached the hub (a resumed session?)";
  EXPECT_EQ(h.status().code(), absl::StatusCode::kUnavailable) << h.status();
  EXPECT_NE(h.status().message().find("certificate was not accepted"), std::string::npos) << h.status();
}

}  // namespace
}  // namespace fieldsync::testing
