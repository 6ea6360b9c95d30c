// The name of a relay cursor (sync/relay.h): `hub:relay:<device>` holds the
// seq of `device`'s commits the hub holds, as the hub said when its log
// went back (PullChunk.held_heads) and as the relay has moved it since, or
// -1 once nothing more of it is relayed. The replica reads them too: a
// reset or rows installed whole lack that author's commits after it, which
// this laptop holds (Replica::ApplyPulled merges them again).
#ifndef FIELDSYNC_STORE_RELAY_CURSOR_H_
#define FIELDSYNC_STORE_RELAY_CURSOR_H_

namespace fieldsync {

inline constexpr char kRelayCursorPrefix[] = "hub:relay:";

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_RELAY_CURSOR_H_
