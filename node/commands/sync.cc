// fieldnode sync (node/help/sync.txt): one sync pass with the hub, over the
// sync client (node/client.h); this file parses and prints.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "base/terminal.h"
#include "clock/clock_source.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/pass_lines.h"
#include "node/session.h"
#include "node/sync_lines.h"

namespace fieldsync::node {

absl::StatusOr<uint32_t> ParsePullBatch(const Args& args) {
  const std::string v = args.Flag("pull-batch", "0");
  char* end = nullptr;
  const unsigned long n = std::strtoul(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || n > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--pull-batch wants a number of records from 1 to 10000, not \"", v, "\""));
  }
  return static_cast<uint32_t>(n);
}

int RunSyncCommand(const Args& args) {
  auto batch = ParsePullBatch(args);
  if (!batch.ok()) return Usage(std::string(batch.status().message()));
  auto session = OpenSyncSession(args, *batch, /*ask=*/isatty(STDIN_FILENO) != 0);
  if (!session.ok()) return Fail(session.status());
  StopOnSignals();
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  auto progress = [&](const SyncReport& r) {
    if (!tty) return;
    const double secs = std::max(
        0.001, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    const uint64_t done = r.pulled + r.rows_installed;
    const int64_t behind = r.log_head > r.cursor ? r.log_head - r.cursor : 0;
    std::fprintf(RawStderr(),  // its own line control; nothing of a user's in it
                 "\r\033[Kfieldnode: pushed %llu, pulled %llu commits and %llu records "
                 "(%.0f/s), %lld log positions to go ...",
                 static_cast<unsigned long long>(r.pushed),
                 static_cast<unsigned long long>(r.pulled),
                 static_cast<unsigned long long>(r.rows_installed), done / secs,
                 static_cast<long long>(behind));
  };
  auto report = session->client->Sync(*session->replica, *session->keys, session->cred,
                                      &StopFlag(), progress);
  if (tty) std::fprintf(RawStderr(), "\r\033[K");
  if (!report.ok()) return FailHub(report.status());
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
  if (report->push_refused.ok()) {
    session->replica->SetCursor(kLastSyncCursor, SystemClock::Get()->NowMillis()).IgnoreError();
  }
  {
    std::string lines;
    WarnSkew(*report, &lines);
    AppendLines(NoticeLines(*report), "fieldnode: ", &lines);
    ReportKeys(*report, *session->keys, "fieldnode: ", &lines);
    AppendLines(RefusedPushLines(*report), "fieldnode: ", &lines);
    ReportHistory(*report, "fieldnode: ", &lines);
    std::fputs(lines.c_str(), stderr);
  }
  if (args.Has("json")) {
    Json doc = Json::object();
    doc["pushed"] = static_cast<uint64_t>(report->pushed);
    doc["push_duplicates"] = static_cast<uint64_t>(report->push_duplicates);
    doc["pulled"] = static_cast<uint64_t>(report->pulled);
    doc["rows_installed"] = static_cast<uint64_t>(report->rows_installed);
    doc["cursor"] = static_cast<int64_t>(report->cursor);
    doc["log_head"] = static_cast<int64_t>(report->log_head);
    doc["bootstrapped"] = report->bootstrapped;
    doc["millis"] = static_cast<int64_t>(ms);
    std::fputs(JsonLine(doc).c_str(), stdout);
  } else {
    std::printf("synced: %s\n", Describe(*report, ms).c_str());
  }
  // Evidence found now, or found before and not yet read by an officer
  // (fieldnode trust ack), a hub downgrade among it.
  if (report->chain.new_evidence > 0 || report->chain.unacknowledged > 0) return 5;
  return report->push_refused.ok() ? 0 : 1;
}

}  // namespace fieldsync::node
