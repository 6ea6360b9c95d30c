// The mark `fieldhub migrate --to` leaves beside a hub.db it moved into
// PostgreSQL (attack review 23, MED 4): DIR/hub.db.moved, one line naming
// where (the URI without its password) and when. hub.db itself stays as it
// was, byte for byte (the administrator's way back), but no command opens
// it while the mark is there: a `serve` started from it by habit, or a
// `node revoke` run on it, would part from the hub now served from
// PostgreSQL (a device revoked there syncing on here). Going back to
// hub.db is removing the mark, a deliberate step (docs/POSTGRES.md).
#ifndef FIELDSYNC_HUB_COMMANDS_MOVED_MARK_H_
#define FIELDSYNC_HUB_COMMANDS_MOVED_MARK_H_

#include <string>

#include "absl/status/status.h"
#include "store/data_dir.h"

namespace fieldsync::hub {

std::string MovedMarkPath(const DataDir& dir);

// FAILED_PRECONDITION naming the mark and what to do when `dir`'s hub.db
// was moved; OK otherwise.
absl::Status RefuseIfMoved(const DataDir& dir);

// Writes the mark: moved into `where` (printable) now.
absl::Status MarkMoved(const DataDir& dir, const std::string& where);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_COMMANDS_MOVED_MARK_H_
