// GET /api/today: the social worker's day at a glance -- urgent open cases,
// referrals waiting for this office, open conflicts, devices waiting for
// approval, the last sync and what waits to go (ops/status.h). No sealed
// field: the page reads the same locked or unlocked.
#include <optional>
#include <string>

#include "node/client.h"
#include "node/console/api.h"
#include "node/ops/cases.h"
#include "node/ops/referrals.h"
#include "node/ops/status.h"

namespace fieldsync::node::console {

ApiReply Api::Today(ConsoleOffice& o) {
  const bool locked = !o.keys->unlocked();
  auto st = ops::ReadNodeStatus(*o.replica, keys_.dir().path, o.hub);
  if (!st.ok()) return ErrorReply(st.status(), locked);
  ops::CaseFilter urgent_filter;
  urgent_filter.urgency = "urgent";
  auto urgent = ops::ListCases(*o.office, urgent_filter);
  if (!urgent.ok()) return ErrorReply(urgent.status(), locked);
  auto referrals = ops::ListReferrals(*o.office);
  if (!referrals.ok()) return ErrorReply(referrals.status(), locked);
  auto waiting_urgent = HasUrgentUnpushed(*o.replica);

  ApiReply r;
  Json cases = Json::array();
  for (const ops::CaseLine& l : *urgent) {
    if (l.status == "closed") continue;
    cases.push_back({{"case_code", l.code}, {"status", l.status}, {"updated", l.updated}});
  }
  Json in = Json::array();
  for (const ops::ReferralLine& l : *referrals) {
    if (l.direction != "in" || l.status != "sent") continue;
    in.push_back({{"id", l.id}, {"case_code", l.case_code}, {"from_office", l.from_office},
                  {"sent_at", l.sent_at}});
  }
  r.body = {{"province", o.hub.province},
            {"urgent", cases},
            {"referrals", in},
            {"open_conflicts", st->stats.open_conflicts},
            {"devices_waiting", st->devices_waiting},
            {"membership", st->membership},
            {"last_sync_millis", st->last_sync_millis},
            {"commits_waiting", st->commits_waiting},
            {"urgent_waiting", waiting_urgent.ok() && *waiting_urgent},
            {"set_aside", st->set_aside}};
  return r;
}

}  // namespace fieldsync::node::console
