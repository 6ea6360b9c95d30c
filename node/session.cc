#include "node/session.h"

#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "clock/clock_source.h"
#include "crypto/keystore.h"
#include "node/agent.h"
#include "node/ops/messages.h"
#include "node/ops/values.h"
#include "node/passphrase.h"
#include "node/passphrase_rule.h"
#include "node/setup.h"
#include "text/text.h"

namespace fieldsync::node {

DataDir NodeDir(const Args& args) {
  return DataDir{ResolveDataDir(args.Flag("data-dir"), "FIELDSYNC_NODE_DIR", "node"),
                 "replica.db", "fieldnode init", "FIELDSYNC_NODE_DIR"};
}

std::string KeystorePath(const DataDir& dir) { return dir.path + "/keystore"; }

std::string UnlockHint() {
  return absl::StrCat("run fieldnode unlock (asks the passphrase once), or give "
                      "--passphrase-file FILE, or set ",
                      kPassphraseFileEnv, ", or run the command on a terminal to be asked");
}

void KeepSecretsFromOtherProcesses() { prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

absl::Status ReplacePassphrase(const Args& args, const DataDir& dir, std::string_view current) {
  auto fresh = GetNewPassphrase(args, /*use_current_sources=*/false);
  if (!fresh.ok()) return fresh.status();
  if (absl::Status rule = CheckPassphraseRule(*fresh, "the new passphrase"); !rule.ok()) {
    Wipe(*fresh);
    return absl::InvalidArgumentError(absl::StrCat(rule.message(), "; nothing was changed"));
  }
  absl::Status s = crypto::ChangeKeystorePassphrase(KeystorePath(dir), current, *fresh);
  Wipe(*fresh);
  return s;
}

absl::StatusOr<crypto::DeviceIdentity> OpenKeystoreWith(const DataDir& dir,
                                                        const std::string& pass,
                                                        absl::Status* rule) {
  auto id = crypto::UnlockKeystoreFile(KeystorePath(dir), pass);
  *rule = id.ok() ? CheckPassphraseRule(pass, "this laptop's passphrase") : absl::OkStatus();
  return id;
}

absl::StatusOr<KeptAgent> UnlockWithPassphrase(const DataDir& dir, std::string pass,
                                               int64_t until_millis) {
  KeepSecretsFromOtherProcesses();
  absl::Status rule;
  auto id = OpenKeystoreWith(dir, pass, &rule);
  Wipe(pass);
  if (!id.ok()) return id.status();
  if (!rule.ok()) {
    return ops::Coded(
        absl::FailedPreconditionError(absl::StrCat(
            rule.message(), ". It is too weak and must be changed before this laptop's keys "
            "are used: run `fieldnode passphrase` on a terminal. Nothing was changed")),
        ops::Msg::kPassphraseWeak);
  }
  return StartKeptAgent(dir.path, *std::move(id), until_millis);
}

absl::StatusOr<std::optional<crypto::DeviceIdentity>> MaybeUnlock(const Args& args,
                                                                  const DataDir& dir, bool ask) {
  // An explicit passphrase wins over the agent (it may be meant to test it).
  const bool explicit_pass = !args.Flag("passphrase-file").empty();
  if (!explicit_pass) {
    // Asked while this process is still dumpable: the agent checks, by its
    // /proc/PID/exe, that it is the fieldnode program; AgentIdentity then
    // makes it non-dumpable.
    auto agent = AgentIdentity(dir.path);
    if (!agent.ok()) return agent.status();
    if (*agent) return agent;
  }
  // The passphrase, and the keys it opens, are kept from the user's other
  // processes (no core dump, no ptrace).
  KeepSecretsFromOtherProcesses();
  auto pass = GetPassphrase(args, ask, "Passphrase of this laptop's keystore: ");
  if (!pass.ok()) return pass.status();
  if (!*pass) return std::optional<crypto::DeviceIdentity>();
  // A passphrase chosen before the rule still opens the keystore, but must
  // be changed before the keys are used (docs/CRYPTO.md, "Keystore file"):
  // on a terminal, or with --new-passphrase-file, right now; otherwise the
  // command stops, having changed nothing.
  absl::Status rule;
  auto id = OpenKeystoreWith(dir, **pass, &rule);
  if (!id.ok()) {
    Wipe(**pass);
    return id.status();
  }
  if (!rule.ok()) {
    const bool new_from_file = !args.Flag("new-passphrase-file").empty();
    if (!new_from_file && isatty(STDIN_FILENO) == 0) {
      Wipe(**pass);
      return absl::FailedPreconditionError(absl::StrCat(
          rule.message(), ". It is too weak and must be changed before this laptop's keys are "
          "used: run `fieldnode passphrase` (on a terminal, or with --new-passphrase-file "
          "FILE). Nothing was changed"));
    }
    if (!new_from_file) {
      std::fprintf(stderr, "fieldnode: %s. It must be changed now.\n",
                   std::string(rule.message()).c_str());
    }
    absl::Status changed = ReplacePassphrase(args, dir, **pass);
    Wipe(**pass);
    if (!changed.ok()) return changed;
    std::fprintf(stderr, "fieldnode: passphrase changed for %s\n", KeystorePath(dir).c_str());
  }
  Wipe(**pass);
  return std::optional<crypto::DeviceIdentity>(*std::move(id));
}

absl::StatusOr<crypto::DeviceIdentity> MustUnlock(const Args& args, const DataDir& dir,
                                                  std::string_view why) {
  auto id = MaybeUnlock(args, dir, /*ask=*/isatty(STDIN_FILENO) != 0);
  if (!id.ok()) return id.status();
  if (!*id) {
    if (why == "unlocking") {  // not "run fieldnode unlock" to the unlock command itself
      return absl::FailedPreconditionError(absl::StrCat(
          "unlocking needs the passphrase: give --passphrase-file FILE, or set ",
          kPassphraseFileEnv, ", or run fieldnode unlock on a terminal to be asked"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat(AV(why), " needs the keystore unlocked: ", UnlockHint()));
  }
  return *std::move(*id);
}

absl::Status OpenKeys(const Args& args, const DataDir& dir, bool ask, Session* s) {
  auto hub = LoadHubConfig(dir.path);
  if (!hub.ok()) return hub.status();
  s->hub = *hub;
  auto keys = KeyRing::Open(s->replica.get(), s->hub.province);
  if (!keys.ok()) return keys.status();
  s->keys = *std::move(keys);
  auto id = MaybeUnlock(args, dir, ask);
  if (!id.ok()) return id.status();
  if (*id) FS_RETURN_IF_ERROR(s->keys->Unlock(*std::move(*id)));
  s->replica->SetSecurity(s->keys->Security());
  return absl::OkStatus();
}

absl::StatusOr<Session> OpenLocal(const Args& args, bool ask) {
  const DataDir dir = NodeDir(args);
  Session s;
  auto r = OpenReplicaIn(dir);
  if (!r.ok()) return r.status();
  s.replica = *std::move(r);
  FS_RETURN_IF_ERROR(OpenKeys(args, dir, ask && isatty(STDIN_FILENO) != 0, &s));
  return s;
}

absl::StatusOr<Session> OpenSyncSession(const Args& args, uint32_t pull_batch, bool ask) {
  const DataDir dir = NodeDir(args);
  Session s;
  auto r = OpenReplicaIn(dir);
  if (!r.ok()) return r.status();
  s.replica = *std::move(r);
  FS_RETURN_IF_ERROR(OpenKeys(args, dir, ask, &s));
  auto cred = LoadCredential(dir.path);
  if (!cred.ok()) return cred.status();
  s.cred = *cred;
  auto client = ClientFor(s.hub, pull_batch);
  if (!client.ok()) return client.status();
  s.client = *std::move(client);
  return s;
}

std::string Officer(const Args& args) {
  std::string o = args.Flag("officer");
  if (o.empty()) {
    if (const char* e = std::getenv("FIELDSYNC_OFFICER"); e != nullptr && *e != '\0') o = e;
  }
  if (o.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_name != nullptr) {
      o = pw->pw_name;
    }
  }
  // Stored NFC like every text a person types (one officer, one spelling).
  auto nfc = NormalizeInput(o, "the officer's name");
  return nfc.ok() && !nfc->empty() ? *nfc : std::string("unknown");
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "fieldnode: %s\n", std::string(s.message()).c_str());
  return kExitFailed;
}

int FailHub(const absl::Status& s) {
  std::fprintf(stderr, "fieldnode: %s\n", std::string(s.message()).c_str());
  return Retryable(s) && s.code() != absl::StatusCode::kCancelled ? kExitUnreachable
                                                                  : kExitFailed;
}

namespace {
std::string& HelpCommand() {
  static std::string* cmd = new std::string();
  return *cmd;
}
}  // namespace

void SetHelpCommand(const std::string& cmd) { HelpCommand() = cmd; }

int Usage(const std::string& what) {
  // What the user typed comes back in it: escaped (no control or
  // bidirectional character reaches the terminal raw).
  std::string msg = Printable(what);
  const std::string suffix = "; see --help";
  if (msg.size() >= suffix.size() && msg.compare(msg.size() - suffix.size(), suffix.size(),
                                                 suffix) == 0) {
    msg.resize(msg.size() - suffix.size());
  }
  const std::string help =
      HelpCommand().empty() ? "fieldnode help" : absl::StrCat("fieldnode ", HelpCommand(), " --help");
  std::fprintf(stderr, "fieldnode: %s; run `%s`\n", msg.c_str(), help.c_str());
  return kExitUsage;
}

std::string ShowValue(const Value& v) { return ops::ShowValue(v); }

std::string Now() { return FormatTimeMillis(SystemClock::Get()->NowMillis()); }

}  // namespace fieldsync::node
