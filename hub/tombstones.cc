#include "hub/tombstones.h"

#include <sodium.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "hub/audit.h"
#include "hub/scope.h"

namespace fieldsync::hub {

uint64_t NewGcId() {
  uint64_t id = 0;
  while (id == 0) randombytes_buf(&id, sizeof(id));
  return id;
}

absl::StatusOr<GcReport> CollectTombstonesIn(HubWriteTxn& hub, const std::vector<NodeInfo>& nodes,
                                             int64_t now, int64_t min_age_millis,
                                             int64_t stale_after_millis,
                                             const std::string& actor, bool dry_run) {
  GcReport report;
  report.dry_run = dry_run;
  std::set<std::string> waiting;
  std::set<std::string> rebuilt;
  bool rolled_back = false;  // a dry run's end
  absl::Status done = hub.Atomically([&]() -> absl::Status {
    Scope scope(hub);
    FS_ASSIGN_OR_RETURN(const int64_t head, hub.LogHead());
    FS_ASSIGN_OR_RETURN(const std::vector<Tombstone> candidates,
                        hub.TombstonesDeletedBy(now - min_age_millis));
    FS_ASSIGN_OR_RETURN(const GcState before, hub.Gc());
    // Every province that has a node or is registered.
    std::set<std::string> provinces;
    for (const NodeInfo& n : nodes) provinces.insert(n.province);
    {
      FS_ASSIGN_OR_RETURN(std::vector<std::string> codes, hub.ProvinceCodes());
      provinces.insert(codes.begin(), codes.end());
    }
    for (const Tombstone& t : candidates) {
      bool acknowledged = true;
      std::vector<const NodeInfo*> missed;  // stale nodes that never pulled the delete
      for (const NodeInfo& n : nodes) {
        if (n.revoked || n.removed_by_office_at_millis != 0) continue;  // never pulls again
        const bool stale = n.last_seen_millis < now - stale_after_millis;
        // A node that never pulled bootstraps anyway: not "rebuilt".
        if (stale && n.last_seen_millis == 0) continue;
        if (n.cursor >= t.deleted_pos) continue;  // has the delete
        FS_ASSIGN_OR_RETURN(bool v, scope.Visible(n.province, t.table, t.row));
        if (!v) continue;
        if (stale) {
          missed.push_back(&n);  // does not hold collection back: re-bootstraps
        } else {
          acknowledged = false;
          waiting.insert(absl::StrCat(n.name, " (", n.device.ToString(), ", ", n.province, ")"));
        }
      }
      if (!acknowledged) continue;
      FS_ASSIGN_OR_RETURN(bool dropped, hub.DropTombstone(t.table, t.row));
      if (!dropped) continue;
      for (const NodeInfo* n : missed) {
        rebuilt.insert(absl::StrCat(n->name, " (", n->device.ToString(), ", ", n->province,
                                    "), last seen ", FormatTimeMillis(n->last_seen_millis)));
      }
      // Remembered with the provinces that could see it (asked before its
      // scope goes): their nodes are told to drop it too, or rebuilt if they
      // never received the delete.
      FS_ASSIGN_OR_RETURN(bool shared, scope.Visible("*", t.table, t.row));
      std::vector<std::string> seen_by;
      for (const std::string& p : provinces) {
        FS_ASSIGN_OR_RETURN(bool v, scope.Visible(p, t.table, t.row));
        if (v) seen_by.push_back(p);
      }
      FS_RETURN_IF_ERROR(hub.RecordPurged(t, before.epoch + 1, shared, seen_by));
      ++report.tombstones;
    }
    if (report.tombstones > 0) {
      // Every pull from before this point would replay history that no
      // longer has its rows: such nodes re-bootstrap instead. Nodes that
      // pulled before now may hold what was collected: their next pull
      // drops it, or rebuilds them if they never saw the delete. The log
      // stays: up-to-date nodes resume from it (a pull leaves out the row
      // changes of collected rows, which no longer have a scope).
      FS_RETURN_IF_ERROR(hub.AdvanceGc(head));
    }
    FS_ASSIGN_OR_RETURN(const GcState after, hub.Gc());
    report.horizon = after.horizon;
    report.epoch = after.epoch;
    if (dry_run) {
      rolled_back = true;
      return absl::AbortedError("gc --dry-run: rolled back");
    }
    return hub.AppendAudit(
        now, actor, kAuditGc,
        absl::StrCat("collected ", report.tombstones, " tombstones (min-age ",
                     FormatDurationMillis(min_age_millis), ", stale-after ",
                     FormatDurationMillis(stale_after_millis), "; epoch ", report.epoch,
                     ", horizon ", report.horizon, ")",
                     waiting.empty() ? std::string()
                                     : absl::StrCat("; kept some for ", waiting.size(),
                                                    " node(s) not yet up to date"),
                     rebuilt.empty() ? std::string()
                                     : absl::StrCat("; ", rebuilt.size(), " node(s) away past "
                                                    "the stale limit will be rebuilt: ",
                                                    absl::StrJoin(rebuilt, "; "))));
  });
  if (!done.ok() && !rolled_back) return done;
  report.waiting_for.assign(waiting.begin(), waiting.end());
  report.rebuilt.assign(rebuilt.begin(), rebuilt.end());
  return report;
}

}  // namespace fieldsync::hub
