// `fieldnode`: the provincial field office's program. Its commands are
// node/commands/, their help texts node/help/.
#ifndef FIELDSYNC_NODE_CLI_H_
#define FIELDSYNC_NODE_CLI_H_

#include <string>
#include <vector>

namespace fieldsync::node {

// Runs one command. Exit codes: 0 done, 1 failed (the message says why and
// what to do), 2 the command line was wrong.
int Main(int argc, char** argv);

// The same for the words after the program's name, in this process, on
// stdout and stderr as they are (tests capture them).
int Run(std::vector<std::string> words);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_CLI_H_
