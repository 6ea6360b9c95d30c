// Status propagation macros. Abseil 20220623 (Debian 12) ships none, so we keep
// the two we need here. Both evaluate their argument exactly once.
#ifndef FIELDSYNC_BASE_STATUS_MACROS_H_
#define FIELDSYNC_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FS_CONCAT_INNER_(a, b) a##b
#define FS_CONCAT_(a, b) FS_CONCAT_INNER_(a, b)

// Returns from the current function with the status if `expr` is not OK.
#define FS_RETURN_IF_ERROR(expr)                    \
  do {                                              \
    ::absl::Status fs_status_ = (expr);             \
    if (!fs_status_.ok()) return fs_status_;        \
  } while (0)

// `FS_ASSIGN_OR_RETURN(auto x, F())` declares x from an OK StatusOr, or
// returns its status.
#define FS_ASSIGN_OR_RETURN(lhs, expr) \
  FS_ASSIGN_OR_RETURN_IMPL_(FS_CONCAT_(fs_statusor_, __LINE__), lhs, expr)
#define FS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#endif  // FIELDSYNC_BASE_STATUS_MACROS_H_
