#include "tools/bench/replica/crypto_writes.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "change/commit.h"
#include "clock/clock_source.h"
#include "crypto/commit_signature.h"
#include "crypto/envelope.h"
#include "crypto/identity.h"
#include "crypto/key_record.h"
#include "node/agent.h"
#include "schema/schema.h"
#include "store/keyring.h"
#include "tools/bench/common/case_writes.h"
#include "tools/bench/common/timing.h"

namespace fieldsync::bench_replica {
namespace {

namespace fs = std::filesystem;
using bench::Clock;

// A key agent (node/agent.h) started by this program for `device`, in
// `dir`, and the delegated identity that signs through it; stopped when
// dropped. The agent serves this program: it is the program that started it.
class Agent {
 public:
  static absl::StatusOr<std::unique_ptr<Agent>> Start(const std::string& dir,
                                                      const DeviceId& device) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    fs::permissions(dir, fs::perms::owner_all, ec);
    auto a = std::unique_ptr<Agent>(new Agent(dir));
    FS_RETURN_IF_ERROR(node::StartAgent(dir, crypto::DeviceIdentity::Generate(device),
                                        SystemClock::Get()->NowMillis() + 3'600'000));
    a->started_ = true;
    FS_ASSIGN_OR_RETURN(std::optional<crypto::DeviceIdentity> id, node::AgentIdentity(dir));
    if (!id) return absl::InternalError("the key agent just started does not answer");
    a->identity_ = std::make_unique<crypto::DeviceIdentity>(*std::move(id));
    return a;
  }
  ~Agent() {
    if (started_) node::StopAgent(dir_);
  }
  const crypto::DeviceIdentity& identity() const { return *identity_; }

 private:
  explicit Agent(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  bool started_ = false;
  std::unique_ptr<crypto::DeviceIdentity> identity_;
};

}  // namespace

absl::StatusOr<CryptoWrites> CryptoInsert(const std::string& path, bool sync_full,
                                          const std::vector<RowId>& ids, int64_t batch,
                                          CaseProfile profile, const std::string& agent_dir) {
  CryptoWrites out;
  FS_ASSIGN_OR_RETURN(std::unique_ptr<Replica> r, OpenReplica(path, sync_full));
  FS_ASSIGN_OR_RETURN(std::unique_ptr<KeyRing> keys, KeyRing::Open(r.get(), kOffice));
  std::unique_ptr<Agent> agent;
  if (agent_dir.empty()) {
    FS_RETURN_IF_ERROR(keys->Unlock(crypto::DeviceIdentity::Generate(r->device_id())));
  } else {
    FS_ASSIGN_OR_RETURN(agent, Agent::Start(agent_dir, r->device_id()));
    FS_RETURN_IF_ERROR(keys->Unlock(agent->identity().Clone()));
  }
  r->SetSecurity(keys->Security());

  FS_ASSIGN_OR_RETURN(out.seconds, TrackedInsert(*r, ids, batch, profile));

  const auto n = static_cast<int64_t>(ids.size());
  FS_ASSIGN_OR_RETURN(int64_t live, bench::LiveCases(*r));
  if (live != n) {
    return absl::InternalError(absl::StrCat("crypto writer holds ", live, " cases, not ", n));
  }
  const TableDef& t = *r->schema().FindTable("cases");
  for (const char* c : bench::kCaseColumns) {
    const int ci = t.ColumnIndex(c);
    if (ci >= 0 && t.columns[static_cast<size_t>(ci)].sensitivity != Sensitivity::kClear) {
      ++out.sensitive_columns;
    }
  }
  out.sealed_per_case = -1;
  for (int64_t i : {int64_t{0}, n / 2, n - 1}) {
    const RowId& id = ids[static_cast<size_t>(i)];
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, r->Get("cases", id));
    if (!row) return absl::InternalError(absl::StrCat("crypto writer lost case ", i));
    const std::vector<Value> want = OfficeCaseValues(i, profile);
    int sealed = 0;
    for (size_t k = 0; k < want.size(); ++k) {
      const std::string col = bench::kCaseColumns[k];
      const auto ci = static_cast<size_t>(t.ColumnIndex(col));
      const Value& stored = row->values[ci];
      const bool sensitive = t.columns[ci].sensitivity != Sensitivity::kClear;
      // Only sensitive columns are judged by the envelope's magic byte: a
      // clear id may begin with it by chance. Clear ones must be as written.
      const bool is_sealed =
          sensitive && stored.kind() == Value::Kind::kBytes && crypto::LooksSealed(stored.str());
      if (sensitive != is_sealed || (!sensitive && stored != want[k])) {
        return absl::InternalError(absl::StrCat("case ", i, ": cases.", col, " is stored ",
                                                is_sealed ? "sealed" : "in clear",
                                                sensitive ? "" : " or was changed"));
      }
      if (!is_sealed) continue;
      ++sealed;
      if (i == 0) {
        out.sealed_bytes += stored.str().size();
        out.clear_bytes += want[k].str().size();
      }
      std::optional<Version> v;
      if (row->versions[ci]) v = row->versions[ci]->version;
      OpenedField opened = keys->Read("cases", id, col, stored, v);
      if (opened.state != OpenedField::State::kOpened || opened.value != want[k]) {
        return absl::InternalError(absl::StrCat("case ", i, ": cases.", col, " does not open (",
                                                AV(OpenedStateName(opened.state)), ": ",
                                                opened.problem, ")"));
      }
    }
    if (out.sealed_per_case >= 0 && sealed != out.sealed_per_case) {
      return absl::InternalError("cases have different numbers of sealed fields");
    }
    out.sealed_per_case = sealed;
  }
  FS_ASSIGN_OR_RETURN(std::vector<Commit> first, r->LocalCommitsAfter(0, 1));
  if (first.empty() || first.front().signature.size() != crypto::kSignatureBytes) {
    return absl::InternalError("the crypto writer's first commit is not signed");
  }
  FS_ASSIGN_OR_RETURN(auto counts, keys->CountRecords());
  for (const auto& [kind, count] : counts) {
    if (kind == crypto::KeyRecordKind::kOfficeDataKey || kind == crypto::KeyRecordKind::kDataKey) {
      out.data_key_records += count;
    } else {
      out.office_records += count;
    }
  }
  if (out.data_key_records != n) {
    return absl::InternalError(absl::StrCat("the crypto writer made ", out.data_key_records,
                                            " data key records for ", n, " cases"));
  }
  return out;
}

absl::Status SignOnce(const Settings& s, const Files& files) {
  const int count = s.quick ? 500 : 5000;
  const DeviceId device = Id16::NewRandom();
  crypto::DeviceIdentity local = crypto::DeviceIdentity::Generate(device);
  FS_ASSIGN_OR_RETURN(std::unique_ptr<Agent> agent, Agent::Start(files.Path("agent"), device));
  Commit c;
  c.author = device;
  c.seq = 1;
  c.hlc = Hlc::FromParts(SystemClock::Get()->NowMillis(), 0);
  RowChange rc;
  rc.table = "cases";
  rc.row = Id16::NewV7(SystemClock::Get());
  const std::vector<Value> values = OfficeCaseValues(0, s.profile);
  for (size_t k = 0; k < values.size(); ++k) {
    FieldWrite w;
    w.column = bench::kCaseColumns[k];
    w.value = values[k];
    rc.fields.push_back(std::move(w));
  }
  c.changes.push_back(rc);
  auto time = [&](auto&& f) -> absl::StatusOr<double> {
    const auto t0 = Clock::now();
    for (int i = 0; i < count; ++i) FS_RETURN_IF_ERROR(f());
    return 1e6 * bench::SecondsSince(t0) / count;
  };
  FS_ASSIGN_OR_RETURN(std::string sig, crypto::SignCommit(local, c));
  c.signature = sig;
  FS_ASSIGN_OR_RETURN(double us_local, time([&] { return crypto::SignCommit(local, c).status(); }));
  FS_ASSIGN_OR_RETURN(double us_agent, time([&] {
                        return crypto::SignCommit(agent->identity(), c).status();
                      }));
  FS_ASSIGN_OR_RETURN(double us_verify, time([&] {
                        return crypto::VerifyCommitSignature(c, local.public_keys().sign_pk);
                      }));
  std::printf("[one signature of a case's commit, %d times]\n"
              "  signed locally                %7.1f us\n"
              "  signed by the key agent       %7.1f us  (+%.1f us: the round trip on its "
              "socket and the check of the signature, %.1f us of it)\n\n",
              count, us_local, us_agent, us_agent - us_local, us_verify);
  std::fflush(stdout);
  return absl::OkStatus();
}

}  // namespace fieldsync::bench_replica
