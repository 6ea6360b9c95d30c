// hub_admin_seed HUB_DIR WORK_DIR: gives tests/hub_admin_test.sh a hub with
// something to administer. Serves HUB_DIR (initialised, provinces LC and HG
// registered) on loopback and, through two in-process nodes (LC and HG)
// enrolled with tokens made by the real `fieldhub enroll-token`:
//   - writes cases with their persons, every sensitive field a canary;
//   - refers one LC case to HG (LC's next sync grants its keys: key.grant);
//   - erases one LC case's keys (key.erase);
//   - appends access-log entries on both nodes;
//   - syncs until all of it is at the hub; stops the hub.
// Prints the canaries, one a line, for the test to search for.
// Exit 0 when done, 1 with a message otherwise.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clock/clock_source.h"
#include "store/access_log.h"
#include "tools/lib/sync_harness.h"

namespace fieldsync {
namespace {

std::vector<std::string> canaries;

int Die(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "hub_admin_seed: %s: %s\n", what.c_str(), std::string(s.message()).c_str());
  return 1;
}

absl::StatusOr<RowId> NewCase(harness::LocalNode& n, const std::string& province, int i,
                              const std::string& status, const std::string& channel,
                              const std::string& opened_on, const std::string& age_band,
                              const std::string& sex) {
  const RowId person = Id16::NewRandom();
  const RowId kase = Id16::NewRandom();
  const std::string name = absl::StrCat("Canary Nguyễn Thị ", province, i, " seedname");
  const std::string narrative = absl::StrCat("canary-narrative ", province, i, " seedstory");
  const std::string id_number = absl::StrCat("CANARYID", province, 1000 + i);
  canaries.insert(canaries.end(), {name, narrative, id_number});
  LocalTxn t;
  t.Create("persons", person, {{"full_name", Value::Text(name)},
                               {"id_number", Value::Text(id_number)},
                               {"province", Value::Text(province)},
                               {"age_band", Value::Text(age_band)},
                               {"sex", Value::Text(sex)}});
  t.Create("cases", kase, {{"case_code", Value::Text(absl::StrCat(province, "-2026-", 100 + i))},
                           {"person_id", Value::Bytes(std::string(person.view()))},
                           {"province", Value::Text(province)},
                           {"status", Value::Text(status)},
                           {"intake_channel", Value::Text(channel)},
                           {"opened_on", Value::Text(opened_on)},
                           {"narrative", Value::Text(narrative)}});
  auto c = n.replica().Write(t);
  if (!c.ok()) return c.status();
  return kase;
}

absl::Status Sync(harness::LocalNode& n) {
  auto r = n.Sync();
  if (!r.ok()) return r.status();
  if (!r->push_refused.ok()) return r->push_refused;
  if (r->key_records_refused > 0) return absl::InternalError(r->key_refusal);
  if (r->key_records_refused_by_hub > 0) return absl::InternalError(r->key_push_refusal);
  return absl::OkStatus();
}

int Run(const std::string& hub_dir, const std::string& work) {
  harness::HubProcess hub(hub_dir, harness::Pki{work + "/no-tls"}, /*insecure=*/true);
  if (absl::Status s = hub.Start(); !s.ok()) return Die("starting the hub", s);
  auto lc = harness::LocalNode::Create(work + "/seed-lc");
  if (!lc.ok()) return Die("LC node", lc.status());
  auto hg = harness::LocalNode::Create(work + "/seed-hg");
  if (!hg.ok()) return Die("HG node", hg.status());
  if (absl::Status s = (*lc)->Enroll(hub, "LC"); !s.ok()) return Die("enrolling LC", s);
  if (absl::Status s = (*hg)->Enroll(hub, "HG"); !s.ok()) return Die("enrolling HG", s);
  if (absl::Status s = Sync(**hg); !s.ok()) return Die("first HG sync", s);
  // Each office's first laptop, confirmed as an officer would (docs/CRYPTO.md).
  if (absl::Status s = (*lc)->BecomeFirstDevice(); !s.ok()) return Die("LC first device", s);
  if (absl::Status s = (*hg)->BecomeFirstDevice(); !s.ok()) return Die("HG first device", s);

  // LC: 6 intake (hotline, March, 18-24, female), 2 verifying (walk-in,
  // April, 12-15, male), 1 to refer, 1 to erase. HG: 1 intake (police).
  std::vector<RowId> lc_cases;
  for (int i = 0; i < 10; ++i) {
    const bool verifying = i >= 6 && i < 8;
    auto k = NewCase(**lc, "LC", i, verifying ? "verifying" : "intake",
                     verifying ? "walk_in" : "hotline_call",
                     verifying ? "2026-04-02" : "2026-03-15", verifying ? "12-15" : "18-24",
                     verifying ? "male" : "female");
    if (!k.ok()) return Die("writing an LC case", k.status());
    lc_cases.push_back(*k);
  }
  auto hg_case = NewCase(**hg, "HG", 0, "intake", "police", "2026-04-20", "25-34", "female");
  if (!hg_case.ok()) return Die("writing an HG case", hg_case.status());
  const RowId referral = Id16::NewRandom();
  {
    LocalTxn t;
    t.Create("referrals", referral,
             {{"case_id", Value::Bytes(std::string(lc_cases[8].view()))},
              {"from_office", Value::Text("LC")},
              {"to_office", Value::Text("HG")},
              {"status", Value::Text("sent")},
              {"reason", Value::Text("victim returns home")}});
    auto c = (*lc)->replica().Write(t);
    if (!c.ok()) return Die("referring a case", c.status());
  }
  const int64_t now = SystemClock::Get()->NowMillis();
  for (int i = 0; i < 3; ++i) {
    auto a = AppendAccess((*lc)->replica(), "LC", "Lò Văn Officer",
                          lc_cases[static_cast<size_t>(i)], "show",
                          "cases.narrative,persons.full_name", now + i);
    if (!a.ok()) return Die("LC access log", a.status());
  }
  auto a = AppendAccess((*hg)->replica(), "HG", "Giàng Thị Cán Bộ", *hg_case, "export",
                        "cases.narrative", now + 3);
  if (!a.ok()) return Die("HG access log", a.status());

  for (harness::LocalNode* n : {lc->get(), hg->get()}) {
    if (absl::Status s = Sync(*n); !s.ok()) return Die("syncing", s);
  }
  {
    // Hà Giang accepts the referral: Lào Cai then grants the case's keys.
    LocalTxn t;
    t.Set("referrals", referral, {{"status", Value::Text("accepted")}});
    auto c = (*hg)->replica().Write(t);
    if (!c.ok()) return Die("accepting the referral", c.status());
  }
  for (harness::LocalNode* n : {hg->get(), lc->get(), hg->get(), lc->get(), hg->get()}) {
    if (absl::Status s = Sync(*n); !s.ok()) return Die("syncing", s);
  }
  if (absl::Status s = (*lc)->keys()->Erase({lc_cases[9]}); !s.ok()) return Die("erasing", s);
  for (harness::LocalNode* n : {lc->get(), hg->get()}) {
    if (absl::Status s = Sync(*n); !s.ok()) return Die("syncing after the erasure", s);
  }
  const int rc = hub.Stop();
  if (rc != 0) return Die("stopping the hub", absl::InternalError(absl::StrCat("exit ", rc)));
  for (const std::string& c : canaries) std::printf("%s\n", c.c_str());
  return 0;
}

}  // namespace
}  // namespace fieldsync

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: hub_admin_seed HUB_DIR WORK_DIR\n");
    return 2;
  }
  return fieldsync::Run(argv[1], argv[2]);
}
