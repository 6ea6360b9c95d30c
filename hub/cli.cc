#include "hub/cli.h"

#include <signal.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/args.h"
#include "fieldsync/v1/protocol.pb.h"
#include "hub/service.h"
#include "hub/sqlite_store.h"
#include "store/data_dir.h"

namespace fieldsync::hub {
namespace {

constexpr char kUsage[] = R"(fieldhub -- the central hub of fieldsync

Usage: fieldhub COMMAND [options]

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
                            scope waiting), commits pushed, protocol, skew
  node revoke DEVICE        refuse a node from now on (a lost laptop)
  gc [--min-age 30d] [--stale-after 90d]
                            collect tombstones every node has acknowledged
  status                    the replica: device, commits, conflicts, rows
  version                   program, schema, commit-format, protocol versions
  help                      this text

Options:
  --data-dir DIR     where the store lives (default: $FIELDSYNC_HUB_DIR,
                     else ~/.local/share/fieldsync/hub)
  --json             print data as JSON (list, status, version, enroll-token)
serve:
  --listen HOST:PORT address to serve on (default 0.0.0.0:7443)
  --tls-cert FILE    the hub's certificate chain, PEM (default DIR/tls/hub.crt)
  --tls-key FILE     its private key, PEM (default DIR/tls/hub.key)
  --insecure         plain-text gRPC, for tests: loopback addresses only
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
  fieldhub province add LC "Lào Cai"
  fieldhub enroll-token --province LC --valid-for 48h
  fieldhub node revoke 0193a5c2-7d1e-7c3a-9f00-2b1c3d4e5f60

Exit codes: 0 done; 1 failed (the message says why and what to do);
2 the command line was wrong.
)";

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "fieldhub: %s\n", std::string(s.message()).c_str());
  return 1;
}

int Usage(const std::string& what) {
  std::fprintf(stderr, "fieldhub: %s; run `fieldhub help`\n", what.c_str());
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
  if (args.positional.size() < 2) return Usage("province needs add or list");
  auto store = OpenStore(HubDir(args));
  if (!store.ok()) return Fail(store.status());
  const std::string& sub = args.positional[1];
  if (sub == "add") {
    if (args.positional.size() != 4) return Usage("province add needs CODE and NAME");
    absl::Status s = (*store)->AddProvince(args.positional[2], args.positional[3]);
    if (!s.ok()) return Fail(s);
    std::printf("province %s (%s) registered\n", args.positional[2].c_str(),
                args.positional[3].c_str());
    return 0;
  }
  if (sub == "list") {
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
  return Usage(absl::StrCat("unknown province command \"", sub, "\""));
}

int EnrollTokenCmd(const Args& args) {
  const std::string province = args.Flag("province");
  if (province.empty()) return Usage("enroll-token needs --province CODE");
  auto valid = ParseDurationMillis(args.Flag("valid-for", "24h"));
  if (!valid.ok()) return Usage(std::string(valid.status().message()));
  auto store = OpenStore(HubDir(args));
  if (!store.ok()) return Fail(store.status());
  auto t = (*store)->MakeEnrollToken(province, *valid);
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

int NodeCmd(const Args& args) {
  if (args.positional.size() < 2) return Usage("node needs list or revoke");
  auto store = OpenStore(HubDir(args));
  if (!store.ok()) return Fail(store.status());
  const std::string& sub = args.positional[1];
  if (sub == "list") {
    auto nodes = (*store)->Nodes();
    if (!nodes.ok()) return Fail(nodes.status());
    auto head = (*store)->LogHead();
    if (!head.ok()) return Fail(head.status());
    if (args.Has("json")) {
      std::string out = "[";
      for (size_t i = 0; i < nodes->size(); ++i) {
        const NodeInfo& n = (*nodes)[i];
        absl::StrAppend(
            &out, i ? ", " : "", "{\"device\": ", JsonString(n.device.ToString()),
            ", \"name\": ", JsonString(n.name), ", \"province\": ", JsonString(n.province),
            ", \"last_seen\": ", JsonString(FormatTimeMillis(n.last_seen_millis)),
            ", \"cursor\": ", n.cursor, ", \"lag\": ", *head - n.cursor,
            ", \"pending\": ", n.pending,
            ", \"acknowledged_seq\": ", n.acknowledged_seq,
            ", \"protocol_version\": ", n.protocol_version,
            ", \"clock_skew_ms\": ", n.clock_skew_millis,
            ", \"revoked\": ", n.revoked ? "true" : "false", "}");
      }
      std::printf("%s]\n", out.c_str());
      return 0;
    }
    if (nodes->empty()) {
      std::printf("no nodes enrolled yet: fieldhub enroll-token --province CODE\n");
      return 0;
    }
    std::printf("%-36s  %-8s  %-20s  %8s  %8s  %8s  %5s  %9s  %s\n", "DEVICE", "PROVINCE",
                "LAST SEEN", "LAG", "PENDING", "PUSHED", "PROTO", "SKEW(ms)", "NAME");
    for (const NodeInfo& n : *nodes) {
      std::printf("%-36s  %-8s  %-20s  %8lld  %8llu  %8llu  %5d  %9lld  %s%s\n",
                  n.device.ToString().c_str(), n.province.c_str(),
                  FormatTimeMillis(n.last_seen_millis).c_str(),
                  static_cast<long long>(*head - n.cursor),
                  static_cast<unsigned long long>(n.pending),
                  static_cast<unsigned long long>(n.acknowledged_seq), n.protocol_version,
                  static_cast<long long>(n.clock_skew_millis), n.name.c_str(),
                  n.revoked ? "  [REVOKED]" : "");
    }
    return 0;
  }
  if (sub == "revoke") {
    if (args.positional.size() != 3) return Usage("node revoke needs the DEVICE id");
    auto id = Id16::Parse(args.positional[2], "device id");
    if (!id.ok()) return Usage(std::string(id.status().message()));
    absl::Status s = (*store)->RevokeNode(*id);
    if (!s.ok()) return Fail(s);
    std::printf("node %s revoked: the hub refuses it from now on\n",
                args.positional[2].c_str());
    return 0;
  }
  return Usage(absl::StrCat("unknown node command \"", sub, "\""));
}

int Gc(const Args& args) {
  auto min_age = ParseDurationMillis(args.Flag("min-age", "30d"));
  if (!min_age.ok()) return Usage(std::string(min_age.status().message()));
  auto stale = ParseDurationMillis(args.Flag("stale-after", "90d"));
  if (!stale.ok()) return Usage(std::string(stale.status().message()));
  auto store = OpenStore(HubDir(args));
  if (!store.ok()) return Fail(store.status());
  auto r = (*store)->CollectTombstones(*min_age, *stale);
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

}  // namespace

int Main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "serve" || cmd == "province" || cmd == "enroll-token" || cmd == "node" ||
      cmd == "gc") {
    auto parsed = ParseArgs(argc, argv,
                            {"data-dir", "listen", "tls-cert", "tls-key", "port-file",
                             "province", "valid-for", "min-age", "stale-after"},
                            {"json", "help", "insecure", "verbose", "benchmark-without-crypto",
                             "no-compression"});
    if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
    if (parsed->Has("help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (cmd == "serve") return Serve(*parsed);
    if (cmd == "province") return ProvinceCmd(*parsed);
    if (cmd == "enroll-token") return EnrollTokenCmd(*parsed);
    if (cmd == "node") return NodeCmd(*parsed);
    return Gc(*parsed);
  }
  const ReplicaProgram program{"fieldhub", kUsage, "hub", "hub.db", "FIELDSYNC_HUB_DIR",
                               fieldsync::v1::PROTOCOL_VERSION_2};
  return RunReplicaProgram(program, argc, argv);
}

}  // namespace fieldsync::hub
