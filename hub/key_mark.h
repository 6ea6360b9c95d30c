// The hub's mark of a key record (docs/PROTOCOL.md, "Key records at a seq
// the hub gave again"): with the key cursor it gives a node, the hub gives
// 64 bits of a hash of where the node got to, which the node sends back
// with that cursor. A hub restored from an older backup gives the seqs
// after the backup's end again (hub_keys' AUTOINCREMENT went back with the
// file), to other records -- or to the same record sent again, at another
// time: a node whose key cursor was past the backup's end would skip what
// is stored at those seqs. The record the hub holds at the node's cursor
// with another mark, or none there, and the hub sends its key records from
// the start (duplicates are the node's to skip, by id). A record erased
// keeps its mark (the hub keeps its seq, id and time stored: no bytes), so
// that one office's erasure does not send every key record again to the
// laptops of others whose cursors were there.
//
//   mark = first 8 bytes, big-endian, of
//          BLAKE2b-256("fieldsync hub key mark v1" 0x00 || hub id
//                      || u64be(seq) || record id || u64be(stored at, ms))
//          (1 where those are 0: 0 says "no mark")
//
// The time the hub stored the record tells a record sent again after a
// restore, stored at the same seq by chance, from the one the node saw
// there. Not a defence against a malicious hub (which chooses what it
// sends anyway): it tells the laptops of an honest hub what it lost.
#ifndef FIELDSYNC_HUB_KEY_MARK_H_
#define FIELDSYNC_HUB_KEY_MARK_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "hub/storage.h"

namespace fieldsync::hub {

uint64_t KeyMark(const DeviceId& hub_id, const StoredKeyRecord& k);

// Where key records are sent from to a node at `key_cursor` that kept
// `mark` with it: `key_cursor` when the node kept no mark (0: a node of an
// earlier build, or one that never pulled a record) or when the record
// there (or what its erasure left) has that mark; 0 otherwise (the seq was
// given again, or its record erased by a build that kept no mark: sent
// again from the start).
absl::StatusOr<int64_t> KeysFrom(HubReadTxn& hub, const DeviceId& hub_id, int64_t key_cursor,
                                 uint64_t mark);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_KEY_MARK_H_
