// What every `fieldhub` command shares: the Command interface the dispatcher
// (hub/cli.cc) drives, where output goes, the data directory, the store, who
// the administrator is, and the two ways a command ends badly (a failure,
// exit 1; a wrong command line, exit 2). One command a file beside this one.
#ifndef FIELDSYNC_HUB_COMMANDS_COMMAND_H_
#define FIELDSYNC_HUB_COMMANDS_COMMAND_H_

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hub/engine.h"
#include "hub/sqlite_store.h"
#include "store/data_dir.h"

namespace CLI {
class App;
}

namespace fieldsync::hub {

// Exit codes (README, "Exit codes"; hub/help/overview.txt).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;      // the message says why and what to do
inline constexpr int kExitUsage = 2;       // the command line was wrong
inline constexpr int kExitAuditBroken = 4; // `audit`: a chain was changed outside fieldsync
inline constexpr int kExitDamaged = 5;     // hub.db is damaged: restore it from a backup

// Where a command writes: results on `out`, messages on `err`. The program
// passes stdout and stderr; tests pass memory streams.
struct Io {
  std::FILE* out = stdout;
  std::FILE* err = stderr;
};

// How much of hub.db OpenStore checks. kOpened: what opening reads (a
// damaged page elsewhere is met, and said, when a command reads it);
// kWhole: every page too (PRAGMA quick_check, ~0.2 s for 10,000 cases),
// for `serve` and the commands that change the file, so that a damaged
// hub.db is neither served nor written to.
enum class FileCheck { kOpened, kWhole };

// Whether opening a PostgreSQL store may bring its schema up to date
// (attack review 22, MED 5; docs/POSTGRES.md, "Who changes the schema"):
// `serve` and `migrate --store` (kMigrate); every other command opens it
// as it is and refuses an older one saying to run `fieldhub migrate`
// (kRefuse). hub.db is unaffected: one process serves it at a time.
enum class SchemaUpgrade { kRefuse, kMigrate };

// One command. The dispatcher makes it a CLI11 subcommand, lets it declare
// its options there, parses, then runs it.
class Command {
 public:
  explicit Command(std::string name) : name_(std::move(name)) {}
  virtual ~Command() = default;
  Command(const Command&) = delete;
  Command& operator=(const Command&) = delete;

  const std::string& name() const { return name_; }

  // Declares the command's own options on `app`, its subcommand. The
  // dispatcher has declared --help and the operands already.
  virtual void Declare(CLI::App& app) = 0;

  // Runs the command once its command line is parsed; the exit code.
  // `operands` are the words after the command name that are not options.
  virtual int Run(const std::vector<std::string>& operands, const Io& io) = 0;

  // What the dispatcher checks of the parsed command line before Run: a
  // store target (--store, $FIELDSYNC_HUB_STORE) must hold no password
  // (RefusePasswordIn). INVALID_ARGUMENT is a wrong command line (exit 2).
  // A command with more targets (`migrate --to`) checks those too.
  virtual absl::Status CheckArguments() const;

 protected:
  // The options most commands take. Each Declare* adds one to `app`.
  void DeclareDataDir(CLI::App& app);
  void DeclareJson(CLI::App& app);
  void DeclareActor(CLI::App& app);
  // --store URI: the hub's store on PostgreSQL (docs/POSTGRES.md).
  void DeclareStore(CLI::App& app);

  // --data-dir, else $FIELDSYNC_HUB_DIR, else ~/.local/share/fieldsync/hub.
  DataDir HubDir() const;
  bool json() const { return json_; }
  // --store, else $FIELDSYNC_HUB_STORE, else "": hub.db in HubDir().
  std::string StoreTarget() const;
  // Whether the store is on PostgreSQL (StoreTarget() not empty).
  bool OnPostgres() const { return !StoreTarget().empty(); }
  // The store as messages name it: hub.db's path, or the PostgreSQL URI
  // without its password (PostgresHubStore::Printable).
  std::string StoreLabel() const;
  // The hub's store: PostgreSQL if StoreTarget() names one (`check` does
  // not apply: the server keeps its own pages), else hub.db in HubDir()
  // (OpenStore). INVALID_ARGUMENT for a target that is not a
  // postgresql:// URI.
  absl::StatusOr<std::unique_ptr<HubEngine>> OpenHubStore(
      FileCheck check, SchemaUpgrade upgrade = SchemaUpgrade::kRefuse) const;
  // `fieldhub init --store`: a new hub in StoreTarget()'s database
  // (PostgresHubStore::Expect::kNew).
  absl::StatusOr<std::unique_ptr<HubEngine>> CreatePostgresStore() const;
  // Who the administrator is, for the audit trail: --as (1 to 100
  // characters, no controls, stored NFC), else $FIELDSYNC_ADMIN, else
  // $USER, else "administrator". INVALID_ARGUMENT for a bad --as.
  absl::StatusOr<std::string> Actor() const;

  // "fieldhub: MESSAGE" on io.err; kExitFailed. A DATA_LOSS (hub.db
  // damaged: a page overwritten, emptied, changed outside fieldhub) is
  // kExitDamaged, and SQLite's own advice (meant for a laptop's replica) is
  // replaced by the hub's: restore hub.db from a backup.
  int Fail(const Io& io, const absl::Status& status) const;
  // A wrong command line: "fieldhub: WHAT; see `fieldhub NAME --help`" on
  // io.err; kExitUsage.
  int Usage(const Io& io, std::string_view what) const;
  // The same, saying what `why` says (an INVALID_ARGUMENT of a parser).
  int Usage(const Io& io, const absl::Status& why) const;

 private:
  std::string name_;
  std::string data_dir_;
  bool json_ = false;
  std::optional<std::string> actor_;
  std::optional<std::string> store_;
  bool takes_store_ = false;  // DeclareStore was called
};


// The hub's store in `dir`. FAILED_PRECONDITION saying to run `fieldhub
// init` when there is none (nothing is created); DATA_LOSS if the file is
// damaged (emptied, or, with kWhole, failing its integrity check).
absl::StatusOr<std::unique_ptr<SqliteHubStore>> OpenStore(const DataDir& dir,
                                                         FileCheck check = FileCheck::kOpened);

// The hub's store as `fieldhub --store TARGET --data-dir DIR` opens it:
// hub.db in `dir` if `target` is empty (OpenStore, `check` applies), else
// the PostgreSQL store `target` names (PostgresHubStore::Open, kExisting
// with kMigrate, else kCurrent). INVALID_ARGUMENT for a target that is not
// a postgresql:// URI.
absl::StatusOr<std::unique_ptr<HubEngine>> OpenHubStoreAt(const DataDir& dir,
                                                          const std::string& target,
                                                          FileCheck check,
                                                          SchemaUpgrade upgrade);

// `s` padded with spaces to `width` terminal columns (text::DisplayWidth: a
// combining mark takes none, a wide character two), so that a Vietnamese or
// Chinese name stays aligned in a table; a longer `s` is returned whole.
std::string Pad(const std::string& s, size_t width);

// `s` written to `f` as it is.
inline void Put(std::FILE* f, const std::string& s) { std::fputs(s.c_str(), f); }

// What `serve` lets a program built on this command line add (the
// benchmark's hub, tools/bench/hub_main.cc, which alone may serve without
// crypto): more options, and a step on the opened store before serving.
struct ServeExtension {
  std::function<void(CLI::App& serve)> declare;
  // Runs before the server starts; a non-OK status stops `serve` (exit 1).
  std::function<absl::Status(HubEngine& store, const Io& io)> before_serving;
};

// The commands, one file each (hub/commands/<name>.cc).
std::unique_ptr<Command> MakeInitCommand();
std::unique_ptr<Command> MakeServeCommand(ServeExtension extension);
std::unique_ptr<Command> MakeProvinceCommand();
std::unique_ptr<Command> MakeEnrollTokenCommand();
std::unique_ptr<Command> MakeNodeCommand();
std::unique_ptr<Command> MakeGcCommand();
std::unique_ptr<Command> MakeStatusCommand();
std::unique_ptr<Command> MakeAuditCommand();
std::unique_ptr<Command> MakeReportCommand();
std::unique_ptr<Command> MakeVersionCommand();
std::unique_ptr<Command> MakeBackupCommand();
std::unique_ptr<Command> MakeRestoreCommand();
std::unique_ptr<Command> MakeMigrateCommand();

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_COMMANDS_COMMAND_H_
