// fieldsync-engine-demo: the sync engine alone, as two laptops of the Lào Cai
// field office use it while offline -- concurrent edits, a conflict and its
// resolution, a delete meeting an edit -- and the two replicas converging.
// (The hub-and-nodes demo replaces this once the hub and node exist.)
//
//   fieldsync-engine-demo [--keep DIR]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "change/commit.h"
#include "clock/clock_source.h"
#include "store/replica.h"

using namespace fieldsync;

namespace {

void Step(const char* text) { std::printf("\n== %s\n", text); }

[[noreturn]] void Die(const absl::Status& s) {
  std::fprintf(stderr, "fieldsync-engine-demo: %s\n", s.ToString().c_str());
  std::exit(1);
}

template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) Die(v.status());
  return std::move(v).value();
}

std::string Show(const Value& v) { return v.is_null() ? "(empty)" : v.DebugString(); }

struct Laptop {
  const char* who;
  std::unique_ptr<Replica> replica;
};

// Hands every commit `from` holds to `to`, as a sync would.
void Exchange(Laptop& from, Laptop& to) {
  std::vector<Commit> commits;
  for (auto& [pos, c] : Must(from.replica->LogAfter(0, 1'000'000))) commits.push_back(c);
  const ApplyResult r = Must(to.replica->Apply(commits));
  std::printf("   %s -> %s: %zu commits merged, %zu already held\n", from.who, to.who,
              r.applied, r.duplicates);
}

void ShowCase(Laptop& l, const RowId& id) {
  const auto row = Must(l.replica->Get("cases", id));
  const TableDef& t = *l.replica->schema().FindTable("cases");
  std::printf("   on %s's laptop: case %s%s\n", l.who, id.ToString().c_str(),
              row && row->live ? "" : " (deleted)");
  if (!row) return;
  for (const char* col : {"case_code", "status", "urgency", "narrative"}) {
    std::printf("     %-10s %s\n", col,
                Show(row->values[static_cast<size_t>(t.ColumnIndex(col))]).c_str());
  }
}

void ShowConflicts(Laptop& l) {
  const auto conflicts = Must(l.replica->Conflicts());
  std::printf("   %s's laptop lists %zu open conflict(s)\n", l.who, conflicts.size());
  for (const ConflictRecord& c : conflicts) {
    std::printf("     %s.%s: losing value %s, written %s by device %s\n", c.table.c_str(),
                c.column.c_str(), Show(c.value).c_str(), c.version.hlc.ToString().c_str(),
                c.version.device.ToString().substr(0, 8).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string keep;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--keep" && i + 1 < argc) {
      keep = argv[++i];
    } else {
      std::printf("usage: fieldsync-engine-demo [--keep DIR]\n"
                  "Shows two offline replicas editing one case and merging.\n"
                  "--keep DIR  leave the two replica files in DIR instead of a temp dir\n");
      return a == "--help" ? 0 : 2;
    }
  }
  std::string dir = keep;
  if (dir.empty()) {
    char tmpl[] = "/tmp/fieldsync-demo-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Die(absl::InternalError("mkdtemp failed"));
    dir = tmpl;
  }
  std::filesystem::create_directories(dir);

  Step("Two laptops of the Lào Cai field office, each with its own replica");
  FakeClock clock_hoa(SystemClock::Get()->NowMillis());
  FakeClock clock_minh(SystemClock::Get()->NowMillis());
  ReplicaOptions o;
  o.path = dir + "/hoa.db";
  o.clock = &clock_hoa;
  Laptop hoa{"Hoa", Must(Replica::Open(o))};
  o.path = dir + "/minh.db";
  o.clock = &clock_minh;
  Laptop minh{"Minh", Must(Replica::Open(o))};
  std::printf("   replicas in %s (hoa.db, minh.db)\n", dir.c_str());

  Step("Hoa opens a case for a victim (one local transaction = one commit)");
  const RowId person = RowId::NewV7(&clock_hoa);
  const RowId kase = RowId::NewV7(&clock_hoa);
  const Commit c1 = Must(hoa.replica->Write(
      LocalTxn()
          .Create("persons", person,
                  {{"full_name", Value::Text("Nguyễn Thị Hằng")},
                   {"sex", Value::Text("female")},
                   {"birth_year", Value::Int(2007)},
                   {"is_child", Value::Int(1)},
                   {"province", Value::Text("lao-cai")}})
          .Create("cases", kase,
                  {{"case_code", Value::Text("LC-2026-014")},
                   {"person_id", Value::Bytes(std::string(person.view()))},
                   {"province", Value::Text("lao-cai")},
                   {"intake_channel", Value::Text("hotline_call")},
                   {"status", Value::Text("intake")},
                   {"urgency", Value::Text("normal")},
                   {"narrative", Value::Text("Gọi đến đường dây 18001567 từ Bát Xát.")}})));
  std::printf("   commit %s: %zu rows, HLC %s\n", c1.Name().c_str(), c1.changes.size(),
              c1.hlc.ToString().c_str());
  Exchange(hoa, minh);
  ShowCase(minh, kase);

  Step("Offline, both edit the case: different fields, and the same narrative");
  clock_hoa.Advance(60'000);
  clock_minh.Advance(90'000);
  Must(hoa.replica->Write(LocalTxn().Set(
      "cases", kase,
      {{"status", Value::Text("verifying")},
       {"narrative", Value::Text("Gọi từ Bát Xát; đã xác minh với đồn biên phòng.")}})));
  Must(minh.replica->Write(LocalTxn().Set(
      "cases", kase,
      {{"urgency", Value::Text("urgent")},
       {"narrative", Value::Text("Gọi từ Bát Xát; nạn nhân 17 tuổi, cần nơi ở an toàn.")}})));
  std::printf("   Hoa: status -> verifying, narrative edited\n");
  std::printf("   Minh: urgency -> urgent, narrative edited\n");

  Step("Back in reach of each other, they merge");
  Exchange(hoa, minh);
  Exchange(minh, hoa);
  ShowCase(hoa, kase);
  std::printf("   both field edits survived; the later narrative (Minh's) won the field\n");
  ShowConflicts(hoa);
  ShowConflicts(minh);

  Step("Hoa reviews the conflict and resolves it with a new value");
  clock_hoa.Advance(60'000);
  Must(hoa.replica->Write(LocalTxn().Resolve(
      "cases", kase, "narrative",
      Value::Text("Gọi từ Bát Xát; đã xác minh với đồn biên phòng; nạn nhân 17 tuổi, "
                  "cần nơi ở an toàn."))));
  Exchange(hoa, minh);
  ShowCase(minh, kase);
  ShowConflicts(minh);

  Step("A delete meets a concurrent edit: the edit is kept as a conflict, not lost");
  const RowId dup = RowId::NewV7(&clock_minh);
  Must(minh.replica->Write(LocalTxn().Create(
      "cases", dup, {{"case_code", Value::Text("LC-2026-015")}, {"status", Value::Text("intake")}})));
  Exchange(minh, hoa);
  clock_hoa.Advance(10'000);
  clock_minh.Advance(50'000);
  Must(minh.replica->Write(LocalTxn().Delete("cases", dup)));
  Must(hoa.replica->Write(LocalTxn().Set("cases", dup, {{"status", Value::Text("assisting")}})));
  std::printf("   Hoa, offline, edits the status of LC-2026-015; later Minh deletes it as a "
              "duplicate\n");
  Exchange(hoa, minh);
  Exchange(minh, hoa);
  ShowCase(hoa, dup);
  ShowConflicts(hoa);
  std::printf("   the delete won, and Hoa's edit waits as a conflict: she can restore the case\n");

  Step("Both replicas hold the same state");
  const std::string d1 = Must(hoa.replica->StateDigest());
  const std::string d2 = Must(minh.replica->StateDigest());
  std::printf("   Hoa  %s\n   Minh %s\n   %s\n", d1.c_str(), d2.c_str(),
              d1 == d2 ? "identical" : "DIFFERENT");
  hoa.replica.reset();
  minh.replica.reset();
  if (keep.empty()) {
    std::filesystem::remove_all(dir);
    std::printf("\nRemoved %s. Done.\n", dir.c_str());
  } else {
    std::printf("\nReplicas kept in %s. Done.\n", dir.c_str());
  }
  return d1 == d2 ? 0 : 1;
}
