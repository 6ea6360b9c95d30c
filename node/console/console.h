// `fieldnode console` (node/help/console.txt, docs/CONSOLE.md): the social
// worker's web console on 127.0.0.1, over the node library.
#ifndef FIELDSYNC_NODE_CONSOLE_CONSOLE_H_
#define FIELDSYNC_NODE_CONSOLE_CONSOLE_H_

#include "base/args.h"

namespace fieldsync::node {

// Serves until SIGINT or SIGTERM; the exit code.
int RunConsoleCommand(const Args& args);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_CONSOLE_CONSOLE_H_
