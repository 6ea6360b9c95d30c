// fieldsync-bench-sync's bad-link phase (issue 13, "Performance"): a new
// laptop's bootstrap and a laptop's push of new cases, each through the
// project's loopback proxy (tools/lib/cutting_proxy.h) on three links -- a
// clean one, one that drops every connection after 20 KB (TLS handshake
// included), and a slow one (256 kbit/s each way, 150 ms each way) -- with
// all bytes the link carried (both directions, handshakes included), the
// connections opened, the tries, and the time; the clean link is the
// baseline of the same run. Crypto on only (the product).
#ifndef FIELDSYNC_TOOLS_BENCH_SYNC_LINKS_H_
#define FIELDSYNC_TOOLS_BENCH_SYNC_LINKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/bench/sync/hubs_nodes.h"
#include "tools/bench/sync/settings.h"

namespace fieldsync::bench_sync {

// The province of the bad-link phase (so that no other phase's node
// bootstraps its cases).
inline constexpr char kLinkProvince[] = "YB";

// A link of the phase.
struct Link {
  const char* name;
  uint64_t connection_limit = 0;  // bytes per connection, both ways; 0: none
  uint64_t rate = 0;              // bytes a second each way; 0: none
  int delay_millis = 0;           // each way
};

// One transfer (a bootstrap or a push) over one link.
struct LinkRun {
  std::string link;
  bool complete = false;  // every case arrived
  double seconds = 0;     // from the first try to the end of the last
  uint64_t bytes = 0;     // both directions, every connection
  int connections = 0;    // opened through the proxy
  int tries = 0;          // sync passes, the last one complete (if complete)
  int idle_tries = 0;     // passes after which no more cases were held
  int64_t cases = 0;      // cases held at the end (of the wanted number)
  // Where the bytes went: the TLS handshakes of all connections (as the
  // proxy reads them: CuttingProxy::Connections), those of them that
  // carried no certificate (a resumed session), and a pass with nothing
  // left to do over the connection the transfer left open (hello and an
  // empty pull: what every try costs besides its handshake).
  uint64_t handshake_bytes = 0;
  int resumed = 0;
  uint64_t idle_pass_bytes = 0;
};

struct LinkResults {
  int64_t cases = 0;    // bootstrapped
  int64_t commits = 0;  // pushed
  std::vector<LinkRun> bootstrap;
  // The same cases bootstrapped from the office's checkpoint in verified
  // pages (a member's, as an office with a member has every day), over the
  // clean and the cutting link.
  std::vector<LinkRun> bootstrap_verified;
  std::vector<LinkRun> push;
};

// Runs the phase against `hub` (crypto on), which must serve kLinkProvince.
absl::StatusOr<LinkResults> Links(const Settings& s, const std::string& dir, HubProcess& hub);

// The phase's table: each link against the clean one.
void PrintLinks(const LinkResults& r);

}  // namespace fieldsync::bench_sync

#endif  // FIELDSYNC_TOOLS_BENCH_SYNC_LINKS_H_
