// fieldnode daemon (node/help/daemon.txt): sync passes until stopped, on the
// schedule of sync/protocol.h (backing off while the hub is unreachable,
// at once for an urgent commit); this file runs the loop and logs.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "clock/clock_source.h"
#include "node/agent.h"
#include "node/commands/command.h"
#include "node/passphrase.h"
#include "node/session.h"
#include "node/sync_lines.h"
#include "sync/protocol.h"
#include "sync/schedule.h"

namespace fieldsync::node {

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
  sync::ScheduleOptions schedule_options;
  schedule_options.every_millis = *every;
  schedule_options.max_backoff_millis = *cap;
  sync::DaemonSchedule schedule(schedule_options, std::random_device{}());
  std::fprintf(stderr, "%s fieldnode daemon: syncing with %s every %lld s (province %s)\n",
               Now().c_str(), session->hub.address.c_str(),
               static_cast<long long>(*every / 1000), session->hub.province.c_str());
  const std::string data_dir = NodeDir(args).path;
  PassLog passes(tuning::kDaemonQuietLogMillis);
  while (!StopFlag().load()) {
    // Keys taken from the key agent: once it was locked (or its period
    // ended), the daemon forgets the office keys it opened and syncs
    // locked, as after a lock a command started then would.
    const crypto::DeviceIdentity* id = session->keys->identity();
    if (id != nullptr && id->delegated() && !AgentExpiry(data_dir)) {
      session->keys->Lock();
      std::fprintf(stderr,
                   "%s fieldnode daemon: the key agent was locked: office keys forgotten, "
                   "syncing locked (restart the daemon after fieldnode unlock to share keys "
                   "again)\n",
                   Now().c_str());
    }
    const auto start = std::chrono::steady_clock::now();
    // Urgent commits written after this point wake the wait below, even
    // while backing off (the link may be back); those already there do not
    // (one the hub refuses for good must not make the daemon spin).
    auto stats = session->replica->Stats();
    const uint64_t seq_at_start = stats.ok() ? stats->local_seq : 0;
    bool progressed = false;
    auto report = session->client->Sync(*session->replica, *session->keys, session->cred,
                                        &StopFlag(), {}, &progressed);
    const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
    const int64_t wait = schedule.AfterPass(report.status(), progressed);
    if (report.ok()) {
      if (report->push_refused.ok()) {
        session->replica->SetCursor(kLastSyncCursor, SystemClock::Get()->NowMillis())
            .IgnoreError();
      }
      // What the pass has to say beside its counts; printed, each line
      // after the time, unless it moved nothing and says what the last
      // printed pass said (PassLog).
      std::string lines;
      if (!report->push_refused.ok()) {
        absl::StrAppend(&lines, "push refused (kept here, retried each pass): ",
                        Printable(SV(report->push_refused.message())), "\n");
      }
      WarnSkew(*report, &lines);
      if (!report->notice.empty()) absl::StrAppend(&lines, "hub: ", report->notice, "\n");
      ReportKeys(*report, *session->keys, "", &lines);
      ReportHistory(*report, "", &lines);
      const std::string said = absl::StrCat(Describe(*report, ms), passes.OkSuffix());
      if (passes.Take(Moved(*report), lines, SystemClock::Get()->NowMillis())) {
        std::fprintf(stderr, "%s sync %s: %s\n", Now().c_str(),
                     report->push_refused.ok() ? "ok" : "partly done", said.c_str());
        for (absl::string_view line : absl::StrSplit(lines, '\n', absl::SkipEmpty())) {
          std::fprintf(stderr, "%s %s\n", Now().c_str(), std::string(line).c_str());
        }
      }
    } else if (StopFlag().load()) {
      // What the stopped pass kept (a bootstrap under way says so).
      std::fprintf(stderr, "%s sync stopped: %s\n", Now().c_str(),
                   Printable(SV(report.status().message())).c_str());
      break;
    } else if (report.status().code() == absl::StatusCode::kUnauthenticated ||
               report.status().code() == absl::StatusCode::kPermissionDenied) {
      std::fprintf(stderr, "%s sync refused, daemon stops: %s\n", Now().c_str(),
                   Printable(SV(report.status().message())).c_str());
      return 1;
    } else {
      const std::string code = absl::StatusCodeToString(report.status().code());
      const std::string why = Printable(SV(report.status().message()));
      const std::string unsaid = passes.FailureSuffix();  // the same failure is counted
      if (passes.TakeFailure(absl::StrCat(code, ": ", why), SystemClock::Get()->NowMillis())) {
        std::fprintf(stderr, "%s sync failed (%s), next try %s: %s%s\n", Now().c_str(),
                     code.c_str(), NextTry(wait).c_str(), why.c_str(), unsaid.c_str());
      }
    }
    // Wait, waking for a stop or for an urgent commit.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait);
    auto next_urgent_check =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(tuning::kDaemonUrgentPollMillis);
    while (!StopFlag().load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(tuning::kDaemonStopPollMillis));
      if (std::chrono::steady_clock::now() >= next_urgent_check) {
        next_urgent_check += std::chrono::milliseconds(tuning::kDaemonUrgentPollMillis);
        auto urgent = HasUrgentUnpushed(*session->replica, seq_at_start);
        if (urgent.ok() && *urgent) {
          std::fprintf(stderr, "%s urgent commit written: syncing now\n", Now().c_str());
          break;
        }
      }
    }
  }
  std::fprintf(stderr, "%s fieldnode daemon: stopped\n", Now().c_str());
  return 0;
}

}  // namespace fieldsync::node
