// The social worker's commands of fieldnode: cases, consents, referrals,
// directories (organisations, contacts, services), conflicts, the meeting
// report, and unlock/lock/status. Each command works offline on the local
// replica; what it writes travels at the next sync. Every user error prints
// one line saying what is wrong and what to do, exits non-zero and writes
// nothing (each command writes in one transaction, after every check).
//
// This file dispatches: each command is a file of node/commands/ over the
// node library (node/ops/), and each --help a text of node/help/.
#ifndef FIELDSYNC_NODE_OFFICE_H_
#define FIELDSYNC_NODE_OFFICE_H_

#include <set>
#include <string>

#include "base/args.h"

namespace fieldsync::node {

// The flags (with values) and switches the office commands take.
const std::set<std::string>& OfficeValuedFlags();
const std::set<std::string>& OfficeSwitches();

// Runs `args.positional[0]` (an office command); the exit code.
int RunOfficeCommand(const Args& args);

// The help of one command (`fieldnode case --help`), or "" if it has none:
// node/help/CMD.txt, built into the program ("overview": `fieldnode help`).
const std::string& HelpText(const std::string& cmd);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_OFFICE_H_
