// Whole small files (configuration, credentials, certificates) read in one
// call.
#ifndef FIELDSYNC_BASE_FILE_H_
#define FIELDSYNC_BASE_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace fieldsync {

// The bytes of the file at `path`; NOT_FOUND ("cannot read PATH") if it
// cannot be opened. Callers word what the file is for.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace fieldsync

#endif  // FIELDSYNC_BASE_FILE_H_
