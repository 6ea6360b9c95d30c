// Rows installed whole outside a bootstrap (a case newly visible to this
// office through a referral) checked against the commits that wrote them
// (docs/PROTOCOL.md, "Newly visible rows"; issue 11 point 3).
//
// With such rows the hub sends, as `witnesses`, the commit behind every
// version they hold (fields and open conflict records), each trimmed to the
// installed rows and signed by its author over the whole commit
// (crypto/commit_signature.h: the digests of the changes left out come
// with it). A row is witnessed when, for every version it holds, a witness
// verified against its author's registered key wrote that very value, with
// that base, to that row and column. It then decides as signed commits
// would (Replica::RowVouched). A row a verified witness contradicts (the
// version is real, the value or base the hub paired with it is not) was
// forged by the hub: reported, installed as served, and never vouched for.
// A row with a version no witness covers (a hub that withheld it, or a
// commit stored unsigned) is installed as served, not vouched for. A row
// a message holds more than once is witnessed only if every copy is (the
// last is the one installed).
//
// A row whose owner is a column of its own (a case's `province`) decides
// who owns it: it is witnessed only if its owner's history is too. With
// it the hub sends the commits of the versions its owner and its `_live`
// replaced, back to the row's creation (the commit whose `_live` write
// has no base); each owner must have been written by a member of the office
// owning the row before it (the first by a member of the office it names,
// in the creation), and the row is created once: no version it holds (or
// replaced) is older than its creation, and no other witness wrote its
// `_live` with no base. Without this a device of another office could sign a write of
// the owner as its own office, over the owner's version or as if it were
// the creation, then refer the case: each row witnessed, the case taken as
// that office's.
#ifndef FIELDSYNC_SYNC_ROW_WITNESS_H_
#define FIELDSYNC_SYNC_ROW_WITNESS_H_

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "schema/schema.h"
#include "store/replica.h"
#include "sync/messages.h"

namespace fieldsync::sync {

struct WitnessCheck {
  std::set<std::pair<std::string, RowId>> witnessed;
  // A line per row a verified witness contradicts.
  std::vector<std::string> forged;
  // The device whose signed commit each contradicted row names (as the
  // evidence's subject), in the order of `forged`.
  std::vector<DeviceId> named;
  size_t unverified = 0;  // rows a version of which no witness covers
  // A line per row whose owner's history is not witnessed or was written
  // by an office that did not own it then (counted in `unverified`).
  std::vector<std::string> owner_doubted;
};

// The Ed25519 key of a registered device; empty if unknown here.
using SignKeyOf = std::function<std::string(const DeviceId&)>;

// Whether `device` is (or was) a member of office `office`, by the
// office's approval chain.
using MemberOf = std::function<bool(const std::string& office, const DeviceId& device)>;

WitnessCheck CheckWitnesses(const std::vector<RowSnapshot>& rows,
                            const std::vector<PulledEntry>& witnesses, const SignKeyOf& key_of,
                            const Schema& schema, const MemberOf& member);

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_ROW_WITNESS_H_
