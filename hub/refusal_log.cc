#include "hub/refusal_log.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "hub/serve_log.h"

namespace fieldsync::hub {

std::string RefusalKind(std::string_view line) {
  std::string kind(line);
  // "push node=X refused commit N (CODE): reason": one kind for every
  // commit of the node refused with that code, whatever its seq and reason
  // (attack review 22, LOW 3: a kind per commit left an enrolled laptop's
  // refused commits unlimited, each one a key of its own).
  constexpr std::string_view kCommit = " refused commit ";
  const size_t at = line.find(kCommit);
  const size_t open = at == std::string_view::npos ? at : line.find(" (", at + kCommit.size());
  const size_t close = open == std::string_view::npos ? open : line.find(')', open);
  if (close != std::string_view::npos) {
    // The seq left out: "push node=X refused commit (CODE)".
    kind.assign(line.substr(0, at + kCommit.size()));
    kind.append(line.substr(open + 1, close - open));
  } else if (const size_t first = line.find(": "); first != std::string_view::npos) {
    // Up to the status code after the first ": " ("hello refused:
    // UNAUTHENTICATED"), or to the first ": " when none follows it (a
    // statement's refusal: "statement refused node=X: <message>"): never
    // the message, whose words vary.
    const size_t second = line.find(": ", first + 2);
    const std::string_view code =
        line.substr(first + 2, second == std::string_view::npos ? std::string_view::npos
                                                                : second - first - 2);
    const bool is_code =
        !code.empty() && std::all_of(code.begin(), code.end(),
                                     [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; });
    kind = line.substr(0, is_code ? first + 2 + code.size() : first);
  }
  if (kind.size() > kMaxRefusalKindBytes) {
    size_t end = kMaxRefusalKindBytes;
    while (end > 0 && (static_cast<unsigned char>(kind[end]) & 0xC0) == 0x80) --end;
    kind.resize(end);
  }
  return kind;
}

namespace {

// "ipv6:[HOST]" (or gRPC's URI form, "ipv6:%5BHOST%5D") as the /64 it is
// in: one client holds a /64 (RFC 6177), and would otherwise be 2^64 peers.
std::optional<std::string> Ipv6Network(std::string_view peer) {
  constexpr std::string_view kScheme = "ipv6:";
  if (peer.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  std::string host(peer.substr(kScheme.size()));
  if (absl::StartsWith(host, "%5B") && absl::EndsWith(host, "%5D")) {
    host = host.substr(3, host.size() - 6);
  } else if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  } else {
    return std::nullopt;
  }
  if (const size_t zone = host.find('%'); zone != std::string::npos) host.resize(zone);
  in6_addr a{};
  if (inet_pton(AF_INET6, host.c_str(), &a) != 1) return std::nullopt;
  // An IPv4 client of a dual-stack socket (::ffff:a.b.c.d) is that IPv4
  // address, not the /64 every such client shares.
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    char v4[INET_ADDRSTRLEN] = {};
    if (inet_ntop(AF_INET, a.s6_addr + 12, v4, sizeof v4) == nullptr) return std::nullopt;
    return absl::StrCat("ipv4:", v4);
  }
  std::fill(a.s6_addr + 8, a.s6_addr + 16, 0);
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(AF_INET6, &a, text, sizeof text) == nullptr) return std::nullopt;
  return absl::StrCat("ipv6:[", text, "]/64");
}

}  // namespace

std::string PeerAddress(std::string_view grpc_peer) {
  const size_t colon = grpc_peer.rfind(':');
  // "ipv4:HOST:PORT" and "ipv6:[HOST]:PORT": a port after the last colon
  // (and not the "ipv4:" or "unix:" scheme itself).
  if (colon == std::string_view::npos || colon + 1 == grpc_peer.size() ||
      grpc_peer.find(':') == colon) {
    return std::string(grpc_peer);
  }
  for (char c : grpc_peer.substr(colon + 1)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::string(grpc_peer);
  }
  std::string_view address = grpc_peer.substr(0, colon);
  if (std::optional<std::string> net = Ipv6Network(address)) return *std::move(net);
  return std::string(address);
}

bool RefusalLimiter::Admit(std::string_view kind, std::string_view peer, absl::Time now) {
  absl::MutexLock l(&mu_);
  std::pair<std::string, std::string> key{std::string(kind), std::string(peer)};
  auto it = windows_.find(key);
  if (it == windows_.end()) {
    // Bounded twice: kinds past kMaxRefusalKinds share one, and a kind's
    // peers past kMaxRefusalPeers share one count; a flood of one kind
    // from many peers never takes another kind's room (attack review 22,
    // LOW 3).
    if (!peers_.contains(key.first) && peers_.size() >= kMaxRefusalKinds) {
      key.first = "(other kinds)";
    }
    size_t& peers = peers_[key.first];
    if (peers >= kMaxRefusalPeers) key.second = "(other peers)";
    it = windows_.find(key);
    if (it == windows_.end()) {
      it = windows_.try_emplace(std::move(key), Window{now, 0, 0}).first;
      ++peers;
    }
  }
  Window& w = it->second;
  if (w.written < kRefusalLinesPerWindow) {
    ++w.written;
    return true;
  }
  ++w.suppressed;
  return false;
}

std::vector<std::string> RefusalLimiter::Due(absl::Time now, bool all) {
  std::vector<std::string> lines;
  absl::MutexLock l(&mu_);
  // A look at most once a second, not at every refusal of a flood.
  if (!all && now < next_look_) return lines;
  next_look_ = now + absl::Seconds(1);
  for (auto it = windows_.begin(); it != windows_.end();) {
    const Window& w = it->second;
    if (!all && now - w.start < kRefusalWindow) {
      ++it;
      continue;
    }
    if (w.suppressed > 0) {
      lines.push_back(absl::StrCat(
          w.suppressed, " more like this suppressed in the last ",
          absl::ToInt64Seconds(std::max(now - w.start, absl::Seconds(1))), " s: ", it->first.first,
          " from ", it->first.second));
    }
    if (auto p = peers_.find(it->first.first); p != peers_.end() && --p->second == 0) {
      peers_.erase(p);
    }
    it = windows_.erase(it);
  }
  return lines;
}

namespace {

RefusalLimiter& Limiter() {
  static RefusalLimiter* limiter = new RefusalLimiter();
  return *limiter;
}

}  // namespace

void LogRefusal(std::string_view line, std::string_view peer, absl::Time now) {
  if (Limiter().Admit(RefusalKind(line), peer, now)) ServeLog(LogPriority::kWarning, line);
  LogRefusalSummaries(false, now);
}

void LogRefusalSummaries(bool all, absl::Time now) {
  for (const std::string& s : Limiter().Due(now, all)) ServeLog(LogPriority::kWarning, s);
}

}  // namespace fieldsync::hub
