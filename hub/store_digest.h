// A digest of what a hub's storage answers through its reads (HubReadTxn,
// hub/storage.h), part by part: two stores that answer every read the same
// for the same keys have equal digests, whatever keeps the data. What
// `fieldhub migrate --to` checks after copying hub.db into PostgreSQL
// (docs/POSTGRES.md, "Moving a hub.db to PostgreSQL"), before it commits;
// the tests compare two stores with it too.
#ifndef FIELDSYNC_HUB_STORE_DIGEST_H_
#define FIELDSYNC_HUB_STORE_DIGEST_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "hub/storage.h"

namespace fieldsync::hub {

// What to read that the reads cannot list themselves: every row held (table
// and id, live or deleted) and every province registered. The devices are
// the registry's (HubReadTxn::Registry).
struct HubDigestKeys {
  std::vector<std::pair<std::string, RowId>> rows;
  std::vector<std::string> provinces;
};

// One part of the digest: its name ("log", "keys", "registry", "chains",
// "statements", "checkpoints", "rows", "scope", "collection") and the
// BLAKE2b-256 of what its reads answered, in order.
struct HubDigestPart {
  std::string name;
  std::string hash;
  friend bool operator==(const HubDigestPart& a, const HubDigestPart& b) {
    return a.name == b.name && a.hash == b.hash;
  }
};

// Every read of `hub` for `keys`:
// - log: the head, every entry (position, author, seq, body, signature),
//   the log chain's head and the hash of every position;
// - keys: the key head, every record after 0, what each seq up to the head
//   holds (an erased record's mark included);
// - registry: every device with its keys, office, name and revocation; its
//   commits held and key records signed;
// - chains: each device's chain head, entries and refused entries;
// - statements: every statement of the provinces; each one's partners;
// - checkpoints: each province's newest, its leaves and rows;
// - rows: each row's whole state (fields, versions, conflict records) and
//   scope entry;
// - scope: each table's scope rows, each province's log entries under its
//   keys (and the shared directory's), grants, the person-case links, the
//   contacts made public, the older rule's last position;
// - collection: the collection's horizon and epoch, the rows collected,
//   each province's share of them.
absl::StatusOr<std::vector<HubDigestPart>> DigestHub(HubReadTxn& hub, const HubDigestKeys& keys);

// The names of the parts in which `a` and `b` differ, comma-separated ("" if
// none).
std::string DifferingParts(const std::vector<HubDigestPart>& a,
                           const std::vector<HubDigestPart>& b);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_STORE_DIGEST_H_
