#include "hub/pg/store.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "hub/pg/connection.h"
#include "hub/pg/schema.h"

namespace fieldsync::hub {

bool IsPostgresTarget(const std::string& target) {
  return absl::StartsWith(target, "postgresql://") || absl::StartsWith(target, "postgres://");
}

absl::Status RefusePasswordIn(const std::string& target, std::string_view option) {
  if (!pg::HoldsPassword(target)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      AV(option), " holds a password, which other users of this machine can read (ps, "
      "systemctl show): give the URI without it and keep the password in ~/.pgpass, in the "
      "file $PGPASSFILE names, or in a file named by passfile= in the URI (under systemd: "
      "LoadCredential=pgpass:FILE and passfile=%d/pgpass); nothing was done"));
}

std::string PostgresHubStore::Printable(const std::string& target) {
  if (!IsPostgresTarget(target)) return target;
  const size_t scheme_end = target.find("://") + 3;
  std::string rest = target.substr(scheme_end);
  // Of the query only where it goes (a socket's host=/dir, a port): any
  // other parameter may be a password (password=, or inside options).
  std::string query;
  if (const size_t q = rest.find('?'); q != std::string::npos) {
    for (absl::string_view kv : absl::StrSplit(rest.substr(q + 1), '&', absl::SkipEmpty())) {
      if (absl::StartsWith(kv, "host=") || absl::StartsWith(kv, "port=")) {
        absl::StrAppend(&query, query.empty() ? "?" : "&", kv);
      }
    }
    rest.resize(q);
  }
  // user:password@host...: the password is dropped, the user kept. The
  // last '@' ends the user part (a password may hold an unencoded '@').
  if (const size_t at = rest.rfind('@'); at != std::string::npos) {
    std::string user = rest.substr(0, at);
    if (const size_t colon = user.find(':'); colon != std::string::npos) user.resize(colon);
    rest = absl::StrCat(user, "@", rest.substr(at + 1));
  }
  return absl::StrCat(target.substr(0, scheme_end), rest, query);
}

absl::StatusOr<std::unique_ptr<PostgresHubStore>> PostgresHubStore::Open(
    const std::string& target, Expect expect, ClockSource* clock) {
  if (clock == nullptr) clock = SystemClock::Get();
  // What the database holds, before anything is created or migrated; the
  // same connection is then the storage's own.
  FS_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn, pg::Connection::Open(target));
  {
    FS_ASSIGN_OR_RETURN(const int64_t version, pg::SchemaVersion(*conn));
    if (expect != Expect::kNew && version == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no hub in the PostgreSQL database ", Printable(target),
          " yet: run `fieldhub init --store URI` first; nothing was created"));
    }
    if (expect == Expect::kNew && version != 0) {
      return absl::AlreadyExistsError(absl::StrCat(
          "already initialised: the PostgreSQL database ", Printable(target),
          " holds a hub; use it, or give another database"));
    }
    if (version > pg::kPgSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the PostgreSQL database ", Printable(target), " is a hub of schema version ",
          version, ", made by a newer fieldhub; this one knows up to version ",
          pg::kPgSchemaVersion, ": use the newer fieldhub; nothing was changed"));
    }
    if (expect == Expect::kCurrent && version < pg::kPgSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the PostgreSQL database ", Printable(target), " is a hub of schema version ", version,
          "; this fieldhub uses version ", pg::kPgSchemaVersion, ": bring it up to date with "
          "`fieldhub migrate --store URI` (or by starting `fieldhub serve`) first; nothing was "
          "changed"));
    }
  }
  FS_ASSIGN_OR_RETURN(
      std::unique_ptr<PostgresHubStorage> storage,
      PostgresHubStorage::Open(target, std::move(conn), clock,
                               expect == Expect::kCurrent ? PostgresHubStorage::SchemaUse::kAsIs
                                                          : PostgresHubStorage::SchemaUse::kMigrate));
  std::unique_ptr<PostgresHubStore> store(new PostgresHubStore(std::move(storage), clock));
  FS_RETURN_IF_ERROR(store->BringUpToDate());
  return store;
}

}  // namespace fieldsync::hub
