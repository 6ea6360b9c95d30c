// What the social worker's commands share: the session they act in (the
// replica, its key ring, the office of the node library), printing, and the
// entry point of each command (one file each in this folder).
#ifndef FIELDSYNC_NODE_COMMANDS_COMMAND_H_
#define FIELDSYNC_NODE_COMMANDS_COMMAND_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/args.h"
#include "node/ops/office.h"
#include "node/session.h"

namespace fieldsync::node {

struct OfficeContext {
  OfficeContext(const Args& a, Session s);

  const Args& args;
  Session session;
  ops::Office office;  // over `session`'s replica and key ring
  bool json = false;   // --json

  // The subcommand (`case new`: "new"), or "".
  std::string Sub() const { return args.positional.size() > 1 ? args.positional[1] : ""; }
  // The number of words of the command line (`case show X`: 3).
  size_t Words() const { return args.positional.size(); }
};

// The replica and the key ring of --data-dir, the passphrase asked on a
// terminal only if `ask`.
absl::StatusOr<std::unique_ptr<OfficeContext>> OpenOfficeContext(const Args& args, bool ask);

// Writes `s` to standard output (through the terminal filter).
void Print(const std::string& s);

// An error of the node library: its message and exit 2 (Usage) for a wrong
// request (ops::IsRequestError: incomplete, or a value its field never
// takes), else exit 1 (Fail).
int Failed(const absl::Status& s);

// The commands, each in its file; the exit code.
int RunCaseCommand(OfficeContext& c);
int RunConsentCommand(OfficeContext& c);
int RunReferralCommand(OfficeContext& c);
int RunOrgCommand(OfficeContext& c);
int RunContactCommand(OfficeContext& c);
int RunServiceCommand(OfficeContext& c);
int RunConflictCommand(OfficeContext& c);
int RunReportCommand(OfficeContext& c);
int RunUnlockCommand(const Args& args);
int RunLockCommand(const Args& args);
int RunStatusCommand(const Args& args);
int RunTrustCommand(const Args& args);
int RunSetAsideCommand(const Args& args);
int RunPassphraseCommand(const Args& args);
int RunDeviceCommand(const Args& args);
int RunInitCommand(const Args& args);
int RunEnrollCommand(const Args& args);
int RunShowCommand(const Args& args);
int RunEraseCommand(const Args& args);
int RunSyncCommand(const Args& args);
int RunDaemonCommand(const Args& args);
int RunVersionCommand(const Args& args);
int RunImportCommand(const Args& args);

// --pull-batch N (sync, daemon): records per pull message, 0 (the hub's
// default) if not given; INVALID_ARGUMENT beyond 10000 or not a number.
absl::StatusOr<uint32_t> ParsePullBatch(const Args& args);

// Set by SIGINT or SIGTERM once StopOnSignals() was called: a sync pass
// ends at its next step, the daemon after it.
std::atomic<bool>& StopFlag();
void StopOnSignals();

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_COMMANDS_COMMAND_H_
