#include "tools/bench/sync/incremental.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "clock/clock_source.h"
#include "schema/schema.h"
#include "tools/bench/common/timing.h"
#include "tools/lib/cutting_proxy.h"

namespace fieldsync::bench_sync {
namespace {

using bench::Clock;
using bench::Fixed;
using bench::Rate;
using bench::SecondsSince;
using testing::CuttingProxy;
using testing::Direction;

// The new value of edit i in round `round`: always kEditValueBytes bytes
// ("Officer 1234"), and different from round to round.
std::string EditValue(int64_t i, int round) {
  return absl::StrCat("Officer ", 1000 + (i * 7 + round) % 9000);
}


}  // namespace

absl::StatusOr<IncrementalResults> Incremental(const Settings& s, const std::string& dir,
                                               const Mode& mode, HubProcess& hub) {
  IncrementalResults res;
  res.edits = s.edits;
  std::printf("[incremental, %s] nodes A and B of province %s, each behind a byte-counting "
              "proxy; %s cases, one field edited in each ...\n",
              mode.name(), kEditProvince, Rate(static_cast<double>(s.edits)).c_str());
  std::fflush(stdout);
  CuttingProxy proxy_a("127.0.0.1", hub.port());
  CuttingProxy proxy_b("127.0.0.1", hub.port());
  FS_RETURN_IF_ERROR(proxy_a.Start());
  FS_RETURN_IF_ERROR(proxy_b.Start());
  FS_ASSIGN_OR_RETURN(std::unique_ptr<LocalNode> a,
                      LocalNode::Create(absl::StrCat(dir, "/edit-a", mode.tag()), mode.crypto));
  FS_ASSIGN_OR_RETURN(std::unique_ptr<LocalNode> b,
                      LocalNode::Create(absl::StrCat(dir, "/edit-b", mode.tag()), mode.crypto));
  // The hub's certificate names localhost and 127.0.0.1.
  FS_RETURN_IF_ERROR(
      Context(a->Enroll(hub, kEditProvince, absl::StrCat("localhost:", proxy_a.port())),
              "enrolling node A"));
  FS_RETURN_IF_ERROR(
      Context(b->Enroll(hub, kEditProvince, absl::StrCat("localhost:", proxy_b.port())),
              "enrolling node B"));

  // Both hold the cases before the edits (not measured).
  std::vector<RowId> ids;
  for (int64_t i = 0; i < s.edits; ++i) ids.push_back(Id16::NewV7(SystemClock::Get()));
  FS_RETURN_IF_ERROR(WriteCases(a->replica(), ids, 0, kEditProvince).status());
  FS_RETURN_IF_ERROR(SyncNode(*a, hub, "node A, first sync").status());
  FS_ASSIGN_OR_RETURN(node::SyncReport boot, SyncNode(*b, hub, "node B, first sync"));
  if (boot.rows_installed < static_cast<uint64_t>(s.edits)) {
    return absl::InternalError(absl::StrCat("node B installed ", boot.rows_installed,
                                            " rows at its first sync, fewer than the ", s.edits,
                                            " cases of node A"));
  }

  for (int rep = 0; rep < s.repeat; ++rep) {
    // One commit per edit, all written in one WriteMany (not measured).
    std::vector<LocalTxn> txns(ids.size());
    for (size_t k = 0; k < ids.size(); ++k) {
      txns[k].Set("cases", ids[k],
                  {{kEditColumn, Value::Text(EditValue(static_cast<int64_t>(k), rep))}});
    }
    FS_RETURN_IF_ERROR(a->replica().WriteMany(txns).status());

    const uint64_t a_up0 = proxy_a.bytes(Direction::kUpstream);
    const uint64_t a_down0 = proxy_a.bytes(Direction::kDownstream);
    const uint64_t b_up0 = proxy_b.bytes(Direction::kUpstream);
    const uint64_t b_down0 = proxy_b.bytes(Direction::kDownstream);
    const int conns0 = proxy_a.connections_accepted() + proxy_b.connections_accepted();

    const auto t0 = Clock::now();
    FS_ASSIGN_OR_RETURN(node::SyncReport ra, SyncNode(*a, hub, "node A, pushing the edits"));
    const double push_s = SecondsSince(t0);
    const auto t1 = Clock::now();
    FS_ASSIGN_OR_RETURN(node::SyncReport rb, SyncNode(*b, hub, "node B, pulling the edits"));
    const double pull_s = SecondsSince(t1);

    res.a_up = proxy_a.bytes(Direction::kUpstream) - a_up0;
    res.a_down = proxy_a.bytes(Direction::kDownstream) - a_down0;
    res.b_up = proxy_b.bytes(Direction::kUpstream) - b_up0;
    res.b_down = proxy_b.bytes(Direction::kDownstream) - b_down0;
    res.new_connections +=
        proxy_a.connections_accepted() + proxy_b.connections_accepted() - conns0;
    const auto want = static_cast<uint64_t>(s.edits);
    if (ra.pushed != want || rb.pulled != want) {
      return absl::InternalError(absl::StrCat("node A pushed ", ra.pushed, " and node B pulled ",
                                              rb.pulled, " commits; want ", s.edits, " each"));
    }
    const double total = static_cast<double>(res.a_up + res.a_down + res.b_up + res.b_down);
    const double per_edit = total / static_cast<double>(s.edits);
    res.push_s.Add(push_s);
    res.pull_s.Add(pull_s);
    res.bytes_per_edit.Add(per_edit);
    std::printf("  [run %d/%d] A sync (push) %7.3f s, B sync (pull) %7.3f s: %s edits/s end to "
                "end; wire bytes: A up %s down %s, B up %s down %s = %s B per edit\n",
                rep + 1, s.repeat, push_s, pull_s,
                Rate(static_cast<double>(s.edits) / (push_s + pull_s)).c_str(),
                Rate(static_cast<double>(res.a_up)).c_str(),
                Rate(static_cast<double>(res.a_down)).c_str(),
                Rate(static_cast<double>(res.b_up)).c_str(),
                Rate(static_cast<double>(res.b_down)).c_str(), Fixed(per_edit, 1).c_str());
    std::fflush(stdout);

    // Consistency (not timed): B holds exactly what A holds.
    FS_ASSIGN_OR_RETURN(std::string da, a->replica().StateDigest());
    FS_ASSIGN_OR_RETURN(std::string db, b->replica().StateDigest());
    if (da != db) {
      return absl::InternalError(
          absl::StrCat("node B's state digest ", db, " differs from node A's ", da));
    }
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, b->replica().Get("cases", ids.back()));
    const int col = FieldOfficeSchema().FindTable("cases")->ColumnIndex(kEditColumn);
    if (!row || row->values[static_cast<size_t>(col)] !=
                    Value::Text(EditValue(static_cast<int64_t>(ids.size()) - 1, rep))) {
      return absl::InternalError("node B does not hold the last edit");
    }
  }
  std::printf("  check: node B holds every edit, state digest equal to node A's; %d new "
              "connection(s) during the measured syncs\n\n",
              res.new_connections);
  std::fflush(stdout);
  return res;
}

}  // namespace fieldsync::bench_sync
