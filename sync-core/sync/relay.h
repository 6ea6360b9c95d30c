// Other devices' commits relayed to a hub that lost them (docs/PROTOCOL.md,
// "A hub put back from a backup"): when a pull finds that the hub's log went
// back, the hub names the authors this laptop tracks of whom it now holds
// less (PullChunk.held_heads); the laptop keeps, per author, a cursor of
// what the hub holds (`hub:relay:<device>`) and pushes the author's commits
// it holds after it -- whole, signed, with their headers, in seq order --
// in pushes of their own (PushRequest.relayed_author), which the hub checks
// as pushes by that author. A commit this laptop holds only in part, or
// without its header, ends the relay of that author: the author, or a
// laptop that holds it whole, sends the rest. So does a refusal for good of
// what is relayed (sync::PermanentRefusal, or a withdrawal the hub names in
// its refusals); any other failure keeps the cursor (tried again in the next
// round or pass), and a link failure ends the pass.
#ifndef FIELDSYNC_SYNC_RELAY_H_
#define FIELDSYNC_SYNC_RELAY_H_

#include <string>

#include "change/id.h"
#include "store/relay_cursor.h"

namespace fieldsync::sync {

using ::fieldsync::kRelayCursorPrefix;
inline constexpr char kRelayKeysCursorPrefix[] = "hub:relay_keys:";

// The cursor of what the hub holds of `author` (its acknowledged seq), or
// -1 once nothing more of it is relayed.
std::string RelayCursor(const DeviceId& author);
// The key records `author` signed are relayed too, all of them (the hub
// keeps one copy of each): the cursor is the local order of the last one
// relayed (KeyRing::RecordsSignedBy), -1 once done.
std::string RelayKeysCursor(const DeviceId& author);

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_RELAY_H_
