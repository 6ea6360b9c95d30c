// The HOST:PORT addresses the programs take (`fieldnode enroll --hub`,
// `fieldhub serve --listen`), parsed, and the loopback check that allows
// plain-text gRPC (`--insecure`) on this machine only (docs/PROTOCOL.md,
// "Credentials"). Shared by node/ and hub/, so that both refuse the same
// addresses.
#ifndef FIELDSYNC_PROTO_ADDRESS_H_
#define FIELDSYNC_PROTO_ADDRESS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace fieldsync::wire {

struct HostPort {
  std::string host;  // without the brackets of an IPv6 literal
  int port = 0;      // 0..65535 (0: any free port, for a listening address)
};

// "HOST:PORT" or "[IPV6]:PORT", PORT 0..65535 in decimal. INVALID_ARGUMENT,
// saying what is wrong, for anything else: no port, an empty host, an IPv6
// literal without brackets ("::1:7443" is ambiguous) or brackets around
// anything else ("[127.0.0.1]:7443"), a gRPC target with a scheme
// ("dns:///h:1", "unix:/path").
absl::StatusOr<HostPort> ParseHostPort(std::string_view address);

// The addresses of one hub, "A,B,..." (`fieldnode enroll --hub A,B`, hub.conf's
// `hub = `): several hub processes on one store, tried in this order (node/
// hub_links.h). Each must be a HOST:PORT of ParseHostPort (no port 0), none
// twice, at most kMaxHubAddresses; INVALID_ARGUMENT saying which is wrong.
// One address is a list of one.
inline constexpr size_t kMaxHubAddresses = 8;
absl::StatusOr<std::vector<std::string>> SplitHubAddresses(std::string_view list);

// Whether a parsed host is this machine, from its spelling alone (no name is
// resolved): an IPv4 literal of 127.0.0.0/8 in the four-part dotted form
// inet_pton(3) accepts, the IPv6 loopback ::1 (any spelling of it), or the
// name "localhost" exactly. Refused: every other name, whatever it starts
// or ends with ("127.evil.example", "127.0.0.1.evil", "localhost.evil.example",
// "localhost."), the shorthands inet_aton(3) would take ("127.1",
// "2130706433", "0177.0.0.1"), IPv4-mapped IPv6 (::ffff:127.0.0.1), and
// IPv6 zone ids.
bool IsLoopbackHost(std::string_view host);

// ParseHostPort and IsLoopbackHost: false for an address that does not parse.
bool IsLoopbackAddress(std::string_view address);

}  // namespace fieldsync::wire

#endif  // FIELDSYNC_PROTO_ADDRESS_H_
