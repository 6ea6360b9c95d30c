// fieldhub restore FILE: puts a backup of this hub back as hub.db, with
// `fieldhub serve` stopped (hub/help/restore.txt; docs/PROTOCOL.md, "A hub
// put back from a backup"). The file is made ready beside hub.db
// (hub.db.restoring: checked, migrated, the revocations in force carried
// over, the restore recorded), then the current hub.db is kept as
// hub.db.before-restore-YYYYMMDDTHHMMSSZ and the ready file takes its name.
#include <filesystem>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/strings.h"
#include "hub/audit.h"
#include "hub/commands/command.h"
#include "hub/commands/hub_file.h"
#include "hub/hub_files.h"
#include "hub/pg/backup.h"
#include "hub/pg/connection.h"

namespace fieldsync::hub {
namespace {

namespace fs = std::filesystem;

// What the file being replaced holds that the restore needs.
struct Current {
  bool present = false;
  std::optional<HubFileFacts> facts;  // none: present but unreadable (damaged)
  std::vector<DeviceId> revoked;
  std::vector<std::pair<DeviceId, std::string>> link_keys;  // held by the file replaced
};

class Restore final : public Command {
 public:
  Restore() : Command("restore") {}
  void Declare(CLI::App& app) override {
    DeclareDataDir(app);
    DeclareActor(app);
    DeclareStore(app);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (operands.size() != 1 || operands[0].empty()) {
      return Usage(io, "restore needs the backup FILE, e.g. fieldhub restore "
                       "/srv/backup/hub-2026-12-05.db");
    }
    const std::string& file = operands[0];
    auto actor = Actor();
    if (!actor.ok()) return Usage(io, actor.status());
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
      return Fail(io, absl::NotFoundError(absl::StrCat(
                          file, fs::exists(file, ec) ? " is not a file" : ": no such file",
                          "; nothing was changed")));
    }
    if (OnPostgres()) return RunPostgres(file, *actor, io);
    const DataDir dir = HubDir();
    const std::string db = dir.ReplicaPath();
    if (!fs::is_directory(dir.path, ec)) {
      fs::create_directories(dir.path, ec);
      if (ec) {
        return Fail(io, absl::FailedPreconditionError(absl::StrCat(
                            "cannot make ", dir.path, ": ", ec.message())));
      }
      fs::permissions(dir.path, fs::perms::owner_all, ec);  // victim data lives there
    }
    auto lock = ServeLock::Take(
        dir.path, absl::StrCat("fieldhub serve is running on ", dir.path,
                               ": stop fieldhub serve first; nothing was changed"));
    if (!lock.ok()) return Fail(io, lock.status());

    const std::string staging = db + ".restoring";
    files_.Remove(staging);  // a restore interrupted before; ours, under the lock
    fs::copy_file(file, staging, ec);
    if (ec) {
      files_.Remove(staging);
      return Fail(io, absl::FailedPreconditionError(absl::StrCat(
                          "cannot copy ", file, " into ", dir.path, ": ", ec.message(),
                          "; nothing was changed")));
    }
    fs::permissions(staging, fs::perms::owner_read | fs::perms::owner_write, ec);
    absl::StatusOr<std::string> done = Prepare(file, staging, db, *actor);
    if (!done.ok()) {
      files_.Remove(staging);
      return Fail(io, done.status());
    }
    std::fprintf(io.out, "fieldhub: %s\n", done->c_str());
    return kExitOk;
  }

 private:
  // The hub on PostgreSQL: the backup's tables put in place of the hub's
  // in one transaction (hub/pg/backup.h), the replaced ones kept in a
  // schema of their own.
  int RunPostgres(const std::string& file, const std::string& actor, const Io& io) {
    auto conn = pg::Connection::Open(StoreTarget());
    if (!conn.ok()) return Fail(io, conn.status());
    const absl::Time now = absl::Now();
    auto done = pg::RestoreBackup(**conn, file, file, actor, absl::ToUnixMillis(now),
                                  absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone()));
    if (!done.ok()) {
      const absl::Status& s = done.status();
      return Fail(io, absl::Status(s.code() == absl::StatusCode::kInternal ||
                                           s.code() == absl::StatusCode::kDataLoss
                                       ? absl::StatusCode::kFailedPrecondition
                                       : s.code(),
                                   absl::StrCat("cannot restore ", file, " into ", StoreLabel(),
                                                ": ", s.message(), "; nothing was changed")));
    }
    const pg::PgRestoreOutcome& o = *done;
    std::string went =
        o.had_hub ? absl::StrCat("the log goes back from position ", o.log_head_before, " to ",
                                 o.restored.log_head)
                  : absl::StrCat("there was no hub; the log is at position ",
                                 o.restored.log_head);
    std::string revocations = absl::StrCat(o.carried.size(), " revocations carried over");
    if (o.unknown > 0) {
      absl::StrAppend(&revocations, " (", o.unknown, " more of nodes enrolled after the backup, "
                      "which it does not know)");
    }
    if (!o.kept_link_keys.empty()) {
      absl::StrAppend(&revocations, "; ", o.kept_link_keys.size(),
                      " link keys kept from the replaced database");
    }
    const std::string kept_lines = KeptKeyLines(o.kept_link_keys, "database");
    std::fprintf(io.out,
                 "fieldhub: restored %s into %s: %s; laptops send again what they hold at their "
                 "next sync; %s%s%s\n",
                 file.c_str(), StoreLabel().c_str(), went.c_str(), revocations.c_str(),
                 o.kept_schema.empty()
                     ? ""
                     : absl::StrCat("; the replaced tables are kept in schema ", o.kept_schema,
                                    " (drop it with DROP SCHEMA ", o.kept_schema,
                                    " CASCADE once the restored hub serves)")
                           .c_str(),
                 kept_lines.c_str());
    return kExitOk;
  }

  // Checks and readies `staging` (a copy of `file`), then puts it in place
  // of `db`; the line to print.
  absl::StatusOr<std::string> Prepare(const std::string& file, const std::string& staging,
                                      const std::string& db, const std::string& actor) {
    auto restored = files_.Read(staging, /*check=*/true);
    if (!restored.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          file, " is not a hub database this fieldhub restores: ", restored.status().message(),
          "; nothing was changed"));
    }
    Current cur = ReadCurrent(db);
    if (cur.facts && cur.facts->hub_id != restored->hub_id) {
      return absl::FailedPreconditionError(absl::StrCat(
          file, " is a backup of another hub (device ", restored->hub_id.ToString(),
          "), not of this one (device ", cur.facts->hub_id.ToString(),
          "): its laptops would refuse it; nothing was changed"));
    }
    // Opening it brings an older schema to this build's; the revocations in
    // force carried over by the store's own revocation (its office's keys,
    // its log position, its audit entry).
    std::vector<std::string> carried;
    std::vector<std::string> kept_keys;
    int unknown = 0;
    // The backup's own link keys: a device closed since (a two-holders
    // alarm) is closed again whatever key the backup holds for it.
    std::map<DeviceId, std::string> backup_keys;
    if (!cur.link_keys.empty()) {
      auto held = files_.LinkKeys(staging);
      if (!held.ok()) return Annotated(held.status(), file);
      backup_keys.insert(held->begin(), held->end());
    }
    {
      auto store = files_.Open(staging);
      if (!store.ok()) return Annotated(store.status(), file);
      for (const DeviceId& d : cur.revoked) {
        absl::Status s = (*store)->RevokeNode(d, actor);
        if (s.ok()) {
          carried.push_back(d.ToString());
        } else if (s.code() == absl::StatusCode::kNotFound) {
          ++unknown;  // enrolled after the backup: the restored hub does not know it
        } else if (s.code() != absl::StatusCode::kFailedPrecondition) {  // revoked in it too
          return Annotated(s, file);
        }
      }
      // The link keys the replaced file held and the backup does not (a
      // device that registered after the backup): kept, not reopened to
      // whoever registers first (attack review 24, MED 3). A key is public;
      // the laptop still holds it.
      for (const auto& [d, key] : cur.link_keys) {
        const std::string detail = LinkKeyKeptDetail(d.ToString(), key, "hub.db");
        auto in_backup = backup_keys.find(d);
        absl::StatusOr<bool> k =
            LinkKeyStateOf(key) == LinkKeyState::kClosed && in_backup != backup_keys.end()
                ? (*store)->CloseLinkKey(d, in_backup->second, actor, detail)
                : (*store)->RegisterLinkKey(d, key, actor, detail);
        if (!k.ok()) return Annotated(k.status(), file);
        if (*k) kept_keys.push_back(d.ToString());
      }
    }
    const std::string stamp =
        absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone());
    std::string before = absl::StrCat(db, ".before-restore-", stamp);
    std::error_code ec;
    for (int n = 2; fs::exists(before, ec); ++n) {
      before = absl::StrCat(db, ".before-restore-", stamp, "-", n);
    }
    const std::string from = cur.facts ? absl::StrCat(cur.facts->log_head) : "?";
    std::string went = cur.present
                           ? absl::StrCat("the log goes back from position ", from, " to ",
                                          restored->log_head)
                           : absl::StrCat("there was no hub.db; the log is at position ",
                                          restored->log_head);
    std::string revocations = absl::StrCat(carried.size(), " revocations carried over");
    if (unknown > 0) {
      absl::StrAppend(&revocations, " (", unknown, " more of nodes enrolled after the backup, "
                      "which it does not know)");
    }
    if (!kept_keys.empty()) {
      absl::StrAppend(&revocations, "; ", kept_keys.size(),
                      " link keys kept from the replaced hub.db");
    }
    if (cur.present && !cur.facts) {
      revocations = "the replaced hub.db could not be read: its revocations and link keys are "
                    "not carried over (revoke again with fieldhub node revoke; each laptop "
                    "registers its link key again at its next call)";
    }
    const std::string detail = absl::StrCat(
        "from ", file, ": ", went, "; ", revocations,
        carried.empty() ? "" : absl::StrCat(" (", absl::StrJoin(carried, ", "), ")"),
        cur.present ? absl::StrCat("; the replaced file kept as ",
                                   fs::path(before).filename().string())
                    : "");
    if (absl::Status s = files_.AppendAudit(staging, actor, kAuditRestore, detail); !s.ok()) {
      return Annotated(s, file);
    }
    if (absl::Status s = files_.Seal(staging); !s.ok()) return Annotated(s, file);
    if (absl::Status s = SyncFile(staging); !s.ok()) return s;

    if (cur.present) {
      // The file replaced, with what it keeps beside it.
      if (absl::Status s = files_.MoveAside(db, before); !s.ok()) return s;
    }
    fs::rename(staging, db, ec);
    if (ec) {
      const std::string why = ec.message();
      if (cur.present) fs::rename(before, db, ec);  // the hub as it was
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot rename ", staging, " to ", db, ": ", why,
          cur.present && !ec ? "; nothing was changed"
                             : absl::StrCat("; the replaced file is ", before)));
    }
    if (absl::Status s = SyncDirectoryOf(db); !s.ok()) return s;
    return absl::StrCat("restored ", file, ": ", went, "; laptops send again what they hold "
                        "at their next sync; ", revocations,
                        cur.present ? absl::StrCat("; the replaced file is kept as ", before)
                                    : "",
                        KeptKeyLines(kept_keys, "hub.db"));
  }

  // The file being replaced: its hub id, log and revocations, if it can
  // be read.
  Current ReadCurrent(const std::string& db) const {
    Current c;
    std::error_code ec;
    c.present = fs::exists(db, ec);
    if (!c.present) return c;
    auto facts = files_.Read(db, /*check=*/false);
    auto revoked = files_.RevokedDevices(db);
    auto link_keys = files_.LinkKeys(db);
    if (facts.ok() && revoked.ok() && link_keys.ok()) {
      c.facts = *facts;
      c.revoked = *std::move(revoked);
      c.link_keys = *std::move(link_keys);
    }
    return c;
  }

  // One line a device whose link key the restore kept (after the first
  // line, which names none).
  static std::string KeptKeyLines(const std::vector<std::string>& devices,
                                  std::string_view from) {
    std::string out;
    for (const std::string& d : devices) {
      absl::StrAppend(&out, "\nfieldhub: device ", d, ": its link key kept from the replaced ",
                      AV(from), " (the backup did not hold it; the laptop proves with it as before)");
    }
    return out;
  }

  static absl::Status Annotated(const absl::Status& s, const std::string& file) {
    return absl::Status(s.code() == absl::StatusCode::kDataLoss ? absl::StatusCode::kInvalidArgument
                                                                 : s.code(),
                        absl::StrCat("cannot restore ", file, ": ", s.message(),
                                     "; nothing was changed"));
  }

  const HubFiles& files_ = TheHubFiles();
};

}  // namespace

std::unique_ptr<Command> MakeRestoreCommand() { return std::make_unique<Restore>(); }

}  // namespace fieldsync::hub
