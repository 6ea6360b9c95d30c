// A commit checked against the schema and the change model, before anything
// of it is applied. Here and not in change/: the change model sits below the
// schema (docs/ARCHITECTURE.md, "Layers"), and this check reads both.
#ifndef FIELDSYNC_SCHEMA_VALIDATE_COMMIT_H_
#define FIELDSYNC_SCHEMA_VALIDATE_COMMIT_H_

#include "absl/status/status.h"
#include "change/commit.h"
#include "schema/schema.h"

namespace fieldsync {

// Checks a commit against the schema and the change model before anything of
// it is applied: known tables and columns, value types, well-formed ids,
// bases and resolved versions older than the commit, no duplicate row or
// field, limits. INVALID_ARGUMENT saying what and where otherwise.
absl::Status ValidateCommit(const Schema& schema, const Commit& commit);

}  // namespace fieldsync

#endif  // FIELDSYNC_SCHEMA_VALIDATE_COMMIT_H_
