// fieldnode passphrase: the keystore's passphrase replaced, the current one
// given on a terminal or by --passphrase-file, the new one by
// --new-passphrase-file or asked twice.
#include <cstdio>
#include <optional>
#include <string>

#include "base/args.h"
#include "node/commands/command.h"
#include "node/passphrase.h"
#include "node/session.h"
#include "store/data_dir.h"

namespace fieldsync::node {

int RunPassphraseCommand(const Args& args) {
  const DataDir dir = NodeDir(args);
  KeepSecretsFromOtherProcesses();
  auto old = GetPassphrase(args, /*ask=*/true, "Current passphrase: ");
  if (!old.ok()) return Fail(old.status());
  if (!*old) {
    return Fail(absl::FailedPreconditionError(
        "the current passphrase is needed: give --passphrase-file FILE or run on a terminal"));
  }
  absl::Status s = ReplacePassphrase(args, dir, **old);
  Wipe(**old);
  if (!s.ok()) return Fail(s);
  std::printf("passphrase changed for %s\n", KeystorePath(dir).c_str());
  return 0;
}

}  // namespace fieldsync::node
