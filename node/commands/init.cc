// fieldnode init (node/help/init.txt): this laptop's replica and keys, over
// node/setup.h; this file asks for the passphrase and prints.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "crypto/keystore.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/passphrase.h"
#include "node/passphrase_rule.h"
#include "node/session.h"
#include "node/setup.h"

namespace fieldsync::node {

int RunInitCommand(const Args& args) {
  const DataDir dir = NodeDir(args);
  const std::string keystore = KeystorePath(dir);
  if (access(keystore.c_str(), F_OK) == 0) {
    return Fail(absl::AlreadyExistsError(absl::StrCat(
        "already initialised: ", keystore, " exists; use it, or choose another --data-dir")));
  }
  KeepSecretsFromOtherProcesses();
  auto pass = GetNewPassphrase(args, /*use_current_sources=*/true);
  if (!pass.ok()) return Fail(pass.status());
  if (absl::Status rule = CheckPassphraseRule(*pass, "the passphrase"); !rule.ok()) {
    Wipe(*pass);
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(rule.message(), ". Nothing was created")));
  }
  auto identity = CreateNode(dir, keystore, *pass);
  Wipe(*pass);
  if (!identity.ok()) return Fail(identity.status());
  if (args.Has("json")) {
    Print(JsonLine(Json{{"data_dir", dir.path},
                        {"device", identity->device().ToString()},
                        {"fingerprint", crypto::Fingerprint(identity->public_keys())},
                        {"keystore", keystore}}));
    return 0;
  }
  std::printf("initialised %s\ndevice %s\nkey fingerprint %s\nkeystore %s (sealed under your "
              "passphrase: without it nothing on this laptop can be read or written)\n",
              dir.path.c_str(), identity->device().ToString().c_str(),
              crypto::Fingerprint(identity->public_keys()).c_str(), keystore.c_str());
  return 0;
}

}  // namespace fieldsync::node
