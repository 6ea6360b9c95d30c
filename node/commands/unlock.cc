// fieldnode unlock and fieldnode lock (node/help/unlock.txt, lock.txt): the
// key agent of node/agent.h.
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "clock/clock_source.h"
#include "node/agent.h"
#include "node/commands/command.h"
#include "store/data_dir.h"

namespace fieldsync::node {

int RunUnlockCommand(const Args& args) {
  const DataDir dir = NodeDir(args);
  {
    auto r = OpenReplicaIn(dir);
    if (!r.ok()) return Fail(r.status());
  }
  auto period = ParseDurationMillis(args.Flag("for", "8h"));
  if (!period.ok()) return Usage(std::string(period.status().message()));
  if (*period < 60'000 || *period > 7 * 86'400'000LL) {
    return Usage("--for must be between 1m and 7d");
  }
  if (auto until = AgentExpiry(dir.path)) {
    Print(absl::StrCat("already unlocked until ", FormatTimeMillis(*until),
                       " (fieldnode lock to lock now)\n"));
    return 0;
  }
  auto pass = MustUnlock(args, dir, "unlocking");
  if (!pass.ok()) return Fail(pass.status());
  const int64_t until = SystemClock::Get()->NowMillis() + *period;
  absl::Status s = StartAgent(dir.path, *std::move(pass), until);
  if (!s.ok()) return Fail(s);
  Print(absl::StrCat("unlocked until ", FormatTimeMillis(until), ": fieldnode commands use the "
                     "keys without asking; fieldnode lock forgets them\n"));
  return 0;
}

int RunLockCommand(const Args& args) {
  const DataDir dir = NodeDir(args);
  if (StopAgent(dir.path)) {
    Print("locked: the keys are forgotten; sealed fields are masked until the next unlock\n");
  } else {
    Print("already locked (no keys were kept in memory)\n");
  }
  return 0;
}

}  // namespace fieldsync::node
