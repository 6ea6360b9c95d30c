// fieldnode daemon (node/help/daemon.txt): sync passes until stopped, on the
// schedule of sync/schedule.h (backing off while the hub is unreachable,
// at once for an urgent commit); the loop is the node library's
// (node/daemon_loop.h), this file reads the flags and logs.
#include <cstdio>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "clock/clock_source.h"
#include "node/agent.h"
#include "node/commands/command.h"
#include "node/daemon_loop.h"
#include "node/daemon_mark.h"
#include "node/pass_lines.h"
#include "node/passphrase.h"
#include "node/session.h"
#include "node/sync_lines.h"

namespace fieldsync::node {

namespace {

// Prints what a pass did: a line with its counts and the lines it has to
// say beside them, unless it moved nothing and says what the last printed
// pass said (PassLog); a failure once, counted while it repeats.
void SayPass(const DaemonPassResult& pass, KeyRing& keys, PassLog& passes) {
  if (pass.keys_forgotten) {
    std::fprintf(stderr,
                 "%s fieldnode daemon: the key agent was locked: office keys forgotten, "
                 "syncing locked (restart the daemon after fieldnode unlock to share keys "
                 "again)\n",
                 Now().c_str());
  }
  const auto& report = pass.report;
  if (report.ok()) {
    std::string lines;
    if (!report->push_refused.ok()) {
      absl::StrAppend(&lines, "push refused (kept here, retried each pass): ",
                      Printable(SV(report->push_refused.message())), "\n");
    }
    WarnSkew(*report, &lines);
    AppendLines(NoticeLines(*report), "", &lines);
    ReportKeys(*report, keys, "", &lines);
    ReportHistory(*report, "", &lines);
    const std::string said = absl::StrCat(Describe(*report, pass.millis), passes.OkSuffix());
    if (passes.Take(Moved(*report), lines, SystemClock::Get()->NowMillis())) {
      std::fprintf(stderr, "%s sync %s: %s\n", Now().c_str(),
                   report->push_refused.ok() ? "ok" : "partly done", said.c_str());
      for (absl::string_view line : absl::StrSplit(lines, '\n', absl::SkipEmpty())) {
        std::fprintf(stderr, "%s %s\n", Now().c_str(), std::string(line).c_str());
      }
    }
  } else if (pass.stopped) {
    // What the stopped pass kept (a bootstrap under way says so).
    std::fprintf(stderr, "%s sync stopped: %s\n", Now().c_str(),
                 Printable(SV(report.status().message())).c_str());
  } else if (pass.refused()) {
    std::fprintf(stderr, "%s sync refused, daemon stops: %s\n", Now().c_str(),
                 Printable(SV(report.status().message())).c_str());
  } else {
    const std::string code = absl::StatusCodeToString(report.status().code());
    const std::string why = Printable(SV(report.status().message()));
    const std::string unsaid = passes.FailureSuffix();  // the same failure is counted
    if (passes.TakeFailure(absl::StrCat(code, ": ", why), SystemClock::Get()->NowMillis())) {
      std::fprintf(stderr, "%s sync failed (%s), next try %s: %s%s\n", Now().c_str(),
                   code.c_str(), NextTry(pass.wait_millis).c_str(), why.c_str(), unsaid.c_str());
    }
  }
}

}  // namespace

int RunDaemonCommand(const Args& args) {
  auto every = ParseDurationMillis(args.Flag("every", "5m"));
  if (!every.ok()) return Usage(std::string(every.status().message()));
  auto cap = ParseDurationMillis(args.Flag("max-backoff", "10m"));
  if (!cap.ok()) return Usage(std::string(cap.status().message()));
  if (*every < 1000) return Usage("--every must be at least 1s");
  auto batch = ParsePullBatch(args);
  if (!batch.ok()) return Usage(std::string(batch.status().message()));
  auto session = OpenSyncSession(args, *batch, /*ask=*/false);
  if (!session.ok()) return Fail(session.status());
  StopOnSignals();
  if (!session->keys->unlocked()) {
    std::fprintf(stderr,
                 "%s fieldnode daemon: keystore locked (no %s): syncing, but office keys are "
                 "not shared with new devices nor cases granted to the offices they are "
                 "referred to until a passphrase is given\n",
                 Now().c_str(), kPassphraseFileEnv);
  }
  DaemonOptions options;
  options.schedule.every_millis = *every;
  options.schedule.max_backoff_millis = *cap;
  options.seed = std::random_device{}();
  const std::string data_dir = NodeDir(args).path;
  // Seen by the console's Sync page for as long as this process runs.
  DaemonMark mark(data_dir);
  // Keys taken from the key agent: once it was locked (or its period
  // ended), the daemon forgets the office keys it opened and syncs locked.
  options.agent_open = [&data_dir] { return AgentExpiry(data_dir).has_value(); };
  SyncDaemon daemon(*session->replica, *session->keys, *session->client, session->cred,
                    std::move(options), &StopFlag());
  std::fprintf(stderr, "%s fieldnode daemon: syncing with %s every %lld s (province %s)\n",
               Now().c_str(), session->hub.address.c_str(),
               static_cast<long long>(*every / 1000), session->hub.province.c_str());
  PassLog passes(tuning::kDaemonQuietLogMillis);
  SleepingWaiter waiter;
  const SyncDaemon::End end = daemon.Run(
      waiter, [&](const DaemonPassResult& pass) { SayPass(pass, *session->keys, passes); },
      [](DaemonWake) {
        std::fprintf(stderr, "%s urgent commit written: syncing now\n", Now().c_str());
      });
  if (end == SyncDaemon::End::kRefused) return 1;
  std::fprintf(stderr, "%s fieldnode daemon: stopped\n", Now().c_str());
  return 0;
}

}  // namespace fieldsync::node
