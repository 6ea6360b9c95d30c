// Dates and durations on fieldhub's command line: base/time_args.h, shared
// with fieldnode, by their names in the hub's namespace.
#ifndef FIELDSYNC_HUB_COMMANDS_TIME_ARGS_H_
#define FIELDSYNC_HUB_COMMANDS_TIME_ARGS_H_

#include "base/time_args.h"

namespace fieldsync::hub {

using fieldsync::FormatMillis;
using fieldsync::ParseDate;
using fieldsync::ParseDuration;

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_COMMANDS_TIME_ARGS_H_
