// fieldhub audit: the administrators' audit trail and the nodes' access
// logs in time order, every chain verified (hub/help/audit.txt).
#include <algorithm>
#include <map>
#include <tuple>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "base/strings.h"
#include "hub/audit.h"
#include "hub/commands/command.h"
#include "hub/commands/time_args.h"
#include "store/access_log.h"

namespace fieldsync::hub {
namespace {

// A broken chain, as reported.
struct Problem {
  std::string chain;   // "hub audit trail" or "access log of device ..."
  std::string device;  // access logs only
  int64_t seq = 0;
  std::string problem;
};

// One entry of the timeline: an administrator's act or an access.
struct Line {
  int64_t at = 0;
  int order = 0;  // admin entries first at equal times, then by seq
  int64_t seq = 0;
  const HubAuditEntry* admin = nullptr;
  const AccessEntry* access = nullptr;
};

class AuditCmd final : public Command {
 public:
  AuditCmd() : Command("audit") {}
  void Declare(CLI::App& app) override {
    DeclareDataDir(app);
    DeclareStore(app);
    DeclareJson(app);
    app.add_option("--since", since_);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (!operands.empty()) return Usage(io, "audit takes no operands");
    int64_t since = 0;
    if (since_.has_value()) {
      auto t = ParseDate(*since_);
      if (!t.ok()) return Usage(io, t.status());
      since = absl::ToUnixMillis(*t);
    }
    // The nodes' access logs are rows the hub holds (store/access_log.h),
    // read the same way from hub.db and from PostgreSQL.
    auto store = OpenHubStore(FileCheck::kOpened);
    if (!store.ok()) return Fail(io, store.status());
    auto trail = (*store)->AuditTrail();
    if (!trail.ok()) return Fail(io, trail.status());
    absl::StatusOr<std::vector<AccessEntry>> access = absl::InternalError("not read");
    absl::Status read = (*store)->ReadRows([&](RowScan& rows) {
      access = ReadAccessLog(rows);
      return access.status();
    });
    if (!read.ok()) return Fail(io, read);
    auto nodes = (*store)->Nodes();
    if (!nodes.ok()) return Fail(io, nodes.status());
    nodes_ = *std::move(nodes);
    for (const NodeInfo& n : nodes_) node_of_[n.device.ToString()] = &n;

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
      problems.push_back(Problem{absl::StrCat("access log of ", DeviceLabel(p.device)),
                                 p.device.ToString(), p.seq, p.problem});
    }

    // The timeline.
    std::vector<Line> lines;
    for (const HubAuditEntry& e : trail->entries) {
      if (e.at_millis >= since) lines.push_back(Line{e.at_millis, 0, e.seq, &e, nullptr});
    }
    for (const AccessEntry& e : *access) {
      if (e.live && e.at_millis >= since) {
        lines.push_back(Line{e.at_millis, 1, e.seq, nullptr, &e});
      }
    }
    std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
      return std::tie(a.at, a.order, a.seq) < std::tie(b.at, b.order, b.seq);
    });

    if (json()) {
      Put(io.out, JsonLine(AsJson(lines, *trail, access_counts, problems)));
    } else {
      PrintText(lines, since, *trail, access_counts, problems, io);
    }
    if (!problems.empty()) {
      std::fprintf(io.err,
                   "fieldhub: %zu problem(s): an audit trail or access log was changed outside "
                   "fieldsync; keep this output and compare %s with a backup (exit 4)\n",
                   problems.size(), OnPostgres() ? "the hub's database" : "hub.db");
      return kExitAuditBroken;
    }
    return kExitOk;
  }

 private:
  // "device ID ("NAME", PROVINCE)", names made printable.
  std::string DeviceLabel(const DeviceId& d) const {
    auto it = node_of_.find(d.ToString());
    if (it == node_of_.end()) return absl::StrCat("device ", d.ToString(), " (not enrolled here)");
    return absl::StrCat("device ", d.ToString(), " (\"", Printable(it->second->name), "\", ",
                        Printable(it->second->province), ")");
  }

  Json AsJson(const std::vector<Line>& lines, const HubAuditTrail& trail,
              const std::map<std::string, int64_t>& access_counts,
              const std::vector<Problem>& problems) const {
    Json entries = Json::array();
    for (const Line& l : lines) {
      Json e = {{"at", FormatMillis(l.at)}, {"at_millis", l.at}};
      if (l.admin != nullptr) {
        const HubAuditEntry& a = *l.admin;
        e["kind"] = "admin";
        e["seq"] = a.seq;
        e["actor"] = a.actor;
        e["action"] = a.action;
        e["detail"] = a.detail;
      } else {
        const AccessEntry& a = *l.access;
        auto it = node_of_.find(a.device.ToString());
        e["kind"] = "access";
        e["device"] = a.device.ToString();
        e["device_name"] = it == node_of_.end() ? Json(nullptr) : Json(it->second->name);
        e["seq"] = a.seq;
        e["province"] = a.province;
        e["officer"] = a.officer;
        e["case_id"] = a.case_id.ToString();
        e["action"] = a.action;
        e["fields"] = a.fields;
      }
      entries.push_back(std::move(e));
    }
    Json chains = Json::array();
    chains.push_back({{"chain", "hub audit trail"},
                      {"entries", trail.entries.size()},
                      {"head_seq", trail.head_seq},
                      {"head_hash", trail.head_hash}});
    for (const auto& [device, n] : access_counts) {
      chains.push_back({{"chain", "access log"}, {"device", device}, {"entries", n}});
    }
    Json broken = Json::array();
    for (const Problem& p : problems) {
      Json j = {{"chain", p.chain}};
      if (!p.device.empty()) j["device"] = p.device;
      j["seq"] = p.seq;
      j["problem"] = p.problem;
      broken.push_back(std::move(j));
    }
    return Json{{"entries", std::move(entries)},
                {"chains", std::move(chains)},
                {"problems", std::move(broken)},
                {"whole", problems.empty()}};
  }

  void PrintText(const std::vector<Line>& lines, int64_t since, const HubAuditTrail& trail,
                 const std::map<std::string, int64_t>& access_counts,
                 const std::vector<Problem>& problems, const Io& io) const {
    if (lines.empty()) {
      std::fprintf(io.out, "no entries%s\n",
                   since > 0 ? absl::StrCat(" since ", FormatMillis(since)).c_str() : "");
    } else {
      std::fprintf(io.out, "%-20s  %-6s  %-24s  %s\n", "WHEN", "KIND", "WHO", "WHAT");
    }
    for (const Line& l : lines) {
      if (l.admin != nullptr) {
        const HubAuditEntry& e = *l.admin;
        std::fprintf(io.out, "%-20s  %-6s  %s  %s: %s\n", FormatMillis(l.at).c_str(), "admin",
                     Pad(Printable(e.actor), 24).c_str(), Printable(e.action).c_str(),
                     Printable(e.detail).c_str());
      } else {
        const AccessEntry& e = *l.access;
        std::fprintf(io.out, "%-20s  %-6s  %s  %s case %s (%s) on %s\n",
                     FormatMillis(l.at).c_str(), "access",
                     Pad(Printable(absl::StrCat(e.officer, " (", e.province, ")")), 24).c_str(),
                     Printable(e.action).c_str(), e.case_id.ToString().c_str(),
                     Printable(e.fields).c_str(), DeviceLabel(e.device).c_str());
      }
    }
    std::fprintf(io.out, "\nchains:\n  hub audit trail: %zu entries, head %lld %s\n",
                 trail.entries.size(), static_cast<long long>(trail.head_seq),
                 trail.head_hash.empty() ? "(empty)" : trail.head_hash.c_str());
    for (const auto& [device, n] : access_counts) {
      auto id = Id16::Parse(device, "device");
      std::fprintf(io.out, "  access log of %s: %lld entries\n",
                   id.ok() ? DeviceLabel(*id).c_str() : device.c_str(),
                   static_cast<long long>(n));
    }
    for (const Problem& p : problems) {
      std::fprintf(io.out, "BROKEN: %s: %s\n", p.chain.c_str(), Printable(p.problem).c_str());
    }
    if (problems.empty()) std::fprintf(io.out, "every chain is whole\n");
  }

  std::optional<std::string> since_;
  std::vector<NodeInfo> nodes_;
  std::map<std::string, const NodeInfo*> node_of_;  // into nodes_, by device id
};

}  // namespace

std::unique_ptr<Command> MakeAuditCommand() { return std::make_unique<AuditCmd>(); }

}  // namespace fieldsync::hub
