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
// The hub's collection epoch (PullChunk.gc_epoch) of the message that last
// gave held_heads: the relay cursors are the hub's word at that collection.
// Rows of a bootstrap served at another have been through a collection
// since, which may have taken a row created by a commit after a cursor
// (the hub held it since, and it was deleted): they are not rebuilt from
// that word (Replica::ApplyPulled).
inline constexpr char kRelayGcEpochCursor[] = "hub:relay_gc_epoch";
// How many of those commits the last rebuild could not merge again
// (damaged, invalid, or refused by the key ring): said once by the pull,
// which then drops it.
inline constexpr char kRelayUnmergedCursor[] = "hub:relay_unmerged";

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_RELAY_CURSOR_H_
