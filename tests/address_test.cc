// HOST:PORT parsing and the loopback check behind --insecure
// (proto/address.h): a table of addresses, each with the answer it must get.
#include "proto/address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fieldsync::wire {
namespace {

using ::testing::HasSubstr;

struct Case {
  const char* address;
  bool loopback;
};

// What plain text is allowed to: this machine, spelled as an address.
constexpr Case kLoopback[] = {
    {"127.0.0.1:7443", true},
    {"127.0.0.1:0", true},  // a listening address: any free port
    {"127.1.2.3:7443", true},
    {"127.255.255.255:65535", true},
    {"localhost:7443", true},
    {"[::1]:7443", true},
    {"[0:0:0:0:0:0:0:1]:7443", true},  // ::1 written out
};

// What it is refused to: other machines, names that only look local, and
// anything not parsed exactly.
constexpr Case kNotLoopback[] = {
    {"127.evil.example:7443", false},  // the string-prefix hole of issue 11
    {"127.0.0.1.evil:7443", false},
    {"127.0.0.1.nip.io:7443", false},
    {"localhost.evil.example:7443", false},
    {"evil-localhost:7443", false},
    {"localhost.:7443", false},
    {"LOCALHOST:7443", false},  // "localhost" exactly
    {"127.1:7443", false},       // inet_aton shorthand: refused, write 127.0.0.1
    {"2130706433:7443", false},  // 127.0.0.1 as one number
    {"0177.0.0.1:7443", false},  // octal
    {"127.0.0.01:7443", false},  // a leading zero
    {"127.0.0.1 :7443", false},
    {" 127.0.0.1:7443", false},
    {"128.0.0.1:7443", false},
    {"10.1.2.3:7443", false},
    {"0.0.0.0:7443", false},
    {"hub.example.org:7443", false},
    {"[::]:7443", false},
    {"[::2]:7443", false},
    {"[::ffff:127.0.0.1]:7443", false},  // IPv4-mapped: refused, use 127.0.0.1
    {"[::1%lo]:7443", false},            // a zone id
    {"[127.0.0.1]:7443", false},         // brackets are for IPv6
    {"::1:7443", false},                 // IPv6 without brackets is ambiguous
    {"[::1]", false},                    // no port
    {"[::1]7443", false},
    {"[::1:7443", false},
    {"127.0.0.1", false},
    {"127.0.0.1:", false},
    {"127.0.0.1:65536", false},
    {"127.0.0.1:123456", false},
    {"127.0.0.1:-1", false},
    {"127.0.0.1:http", false},
    {"127.0.0.1:7443:1", false},
    {":7443", false},
    {"", false},
    {"dns:///127.0.0.1:7443", false},  // gRPC target schemes are not addresses
    {"ipv4:127.0.0.1:7443", false},
    {"unix:/tmp/hub.sock", false},
};

TEST(AddressTest, LoopbackAddressesAreAllowed) {
  for (const Case& c : kLoopback) EXPECT_TRUE(IsLoopbackAddress(c.address)) << c.address;
}

TEST(AddressTest, EverythingElseIsRefused) {
  for (const Case& c : kNotLoopback) EXPECT_FALSE(IsLoopbackAddress(c.address)) << c.address;
  // A NUL cannot cut a name short into a loopback one.
  EXPECT_FALSE(IsLoopbackAddress(std::string("127.0.0.1\0.evil:7443", 20)));
  EXPECT_FALSE(IsLoopbackHost(std::string("localhost\0.evil", 15)));
}

TEST(AddressTest, ParsesHostAndPort) {
  auto a = ParseHostPort("hub.example.org:7443");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "hub.example.org");
  EXPECT_EQ(a->port, 7443);
  auto b = ParseHostPort("[::1]:0");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
}

TEST(AddressTest, AnAddressThatDoesNotParseSaysWhy) {
  const struct {
    const char* address;
    const char* why;
  } kBad[] = {
      {"hub.example.org", "has no port"},
      {"::1:7443", "more than one ':'"},
      {"[::1]7443", "no :PORT after the bracket"},
      {"[::1:7443", "does not close"},
      {"hub:70000", "over 65535"},
      {"hub:http", "not a number"},
      {":7443", "empty host"},
      {"[]:7443", "other than an IPv6 address"},
      {"[127.0.0.1]:7443", "other than an IPv6 address"},
  };
  for (const auto& c : kBad) {
    auto hp = ParseHostPort(c.address);
    ASSERT_FALSE(hp.ok()) << c.address;
    EXPECT_EQ(hp.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(hp.status().message()), HasSubstr(c.why)) << c.address;
    EXPECT_THAT(std::string(hp.status().message()), HasSubstr("HOST:PORT"));
  }
}

TEST(AddressTest, SeveralAddressesOfOneHubSplitInTheirOrder) {
  auto one = SplitHubAddresses("hub.example.org:7443");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(*one, std::vector<std::string>{"hub.example.org:7443"});
  auto three = SplitHubAddresses("hub2.example.org:7443,[::1]:7443,127.0.0.1:9");
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(*three, (std::vector<std::string>{"hub2.example.org:7443", "[::1]:7443",
                                              "127.0.0.1:9"}));
}

TEST(AddressTest, AListOfHubAddressesThatDoesNotParseSaysWhy) {
  const struct {
    const char* list;
    const char* why;
  } kBad[] = {
      {"", "empty one"},
      {"a:1,", "empty one"},
      {",a:1", "empty one"},
      {"a:1,,b:2", "empty one"},
      {"a:1, b:2", "space"},
      {"a:1,b", "has no port"},
      {"a:1,b:70000", "over 65535"},
      {"a:1,b:0", "port 0"},
      {"a:1,b:2,a:1", "twice"},
      {"a:1,a:2,a:3,a:4,a:5,a:6,a:7,a:8,a:9", "more than 8"},
  };
  for (const auto& c : kBad) {
    auto list = SplitHubAddresses(c.list);
    ASSERT_FALSE(list.ok()) << c.list;
    EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(list.status().message()), HasSubstr(c.why)) << c.list;
  }
}

}  // namespace
}  // namespace fieldsync::wire
