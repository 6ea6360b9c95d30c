#include "node/cli.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "fieldsync/v1/protocol.pb.h"
#include "node/client.h"
#include "store/data_dir.h"

namespace fieldsync::node {
namespace {

constexpr char kUsage[] = R"(fieldnode -- a provincial field office's replica of fieldsync

Usage: fieldnode COMMAND [options]

Commands:
  init       create this office's replica and device identity
  enroll     enrol this replica with the hub, using a one-time token
             from the hub administrator
  sync       one sync pass: push this node's commits, then pull until
             caught up with the hub
  daemon     sync every --every interval until stopped (SIGTERM, Ctrl-C);
             backs off while the hub is unreachable; syncs at once when
             an urgent case or a crime report is written
  status     show the replica: device, commits, conflicts, rows
  version    show program, schema, commit-format and protocol versions
  help       show this text

Options:
  --data-dir DIR     where the replica lives (default: $FIELDSYNC_NODE_DIR,
                     else ~/.local/share/fieldsync/node)
  --json             print data as JSON (status, version, sync)
enroll:
  --hub HOST:PORT    the hub's address
  --ca FILE          the CA certificate that signed the hub's (ca.crt, from
                     the hub administrator); copied into the data directory
  --token TOKEN      the one-time enrolment token
  --name NAME        a name for this device (default: the host name)
  --insecure         plain text, to a hub on this machine only (tests)
sync, daemon:
  --pull-batch N     records per pull message (default 2,000; smaller on a
                     link that breaks often: less to fetch again)
daemon:
  --every DURATION   time between passes (default 5m; e.g. 90s, 15m, 1h)
  --max-backoff DUR  longest wait between retries while the hub is
                     unreachable (default 10m)

Examples:
  fieldnode init --data-dir /srv/fieldsync/lao-cai
  fieldnode enroll --hub hub.example.org:7443 --ca ca.crt --token fsenroll-...
  fieldnode sync
  fieldnode daemon --every 5m

Exit codes: 0 done; 1 failed (the message says why and what to do);
2 the command line was wrong; 3 (sync) the hub could not be reached:
the node keeps working offline, try again later.
)";

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "fieldnode: %s\n", std::string(s.message()).c_str());
  return Retryable(s) && s.code() != absl::StatusCode::kCancelled ? 3 : 1;
}

int Usage(const std::string& what) {
  std::fprintf(stderr, "fieldnode: %s; run `fieldnode help`\n", what.c_str());
  return 2;
}

DataDir NodeDir(const Args& args) {
  return DataDir{ResolveDataDir(args.Flag("data-dir"), "FIELDSYNC_NODE_DIR", "node"),
                 "replica.db", "fieldnode init", "FIELDSYNC_NODE_DIR"};
}

std::string Now() {
  return FormatTimeMillis(SystemClock::Get()->NowMillis());
}

absl::StatusOr<std::unique_ptr<SyncClient>> ClientFor(const HubConfig& hub,
                                                      uint32_t pull_batch = 0) {
  ClientOptions o;
  o.pull_batch = pull_batch;
  o.address = hub.address;
  o.ca_file = hub.ca_file;
  o.insecure = hub.insecure;
  return SyncClient::Create(o);
}

int Enroll(const Args& args) {
  const DataDir dir = NodeDir(args);
  const std::string hub = args.Flag("hub");
  const std::string token = args.Flag("token");
  if (hub.empty()) return Usage("enroll needs --hub HOST:PORT");
  if (token.empty()) return Usage("enroll needs --token TOKEN (from the hub administrator)");
  const bool insecure = args.Has("insecure");
  std::string ca = args.Flag("ca");
  if (!insecure && ca.empty()) {
    return Usage("enroll needs --ca FILE, the CA certificate of the hub (or --insecure for a "
                 "hub on this machine)");
  }
  auto replica = OpenReplicaIn(dir);
  if (!replica.ok()) return Fail(replica.status());
  if (LoadHubConfig(dir.path).ok()) {
    return Fail(absl::AlreadyExistsError(absl::StrCat(
        "this replica is already enrolled (", dir.path,
        "/hub.conf); a replica syncs with one hub. To start over, make a new one with "
        "fieldnode init in another directory")));
  }
  HubConfig conf;
  conf.address = hub;
  conf.insecure = insecure;
  if (!insecure) {
    // The CA travels with the data directory.
    FILE* in = std::fopen(ca.c_str(), "rb");
    if (in == nullptr) {
      return Fail(absl::FailedPreconditionError(absl::StrCat("cannot read the CA file ", ca)));
    }
    const std::string copy = dir.path + "/hub-ca.crt";
    FILE* out = std::fopen(copy.c_str(), "wb");
    char buf[4096];
    size_t n;
    bool ok = out != nullptr;
    while (ok && (n = std::fread(buf, 1, sizeof(buf), in)) > 0) {
      ok = std::fwrite(buf, 1, n, out) == n;
    }
    std::fclose(in);
    if (out != nullptr) ok = std::fclose(out) == 0 && ok;
    if (!ok) return Fail(absl::FailedPreconditionError(absl::StrCat("cannot write ", copy)));
    conf.ca_file = copy;
  }
  auto client = ClientFor(conf);
  if (!client.ok()) return Fail(client.status());
  char host[256] = "";
  gethostname(host, sizeof(host) - 1);
  const std::string name = args.Flag("name", host);
  std::string province, hub_id;
  auto cred = (*client)->Enroll(token, (*replica)->device_id(), name, &province, &hub_id);
  if (!cred.ok()) return Fail(cred.status());
  conf.province = province;
  conf.hub_id = hub_id;
  absl::Status s = SaveEnrolment(dir.path, conf, *cred);
  if (!s.ok()) return Fail(s);
  std::printf("enrolled device %s with the hub at %s for province %s\n",
              cred->device.ToString().c_str(), hub.c_str(), province.c_str());
  return 0;
}

struct Session {
  std::unique_ptr<Replica> replica;
  HubConfig hub;
  Credential cred;
  std::unique_ptr<SyncClient> client;
};

absl::StatusOr<Session> OpenSession(const DataDir& dir, uint32_t pull_batch) {
  Session s;
  auto r = OpenReplicaIn(dir);
  if (!r.ok()) return r.status();
  s.replica = *std::move(r);
  auto hub = LoadHubConfig(dir.path);
  if (!hub.ok()) return hub.status();
  s.hub = *hub;
  auto cred = LoadCredential(dir.path);
  if (!cred.ok()) return cred.status();
  s.cred = *cred;
  auto client = ClientFor(s.hub, pull_batch);
  if (!client.ok()) return client.status();
  s.client = *std::move(client);
  return s;
}

std::string Describe(const SyncReport& r, int64_t millis) {
  return absl::StrCat("pushed ", r.pushed, r.push_duplicates ? absl::StrCat(
                                                                   " (+", r.push_duplicates,
                                                                   " already held)")
                                                             : "",
                      ", pulled ", r.pulled, " commits",
                      r.rows_installed ? absl::StrCat(" and ", r.rows_installed, " records")
                                       : "",
                      r.bootstrapped ? " (bootstrap)" : "",
                      r.tombstones_purged
                          ? absl::StrCat(", dropped ", r.tombstones_purged,
                                         " deleted records the hub collected")
                          : "",
                      ", at position ", r.cursor, " of ",
                      r.log_head, ", ", millis, " ms");
}

void WarnSkew(const SyncReport& r) {
  if (r.skew_millis > 120'000 || r.skew_millis < -120'000) {
    std::fprintf(stderr,
                 "fieldnode: warning: this computer's clock is %lld s %s the hub's; set the "
                 "date and time, or commits may be refused as too far ahead\n",
                 static_cast<long long>(std::llabs(r.skew_millis) / 1000),
                 r.skew_millis > 0 ? "ahead of" : "behind");
  }
}

// --pull-batch N: records per pull message (default: the hub's, 2,000).
absl::StatusOr<uint32_t> PullBatch(const Args& args) {
  const std::string v = args.Flag("pull-batch", "0");
  char* end = nullptr;
  const unsigned long n = std::strtoul(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || n > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--pull-batch wants a number of records from 1 to 10000, not \"", v, "\""));
  }
  return static_cast<uint32_t>(n);
}

int Sync(const Args& args) {
  auto batch = PullBatch(args);
  if (!batch.ok()) return Usage(std::string(batch.status().message()));
  auto session = OpenSession(NodeDir(args), *batch);
  if (!session.ok()) return Fail(session.status());
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  auto progress = [&](const SyncReport& r) {
    if (!tty) return;
    std::fprintf(stderr, "\rfieldnode: pulled %llu commits, %llu records ...",
                 static_cast<unsigned long long>(r.pulled),
                 static_cast<unsigned long long>(r.rows_installed));
  };
  auto report = session->client->Sync(*session->replica, session->cred, &g_stop, progress);
  if (tty) std::fprintf(stderr, "\r\033[K");
  if (!report.ok()) return Fail(report.status());
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
  WarnSkew(*report);
  if (!report->notice.empty()) std::fprintf(stderr, "fieldnode: hub: %s\n", report->notice.c_str());
  if (!report->push_refused.ok()) {
    std::fprintf(stderr,
                 "fieldnode: pulled, but the push was refused: %s\nThe refused commit and "
                 "those after it stay on this laptop; nothing of them was lost.\n",
                 std::string(report->push_refused.message()).c_str());
  }
  if (args.Has("json")) {
    std::printf("{\"pushed\": %llu, \"push_duplicates\": %llu, \"pulled\": %llu, "
                "\"rows_installed\": %llu, \"cursor\": %lld, \"log_head\": %lld, "
                "\"bootstrapped\": %s, \"millis\": %lld}\n",
                static_cast<unsigned long long>(report->pushed),
                static_cast<unsigned long long>(report->push_duplicates),
                static_cast<unsigned long long>(report->pulled),
                static_cast<unsigned long long>(report->rows_installed),
                static_cast<long long>(report->cursor), static_cast<long long>(report->log_head),
                report->bootstrapped ? "true" : "false", static_cast<long long>(ms));
  } else {
    std::printf("synced: %s\n", Describe(*report, ms).c_str());
  }
  return report->push_refused.ok() ? 0 : 1;
}

int Daemon(const Args& args) {
  auto every = ParseDurationMillis(args.Flag("every", "5m"));
  if (!every.ok()) return Usage(std::string(every.status().message()));
  auto cap = ParseDurationMillis(args.Flag("max-backoff", "10m"));
  if (!cap.ok()) return Usage(std::string(cap.status().message()));
  if (*every < 1000) return Usage("--every must be at least 1s");
  auto batch = PullBatch(args);
  if (!batch.ok()) return Usage(std::string(batch.status().message()));
  auto session = OpenSession(NodeDir(args), *batch);
  if (!session.ok()) return Fail(session.status());
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  std::mt19937_64 rng(std::random_device{}());
  std::fprintf(stderr, "%s fieldnode daemon: syncing with %s every %lld s (province %s)\n",
               Now().c_str(), session->hub.address.c_str(),
               static_cast<long long>(*every / 1000), session->hub.province.c_str());
  int failures = 0;
  while (!g_stop.load()) {
    const auto start = std::chrono::steady_clock::now();
    auto report = session->client->Sync(*session->replica, session->cred, &g_stop);
    const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
    int64_t wait = *every;
    if (report.ok()) {
      failures = 0;
      std::fprintf(stderr, "%s sync %s: %s\n", Now().c_str(),
                   report->push_refused.ok() ? "ok" : "partly done",
                   Describe(*report, ms).c_str());
      if (!report->push_refused.ok()) {
        std::fprintf(stderr, "%s push refused (kept here, retried each pass): %s\n",
                     Now().c_str(), std::string(report->push_refused.message()).c_str());
      }
      WarnSkew(*report);
      if (!report->notice.empty()) {
        std::fprintf(stderr, "%s hub: %s\n", Now().c_str(), report->notice.c_str());
      }
    } else if (g_stop.load()) {
      break;
    } else if (report.status().code() == absl::StatusCode::kUnauthenticated ||
               report.status().code() == absl::StatusCode::kPermissionDenied) {
      std::fprintf(stderr, "%s sync refused, daemon stops: %s\n", Now().c_str(),
                   std::string(report.status().message()).c_str());
      return 1;
    } else {
      ++failures;
      if (Retryable(report.status())) {
        // Exponential backoff with jitter, capped: from 2 s, doubling.
        const int64_t base = std::min<int64_t>(*cap, int64_t{2000} << std::min(failures - 1, 20));
        wait = base / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(base / 2 + 1));
      }
      std::fprintf(stderr, "%s sync failed (%s), next try in %lld s: %s\n", Now().c_str(),
                   absl::StatusCodeToString(report.status().code()).c_str(),
                   static_cast<long long>(wait / 1000),
                   std::string(report.status().message()).c_str());
    }
    // Wait, waking for a stop or for an urgent commit.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait);
    int tick = 0;
    while (!g_stop.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (++tick % 10 == 0 && failures == 0) {
        auto urgent = HasUrgentUnpushed(*session->replica);
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

}  // namespace

int Main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "enroll" || cmd == "sync" || cmd == "daemon") {
    auto parsed = ParseArgs(argc, argv,
                            {"data-dir", "hub", "ca", "token", "name", "every", "max-backoff",
                             "pull-batch"},
                            {"json", "help", "insecure"});
    if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
    if (parsed->Has("help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (cmd == "enroll") return Enroll(*parsed);
    if (cmd == "sync") return Sync(*parsed);
    return Daemon(*parsed);
  }
  const ReplicaProgram program{"fieldnode", kUsage, "node", "replica.db", "FIELDSYNC_NODE_DIR",
                               fieldsync::v1::PROTOCOL_VERSION_1};
  return RunReplicaProgram(program, argc, argv);
}

}  // namespace fieldsync::node
