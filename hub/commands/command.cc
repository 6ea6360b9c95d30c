#include "hub/commands/command.h"
#include "hub/commands/moved_mark.h"

#include <cstdlib>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "hub/hub_files.h"
#include "hub/pg/store.h"
#include "hub/serve_log.h"
#include "text/text.h"

namespace fieldsync::hub {
namespace {

// What a DATA_LOSS about hub.db says to the hub's administrator. SQLite's
// errors (store/sqlite.cc) carry the statement and advice for a laptop
// ("re-bootstrap this replica from the hub"): the hub's file has no hub to
// come back from, so only SQLite's finding is kept. Other DATA_LOSS messages
// (emptied file, audit trail changed) are the hub's own already.
std::string DamagedMessage(const DataDir& dir, const absl::Status& status) {
  const std::string_view m = SV(status.message());
  const size_t advice = m.find("; the database file is damaged");
  if (advice == std::string_view::npos) return std::string(m);
  std::string_view found = m.substr(0, advice);  // running "SQL": FINDING (SQLite code N)
  if (const size_t sql_end = found.rfind("\": "); sql_end != std::string_view::npos) {
    found = found.substr(sql_end + 3);
  }
  return absl::StrCat(dir.ReplicaPath(), " is damaged (", AV(found), "): stop fieldhub and "
                      "restore hub.db from the latest backup; nothing was changed");
}

// sd-daemon's "<3>" (error) before the line when stderr is the journal
// (hub/serve_log.h): a unit's failure to start is logged as an error.
const char* JournalError(const Io& io) { return IsJournal(io.err) ? "<3>" : ""; }

absl::StatusOr<std::unique_ptr<HubEngine>> OpenPostgres(const std::string& target,
                                                        PostgresHubStore::Expect expect) {
  if (!IsPostgresTarget(target)) {
    // Not printed back: it may be a mistyped URI holding a password.
    return absl::InvalidArgumentError(
        "--store (or $FIELDSYNC_HUB_STORE) takes a postgresql://USER@HOST/DATABASE URI; "
        "without it the hub's store is hub.db in the data directory");
  }
  FS_ASSIGN_OR_RETURN(std::unique_ptr<PostgresHubStore> store,
                      PostgresHubStore::Open(target, expect));
  return std::unique_ptr<HubEngine>(std::move(store));
}

}  // namespace

void Command::DeclareDataDir(CLI::App& app) { app.add_option("--data-dir", data_dir_); }

void Command::DeclareJson(CLI::App& app) { app.add_flag("--json", json_); }

void Command::DeclareActor(CLI::App& app) { app.add_option("--as", actor_); }

void Command::DeclareStore(CLI::App& app) {
  app.add_option("--store", store_);
  takes_store_ = true;
}

absl::Status Command::CheckArguments() const {
  if (!takes_store_) return absl::OkStatus();
  return RefusePasswordIn(StoreTarget(), "--store (or $FIELDSYNC_HUB_STORE)");
}

std::string Command::StoreTarget() const {
  if (store_.has_value()) return *store_;
  const char* v = std::getenv("FIELDSYNC_HUB_STORE");
  return v == nullptr ? std::string() : std::string(v);
}

std::string Command::StoreLabel() const {
  return OnPostgres() ? PostgresHubStore::Printable(StoreTarget()) : HubDir().ReplicaPath();
}

absl::StatusOr<std::unique_ptr<HubEngine>> Command::OpenHubStore(FileCheck check,
                                                                SchemaUpgrade upgrade) const {
  return OpenHubStoreAt(HubDir(), StoreTarget(), check, upgrade);
}

absl::StatusOr<std::unique_ptr<HubEngine>> OpenHubStoreAt(const DataDir& dir,
                                                          const std::string& target,
                                                          FileCheck check,
                                                          SchemaUpgrade upgrade) {
  if (target.empty()) {
    FS_ASSIGN_OR_RETURN(std::unique_ptr<SqliteHubStore> store, OpenStore(dir, check));
    return std::unique_ptr<HubEngine>(std::move(store));
  }
  return OpenPostgres(target, upgrade == SchemaUpgrade::kMigrate
                                  ? PostgresHubStore::Expect::kExisting
                                  : PostgresHubStore::Expect::kCurrent);
}

absl::StatusOr<std::unique_ptr<HubEngine>> Command::CreatePostgresStore() const {
  return OpenPostgres(StoreTarget(), PostgresHubStore::Expect::kNew);
}

DataDir Command::HubDir() const {
  return DataDir{ResolveDataDir(data_dir_, "FIELDSYNC_HUB_DIR", "hub"), "hub.db", "fieldhub init",
                 "FIELDSYNC_HUB_DIR"};
}

absl::StatusOr<std::string> Command::Actor() const {
  if (actor_.has_value()) {
    const std::string& who = *actor_;
    if (who.empty() || who.size() > 100) {
      return absl::InvalidArgumentError("--as needs a name of 1 to 100 characters");
    }
    for (char c : who) {
      if (static_cast<unsigned char>(c) < 0x20) {
        return absl::InvalidArgumentError("--as must not hold control characters");
      }
    }
    return text::NormalizeInput(who, "--as");
  }
  for (const char* var : {"FIELDSYNC_ADMIN", "USER"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') return std::string(v).substr(0, 100);
  }
  return std::string("administrator");
}

int Command::Fail(const Io& io, const absl::Status& status) const {
  if (status.code() == absl::StatusCode::kDataLoss) {
    std::fprintf(io.err, "%sfieldhub: %s\n", JournalError(io),
                 DamagedMessage(HubDir(), status).c_str());
    return kExitDamaged;
  }
  std::fprintf(io.err, "%sfieldhub: %s\n", JournalError(io),
               std::string(status.message()).c_str());
  return kExitFailed;
}

int Command::Usage(const Io& io, std::string_view what) const {
  std::fprintf(io.err, "%sfieldhub: %.*s; see `fieldhub %s --help`\n", JournalError(io),
               static_cast<int>(what.size()), what.data(), name_.c_str());
  return kExitUsage;
}

int Command::Usage(const Io& io, const absl::Status& why) const {
  return Usage(io, SV(why.message()));
}

absl::StatusOr<std::unique_ptr<SqliteHubStore>> OpenStore(const DataDir& dir, FileCheck check) {
  // A hub.db moved to PostgreSQL is opened by no command (moved_mark.h).
  FS_RETURN_IF_ERROR(RefuseIfMoved(dir));
  // A file of a newer fieldhub is refused before anything writes to it.
  FS_RETURN_IF_ERROR(TheHubFiles().RefuseNewer(dir.ReplicaPath()));
  // Opening through OpenReplicaIn first gives the friendly "run fieldhub
  // init" message when there is no store yet.
  {
    auto r = OpenReplicaIn(dir);
    if (!r.ok()) return r.status();
  }
  FS_ASSIGN_OR_RETURN(std::unique_ptr<SqliteHubStore> store,
                      SqliteHubStore::Open(dir.ReplicaPath()));
  if (check == FileCheck::kWhole) FS_RETURN_IF_ERROR(store->CheckFile());
  return store;
}

std::string Pad(const std::string& s, size_t width) {
  // Columns as the node's tables count them (text::DisplayWidth); a value
  // wider than its column is printed whole, not cut as text::PadTo does.
  const size_t columns = text::DisplayWidth(s);
  return columns >= width ? s : s + std::string(width - columns, ' ');
}

}  // namespace fieldsync::hub
