// JSON output of the fieldnode commands: base/json.h (the one writer the
// node, the hub's reports and the replica programs share), by its names in
// node's namespace.
#ifndef FIELDSYNC_NODE_COMMANDS_JSON_H_
#define FIELDSYNC_NODE_COMMANDS_JSON_H_

#include "base/json.h"

namespace fieldsync::node {

using fieldsync::Json;
using fieldsync::JsonLine;

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_COMMANDS_JSON_H_
