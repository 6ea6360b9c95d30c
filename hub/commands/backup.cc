// fieldhub backup FILE: a consistent copy of hub.db, or of the hub's
// PostgreSQL tables with --store, taken while `fieldhub serve` runs
// (hub/help/backup.txt).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "hub/audit.h"
#include "hub/commands/command.h"
#include "hub/commands/hub_file.h"
#include "hub/hub_files.h"
#include "hub/pg/audit.h"
#include "hub/pg/backup.h"
#include "hub/pg/connection.h"
#include "hub/pg/transaction.h"

namespace fieldsync::hub {
namespace {

class Backup final : public Command {
 public:
  Backup() : Command("backup") {}
  void Declare(CLI::App& app) override {
    DeclareDataDir(app);
    DeclareActor(app);
    DeclareStore(app);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (operands.size() != 1 || operands[0].empty()) {
      return Usage(io, "backup needs the FILE to write, e.g. fieldhub backup "
                       "/srv/backup/hub-2026-12-05.db");
    }
    const std::string& file = operands[0];
    auto actor = Actor();
    if (!actor.ok()) return Usage(io, actor.status());
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::symlink_status(file, ec))) {
      return Fail(io, absl::AlreadyExistsError(absl::StrCat(
                          file, " exists: a backup never replaces a file; give a new name "
                          "(nothing was written)")));
    }
    if (OnPostgres()) return RunPostgres(file, *actor, io);
    const DataDir dir = HubDir();
    // The hub is there (else opening it says to run fieldhub init, creating
    // nothing), of a schema this fieldhub reads; read, not written.
    if (!std::filesystem::exists(dir.ReplicaPath(), ec)) {
      auto none = OpenStore(dir);
      return Fail(io, none.ok() ? absl::NotFoundError("no hub.db") : none.status());
    }
    const HubFiles& files = TheHubFiles();
    if (absl::Status s = files.RefuseNewer(dir.ReplicaPath()); !s.ok()) {
      return Fail(io, s);
    }
    const std::string part = file + ".part";
    const int fd = ::open(part.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return Fail(io, PartRefused(part));
    ::close(fd);
    {
      // The hub's own tables made if nothing has opened the file since
      // fieldhub init, so that the copy is one fieldhub restore takes.
      auto store = OpenStore(dir);
      if (!store.ok()) {
        files.Remove(part);
        return Fail(io, store.status());
      }
    }
    auto saved = Save(files, dir.ReplicaPath(), part, file);
    if (!saved.ok()) {
      files.Remove(part);
      return Fail(io, saved.status());
    }
    return Saved(io, file, saved->log_head, "hub.db", [&](const std::string& detail) {
      return files.AppendAudit(dir.ReplicaPath(), *actor, kAuditBackup, detail);
    });
  }

 private:
  // The hub on PostgreSQL: its own logical copy (hub/pg/backup.h), from
  // one snapshot, written to FILE.part, put on disk, then named FILE.
  int RunPostgres(const std::string& file, const std::string& actor, const Io& io) {
    auto conn = pg::Connection::Open(StoreTarget());
    if (!conn.ok()) return Fail(io, conn.status());
    const std::string part = file + ".part";
    const int fd = ::open(part.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return Fail(io, PartRefused(part));
    std::FILE* out = ::fdopen(fd, "wb");
    if (out == nullptr) {
      ::close(fd);
      ::unlink(part.c_str());
      return Fail(io, absl::ResourceExhaustedError("cannot write the backup: out of memory"));
    }
    auto saved = pg::WriteBackup(**conn, absl::ToUnixMillis(absl::Now()), out);
    const bool flushed = std::fflush(out) == 0;
    std::fclose(out);
    absl::Status named = !saved.ok()  ? saved.status()
                         : !flushed   ? absl::FailedPreconditionError(absl::StrCat(
                                          "cannot write ", part, ": ", std::strerror(errno)))
                                      : Name(part, file);
    if (!named.ok()) {
      ::unlink(part.c_str());
      return Fail(io, absl::Status(named.code(),
                                   absl::StrCat("cannot back up ", StoreLabel(), ": ",
                                                named.message(), "; nothing was written")));
    }
    return Saved(io, file, saved->log_head, "the database", [&](const std::string& detail) {
      return pg::InTransaction(**conn, pg::Isolation::kReadCommitted, [&](pg::Transaction&) {
        return pg::AppendAudit(**conn, absl::ToUnixMillis(absl::Now()), actor, kAuditBackup,
                               detail);
      });
    });
  }

  // A backup saved as `file`: recorded in the audit trail by `record`
  // (given the entry's detail), said on io.out; the exit code.
  int Saved(const Io& io, const std::string& file, int64_t log_head, const char* keep_as,
            const std::function<absl::Status(const std::string&)>& record) const {
    std::error_code ec;
    const int64_t size = static_cast<int64_t>(std::filesystem::file_size(file, ec));
    absl::Status audit = record(absl::StrCat(file, ": log position ", log_head, ", ", size,
                                             " bytes"));
    std::fprintf(io.out,
                 "fieldhub: saved the hub at log position %lld to %s (%lld bytes); it holds the "
                 "nodes' credential hashes and the sealed key records: keep it as carefully as "
                 "%s\n",
                 static_cast<long long>(log_head), file.c_str(), static_cast<long long>(size),
                 keep_as);
    if (!audit.ok()) {
      return Fail(io, absl::Status(audit.code(),
                                   absl::StrCat("the backup was saved but not recorded in the "
                                                "audit trail: ", audit.message())));
    }
    return kExitOk;
  }

  static absl::Status PartRefused(const std::string& part) {
    const bool there = errno == EEXIST;
    return absl::FailedPreconditionError(
        there ? absl::StrCat(part, " exists: another backup is being written, "
                             "or one was interrupted (then remove it); nothing was written")
              : absl::StrCat("cannot write ", part, ": ", std::strerror(errno),
                             "; nothing was written"));
  }

  // `part`, written, put on disk and named `file` (never replacing one).
  static absl::Status Name(const std::string& part, const std::string& file) {
    if (absl::Status s = SyncFile(part); !s.ok()) return s;
    if (::link(part.c_str(), file.c_str()) != 0) {
      return absl::FailedPreconditionError(absl::StrCat("cannot name the copy ", file, ": ",
                                                        std::strerror(errno)));
    }
    ::unlink(part.c_str());
    return SyncDirectoryOf(file);
  }

  // hub.db copied into `part`, on disk, then named `file` (never replacing
  // one); what the copy holds.
  static absl::StatusOr<HubFileFacts> Save(const HubFiles& files, const std::string& db,
                                           const std::string& part, const std::string& file) {
    if (absl::Status s = files.OnlineCopy(db, part); !s.ok()) return s;
    auto facts = files.Read(part, /*check=*/false);
    if (!facts.ok()) return facts.status();
    if (absl::Status s = Name(part, file); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(s.message(), "; nothing was written"));
    }
    return facts;
  }
};

}  // namespace

std::unique_ptr<Command> MakeBackupCommand() { return std::make_unique<Backup>(); }

}  // namespace fieldsync::hub
