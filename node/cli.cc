#include "node/cli.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "sync/protocol.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "base/terminal.h"
#include "store/row_case.h"
#include "base/strings.h"
#include "clock/clock_source.h"
#include "crypto/keystore.h"
#include "node/agent.h"
#include "base/tuning.h"
#include "node/client.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/device.h"
#include "node/passphrase.h"
#include "node/passphrase_rule.h"
#include "node/office.h"
#include "node/session.h"
#include "node/sync_lines.h"
#include "text/text.h"
#include "proto/tls_files.h"
#include "proto/wire.h"
#include "store/access_log.h"
#include "store/data_dir.h"
#include "store/sqlite.h"

namespace fieldsync::node {
namespace {

constexpr char kUsage[] = R"(fieldnode -- a provincial field office's replica of fieldsync

Usage: fieldnode COMMAND [options]

Setting up (once per laptop):
  init       create this office's replica and this laptop's keys: a
             keystore sealed under the officer's passphrase (asked twice;
             at least 12 characters, and not among the easiest to guess)
  enroll     enrol this replica with the hub, using a one-time token
             from the hub administrator (unlocks the keystore)
  device     list, approve, join, remove: which laptops belong to the office.
             A new laptop receives the office's keys only once an
             officer at a member laptop approved it, comparing a code
             shown on both screens, and it joined (fieldnode device --help)
  unlock     keep the keys in memory for a while (default 8h): later
             commands do not ask for the passphrase
  lock       forget them now
  passphrase change the keystore's passphrase (the same rule as init; an
             older one that breaks it must be changed at the next unlock)

Daily work (offline; each command has its own --help):
  case       new, set, show, list, search, urgent, crime-report, close, delete
  consent    add, list, withdraw: what the victim agreed to share, with whom
  referral   send, list, accept, decline, complete
  org        add, list: organisations of the directories
  contact    add, edit, list, search: agencies, units, officers
  service    add, edit, list, search: the service directory
  conflict   list, resolve: fields changed on two devices at once
  report     anonymised figures for a meeting (no names, small cells hidden)
  show TABLE ID
             one record of any table, sealed fields opened if unlocked
  erase --case CASE
             crypto-shredding: destroy every key of a case (and of its
             person) here, and at the hub and every node once synced;
             its sealed fields can never be read again

Syncing:
  sync       one sync pass: push this node's commits, then pull until
             caught up with the hub (progress shown on a terminal)
  daemon     sync every --every interval until stopped (SIGTERM, Ctrl-C);
             backs off while the hub is unreachable; syncs at once when
             an urgent case or a crime report is written

  status     province, hub, keystore locked or not, last sync, commits
             waiting, conflicts open, records held, history checks
  trust      evidence this laptop kept of what the hub showed it;
             trust ack N|all once an officer read it (sync exits 5 till then)
  set-aside  list, keep N, discard N: this laptop's changes the hub refused for good
  version    show program, schema, commit-format and protocol versions
  help       show this text

Options:
  --data-dir DIR     where the replica lives (default: $FIELDSYNC_NODE_DIR,
                     else ~/.local/share/fieldsync/node)
  --json             print data as JSON (every command that prints data)
  --officer NAME     who is at the laptop, for the access log (default
                     $FIELDSYNC_OFFICER, else the login name)
  --passphrase-file FILE
                     unlock the keystore with the first line of FILE;
                     else the agent of fieldnode unlock, else
                     $FIELDSYNC_PASSPHRASE_FILE, else $FIELDSYNC_PASSPHRASE,
                     else asked on the terminal. The daemon never asks:
                     without a passphrase it syncs locked, and cannot
                     share office keys or grant referred cases
  --new-passphrase-file FILE
                     the new passphrase, for fieldnode passphrase, or for
                     any command that unlocks with an older passphrase
                     that breaks the rule (else asked twice on a terminal)
enroll:
  --hub HOST:PORT    the hub's address
  --ca FILE          the CA certificate that signed the hub's (ca.crt, from
                     the hub administrator); copied into the data directory
  --token TOKEN      the one-time enrolment token
  --name NAME        a name for this device (default: the host name)
  --insecure         plain text, to a hub on this machine only: 127.0.0.1,
                     [::1] or localhost (tests)
sync, daemon:
  --pull-batch N     records per pull message (default 2,000; smaller on a
                     link that breaks often: less to fetch again)
daemon:
  --every DURATION   time between passes (default 5m; e.g. 90s, 15m, 1h)
  --max-backoff DUR  longest wait between retries while the hub is
                     unreachable (default 10m)

Examples:
  fieldnode init --data-dir /srv/fieldsync/lao-cai
  fieldnode unlock --for 8h
  fieldnode case new --name "Nguyễn Thị Hằng" --sex female --birth-year 2007 --urgent
  fieldnode case search "nguyen thi hang"
  fieldnode show cases 0190f5d2-7c3e-7a1b-9c2d-3e4f5a6b7c8d
  fieldnode enroll --hub hub.example.org:7443 --ca ca.crt --token fsenroll-...
  fieldnode sync
  FIELDSYNC_PASSPHRASE_FILE=/etc/fieldsync/passphrase fieldnode daemon --every 5m

Exit codes: 0 done; 1 failed (the message says why and what to do;
nothing was changed); 2 the command line was wrong; 3 (sync, enroll) the
hub could not be reached: the node keeps working offline, try again later.

Data: the replica, keystore and hub settings live in the data directory
(--data-dir, else $FIELDSYNC_NODE_DIR, else ~/.local/share/fieldsync/node).
The access log: opening a case's sealed fields (case show, case search,
conflict list, show) is recorded, with the officer ($FIELDSYNC_OFFICER or
--officer, else the login name), and synced to the hub.
)";

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

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
  std::string ca_pem;
  if (!insecure) {
    std::ifstream in(ca, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      return Fail(absl::FailedPreconditionError(absl::StrCat(
          "cannot read the CA file ", ca, "; nothing was changed")));
    }
    ca_pem = ss.str();
    // Checked here: gRPC would only say "empty address list", as if the hub
    // were unreachable.
    if (absl::StatusOr<int> n = wire::CountCertificates(ca_pem); !n.ok()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "the CA file ", ca, " holds no valid certificate (", n.status().message(),
          "): use the ca.crt the hub administrator gave you (tools/make-certs writes it); "
          "nothing was changed")));
    }
    // Used from where it is until the enrolment succeeds; then it travels
    // with the data directory (nothing is left behind by a failed one).
    conf.ca_file = ca;
  }
  auto client = ClientFor(conf);
  if (!client.ok()) return Fail(client.status());
  char host[256] = "";
  gethostname(host, sizeof(host) - 1);
  auto name_nfc = NormalizeInput(args.Flag("name", host), "--name");
  if (!name_nfc.ok()) return Fail(name_nfc.status());
  const std::string name = *name_nfc;
  std::string province, hub_id;
  auto identity = MustUnlock(args, dir, "enrolment");
  if (!identity.ok()) return Fail(identity.status());
  auto cred = (*client)->Enroll(token, *identity, name, &province, &hub_id);
  if (!cred.ok()) return FailHub(cred.status());
  conf.province = province;
  conf.hub_id = hub_id;
  if (!insecure) {
    const std::string copy = dir.path + "/hub-ca.crt";
    std::ofstream out(copy, std::ios::binary | std::ios::trunc);
    out << ca_pem;
    out.close();
    if (!out) {
      std::remove(copy.c_str());
      return Fail(absl::FailedPreconditionError(absl::StrCat(
          "the hub enrolled this laptop, but ", copy, " could not be written: free some space "
          "and run the same enroll again (the hub takes a retry with the same keys)")));
    }
    conf.ca_file = copy;
  }
  absl::Status s = SaveEnrolment(dir.path, conf, *cred);
  if (!s.ok()) return Fail(s);
  if (args.Has("json")) {
    std::fputs(JsonLine(Json{{"device", cred->device.ToString()},
                             {"hub", hub},
                             {"province", province},
                             {"fingerprint", crypto::Fingerprint(identity->public_keys())}})
                   .c_str(),
               stdout);
    return 0;
  }
  std::printf("enrolled device %s with the hub at %s for province %s\n"
              "key fingerprint %s (compare it with the one `fieldhub node list` shows)\n"
              "next: this laptop receives the office's keys once a laptop of the office has "
              "approved it. Sync, then run \"fieldnode device list\": it shows the code to "
              "compare and what to run (the office's first laptop types the code the hub "
              "administrator reads from \"fieldhub node list\")\n",
              cred->device.ToString().c_str(), hub.c_str(), province.c_str(),
              crypto::Fingerprint(identity->public_keys()).c_str());
  return 0;
}

int Init(const Args& args) {
  const DataDir dir = NodeDir(args);
  if (access(KeystorePath(dir).c_str(), F_OK) == 0) {
    return Fail(absl::AlreadyExistsError(absl::StrCat(
        "already initialised: ", KeystorePath(dir), " exists; use it, or choose another "
        "--data-dir")));
  }
  KeepSecretsFromOtherProcesses();
  auto pass = GetNewPassphrase(args, /*use_current_sources=*/true);
  if (!pass.ok()) return Fail(pass.status());
  if (absl::Status rule = CheckPassphraseRule(*pass, "the passphrase"); !rule.ok()) {
    Wipe(*pass);
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(rule.message(), ". Nothing was created")));
  }
  auto replica = CreateReplicaIn(dir);
  if (!replica.ok()) {
    Wipe(*pass);
    return Fail(replica.status());
  }
  crypto::DeviceIdentity identity = crypto::DeviceIdentity::Generate((*replica)->device_id());
  absl::Status s = crypto::CreateKeystoreFile(KeystorePath(dir), identity, *pass);
  Wipe(*pass);
  if (!s.ok()) {
    // No replica without its keys: init can simply be run again.
    replica->reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove((dir.ReplicaPath() + suffix).c_str());
    }
    return Fail(s);
  }
  if (args.Has("json")) {
    std::fputs(JsonLine(Json{{"data_dir", dir.path},
                             {"device", identity.device().ToString()},
                             {"fingerprint", crypto::Fingerprint(identity.public_keys())},
                             {"keystore", KeystorePath(dir)}})
                   .c_str(),
               stdout);
    return 0;
  }
  std::printf("initialised %s\ndevice %s\nkey fingerprint %s\nkeystore %s (sealed under your "
              "passphrase: without it nothing on this laptop can be read or written)\n",
              dir.path.c_str(), identity.device().ToString().c_str(),
              crypto::Fingerprint(identity.public_keys()).c_str(), KeystorePath(dir).c_str());
  return 0;
}

absl::StatusOr<Session> OpenSession(const Args& args, const DataDir& dir, uint32_t pull_batch,
                                    bool ask) {
  Session s;
  auto r = OpenReplicaIn(dir);
  if (!r.ok()) return r.status();
  s.replica = *std::move(r);
  FS_RETURN_IF_ERROR(OpenKeys(args, dir, ask, &s));
  auto cred = LoadCredential(dir.path);
  if (!cred.ok()) return cred.status();
  s.cred = *cred;
  auto client = ClientFor(s.hub, pull_batch);
  if (!client.ok()) return client.status();
  s.client = *std::move(client);
  return s;
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
  auto session = OpenSession(args, NodeDir(args), *batch, /*ask=*/isatty(STDIN_FILENO) != 0);
  if (!session.ok()) return Fail(session.status());
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
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
  auto report = session->client->Sync(*session->replica, *session->keys, session->cred, &g_stop,
                                      progress);
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
    if (!report->notice.empty()) absl::StrAppend(&lines, "fieldnode: hub: ", report->notice, "\n");
    ReportKeys(*report, *session->keys, "fieldnode: ", &lines);
    if (!report->push_refused.ok()) {
      absl::StrAppend(&lines, "fieldnode: pulled, but the push was refused: ",
                      Printable(SV(report->push_refused.message())),
                      "\nThe refused commit and those after it stay on this laptop; nothing of "
                      "them was lost.\n");
    }
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

int Show(const Args& args) {
  if (args.positional.size() != 3) {
    return Usage("show needs TABLE and ID, e.g. fieldnode show cases 0190f5d2-...");
  }
  const std::string table = args.positional[1];
  auto id = Id16::Parse(args.positional[2], "record id");
  if (!id.ok()) return Usage(std::string(id.status().message()));
  const DataDir dir = NodeDir(args);
  Session s;
  auto r = OpenReplicaIn(dir);
  if (!r.ok()) return Fail(r.status());
  s.replica = *std::move(r);
  const TableDef* t = s.replica->schema().FindTable(table);
  if (t == nullptr) {
    return Usage(absl::StrCat("no table \"", table, "\"; the tables are listed in docs/SCHEMA.md"));
  }
  absl::Status ks = OpenKeys(args, dir, /*ask=*/isatty(STDIN_FILENO) != 0, &s);
  if (!ks.ok()) return Fail(ks);
  auto row = s.replica->Get(table, *id);
  if (!row.ok()) return Fail(row.status());
  if (!*row) {
    return Fail(absl::NotFoundError(absl::StrCat("no ", table, " record ", id->ToString(),
                                                 " on this node")));
  }
  const bool json = args.Has("json");
  Json doc{{"table", table}, {"id", id->ToString()}, {"live", (*row)->live},
           {"fields", Json::object()}};
  std::string out =
      json ? "" : absl::StrCat(table, " ", id->ToString(), (*row)->live ? "" : " (deleted)", "\n");
  bool masked = false;
  std::vector<std::string> opened;
  for (size_t i = 0; i < t->columns.size(); ++i) {
    const Value& stored = (*row)->values[i];
    if (stored.is_null()) continue;
    std::optional<Version> v;
    if ((*row)->versions[i]) v = (*row)->versions[i]->version;
    const std::string col(t->columns[i].name);
    OpenedField f = s.keys->Read(table, *id, col, stored, v);
    // A sealed absent value (schema version 4) is shown as absent.
    if (f.state == OpenedField::State::kOpened && f.value.is_null()) continue;
    masked |= f.state == OpenedField::State::kLocked;
    if (f.state == OpenedField::State::kOpened) opened.push_back(absl::StrCat(table, ".", col));
    const bool readable =
        f.state == OpenedField::State::kClear || f.state == OpenedField::State::kOpened;
    if (json) {
      Json field = Json::object();
      field["state"] = std::string(OpenedStateName(f.state));
      if (!readable) {
        field["problem"] = f.problem;
      } else if (f.value.kind() == Value::Kind::kInt) {
        field["value"] = f.value.int_value();
      } else {
        field["value"] = ShowValue(f.value);
      }
      doc["fields"][col] = std::move(field);
    } else if (readable) {
      absl::StrAppend(&out, "  ", col, ": ", ShowValue(f.value), "\n");
    } else if (f.state == OpenedField::State::kLocked) {
      absl::StrAppend(&out, "  ", col, ": •••••• (sealed)\n");
    } else {
      absl::StrAppend(&out, "  ", col, ": [cannot be read: ", f.problem, "]\n");
    }
  }
  if (json) {
    doc["locked"] = !s.keys->unlocked();
    out = JsonLine(doc);
  } else if (masked) {
    absl::StrAppend(&out, "Sealed fields are masked: the keystore is locked. Unlock it with "
                          "--passphrase-file FILE or ", kPassphraseFileEnv,
                    ", or run this on a terminal to be asked for the passphrase.\n");
  }
  // Opening a case's sealed fields is recorded before they are shown.
  if (!opened.empty()) {
    auto case_id = CaseOfRecord(*s.replica, table, **row);
    if (!case_id.ok()) return Fail(case_id.status());
    if (*case_id) {
      auto e = AppendAccess(*s.replica, s.keys->province(), Officer(args), **case_id,
                            json ? "export" : "show", absl::StrJoin(opened, ","),
                            SystemClock::Get()->NowMillis());
      if (!e.ok()) return Fail(e.status());
    }
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

int Erase(const Args& args) {
  const std::string case_text = args.Flag("case");
  if (case_text.empty()) return Usage("erase needs --case CASE (its code, as case list shows it, or its id)");
  if (!args.Has("yes")) {
    return Usage("erase destroys the case's keys here and, once synced, everywhere: its sealed "
                 "fields can never be read again. Add --yes to confirm");
  }
  const DataDir dir = NodeDir(args);
  Session s;
  auto r = OpenReplicaIn(dir);
  if (!r.ok()) return Fail(r.status());
  s.replica = *std::move(r);
  // The case's id, or its code as the other commands show it.
  absl::StatusOr<RowId> id = Id16::Parse(case_text, "case id");
  if (!id.ok()) {
    auto by_code = s.replica->RowsWhere("cases", "case_code",
                                        Value::Text(absl::AsciiStrToUpper(case_text)), true);
    if (!by_code.ok()) return Fail(by_code.status());
    if (by_code->size() != 1) {
      return Fail(absl::NotFoundError(absl::StrCat(
          "no case ", case_text, " on this node (give the case code as `fieldnode case list` "
          "shows it, or the case id); nothing was changed")));
    }
    id = by_code->front();
  }
  absl::Status ks = OpenKeys(args, dir, /*ask=*/true, &s);
  if (!ks.ok()) return Fail(ks);
  if (!s.keys->unlocked()) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        "erasure needs the keystore unlocked: give --passphrase-file FILE, or set ",
        kPassphraseFileEnv, ", or run it on a terminal")));
  }
  auto row = s.replica->Get("cases", *id);
  if (!row.ok()) return Fail(row.status());
  if (!*row) {
    return Fail(absl::NotFoundError(absl::StrCat("no case ", id->ToString(), " on this node")));
  }
  const TableDef& cases = *s.replica->schema().FindTable("cases");
  const Value& owner = (*row)->values[static_cast<size_t>(cases.ColumnIndex("province"))];
  if (owner != Value::Text(s.keys->province())) {
    return Fail(absl::PermissionDeniedError(absl::StrCat(
        "case ", id->ToString(), " belongs to office ", ShowValue(owner),
        "; only the owning office may erase it. Nothing was changed")));
  }
  std::vector<RowId> rings{*id};
  // Each referral's letter (reason, decline reason) has its own key ring
  // (schema version 4): erased with the case.
  {
    auto refs = s.replica->ListRows("referrals", /*include_deleted=*/true);
    if (!refs.ok()) return Fail(refs.status());
    const TableDef& rt = *s.replica->schema().FindTable("referrals");
    const size_t case_col = static_cast<size_t>(rt.ColumnIndex(rt.case_relation.column));
    for (const RowId& ref : *refs) {
      auto rr = s.replica->Get("referrals", ref);
      if (!rr.ok()) return Fail(rr.status());
      if (*rr && (**rr).values[case_col] == Value::Bytes(std::string(id->view()))) {
        rings.push_back(ref);
      }
    }
  }
  std::string person_note;
  const Value& person = (*row)->values[static_cast<size_t>(cases.ColumnIndex("person_id"))];
  if (person.kind() == Value::Kind::kBytes && person.str().size() == 16) {
    const RowId pid = *Id16::FromBytes(person.str(), "person id");
    // The person's identity goes too, unless another live case names them.
    auto others = s.keys->OtherLiveCasesOf(pid, *id);
    if (!others.ok()) return Fail(others.status());
    const int64_t n = *others;
    if (n == 0) {
      rings.push_back(pid);
      person_note = " and of its person";
    } else {
      person_note = absl::StrCat(" (its person's keys are kept: ", n,
                                 " other case(s) name the same person)");
    }
  }
  absl::Status e = s.keys->Erase(rings);
  if (!e.ok()) return Fail(e);
  std::printf("erased the keys of case %s%s on this node; sync to destroy the hub's copies and "
              "those of every other node. Its sealed fields can no longer be read anywhere "
              "the order has reached.\n",
              id->ToString().c_str(), person_note.c_str());
  return 0;
}

int Daemon(const Args& args) {
  auto every = ParseDurationMillis(args.Flag("every", "5m"));
  if (!every.ok()) return Usage(std::string(every.status().message()));
  auto cap = ParseDurationMillis(args.Flag("max-backoff", "10m"));
  if (!cap.ok()) return Usage(std::string(cap.status().message()));
  if (*every < 1000) return Usage("--every must be at least 1s");
  auto batch = PullBatch(args);
  if (!batch.ok()) return Usage(std::string(batch.status().message()));
  auto session = OpenSession(args, NodeDir(args), *batch, /*ask=*/false);
  if (!session.ok()) return Fail(session.status());
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
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
  while (!g_stop.load()) {
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
    auto report = session->client->Sync(*session->replica, *session->keys, session->cred, &g_stop,
                                        {}, &progressed);
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
    } else if (g_stop.load()) {
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
    while (!g_stop.load() && std::chrono::steady_clock::now() < until) {
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

}  // namespace

int Main(int argc, char** argv) {
  MakeOutputTerminalSafe();
  wire::QuietGrpcLogs();
  static const std::set<std::string> kOther = {"enroll", "sync", "daemon", "init", "passphrase",
                                              "show", "erase", "status", "version", "help",
                                              "device", "trust", "set-aside"};
  // Options may come before the command (fieldnode --data-dir DIR status):
  // the first word that names a command is moved to the front.
  std::vector<char*> args(argv, argv + argc);
  if (argc > 1 && argv[1][0] == '-') {
    for (int i = 2; i < argc; ++i) {
      const std::string w = argv[i];
      if (IsOfficeCommand(w) || kOther.count(w) > 0) {
        std::rotate(args.begin() + 1, args.begin() + i, args.begin() + i + 1);
        break;
      }
    }
  }
  argv = args.data();
  const std::string cmd = argc > 1 ? argv[1] : "";
  // `fieldnode help case` is `fieldnode case --help`.
  if (cmd == "help" && argc == 3 && argv[2][0] != '-') {
    static char help_flag[] = "--help";
    std::vector<char*> again = {argv[0], argv[2], help_flag, nullptr};
    return Main(3, again.data());
  }
  if (!cmd.empty() && cmd[0] != '-' && !IsOfficeCommand(cmd) && kOther.count(cmd) == 0) {
    return Usage(absl::StrCat("unknown command \"", cmd, "\""));
  }
  if (IsOfficeCommand(cmd)) {
    SetHelpCommand(cmd);
    auto parsed = ParseArgs(argc, argv, OfficeValuedFlags(), OfficeSwitches());
    if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
    if (parsed->Has("help")) {
      const std::string help = OfficeHelp(cmd);
      std::fputs(help.empty() ? kUsage : help.c_str(), stdout);
      return 0;
    }
    return RunOfficeCommand(*parsed);
  }
  if (cmd == "device") {
    SetHelpCommand(cmd);
    auto parsed = ParseArgs(argc, argv,
                            {"data-dir", "passphrase-file", "new-passphrase-file", "code",
                             "officer", "first-device", "ack"},
                            {"json", "help", "first", "yes", "all"});
    if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
    if (parsed->Has("help")) {
      std::fputs(DeviceHelp().c_str(), stdout);
      return 0;
    }
    return DeviceCommand(*parsed);
  }
  if (cmd == "trust" || cmd == "set-aside") {
    SetHelpCommand(cmd);
    auto parsed = ParseArgs(argc, argv, {"data-dir", "passphrase-file", "officer"},
                            {"json", "help", "all"});
    if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
    if (parsed->Has("help")) return std::fputs(OfficeHelp(cmd).c_str(), stdout) < 0 ? 1 : 0;
    return cmd == "trust" ? RunTrustCommand(*parsed) : RunSetAsideCommand(*parsed);
  }
  if (cmd == "enroll" || cmd == "sync" || cmd == "daemon" || cmd == "init" ||
      cmd == "passphrase" || cmd == "show" || cmd == "erase") {
    SetHelpCommand(cmd);
    auto parsed = ParseArgs(argc, argv,
                            {"data-dir", "hub", "ca", "token", "name", "every", "max-backoff",
                             "pull-batch", "passphrase-file", "new-passphrase-file", "case", "officer"},
                            {"json", "help", "insecure", "yes"});
    if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
    if (parsed->Has("help")) {
      const std::string help = OfficeHelp(cmd);
      std::fputs(help.empty() ? kUsage : help.c_str(), stdout);
      return 0;
    }
    if (cmd == "enroll") return Enroll(*parsed);
    if (cmd == "init") return Init(*parsed);
    if (cmd == "passphrase") return RunPassphraseCommand(*parsed);
    if (cmd == "show") return Show(*parsed);
    if (cmd == "erase") return Erase(*parsed);
    if (cmd == "sync") return Sync(*parsed);
    return Daemon(*parsed);
  }
  const ReplicaProgram program{"fieldnode", kUsage, "node", "replica.db", "FIELDSYNC_NODE_DIR",
                               sync::kMaxProtocolVersion};
  return RunReplicaProgram(program, argc, argv);
}

}  // namespace fieldsync::node
