// `fieldnode`: the provincial field office's program. This issue gives it
// init, status and version; the sync and CLI issues add the rest.
#ifndef FIELDSYNC_NODE_CLI_H_
#define FIELDSYNC_NODE_CLI_H_

namespace fieldsync::node {

// Runs one command. Exit codes: 0 done, 1 failed (the message says why and
// what to do), 2 the command line was wrong.
int Main(int argc, char** argv);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_CLI_H_
