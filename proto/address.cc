#include "proto/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace fieldsync::wire {

absl::StatusOr<HostPort> ParseHostPort(std::string_view address) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("address \"", AV(Printable(address)),
                                                   "\" ", AV(why),
                                                   "; use HOST:PORT, e.g. hub.example.org:7443 "
                                                   "or [::1]:7443"));
  };
  HostPort hp;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close == std::string_view::npos) return bad("opens a bracket it does not close");
    hp.host = std::string(address.substr(1, close - 1));
    const std::string_view rest = address.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return bad("has no :PORT after the bracket");
    port = rest.substr(1);
    if (hp.host.find(':') == std::string::npos) {
      return bad("has brackets around something other than an IPv6 address");
    }
  } else {
    const size_t colon = address.find(':');
    if (colon == std::string_view::npos) return bad("has no port");
    if (address.find(':', colon + 1) != std::string_view::npos) {
      return bad("has more than one ':' (an IPv6 address goes in brackets; no scheme)");
    }
    hp.host = std::string(address.substr(0, colon));
    port = address.substr(colon + 1);
    if (hp.host.empty()) return bad("has an empty host");
  }
  if (port.empty() || port.size() > 5) return bad("has no port of 0 to 65535");
  for (char c : port) {
    if (c < '0' || c > '9') return bad("has a port that is not a number");
    hp.port = hp.port * 10 + (c - '0');
  }
  if (hp.port > 65535) return bad("has a port over 65535");
  return hp;
}

absl::StatusOr<std::vector<std::string>> SplitHubAddresses(std::string_view list) {
  std::vector<std::string> out;
  size_t from = 0;
  while (true) {
    const size_t comma = list.find(',', from);
    const std::string_view one =
        list.substr(from, comma == std::string_view::npos ? std::string_view::npos : comma - from);
    if (one.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the hub's addresses \"", AV(Printable(list)), "\" have an empty one; write "
          "HOST:PORT,HOST:PORT with no space, e.g. hub1.example.org:7443,hub2.example.org:7443"));
    }
    if (one.find_first_of(" \t") != std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the hub's addresses \"", AV(Printable(list)), "\" hold a space; write "
          "HOST:PORT,HOST:PORT with no space"));
    }
    absl::StatusOr<HostPort> hp = ParseHostPort(one);
    if (!hp.ok()) return hp.status();
    if (hp->port == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "address \"", AV(Printable(one)), "\" has port 0, which no hub listens on"));
    }
    for (const std::string& seen : out) {
      if (seen == one) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the hub's addresses name \"", AV(Printable(one)), "\" twice"));
      }
    }
    out.emplace_back(one);
    if (out.size() > kMaxHubAddresses) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the hub's addresses are more than ", kMaxHubAddresses, "; give at most ",
          kMaxHubAddresses));
    }
    if (comma == std::string_view::npos) return out;
    from = comma + 1;
  }
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  // inet_pton needs a terminated string; a NUL inside makes it another host.
  if (host.find('\0') != std::string_view::npos) return false;
  const std::string h(host);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6) != 0;
  return false;
}

bool IsLoopbackAddress(std::string_view address) {
  absl::StatusOr<HostPort> hp = ParseHostPort(address);
  return hp.ok() && IsLoopbackHost(hp->host);
}

}  // namespace fieldsync::wire
