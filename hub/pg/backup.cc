// A PostgreSQL hub's backup written and read through (hub/pg/backup.h).
#include "hub/pg/backup.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "hub/pg/backup_file.h"
#include "hub/pg/backup_tables.h"
#include "hub/pg/schema.h"
#include "hub/pg/transaction.h"

namespace fieldsync::hub::pg {
namespace {

// The header's lines, as the file holds them.
std::string MetaText(const PgBackupFacts& f) {
  return absl::StrCat("format=", kPgBackupFormat, "\nschema_version=", f.schema_version,
                      "\nhub_id=", f.hub_id.ToString(), "\nlog_head=", f.log_head,
                      "\nkeys_seq=", f.keys_seq, "\nmade_at=", f.made_at, "\n");
}

absl::StatusOr<PgBackupFacts> ParseMeta(std::string_view text) {
  PgBackupFacts f;
  std::set<std::string> seen;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(text.data(), text.size()), '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    seen.insert(kv.first);
    int64_t* n = kv.first == "schema_version" ? &f.schema_version
                 : kv.first == "log_head"     ? &f.log_head
                 : kv.first == "keys_seq"     ? &f.keys_seq
                 : kv.first == "made_at"      ? &f.made_at
                                              : nullptr;
    if (n != nullptr && !absl::SimpleAtoi(kv.second, n)) {
      return absl::InvalidArgumentError(absl::StrCat("its header's ", kv.first,
                                                     " is not a number"));
    }
    if (kv.first == "hub_id") {
      FS_ASSIGN_OR_RETURN(f.hub_id, DeviceId::Parse(kv.second, "its header's hub id"));
    }
  }
  for (const char* k : {"schema_version", "hub_id", "log_head", "keys_seq", "made_at"}) {
    if (!seen.count(k)) {
      return absl::InvalidArgumentError(absl::StrCat("its header lacks ", k));
    }
  }
  return f;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> HubTables(Connection& conn) {
  FS_ASSIGN_OR_RETURN(Result r, conn.Exec(
      "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND "
      "(c.relname = 'schema_version' OR c.relname LIKE 'hub\\_%')"));
  std::vector<std::string> found;
  for (int i = 0; i < r.rows(); ++i) found.push_back(r.Bytes(i, 0));
  std::vector<std::string> ordered;
  for (const char* t : kHubTables) {
    auto it = std::find(found.begin(), found.end(), t);
    if (it == found.end()) continue;
    ordered.push_back(*it);
    found.erase(it);
  }
  if (!found.empty()) {
    std::sort(found.begin(), found.end());
    return absl::FailedPreconditionError(absl::StrCat(
        "the database holds hub tables this fieldhub does not know (",
        absl::StrJoin(found, ", "), "): use the fieldhub that made them"));
  }
  return ordered;
}

absl::StatusOr<int64_t> KeysSequence(Connection& conn) {
  FS_ASSIGN_OR_RETURN(Result r, conn.Exec(
      "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('hub_keys', 'seq')"
      "::regclass), 0)"));
  return r.Int(0, 0);
}

absl::StatusOr<PgBackupFacts> WriteBackup(Connection& conn, int64_t now_millis,
                                          std::FILE* out) {
  FS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, Isolation::kRepeatableReadOnly));
  PgBackupFacts f;
  f.made_at = now_millis;
  FS_ASSIGN_OR_RETURN(f.schema_version, SchemaVersion(conn));
  if (f.schema_version == 0) {
    return absl::FailedPreconditionError("no hub in the database: run `fieldhub init --store "
                                         "URI` first; nothing was written");
  }
  if (f.schema_version > kPgSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the database is a hub of schema version ", f.schema_version,
        ", made by a newer fieldhub; this one knows up to version ", kPgSchemaVersion,
        ": back it up with the newer fieldhub; nothing was written"));
  }
  FS_ASSIGN_OR_RETURN(Result id, conn.Exec("SELECT value FROM hub_meta WHERE key = 'hub_id'"));
  if (id.rows() != 1) return absl::DataLossError("the hub's id is missing from hub_meta");
  FS_ASSIGN_OR_RETURN(f.hub_id, DeviceId::FromBytes(id.Bytes(0, 0), "the hub's id"));
  FS_ASSIGN_OR_RETURN(Result head, conn.Exec("SELECT position FROM hub_log_head"));
  FS_ASSIGN_OR_RETURN(f.log_head, head.Int(0, 0));
  FS_ASSIGN_OR_RETURN(f.keys_seq, KeysSequence(conn));
  FS_ASSIGN_OR_RETURN(f.tables, HubTables(conn));

  BackupWriter w(out);
  FS_RETURN_IF_ERROR(w.Start(static_cast<uint32_t>(kPgBackupFormat)));
  FS_RETURN_IF_ERROR(w.BeginSection("meta"));
  FS_RETURN_IF_ERROR(w.Chunk(MetaText(f)));
  FS_RETURN_IF_ERROR(w.EndSection());
  for (const std::string& t : f.tables) {
    FS_RETURN_IF_ERROR(w.BeginSection(t));
    FS_RETURN_IF_ERROR(conn.CopyOut(absl::StrCat("COPY \"", t, "\" TO STDOUT (FORMAT binary)"),
                                    [&](std::string_view piece) { return w.Chunk(piece); }));
    FS_RETURN_IF_ERROR(w.EndSection());
  }
  FS_RETURN_IF_ERROR(w.Finish());
  FS_RETURN_IF_ERROR(txn.Commit());
  return f;
}

absl::StatusOr<PgBackupFacts> CheckBackup(const std::string& path) {
  FS_ASSIGN_OR_RETURN(BackupReader r, BackupReader::Open(path));
  if (r.format() != kPgBackupFormat) {
    return absl::InvalidArgumentError(absl::StrCat(
        "it is a backup of format ", r.format(), "; this fieldhub reads format ",
        kPgBackupFormat, (r.format() > kPgBackupFormat ? ": use the newer fieldhub that made it"
                                                         : "")));
  }
  FS_ASSIGN_OR_RETURN(std::string first, r.NextSection());
  if (first != "meta") return absl::InvalidArgumentError("its header is missing");
  std::string text;
  FS_ASSIGN_OR_RETURN(bool has, r.NextChunk(&text));
  if (!has) return absl::InvalidArgumentError("its header is empty");
  FS_ASSIGN_OR_RETURN(PgBackupFacts f, ParseMeta(text));
  std::string more;
  FS_ASSIGN_OR_RETURN(has, r.NextChunk(&more));
  if (has) return absl::InvalidArgumentError("its header is of several chunks");
  std::set<std::string> known(std::begin(kHubTables), std::end(kHubTables));
  for (;;) {
    FS_ASSIGN_OR_RETURN(std::string name, r.NextSection());
    if (name == "end") break;
    if (!known.count(name) ||
        std::find(f.tables.begin(), f.tables.end(), name) != f.tables.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "it holds a section that is not a table this fieldhub knows, or one twice (", name,
          "): it is damaged, was changed, or was made by a newer fieldhub"));
    }
    f.tables.push_back(name);
    std::string piece;
    for (;;) {
      FS_ASSIGN_OR_RETURN(bool chunk, r.NextChunk(&piece));
      if (!chunk) break;
    }
  }
  return f;
}

}  // namespace fieldsync::hub::pg
