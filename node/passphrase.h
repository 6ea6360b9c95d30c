// Where a node's keystore passphrase comes from (docs/CRYPTO.md,
// "Unlocking"), in this order:
//   --passphrase-file FILE           its first line
//   FIELDSYNC_PASSPHRASE_FILE=FILE   the same, for the daemon's service unit
//   FIELDSYNC_PASSPHRASE=TEXT        the passphrase itself (tests, scripts;
//                                    other processes of the same user can
//                                    read a process's environment)
//   the terminal                     asked for without echo, if there is one
#ifndef FIELDSYNC_NODE_PASSPHRASE_H_
#define FIELDSYNC_NODE_PASSPHRASE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "base/args.h"

namespace fieldsync::node {

inline constexpr char kPassphraseFileEnv[] = "FIELDSYNC_PASSPHRASE_FILE";
inline constexpr char kPassphraseEnv[] = "FIELDSYNC_PASSPHRASE";

// The passphrase from the first source that has one; nullopt if none has
// and `ask` is false or there is no terminal. A file that cannot be read,
// or an empty passphrase, is an error saying which source.
absl::StatusOr<std::optional<std::string>> GetPassphrase(const Args& args, bool ask,
                                                         const std::string& prompt);

// A new passphrase: from --new-passphrase-file, else (for init) the sources
// above, else asked twice on the terminal. FAILED_PRECONDITION if none.
absl::StatusOr<std::string> GetNewPassphrase(const Args& args, bool use_current_sources);

// Wipes a passphrase held in a string.
void Wipe(std::string& s);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_PASSPHRASE_H_
