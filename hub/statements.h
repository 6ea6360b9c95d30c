// The hub's side of the laptops' signed statements of what they have seen
// (protocol version 3; docs/PROTOCOL.md, "Statements"; crypto/statement.h).
// The hub keeps the newest statement of each laptop and relays it to the
// laptop's office colleagues and to its office's referral partners. It
// checks what it can (the format, that the caller signed it, its province,
// this hub), but it is not trusted for any of it: each laptop verifies a
// statement against the keys its own membership records pinned. A hub can
// withhold statements; laptops say so when a colleague's is a week old.
#ifndef FIELDSYNC_HUB_STATEMENTS_H_
#define FIELDSYNC_HUB_STATEMENTS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hub/storage.h"
#include "hub/store.h"

namespace fieldsync::hub {

// A statement `node` pushed, checked and ready to keep. INVALID_ARGUMENT
// (one line) for a malformed one, one signed by another device or not by
// the caller's registered key, of another province or another hub, or made
// more than tuning::kDefaultMaxClockSkewMillis after `now_millis` (the
// hub's clock): kept, it would stand above the laptop's later statements
// until that date, while every laptop refuses it (made in the future).
absl::StatusOr<StoredStatement> CheckPushedStatement(const NodeInfo& node, const DeviceId& hub_id,
                                                     const std::string& bytes,
                                                     int64_t now_millis);

// Statements a pull from `node` relays, at most this many a message.
inline constexpr size_t kStatementsPerMessage = 64;

// Adds to `chunk` the statements `node` receives after `cursor`: the newest
// of each laptop of its office (its own apart) and of its referral
// partners', at most kStatementsPerMessage, with the cursor to store.
// Returns whether more remain after them.
absl::StatusOr<bool> AddStatements(HubReadTxn& hub, const NodeInfo& node, int64_t cursor,
                                   PullChunk* chunk);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_STATEMENTS_H_
