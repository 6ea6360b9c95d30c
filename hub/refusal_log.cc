#include "hub/refusal_log.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "hub/serve_log.h"

namespace fieldsync::hub {

std::string_view RefusalKind(std::string_view line) {
  const size_t first = line.find(": ");
  if (first == std::string_view::npos) return line;
  const size_t second = line.find(": ", first + 2);
  return second == std::string_view::npos ? line : line.substr(0, second);
}

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
  return std::string(grpc_peer.substr(0, colon));
}

bool RefusalLimiter::Admit(std::string_view kind, std::string_view peer, absl::Time now) {
  absl::MutexLock l(&mu_);
  std::pair<std::string, std::string> key{std::string(kind), std::string(peer)};
  auto it = windows_.find(key);
  if (it == windows_.end()) {
    if (windows_.size() >= kMaxRefusalPeers) key.second = "(other peers)";
    it = windows_.try_emplace(std::move(key), Window{now, 0, 0}).first;
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
