#include "tools/bench/sync/settings.h"

#include <cstdio>

#include "tools/bench/common/run_frame.h"

namespace fieldsync::bench_sync {
namespace {

void PrintUsage(FILE* out) {
  std::fprintf(
      out,
      "usage: fieldsync-bench-sync [--cases N] [--edits N] [--nodes N] [--node-commits N]\n"
      "                            [--link-cases N] [--link-commits N] [--links-only]\n"
      "                            [--crypto MODE] [--repeat N] [--dir PATH] [--quick]\n"
      "                            [--help]\n"
      "\n"
      "Measures sync over TLS on loopback, the hub (fieldhub serve) and the node as\n"
      "separate processes: a new node's initial sync (cases/s, peak RSS of node and\n"
      "hub, beside plain SQLite inserting the same rows), incremental sync of one-field\n"
      "edits (time, bytes on the wire per edit), and the hub's throughput with many\n"
      "nodes pushing at once (commits accepted per second), and a bootstrap and a push\n"
      "over bad links (cut every 20 KB; 256 kbit/s with 150 ms) against a clean one.\n"
      "\n"
      "  --cases N         cases the new node pulls (default 100000)\n"
      "  --edits N         one-field edits pushed by one node and pulled by another\n"
      "                    (default 1000)\n"
      "  --nodes N         nodes pushing to the hub at once, one province each\n"
      "                    (default 63)\n"
      "  --node-commits N  commits each of those nodes pushes (default 1000)\n"
      "  --link-cases N    cases a new node bootstraps over each link (default 1000)\n"
      "  --link-commits N  new cases a node pushes over each link (default 500)\n"
      "  --links-only      run the bad-link phase only (crypto on)\n"
      "  --crypto MODE     on | off | both: measure with encryption and signatures on\n"
      "                    (the product), off (a hub serving --benchmark-without-crypto,\n"
      "                    nodes that neither sign nor seal), or both in one run, each\n"
      "                    against its own hubs, with the cost of crypto against the\n"
      "                    15%% target (default both)\n"
      "  --repeat N        run every measurement N times; rates are medians, peaks\n"
      "                    the highest (default 1)\n"
      "  --dir PATH        where hubs and nodes keep their files; kept afterwards\n"
      "                    (default: a fresh directory under $TMPDIR or /tmp,\n"
      "                    removed at exit)\n"
      "  --quick           small sizes (2000 cases, 100 edits, 8 nodes x 100 commits,\n"
      "                    200 and 100 over the links)\n"
      "                    for smoke tests; flags given explicitly still apply\n"
      "  --help            this text\n"
      "\n"
      "Exits 0 whether or not the targets are met; 1 if anything fails (including its\n"
      "consistency checks), 2 on bad usage.\n");
}


}  // namespace

std::optional<Settings> ParseSettings(int argc, char** argv) {
  std::optional<Args> args = bench::ParseBenchArgs(
      kProgram, argc, argv, {"cases", "edits", "nodes", "node-commits", "link-cases", "link-commits", "repeat", "dir",
       "crypto"},
      {"quick", "links-only", "help"}, PrintUsage);
  if (!args) return std::nullopt;
  Settings s;
  s.quick = args->Has("quick");
  if (s.quick) {  // small defaults; explicit flags still win
    s.cases = 2000;
    s.edits = 100;
    s.nodes = 8;
    s.node_commits = 100;
    s.link_cases = 200;
    s.link_commits = 100;
  }
  s.links_only = args->Has("links-only");
  int64_t repeat = 1;
  auto positive = [&](const char* name, int64_t max, int64_t* out) {
    return bench::PositiveFlag(kProgram, *args, name, max, out);
  };
  if (!positive("cases", 10'000'000, &s.cases) || !positive("edits", 1'000'000, &s.edits) ||
      !positive("nodes", 500, &s.nodes) || !positive("node-commits", 1'000'000, &s.node_commits) ||
      !positive("link-cases", 1'000'000, &s.link_cases) ||
      !positive("link-commits", 1'000'000, &s.link_commits) ||
      !positive("repeat", 100, &repeat)) {
    return std::nullopt;
  }
  s.repeat = static_cast<int>(repeat);
  s.dir = args->Flag("dir");
  if (args->flags.count("crypto")) {
    const std::string c = args->Flag("crypto");
    if (c != "on" && c != "off" && c != "both") {
      std::fprintf(stderr, "fieldsync-bench-sync: --crypto takes on, off or both, got \"%s\"\n",
                   c.c_str());
      return std::nullopt;
    }
    s.crypto_on = c != "off";
    s.crypto_off = c != "on";
  }
  return s;
}

}  // namespace fieldsync::bench_sync
