// fieldhub status: the hub's replica, then each province's sync state
// (hub/help/status.txt).
#include <algorithm>
#include <map>
#include <optional>

#include "base/json.h"
#include "hub/commands/command.h"
#include "hub/commands/time_args.h"

namespace fieldsync::hub {
namespace {

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

// The replica's fields, as FormatStatus (store/data_dir.h) writes them for
// fieldnode status --json, in the same order.
Json ReplicaJson(const DataDir& dir, const ReplicaStats& s) {
  Json rows = Json::object();
  for (const auto& [table, n] : s.live_rows) rows[table] = n;
  return Json{{"data_dir", dir.path},
              {"device", s.device.ToString()},
              {"schema_version", s.schema_version},
              {"local_commits", s.local_seq},
              {"commits_held", s.log_commits},
              {"open_conflicts", s.open_conflicts},
              {"live_rows", rows}};
}

class StatusCmd final : public Command {
 public:
  StatusCmd() : Command("status") {}
  void Declare(CLI::App& app) override {
    DeclareDataDir(app);
    DeclareStore(app);
    DeclareJson(app);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (!operands.empty()) return Usage(io, "status takes no operands");
    const DataDir dir = HubDir();
    auto store = OpenHubStore(FileCheck::kOpened);
    if (!store.ok()) return Fail(io, store.status());
    // hub.db's replica figures; a PostgreSQL store names itself and its
    // hub id instead (its rows are not counted yet).
    std::optional<ReplicaStats> stats;
    if (auto* sqlite = dynamic_cast<SqliteHubStore*>(store->get()); sqlite != nullptr) {
      auto s = sqlite->replica().Stats();
      if (!s.ok()) return Fail(io, s.status());
      stats = *std::move(s);
    }
    auto provinces = (*store)->Provinces();
    if (!provinces.ok()) return Fail(io, provinces.status());
    auto nodes = (*store)->Nodes();
    if (!nodes.ok()) return Fail(io, nodes.status());
    auto head = (*store)->LogHead();
    if (!head.ok()) return Fail(io, head.status());
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

    if (json()) {
      Json out = stats.has_value() ? ReplicaJson(dir, *stats)
                                   : Json{{"store", StoreLabel()},
                                          {"device", (*store)->hub_id().ToString()}};
      out["log_head"] = *head;
      Json list = Json::array();
      for (const auto& [code, p] : by_code) {
        list.push_back({{"code", p.code},
                        {"name", p.name},
                        {"nodes_enrolled", p.enrolled},
                        {"nodes_revoked", p.revoked},
                        {"last_sync", FormatMillis(p.last_sync_millis)},
                        {"lag", p.lag},
                        {"pending", p.pending},
                        {"behind", p.pending > 0},
                        {"state", p.state()}});
      }
      out["provinces"] = std::move(list);
      Put(io.out, JsonLine(out));
      return kExitOk;
    }

    if (stats.has_value()) {
      Put(io.out, FormatStatus(dir, *stats, /*json=*/false));
    } else {
      std::fprintf(io.out, "store            %s\ndevice           %s\n", StoreLabel().c_str(),
                   (*store)->hub_id().ToString().c_str());
    }
    int enrolled = 0, revoked = 0, behind = 0;
    for (const auto& [code, p] : by_code) {
      enrolled += p.enrolled;
      revoked += p.revoked;
      if (p.pending > 0 && p.enrolled > 0) ++behind;
    }
    std::fprintf(io.out, "log head         %lld\n", static_cast<long long>(*head));
    std::fprintf(io.out,
                 "provinces        %zu registered, %d nodes enrolled, %d revoked, %d behind\n",
                 provinces->size(), enrolled, revoked, behind);
    if (by_code.empty()) {
      std::fprintf(io.out, "no provinces yet: fieldhub province add CODE NAME\n");
      return kExitOk;
    }
    std::fprintf(io.out, "\n%-8s  %-20s  %5s  %7s  %-20s  %8s  %8s  %s\n", "PROVINCE", "NAME",
                 "NODES", "REVOKED", "LAST SYNC", "LAG", "PENDING", "STATE");
    for (const auto& [code, p] : by_code) {
      std::fprintf(io.out, "%s  %s  %5d  %7d  %-20s  %8lld  %8llu  %s\n", Pad(p.code, 8).c_str(),
                   Pad(p.name.empty() ? "(not registered)" : p.name, 20).c_str(), p.enrolled,
                   p.revoked, FormatMillis(p.last_sync_millis).c_str(),
                   static_cast<long long>(p.lag), static_cast<unsigned long long>(p.pending),
                   p.state().c_str());
    }
    return kExitOk;
  }
};

}  // namespace

std::unique_ptr<Command> MakeStatusCommand() { return std::make_unique<StatusCmd>(); }

}  // namespace fieldsync::hub
