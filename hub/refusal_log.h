// The hub's refusal lines, limited (attack review 21, LOW 4): anyone can
// make a call the hub refuses (a Hello of an unknown protocol needs no
// credential), and journald drops every line of a service past its rate
// limit (10000 lines in 30 s by default), the refusals of real laptops and
// "stopping" among them. So at most kRefusalLinesPerWindow lines of one kind
// ("hello refused: UNAUTHENTICATED", the call, node and code of the line)
// from one peer (its address without the port, an IPv6 one's /64) are
// written per kRefusalWindow; the rest are counted, and once the window is
// over one line says how many: "N more like this suppressed in the last
// 60 s: KIND from PEER". A kind's peers past kMaxRefusalPeers in one window
// share one count, "(other peers)", and kinds past kMaxRefusalKinds one
// kind, "(other kinds)", so the memory held stays bounded and a flood of
// one kind never hides another's lines.
#ifndef FIELDSYNC_HUB_REFUSAL_LOG_H_
#define FIELDSYNC_HUB_REFUSAL_LOG_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fieldsync::hub {

inline constexpr int kRefusalLinesPerWindow = 10;
inline constexpr absl::Duration kRefusalWindow = absl::Seconds(60);
// Peers counted apart, a kind; kinds counted apart.
inline constexpr size_t kMaxRefusalPeers = 256;
inline constexpr size_t kMaxRefusalKinds = 1024;
inline constexpr size_t kMaxRefusalKindBytes = 96;

// The kind of a refusal line, never its message: the text up to the
// second ": " (the call, "refused", the node if named, and the status
// code), or to the first if there is no second; for a refused commit
// ("push node=X refused commit N (CODE): …") the node and the code
// without the seq. At most kMaxRefusalKindBytes, cut at a character.
std::string RefusalKind(std::string_view line);

// gRPC's peer ("ipv4:10.0.0.7:51234", "ipv6:[::1]:51234") without its port:
// a client opening a new connection a call is the same peer. An IPv6
// address is its /64 ("ipv6:[2001:db8:1:2::]/64"): one client holds one.
std::string PeerAddress(std::string_view grpc_peer);

// Which refusal lines to write. Thread-safe.
class RefusalLimiter {
 public:
  // Whether the line of this kind from this peer is written now; if not,
  // it is counted for a summary.
  bool Admit(std::string_view kind, std::string_view peer, absl::Time now);
  // The summary lines of the windows over by `now` (all of them if `all`,
  // as when the hub stops), each counted once.
  std::vector<std::string> Due(absl::Time now, bool all = false);

 private:
  struct Window {
    absl::Time start;
    int64_t written = 0;
    int64_t suppressed = 0;
  };
  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, Window> windows_ ABSL_GUARDED_BY(mu_);
  // Windows open a kind.
  std::map<std::string, size_t, std::less<>> peers_ ABSL_GUARDED_BY(mu_);
  absl::Time next_look_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// The hub process's limiter over ServeLog (hub/serve_log.h): writes `line`
// as a warning unless limited, then any summary due.
void LogRefusal(std::string_view line, std::string_view peer, absl::Time now = absl::Now());
// Writes the summaries due (all of them if `all`): serve calls it now and
// then, and when it stops.
void LogRefusalSummaries(bool all = false, absl::Time now = absl::Now());

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_REFUSAL_LOG_H_
