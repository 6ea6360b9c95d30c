#include "tools/bench/sync/hubs_nodes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "clock/clock_source.h"
#include "tools/bench/common/case_writes.h"
#include "tools/bench/common/timing.h"

namespace fieldsync::bench_sync {

absl::Status StartHub(HubProcess& hub, const Mode& mode, std::string_view doing) {
  if (!mode.crypto) {
    hub.set_serve_program("fieldsync-bench-hub");
    hub.set_serve_args({"--benchmark-without-crypto"});
  }
  return Context(hub.Start(), doing);
}

absl::Status Context(const absl::Status& s, std::string_view doing) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(AV(doing), ": ",
                                             s.message().empty() ? "failed, no message"
                                                                 : s.message()));
}

std::string HubLogNote(const HubProcess& hub) {
  harness::CommandResult r = harness::Run({"/usr/bin/tail", "-n", "15", hub.log_path()});
  return absl::StrCat("\n--- hub log ", hub.log_path(), " (last lines) ---\n", r.out);
}

absl::StatusOr<node::SyncReport> SyncNode(LocalNode& n, const HubProcess& hub,
                                          std::string_view what) {
  absl::StatusOr<node::SyncReport> r = n.Sync();
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat(AV(what), ": ", r.status().message(), HubLogNote(hub)));
  }
  return r;
}

absl::Status MakeFreshNode(const std::string& node_dir, const HubProcess& hub,
                           const std::string& address) {
  const std::string fieldnode = harness::BinDir() + "/fieldnode";
  // The keystore is unlocked for init and enrol only (a throwaway
  // passphrase): the measured sync runs locked, so that Argon2id's second of
  // unlocking is not counted as syncing. (A node stores what it pulls as it
  // arrives, sealed fields as ciphertext: pulling decrypts nothing.)
  const std::string pass = "FIELDSYNC_PASSPHRASE=benchmark throwaway passphrase";
  harness::CommandResult init =
      harness::Run({"/usr/bin/env", pass, fieldnode, "init", "--data-dir", node_dir});
  if (init.exit_code != 0) {
    return absl::InternalError(absl::StrCat("fieldnode init: ", init.err));
  }
  absl::StatusOr<std::string> token = hub.Token(kSeedProvince);
  FS_RETURN_IF_ERROR(Context(token.status(), "fieldhub enroll-token"));
  harness::CommandResult enroll =
      harness::Run({"/usr/bin/env", pass, fieldnode, "enroll", "--data-dir", node_dir, "--hub",
                    address, "--ca", hub.pki().ca(), "--token", *token, "--name",
                    "bench new node"});
  if (enroll.exit_code != 0) {
    return absl::InternalError(absl::StrCat("fieldnode enroll: ", enroll.err));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> WriteCases(Replica& r, const std::vector<RowId>& ids, int64_t first,
                                  const std::string& province) {
  const auto t0 = bench::Clock::now();
  for (size_t start = 0; start < ids.size(); start += kWriteBatch) {
    const size_t end = std::min(ids.size(), start + kWriteBatch);
    std::vector<LocalTxn> txns =
        bench::CaseTxns(ids, start, end, first, bench::CaseProfile::kFull, province);
    FS_RETURN_IF_ERROR(r.WriteMany(txns).status());
  }
  return bench::SecondsSince(t0);
}

absl::Status WriteOrganisation(Replica& r, const std::string& name) {
  LocalTxn t;
  t.Create("organisations", Id16::NewV7(SystemClock::Get()),
           {{"name", Value::Text(name)}, {"kind", Value::Text("ngo")}});
  return r.Write(t).status();
}

}  // namespace fieldsync::bench_sync
