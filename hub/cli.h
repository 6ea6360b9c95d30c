// `fieldhub`: the hub administrator's program. This issue gives it
// init, status and version; the sync and CLI issues add the rest.
#ifndef FIELDSYNC_HUB_CLI_H_
#define FIELDSYNC_HUB_CLI_H_

namespace fieldsync::hub {

// Runs one command. Exit codes: 0 done, 1 failed (the message says why and
// what to do), 2 the command line was wrong.
int Main(int argc, char** argv);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_CLI_H_
