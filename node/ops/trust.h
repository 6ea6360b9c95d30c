// What the laptop's chain keeper holds (protocol version 3; sync/chain_keeper.h),
// for fieldnode status and fieldnode trust: commits of other laptops held
// back and the range the hub has not sent before them, the trust evidence
// on record (read or not), and a hub that went back to an older protocol
// version (sync/downgrade.h). Marking evidence read (an officer saw it)
// stops fieldnode sync's exit 5 for it; the evidence stays as history and
// the author it is against stays stopped.
#ifndef FIELDSYNC_NODE_OPS_TRUST_H_
#define FIELDSYNC_NODE_OPS_TRUST_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/keyring.h"
#include "store/replica.h"

namespace fieldsync::node::ops {

// The commits of one author that wait here.
struct HeldOfAuthor {
  DeviceId author;
  std::string name;          // "laptop 1a2b3c4d (LC)"
  size_t commits = 0;        // entries held
  uint64_t first = 0, last = 0;  // their seqs
  // The seqs the hub has not sent before them (none if they wait for
  // another reason: evidence against their author, a body the header does
  // not cover).
  uint64_t missing_from = 0, missing_to = 0;
  // The highest seq of their author the hub sent and this laptop refused
  // though the author signed it (0: none; sync/refused_gaps.h): the gap
  // they wait behind is asked for again.
  uint64_t refused_upto = 0;
};

struct EvidenceItem {
  int64_t id = 0;            // what fieldnode trust ack takes
  std::string kind;          // "fork", "withdrawn commit delivered", "hub downgrade"
  std::string about;         // the laptop, or the hub
  int64_t found_at_millis = 0;
  std::string what;          // the line the pass showed
  bool read = false;
};

struct ChainStatus {
  std::vector<HeldOfAuthor> held;
  std::vector<EvidenceItem> evidence;  // unread only, unless asked for all
  size_t unread = 0;
  int max_agreed = 0;     // the highest protocol version the hub agreed (0: 2 or never)
  int downgraded_to = 0;  // the version it agrees now, if less (0: no downgrade)
  std::string downgrade;  // the line that says it, or ""
  // Colleagues whose newest statement is over a week old; an office of one
  // laptop (sync/statement_keeper.h, StatementWarnings). Needs `keys`.
  std::vector<std::string> warnings;
  // How the rows installed at bootstrap were checked (docs/PROTOCOL.md,
  // "Checkpoints"): one line, "" before any bootstrap.
  std::string bootstrap;
};

// `keys` names the authors (province); may be null.
absl::StatusOr<ChainStatus> ReadChainStatus(Replica& replica, KeyRing* keys,
                                            bool all_evidence = false);

// Marks the evidence up to `up_to` (an id ReadChainStatus listed), or all
// of it, read; the number newly marked. A number that names no evidence is
// a request error (nothing changed).
absl::StatusOr<size_t> MarkEvidenceRead(Replica& replica, std::optional<int64_t> up_to);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_TRUST_H_
