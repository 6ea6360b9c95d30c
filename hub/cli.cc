#include "hub/cli.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/args.h"
#include "base/terminal.h"
#include "base/strings.h"
#include "crypto/identity.h"
#include "crypto/pairing_code.h"
#include "fieldsync/v1/protocol.pb.h"
#include "hub/audit.h"
#include "hub/service.h"
#include "proto/wire.h"
#include "node/text.h"
#include "hub/sqlite_store.h"
#include "report/report.h"
#include "store/access_log.h"
#include "store/data_dir.h"

namespace fieldsync::hub {
namespace {

constexpr char kUsage[] = R"(fieldhub -- the central hub of fieldsync

Usage: fieldhub COMMAND [options]
       fieldhub COMMAND --help     that command's own usage, with examples

Commands:
  init                      create the hub's store (the embedded SQLite file)
  serve                     run the sync service for the nodes (until SIGTERM)
  province add CODE NAME    register a province office, e.g. LC "Lào Cai"
  province list             the registered provinces
  enroll-token --province CODE [--valid-for 24h]
                            make a one-time token that enrols one node of
                            that province; hand it to the office's officer
  node list                 enrolled nodes: province, last seen, lag (log
                            positions behind), pending (entries of its
                            scope waiting), commits pushed, protocol, skew,
                            key fingerprint
  node revoke DEVICE        refuse a node from now on (a lost laptop)
  gc [--min-age 30d] [--stale-after 90d]
                            collect tombstones every node has acknowledged
  status                    the replica (device, commits, conflicts, rows)
                            and each province: nodes, last sync, how far
                            behind
  audit [--since DATE]      the administrators' audit trail and the nodes'
                            access logs, in time order; verifies every chain
  report [--threshold N]    national case figures, anonymised: small counts
                            shown as <5
  version                   program, schema, commit-format, protocol versions
  help [COMMAND]            this text, or one command's

Options:
  --data-dir DIR     where the store lives (default: $FIELDSYNC_HUB_DIR,
                     else ~/.local/share/fieldsync/hub)
  --json             print data as JSON (list, status, version, enroll-token,
                     audit, report)
  --as NAME          who you are, for the audit trail (province, enroll-token,
                     node revoke, gc); default $FIELDSYNC_ADMIN, else $USER,
                     else "administrator"
serve:
  --listen HOST:PORT address to serve on (default 0.0.0.0:7443)
  --tls-cert FILE    the hub's certificate chain, PEM (default DIR/tls/hub.crt)
  --tls-key FILE     its private key, PEM (default DIR/tls/hub.key)
  --insecure         plain-text gRPC, for tests: 127.0.0.1, [::1] or localhost
  --port-file FILE   write the port actually bound (useful with port 0)
  --verbose          log one line per push and pull
  --no-compression   do not gzip responses (a fast link and a slow CPU; tests
                     that read the bytes on the wire)
  --benchmark-without-crypto
                     accept unsigned commits and clear sensitive fields: only
                     for measuring what encryption costs (tools/bench_sync
                     --crypto both). Never for a hub real nodes use

Examples:
  fieldhub init --data-dir /srv/fieldsync/hub
  tools/make-certs /srv/fieldsync/hub/tls --hub-name hub.example.org
  fieldhub serve --data-dir /srv/fieldsync/hub --listen 0.0.0.0:7443
  fieldhub province add LC "Lào Cai" --as "Trần Văn Quản"
  fieldhub enroll-token --province LC --valid-for 48h
  fieldhub node revoke 0193a5c2-7d1e-7c3a-9f00-2b1c3d4e5f60
  fieldhub audit --since 2026-11-01
  fieldhub report --json

Exit codes: 0 done; 1 failed (the message says why and what to do);
2 the command line was wrong; 4 (audit) an audit trail or access log was
changed outside fieldsync: an entry edited, deleted or forged.
)";

// One command: its usage text, the options that take a value, its switches.
struct Command {
  const char* usage;
  std::set<std::string> valued;
  std::set<std::string> switches;
};

const std::map<std::string, Command>& Commands() {
  static const auto* commands = new std::map<std::string, Command>{
      {"init",
       {R"(Usage: fieldhub init [--data-dir DIR]

Creates the hub's store: one SQLite file, hub.db, in DIR (made private to
its owner). Refused if one is there already.

Example:
  fieldhub init --data-dir /srv/fieldsync/hub
)",
        {"data-dir"},
        {"help"}}},
      {"serve",
       {R"(Usage: fieldhub serve [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE]
                      [--port-file FILE] [--verbose] [--no-compression]
                      [--insecure] [--data-dir DIR]

Runs the sync service for the nodes until SIGTERM or Ctrl-C.
  --listen HOST:PORT address to serve on (default 0.0.0.0:7443)
  --tls-cert FILE    the hub's certificate chain, PEM (default DIR/tls/hub.crt)
  --tls-key FILE     its private key, PEM (default DIR/tls/hub.key)
  --insecure         plain-text gRPC, for tests: 127.0.0.1, [::1] or localhost
  --port-file FILE   write the port actually bound (useful with port 0)
  --verbose          log one line per push and pull
  --no-compression   do not gzip responses
  --benchmark-without-crypto
                     accept unsigned commits and clear sensitive fields: only
                     for measuring what encryption costs. Never for real nodes

Example:
  fieldhub serve --data-dir /srv/fieldsync/hub --listen 0.0.0.0:7443
)",
        {"data-dir", "listen", "tls-cert", "tls-key", "port-file"},
        {"help", "insecure", "verbose", "benchmark-without-crypto", "no-compression"}}},
      {"province",
       {R"(Usage: fieldhub province add CODE NAME [--as ADMIN] [--data-dir DIR]
       fieldhub province list [--json] [--data-dir DIR]

add   registers a province office: CODE is 1 to 16 characters without
      spaces, NAME its name. Recorded in the audit trail under --as ADMIN
      (default $FIELDSYNC_ADMIN, else $USER).
list  the registered provinces.

Examples:
  fieldhub province add LC "Lào Cai" --as "Trần Văn Quản"
  fieldhub province list --json
)",
        {"data-dir", "as"},
        {"help", "json"}}},
      {"enroll-token",
       {R"(Usage: fieldhub enroll-token --province CODE [--valid-for DURATION]
                             [--json] [--as ADMIN] [--data-dir DIR]

Makes a one-time token that enrols one node of province CODE, valid for
DURATION (default 24h, at most 30d; e.g. 90m, 48h, 7d). Hand it to the office's officer;
the hub keeps only a hash of it. The audit trail records the province and
expiry under --as ADMIN, never the token.

Example:
  fieldhub enroll-token --province LC --valid-for 48h
)",
        {"data-dir", "province", "valid-for", "as"},
        {"help", "json"}}},
      {"node",
       {R"(Usage: fieldhub node list [--json] [--data-dir DIR]
       fieldhub node revoke DEVICE [--as ADMIN] [--data-dir DIR]

list    enrolled nodes: province, last seen, lag (log positions behind),
        pending (entries of its scope waiting), commits pushed, protocol,
        clock skew, key fingerprint (compare it with the one `fieldnode enroll`
        printed on the laptop), name, and whether it was revoked or removed
        by its office (a signed removal: the hub refuses it as if revoked).
revoke  refuses the node from now on (a lost or stolen laptop); its office
        moves to new keys at its next sync. Recorded in the audit trail.

Examples:
  fieldhub node list
  fieldhub node revoke 0193a5c2-7d1e-7c3a-9f00-2b1c3d4e5f60 --as "Trần Văn Quản"
)",
        {"data-dir", "as"},
        {"help", "json"}}},
      {"gc",
       {R"(Usage: fieldhub gc [--min-age DURATION] [--stale-after DURATION]
                   [--as ADMIN] [--data-dir DIR]

Collects tombstones (deleted records) older than --min-age (default 30d)
that every node able to see them has acknowledged; nodes not seen for
--stale-after (default 90d) do not hold collection back (they are rebuilt
when they return). Recorded in the audit trail.

Example:
  fieldhub gc --min-age 30d --stale-after 90d
)",
        {"data-dir", "min-age", "stale-after", "as"},
        {"help"}}},
      {"status",
       {R"(Usage: fieldhub status [--json] [--data-dir DIR]

The hub's replica (device, schema, commits, conflicts, rows per table), then
one line per province: nodes enrolled and revoked, the last sync of any of
its nodes, how far its nodes are behind (LAG: log positions; PENDING:
entries of the province's scope not yet pulled, the most of any of its
nodes) and its state: "up to date", "BEHIND" (entries are waiting) or
"no nodes".

Example:
  fieldhub status --json
)",
        {"data-dir"},
        {"help", "json"}}},
      {"audit",
       {R"(Usage: fieldhub audit [--since DATE] [--json] [--data-dir DIR]

Shows, in time order, the administrators' audit trail (province added,
enrolment token issued, node enrolled or revoked, tombstones collected, a
case's keys granted to another office or erased) and the access logs of the
nodes (which officer opened which case's sealed fields, when, for what).
--since DATE shows entries from DATE on (YYYY-MM-DD or
YYYY-MM-DDTHH:MM:SSZ, UTC).

Every chain is verified whatever --since says: the audit trail, and each
device's access log. Each gap, fork, deletion or edit is reported on its
own line starting "BROKEN:".

Exit codes: 0 every chain is whole; 4 at least one chain is broken (an entry
was edited, deleted or forged outside fieldsync: keep the output, compare
with a backup); 1 the store could not be read; 2 the command line was wrong.

Examples:
  fieldhub audit --since 2026-11-01
  fieldhub audit --json > audit-2026-11.json
)",
        {"data-dir", "since"},
        {"help", "json"}}},
      {"report",
       {R"(Usage: fieldhub report [--threshold N] [--json] [--data-dir DIR]

National figures of live cases, from clear fields only: by status, intake
channel, province, month opened, and the victim's age band and sex. A count
from 1 to N-1 is shown as <N, never as its number (default N = 5; 1 shows
every count). Names and every sealed field are never read.

Examples:
  fieldhub report
  fieldhub report --threshold 10 --json
)",
        {"data-dir", "threshold"},
        {"help", "json"}}},
      {"version",
       {R"(Usage: fieldhub version [--json]

The program's schema, commit-format and protocol versions.

Example:
  fieldhub version --json
)",
        {"data-dir"},
        {"help", "json"}}},
      {"help",
       {R"(Usage: fieldhub help [COMMAND]

The overview of every command, or one command's usage.

Example:
  fieldhub help audit
)",
        {},
        {"help"}}},
  };
  return *commands;
}


// `s` padded with spaces to `width` characters (code points, not bytes: a
// Vietnamese name stays aligned in a table).
std::string Pad(const std::string& s, size_t width) {
  size_t chars = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
  }
  return chars >= width ? s : s + std::string(width - chars, ' ');
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "fieldhub: %s\n", std::string(s.message()).c_str());
  return 1;
}

// A wrong command line: one line, what is wrong and where to look.
int Usage(const std::string& cmd, std::string what) {
  // ParseArgs says "see --help": say which.
  constexpr std::string_view kSee = "; see --help";
  if (what.size() > kSee.size() && what.compare(what.size() - kSee.size(), kSee.size(),
                                                kSee.data(), kSee.size()) == 0) {
    what.resize(what.size() - kSee.size());
  }
  std::fprintf(stderr, "fieldhub: %s; see `fieldhub %s`\n", what.c_str(),
               cmd.empty() ? "help" : absl::StrCat(cmd, " --help").c_str());
  return 2;
}

DataDir HubDir(const Args& args) {
  return DataDir{ResolveDataDir(args.Flag("data-dir"), "FIELDSYNC_HUB_DIR", "hub"), "hub.db",
                 "fieldhub init", "FIELDSYNC_HUB_DIR"};
}

absl::StatusOr<std::unique_ptr<SqliteHubStore>> OpenStore(const DataDir& dir) {
  // Opening through OpenReplicaIn first gives the friendly "run fieldhub
  // init" message when there is no store yet.
  {
    auto r = OpenReplicaIn(dir);
    if (!r.ok()) return r.status();
  }
  return SqliteHubStore::Open(dir.ReplicaPath());
}

// Who the administrator is, for the audit trail: --as, else
// $FIELDSYNC_ADMIN, else $USER, else "administrator".
absl::StatusOr<std::string> Actor(const Args& args) {
  std::string who = args.Flag("as");
  if (args.flags.count("as") > 0) {
    if (who.empty() || who.size() > 100) {
      return absl::InvalidArgumentError("--as needs a name of 1 to 100 characters");
    }
    for (char c : who) {
      if (static_cast<unsigned char>(c) < 0x20) {
        return absl::InvalidArgumentError("--as must not hold control characters");
      }
    }
    return node::NormalizeInput(who, "--as");
  }
  for (const char* var : {"FIELDSYNC_ADMIN", "USER"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') return std::string(v).substr(0, 100);
  }
  return std::string("administrator");
}

// "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (UTC) as Unix milliseconds.
absl::StatusOr<int64_t> ParseDateMillis(const std::string& text) {
  auto bad = [&]() {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is not a date; write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC), e.g. "
        "2026-11-01"));
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char tail = 0;
  int n = 0;
  if (text.size() == 10) {
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) return bad();
  } else if (text.size() == 20) {
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s,
                    &tail) != 7 ||
        tail != 'Z') {
      return bad();
    }
  } else {
    return bad();
  }
  for (char c : text.substr(0, 10)) {
    if (c != '-' && (c < '0' || c > '9')) return bad();
  }
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59 ||
      h < 0 || mi < 0 || s < 0) {
    return bad();
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return bad();
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

int Serve(const Args& args) {
  const DataDir dir = HubDir(args);
  ServerOptions o;
  o.listen = args.Flag("listen", "0.0.0.0:7443");
  o.insecure = args.Has("insecure");
  o.tls_cert = args.Flag("tls-cert", dir.path + "/tls/hub.crt");
  o.tls_key = args.Flag("tls-key", dir.path + "/tls/hub.key");
  o.verbose = args.Has("verbose");
  o.compress = !args.Has("no-compression");
  // Signals are taken by sigwait below; block them before gRPC starts its
  // threads so that none of those threads receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto store = OpenStore(dir);
  if (!store.ok()) return Fail(store.status());
  if (args.Has("benchmark-without-crypto")) {
    (*store)->set_crypto_checks(false);
    std::fprintf(stderr,
                 "fieldhub: WARNING: --benchmark-without-crypto: unsigned commits and clear "
                 "sensitive fields are accepted. For benchmarks only; victim data sent to this "
                 "hub is not protected\n");
  }
  auto server = StartServer(o, store->get());
  if (!server.ok()) return Fail(server.status());
  const std::string port_file = args.Flag("port-file");
  if (!port_file.empty()) {
    std::ofstream(port_file) << (*server)->port << "\n";
  }
  std::fprintf(stderr, "fieldhub: serving %s on port %d (%s); stop with Ctrl-C or SIGTERM\n",
               dir.ReplicaPath().c_str(), (*server)->port,
               o.insecure ? "plain text, loopback only" : "TLS");
  int sig = 0;
  sigwait(&set, &sig);
  std::fprintf(stderr, "fieldhub: %s received, finishing calls in progress\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  server->reset();
  std::fprintf(stderr, "fieldhub: stopped\n");
  return 0;
}

int ProvinceCmd(const Args& args) {
  if (args.positional.size() < 2) return Usage("province", "province needs add or list");
  const std::string& sub = args.positional[1];
  if (sub != "add" && sub != "list") {
    return Usage("province", absl::StrCat("unknown province command \"", sub,
                                          "\"; it is add or list"));
  }
  if (sub == "add" && args.positional.size() != 4) {
    return Usage("province", "province add needs CODE and NAME, e.g. LC \"Lào Cai\"");
  }
  if (sub == "list" && args.positional.size() != 2) {
    return Usage("province", "province list takes no operands");
  }
  auto actor = Actor(args);
  if (!actor.ok()) return Usage("province", std::string(actor.status().message()));
  auto store = OpenStore(HubDir(args));
  if (!store.ok()) return Fail(store.status());
  if (sub == "add") {
    // The name as typed, stored NFC (one code point per accented letter).
    auto name = node::NormalizeInput(args.positional[3], "the province name");
    if (!name.ok()) return Fail(name.status());
    absl::Status s = (*store)->AddProvince(args.positional[2], *name, *actor);
    if (!s.ok()) return Fail(s);
    std::printf("province %s (%s) registered\n", args.positional[2].c_str(), name->c_str());
    return 0;
  }
  auto list = (*store)->Provinces();
  if (!list.ok()) return Fail(list.status());
  if (args.Has("json")) {
    std::string out = "[";
    for (size_t i = 0; i < list->size(); ++i) {
      const auto& p = (*list)[i];
      absl::StrAppend(&out, i ? ", " : "", "{\"code\": ", JsonString(p.code),
                      ", \"name\": ", JsonString(p.name), "}");
    }
    std::printf("%s]\n", out.c_str());
  } else {
    if (list->empty()) std::printf("no provinces yet: fieldhub province add CODE NAME\n");
    for (const auto& p : *list) std::printf("%-8s %s\n", p.code.c_str(), p.name.c_str());
  }
  return 0;
}

int EnrollTokenCmd(const Args& args) {
  if (args.positional.size() != 1) return Usage("enroll-token", "enroll-token takes no operands");
  const std::string province = args.Flag("province");
  if (province.empty()) return Usage("enroll-token", "enroll-token needs --province CODE");
  auto valid = ParseDurationMillis(args.Flag("valid-for", "24h"));
  if (!valid.ok()) return Usage("enroll-token", std::string(valid.status().message()));
  // A token is a key to an office until it is used: it lives days, not years.
  constexpr int64_t kMaxTokenMillis = int64_t{30} * 24 * 3600 * 1000;
  if (*valid > kMaxTokenMillis) {
    return Usage("enroll-token", absl::StrCat("--valid-for ", args.Flag("valid-for"),
                                              " is not a token's life: give at most 30d (make "
                                              "another token when it is needed)"));
  }
  auto actor = Actor(args);
  if (!actor.ok()) return Usage("enroll-token", std::string(actor.status().message()));
  auto store = OpenStore(HubDir(args));
  if (!store.ok()) return Fail(store.status());
  auto t = (*store)->MakeEnrollToken(province, *valid, *actor);
  if (!t.ok()) return Fail(t.status());
  if (args.Has("json")) {
    std::printf("{\"token\": %s, \"province\": %s, \"expires_at\": %s}\n",
                JsonString(t->token).c_str(), JsonString(t->province).c_str(),
                JsonString(FormatTimeMillis(t->expires_at_millis)).c_str());
  } else {
    std::printf("%s\n", t->token.c_str());
    std::fprintf(stderr,
                 "fieldhub: token for province %s, valid until %s, enrols one device once:\n"
                 "  fieldnode enroll --hub HOST:PORT --ca ca.crt --token %s\n",
                 t->province.c_str(), FormatTimeMillis(t->expires_at_millis).c_str(),
                 t->token.c_str());
  }
  return 0;
}

// A node's key fingerprint, or "" if it registered no keys.
std::string FingerprintOf(const NodeInfo& n) {
  if (n.keys.sign_pk.empty() && n.keys.box_pk.empty()) return "";
  return crypto::Fingerprint(n.keys);
}

// The code an office's first laptop types to become the first device
// (docs/CRYPTO.md, "Office membership"): the administrator reads it over
// the phone, which proves the hub registered that laptop's own keys.
std::string FirstDeviceCodeOf(const NodeInfo& n) {
  if (n.keys.sign_pk.size() != 32 || n.keys.box_pk.size() != 32) return "";
  return crypto::PairingCode(n.keys, n.keys);
}

int NodeCmd(const Args& args) {
  if (args.positional.size() < 2) return Usage("node", "node needs list or revoke");
  const std::string& sub = args.positional[1];
  if (sub != "list" && sub != "revoke") {
    return Usage("node", absl::StrCat("unknown node command \"", sub, "\"; it is list or revoke"));
  }
  if (sub == "list" && args.positional.size() != 2) {
    return Usage("node", "node list takes no operands");
  }
  if (sub == "revoke") {
    if (args.positional.size() != 3) {
      return Usage("node", "node revoke needs the DEVICE id (see fieldhub node list)");
    }
    auto id = Id16::Parse(args.positional[2], "device id");
    if (!id.ok()) return Usage("node", std::string(id.status().message()));
    auto actor = Actor(args);
    if (!actor.ok()) return Usage("node", std::string(actor.status().message()));
    auto store = OpenStore(HubDir(args));
    if (!store.ok()) return Fail(store.status());
    absl::Status s = (*store)->RevokeNode(*id, *actor);
    if (!s.ok()) return Fail(s);
    std::printf("node %s revoked: the hub refuses it from now on\n",
                args.positional[2].c_str());
    return 0;
  }
  auto store = OpenStore(HubDir(args));
  if (!store.ok()) return Fail(store.status());
  auto nodes = (*store)->Nodes();
  if (!nodes.ok()) return Fail(nodes.status());
  auto head = (*store)->LogHead();
  if (!head.ok()) return Fail(head.status());
  if (args.Has("json")) {
    std::string out = "[";
    for (size_t i = 0; i < nodes->size(); ++i) {
      const NodeInfo& n = (*nodes)[i];
      const std::string fp = FingerprintOf(n);
      absl::StrAppend(
          &out, i ? ", " : "", "{\"device\": ", JsonString(n.device.ToString()),
          ", \"name\": ", JsonString(n.name), ", \"province\": ", JsonString(n.province),
          ", \"last_seen\": ", JsonString(FormatTimeMillis(n.last_seen_millis)),
          ", \"cursor\": ", n.cursor, ", \"lag\": ", *head - n.delivered,
          ", \"pending\": ", n.pending,
          ", \"acknowledged_seq\": ", n.acknowledged_seq,
          ", \"protocol_version\": ", n.protocol_version,
          ", \"clock_skew_ms\": ", n.clock_skew_millis,
          ", \"key_fingerprint\": ", fp.empty() ? "null" : JsonString(fp),
          ", \"first_device_code\": ",
          FirstDeviceCodeOf(n).empty() ? "null" : JsonString(FirstDeviceCodeOf(n)),
          ", \"revoked\": ", n.revoked ? "true" : "false",
          ", \"removed_by_office\": ", n.removed_by_office_at_millis != 0 ? "true" : "false",
          "}");
    }
    std::printf("%s]\n", out.c_str());
    return 0;
  }
  if (nodes->empty()) {
    std::printf("no nodes enrolled yet: fieldhub enroll-token --province CODE\n");
    return 0;
  }
  std::printf("%-36s  %-8s  %-20s  %8s  %8s  %8s  %5s  %9s  %-19s  %-44s  %s\n", "DEVICE",
              "PROVINCE", "LAST SEEN", "LAG", "PENDING", "PUSHED", "PROTO", "SKEW(ms)",
              "FIRST-DEVICE CODE", "KEY FINGERPRINT", "NAME");
  for (const NodeInfo& n : *nodes) {
    const std::string fp = FingerprintOf(n);
    const std::string code = FirstDeviceCodeOf(n);
    std::printf("%-36s  %-8s  %-20s  %8lld  %8llu  %8llu  %5d  %9lld  %-19s  %-44s  %s%s\n",
                n.device.ToString().c_str(), n.province.c_str(),
                FormatTimeMillis(n.last_seen_millis).c_str(),
                static_cast<long long>(*head - n.delivered),
                static_cast<unsigned long long>(n.pending),
                static_cast<unsigned long long>(n.acknowledged_seq), n.protocol_version,
                static_cast<long long>(n.clock_skew_millis), code.empty() ? "-" : code.c_str(),
                fp.empty() ? "-" : fp.c_str(),
                Printable(n.name).c_str(),
                n.revoked                           ? "  [REVOKED]"
                : n.removed_by_office_at_millis != 0 ? "  [REMOVED BY ITS OFFICE]"
                                                     : "");
  }
  return 0;
}

int Gc(const Args& args) {
  if (args.positional.size() != 1) return Usage("gc", "gc takes no operands");
  auto min_age = ParseDurationMillis(args.Flag("min-age", "30d"));
  if (!min_age.ok()) return Usage("gc", std::string(min_age.status().message()));
  auto stale = ParseDurationMillis(args.Flag("stale-after", "90d"));
  if (!stale.ok()) return Usage("gc", std::string(stale.status().message()));
  auto actor = Actor(args);
  if (!actor.ok()) return Usage("gc", std::string(actor.status().message()));
  auto store = OpenStore(HubDir(args));
  if (!store.ok()) return Fail(store.status());
  auto r = (*store)->CollectTombstones(*min_age, *stale, *actor);
  if (!r.ok()) return Fail(r.status());
  std::printf("collected %llu tombstones (collection epoch %llu)%s\n",
              static_cast<unsigned long long>(r->tombstones),
              static_cast<unsigned long long>(r->epoch),
              r->tombstones > 0 ? "; nodes drop them at their next sync, and a node that never "
                                  "received one of those deletes is rebuilt from the current state"
                                : "");
  for (const std::string& w : r->waiting_for) {
    std::printf("kept: not yet acknowledged by %s\n", w.c_str());
  }
  return 0;
}

// ---------------------------------------------------------------------------
// status

struct ProvinceState {
  std::string code;
  std::string name;
  int enrolled = 0;  // active (not revoked)
  int revoked = 0;
  int64_t last_sync_millis = 0;
  int64_t lag = 0;
  uint64_t pending = 0;
  std::string state() const {
    if (enrolled == 0) return "no nodes";
    return pending > 0 ? "BEHIND" : "up to date";
  }
};

int Status(const Args& args) {
  if (args.positional.size() != 1) return Usage("status", "status takes no operands");
  const DataDir dir = HubDir(args);
  auto store = OpenStore(dir);
  if (!store.ok()) return Fail(store.status());
  auto stats = (*store)->replica().Stats();
  if (!stats.ok()) return Fail(stats.status());
  auto provinces = (*store)->Provinces();
  if (!provinces.ok()) return Fail(provinces.status());
  auto nodes = (*store)->Nodes();
  if (!nodes.ok()) return Fail(nodes.status());
  auto head = (*store)->LogHead();
  if (!head.ok()) return Fail(head.status());
  std::map<std::string, ProvinceState> by_code;
  for (const Province& p : *provinces) by_code[p.code] = ProvinceState{p.code, p.name};
  for (const NodeInfo& n : *nodes) {
    ProvinceState& p = by_code[n.province];
    p.code = n.province;
    if (n.revoked) {
      ++p.revoked;
      continue;
    }
    ++p.enrolled;
    p.last_sync_millis = std::max(p.last_sync_millis, n.last_seen_millis);
    p.lag = std::max(p.lag, *head - n.delivered);
    p.pending = std::max(p.pending, n.pending);
  }
  const bool json = args.Has("json");
  std::string base = FormatStatus(dir, *stats, json);
  if (json) {
    // FormatStatus's object, with the hub's figures added before its end.
    while (!base.empty() && (base.back() == '\n' || base.back() == '}')) {
      const bool brace = base.back() == '}';
      base.pop_back();
      if (brace) break;
    }
    std::string list;
    for (const auto& [code, p] : by_code) {
      absl::StrAppend(&list, list.empty() ? "" : ", ", "{\"code\": ", JsonString(p.code),
                      ", \"name\": ", JsonString(p.name), ", \"nodes_enrolled\": ", p.enrolled,
                      ", \"nodes_revoked\": ", p.revoked, ", \"last_sync\": ",
                      JsonString(FormatTimeMillis(p.last_sync_millis)), ", \"lag\": ", p.lag,
                      ", \"pending\": ", p.pending,
                      ", \"behind\": ", p.pending > 0 ? "true" : "false",
                      ", \"state\": ", JsonString(p.state()), "}");
    }
    std::printf("%s, \"log_head\": %lld, \"provinces\": [%s]}\n", base.c_str(),
                static_cast<long long>(*head), list.c_str());
    return 0;
  }
  std::fputs(base.c_str(), stdout);
  int enrolled = 0, revoked = 0, behind = 0;
  for (const auto& [code, p] : by_code) {
    enrolled += p.enrolled;
    revoked += p.revoked;
    if (p.pending > 0 && p.enrolled > 0) ++behind;
  }
  std::printf("log head         %lld\n", static_cast<long long>(*head));
  std::printf("provinces        %zu registered, %d nodes enrolled, %d revoked, %d behind\n",
              provinces->size(), enrolled, revoked, behind);
  if (by_code.empty()) {
    std::printf("no provinces yet: fieldhub province add CODE NAME\n");
    return 0;
  }
  std::printf("\n%-8s  %-20s  %5s  %7s  %-20s  %8s  %8s  %s\n", "PROVINCE", "NAME", "NODES",
              "REVOKED", "LAST SYNC", "LAG", "PENDING", "STATE");
  for (const auto& [code, p] : by_code) {
    std::printf("%s  %s  %5d  %7d  %-20s  %8lld  %8llu  %s\n", Pad(p.code, 8).c_str(),
                Pad(p.name.empty() ? "(not registered)" : p.name, 20).c_str(), p.enrolled,
                p.revoked,
                FormatTimeMillis(p.last_sync_millis).c_str(), static_cast<long long>(p.lag),
                static_cast<unsigned long long>(p.pending), p.state().c_str());
  }
  return 0;
}

// ---------------------------------------------------------------------------
// audit

struct Problem {
  std::string chain;   // "hub audit trail" or "access log of device ..."
  std::string device;  // access logs only
  int64_t seq = 0;
  std::string problem;
};

int Audit(const Args& args) {
  if (args.positional.size() != 1) return Usage("audit", "audit takes no operands");
  int64_t since = 0;
  if (args.flags.count("since") > 0) {
    auto s = ParseDateMillis(args.Flag("since"));
    if (!s.ok()) return Usage("audit", std::string(s.status().message()));
    since = *s;
  }
  auto store = OpenStore(HubDir(args));
  if (!store.ok()) return Fail(store.status());
  auto trail = (*store)->AuditTrail();
  if (!trail.ok()) return Fail(trail.status());
  auto access = ReadAccessLog((*store)->replica());
  if (!access.ok()) return Fail(access.status());
  auto nodes = (*store)->Nodes();
  if (!nodes.ok()) return Fail(nodes.status());
  std::map<std::string, const NodeInfo*> node_of;
  for (const NodeInfo& n : *nodes) node_of[n.device.ToString()] = &n;
  auto device_label = [&](const DeviceId& d) {
    auto it = node_of.find(d.ToString());
    if (it == node_of.end()) return absl::StrCat("device ", d.ToString(), " (not enrolled here)");
    return absl::StrCat("device ", d.ToString(), " (\"", Printable(it->second->name), "\", ",
                        Printable(it->second->province), ")");
  };

  // Verification: always over everything, whatever --since says.
  std::vector<Problem> problems;
  for (const HubAuditProblem& p : VerifyHubAudit(*trail)) {
    problems.push_back(Problem{"hub audit trail", "", p.seq, p.problem});
  }
  std::map<std::string, int64_t> access_counts;  // device -> entries
  for (const AccessEntry& e : *access) {
    if (e.live) ++access_counts[e.device.ToString()];
  }
  for (const ChainProblem& p : VerifyAccessChains(*access)) {
    problems.push_back(Problem{absl::StrCat("access log of ", device_label(p.device)),
                               p.device.ToString(), p.seq, p.problem});
  }

  // The timeline.
  struct Line {
    int64_t at = 0;
    int order = 0;  // admin entries first at equal times, then by seq
    int64_t seq = 0;
    const HubAuditEntry* admin = nullptr;
    const AccessEntry* access = nullptr;
  };
  std::vector<Line> lines;
  for (const HubAuditEntry& e : trail->entries) {
    if (e.at_millis >= since) lines.push_back(Line{e.at_millis, 0, e.seq, &e, nullptr});
  }
  for (const AccessEntry& e : *access) {
    if (e.live && e.at_millis >= since) lines.push_back(Line{e.at_millis, 1, e.seq, nullptr, &e});
  }
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    return std::tie(a.at, a.order, a.seq) < std::tie(b.at, b.order, b.seq);
  });

  if (args.Has("json")) {
    std::string out = "{\"entries\": [";
    for (size_t i = 0; i < lines.size(); ++i) {
      const Line& l = lines[i];
      absl::StrAppend(&out, i ? ", " : "", "{\"at\": ", JsonString(FormatTimeMillis(l.at)),
                      ", \"at_millis\": ", l.at);
      if (l.admin != nullptr) {
        const HubAuditEntry& e = *l.admin;
        absl::StrAppend(&out, ", \"kind\": \"admin\", \"seq\": ", e.seq,
                        ", \"actor\": ", JsonString(e.actor), ", \"action\": ",
                        JsonString(e.action), ", \"detail\": ", JsonString(e.detail), "}");
      } else {
        const AccessEntry& e = *l.access;
        auto it = node_of.find(e.device.ToString());
        absl::StrAppend(
            &out, ", \"kind\": \"access\", \"device\": ", JsonString(e.device.ToString()),
            ", \"device_name\": ",
            it == node_of.end() ? std::string("null") : JsonString(it->second->name),
            ", \"seq\": ", e.seq, ", \"province\": ", JsonString(e.province),
            ", \"officer\": ", JsonString(e.officer), ", \"case_id\": ",
            JsonString(e.case_id.ToString()), ", \"action\": ", JsonString(e.action),
            ", \"fields\": ", JsonString(e.fields), "}");
      }
    }
    absl::StrAppend(&out, "], \"chains\": [{\"chain\": \"hub audit trail\", \"entries\": ",
                    trail->entries.size(), ", \"head_seq\": ", trail->head_seq,
                    ", \"head_hash\": ", JsonString(trail->head_hash), "}");
    for (const auto& [device, n] : access_counts) {
      absl::StrAppend(&out, ", {\"chain\": \"access log\", \"device\": ", JsonString(device),
                      ", \"entries\": ", n, "}");
    }
    absl::StrAppend(&out, "], \"problems\": [");
    for (size_t i = 0; i < problems.size(); ++i) {
      const Problem& p = problems[i];
      absl::StrAppend(&out, i ? ", " : "", "{\"chain\": ", JsonString(p.chain),
                      p.device.empty() ? std::string()
                                       : absl::StrCat(", \"device\": ", JsonString(p.device)),
                      ", \"seq\": ", p.seq, ", \"problem\": ", JsonString(p.problem), "}");
    }
    absl::StrAppend(&out, "], \"whole\": ", problems.empty() ? "true" : "false", "}\n");
    std::fputs(out.c_str(), stdout);
  } else {
    if (lines.empty()) {
      std::printf("no entries%s\n",
                  since > 0 ? absl::StrCat(" since ", FormatTimeMillis(since)).c_str() : "");
    } else {
      std::printf("%-20s  %-6s  %-24s  %s\n", "WHEN", "KIND", "WHO", "WHAT");
    }
    for (const Line& l : lines) {
      if (l.admin != nullptr) {
        const HubAuditEntry& e = *l.admin;
        std::printf("%-20s  %-6s  %s  %s: %s\n", FormatTimeMillis(l.at).c_str(), "admin",
                    Pad(Printable(e.actor), 24).c_str(), Printable(e.action).c_str(),
                    Printable(e.detail).c_str());
      } else {
        const AccessEntry& e = *l.access;
        std::printf("%-20s  %-6s  %s  %s case %s (%s) on %s\n", FormatTimeMillis(l.at).c_str(),
                    "access",
                    Pad(Printable(absl::StrCat(e.officer, " (", e.province, ")")), 24).c_str(),
                    Printable(e.action).c_str(), e.case_id.ToString().c_str(),
                    Printable(e.fields).c_str(),
                    device_label(e.device).c_str());
      }
    }
    std::printf("\nchains:\n  hub audit trail: %zu entries, head %lld %s\n",
                trail->entries.size(), static_cast<long long>(trail->head_seq),
                trail->head_hash.empty() ? "(empty)" : trail->head_hash.c_str());
    for (const auto& [device, n] : access_counts) {
      auto id = Id16::Parse(device, "device");
      std::printf("  access log of %s: %lld entries\n",
                  id.ok() ? device_label(*id).c_str() : device.c_str(),
                  static_cast<long long>(n));
    }
    for (const Problem& p : problems) {
      std::printf("BROKEN: %s: %s\n", p.chain.c_str(), Printable(p.problem).c_str());
    }
    if (problems.empty()) {
      std::printf("every chain is whole\n");
    }
  }
  if (!problems.empty()) {
    std::fprintf(stderr,
                 "fieldhub: %zu problem(s): an audit trail or access log was changed outside "
                 "fieldsync; keep this output and compare hub.db with a backup (exit 4)\n",
                 problems.size());
    return 4;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// report

int ReportCmd(const Args& args) {
  if (args.positional.size() != 1) return Usage("report", "report takes no operands");
  report::ReportOptions o;
  o.title = "National figures: live cases of every province (fieldhub report)";
  if (args.flags.count("threshold") > 0) {
    const std::string t = args.Flag("threshold");
    int v = 0;
    size_t i = 0;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9' && v < 1'000'000; ++i) {
      v = v * 10 + (t[i] - '0');
    }
    if (t.empty() || i != t.size() || v < 1 || v > 1'000'000) {
      return Usage("report", absl::StrCat("--threshold \"", t,
                                          "\" is not usable: give a whole number from 1 (no "
                                          "suppression) up, e.g. 5"));
    }
    o.threshold = v;
  }
  auto store = OpenStore(HubDir(args));
  if (!store.ok()) return Fail(store.status());
  auto r = report::BuildReport((*store)->replica(), o);
  if (!r.ok()) return Fail(r.status());
  std::fputs((args.Has("json") ? report::RenderJson(*r) : report::RenderText(*r)).c_str(), stdout);
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  MakeOutputTerminalSafe();
  wire::QuietGrpcLogs();
  // The command is the first operand; options may come before it.
  std::set<std::string> all_valued, all_switches;
  for (const auto& [name, c] : Commands()) {
    all_valued.insert(c.valued.begin(), c.valued.end());
    all_switches.insert(c.switches.begin(), c.switches.end());
  }
  auto loose = ParseArgs(argc, argv, all_valued, all_switches);
  if (!loose.ok()) {
    const std::string first = argc > 1 ? argv[1] : "";
    return Usage(Commands().count(first) > 0 && first != "help" ? first : "",
                 std::string(loose.status().message()));
  }
  const std::string cmd = loose->positional.empty() ? "help" : loose->positional[0];
  auto it = Commands().find(cmd);
  if (it == Commands().end()) {
    std::fprintf(stderr, "fieldhub: unknown command \"%s\"; run `fieldhub help`\n", cmd.c_str());
    return 2;
  }
  if (cmd == "help") {
    if (!loose->positional.empty() && loose->positional.size() == 1 && loose->Has("help")) {
      std::fputs(it->second.usage, stdout);  // fieldhub help --help
      return 0;
    }
    if (loose->positional.size() > 1) {
      auto sub = Commands().find(loose->positional[1]);
      if (sub == Commands().end()) {
        return Usage("", absl::StrCat("no command \"", loose->positional[1], "\""));
      }
      std::fputs(sub->second.usage, stdout);
      return 0;
    }
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (loose->Has("help")) {
    // `fieldhub --help` alone is the overview; `fieldhub CMD --help` the command's.
    std::fputs(loose->positional.empty() ? kUsage : it->second.usage, stdout);
    return 0;
  }
  auto parsed = ParseArgs(argc, argv, it->second.valued, it->second.switches);
  if (!parsed.ok()) return Usage(cmd, std::string(parsed.status().message()));
  const Args& args = *parsed;
  if (cmd == "serve") {
    if (args.positional.size() != 1) return Usage(cmd, "serve takes no operands");
    return Serve(args);
  }
  if (cmd == "province") return ProvinceCmd(args);
  if (cmd == "enroll-token") return EnrollTokenCmd(args);
  if (cmd == "node") return NodeCmd(args);
  if (cmd == "gc") return Gc(args);
  if (cmd == "status") return Status(args);
  if (cmd == "audit") return Audit(args);
  if (cmd == "report") return ReportCmd(args);
  // init and version: as for every replica program.
  if (args.positional.size() != 1) return Usage(cmd, absl::StrCat(cmd, " takes no operands"));
  const ReplicaProgram program{"fieldhub", kUsage, "hub", "hub.db", "FIELDSYNC_HUB_DIR",
                               fieldsync::v1::PROTOCOL_VERSION_2};
  return RunReplicaProgram(program, argc, argv);
}

}  // namespace fieldsync::hub
