#include "node/ops/import_cases.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <sodium.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/hash.h"
#include "crypto/identity.h"
#include "crypto/secret.h"
#include "node/ops/cases.h"
#include "node/ops/import_map.h"
#include "node/ops/messages.h"
#include "text/text.h"

namespace fieldsync::node::ops {
namespace {

constexpr std::string_view kSourceKeyDomain = "fieldsync import row v1";
// The laptop's import key (docs/FORMATS.md, "Imported registers", version
// 2): of the device key's Ed25519 signature over this domain and the
// device's id -- deterministic (RFC 8032), made only by the key agent or an
// unlocked keystore, never written anywhere.
constexpr std::string_view kImportKeyDomain = "fieldsync import key v2";
constexpr size_t kPreviewRecords = 6;

std::string Trimmed(std::string_view s) {
  return std::string(absl::StripAsciiWhitespace(AV(s)));
}

// One register row as a new case, or why not.
struct RegisterRow {
  size_t line = 0;
  std::string digest;  // the row's unkeyed digest (version 1's source key)
  std::string key;     // its source key (version 2: keyed); "" while locked
  absl::StatusOr<PreparedCase> prepared = absl::UnknownError("unchecked");
};

// The row's digest: of the key column's value, else of its mapped cells
// (field=value, by field name; blank ones left out). Unkeyed: anyone with
// the row computes it; stored only keyed (SourceKey).
std::string RowDigest(const std::vector<std::string>& fields, const CsvRecord& rec,
                      std::optional<size_t> key_column) {
  if (key_column) {
    return crypto::DomainHash(kSourceKeyDomain, {"key", Trimmed(rec.fields[*key_column])});
  }
  std::map<std::string, std::string> cells;
  for (size_t i = 0; i < fields.size() && i < rec.fields.size(); ++i) {
    if (fields[i].empty() || IsBlank(rec.fields[i])) continue;
    cells[fields[i]] = Trimmed(rec.fields[i]);
  }
  std::string canonical;
  for (const auto& [field, value] : cells) absl::StrAppend(&canonical, field, "=", value, "\x1e");
  return crypto::DomainHash(kSourceKeyDomain, {"content", canonical});
}

// The import key of this laptop (kImportKeyDomain), or nullopt while the
// keys are locked.
absl::StatusOr<std::optional<crypto::SecretBytes>> ImportKey(const Office& o) {
  const crypto::DeviceIdentity* id = o.keys.identity();
  if (!o.keys.unlocked() || id == nullptr) return std::optional<crypto::SecretBytes>();
  FS_ASSIGN_OR_RETURN(std::string sig, id->Sign(kImportKeyDomain, o.replica.device_id().view()));
  std::string derived = crypto::DomainHash(kImportKeyDomain, {"key", sig});
  crypto::SecretBytes key = crypto::SecretBytes::Copy(derived);
  sodium_memzero(sig.data(), sig.size());
  sodium_memzero(derived.data(), derived.size());
  return std::optional<crypto::SecretBytes>(std::move(key));
}

// A row's source key as recorded since version 2: its digest keyed with
// the laptop's import key.
std::string SourceKey(const crypto::SecretBytes& key, std::string_view digest) {
  return crypto::KeyedBlake2b(key.view(), digest);
}

// The row as `case new` would take it, checked by the same code.
absl::StatusOr<PreparedCase> Check(const Office& o, const std::vector<std::string>& fields,
                                   const CsvRecord& rec, size_t width) {
  if (rec.fields.size() > width) {
    for (size_t i = width; i < rec.fields.size(); ++i) {
      if (!IsBlank(rec.fields[i])) {
        return Coded(
            absl::InvalidArgumentError(
                absl::StrCat(rec.fields.size(), " cells where the header has ", width,
                             " columns (a separator inside a field must be quoted)")),
            Msg::kImportWideRow,
            {{"cells", absl::StrCat(rec.fields.size())}, {"columns", absl::StrCat(width)}});
      }
    }
  }
  NewCase in;
  for (size_t i = 0; i < fields.size() && i < rec.fields.size(); ++i) {
    const std::string& field = fields[i];
    if (field.empty() || IsBlank(rec.fields[i])) continue;
    if (field == "urgent") {
      FS_ASSIGN_OR_RETURN(in.urgent, YesNoCell(rec.fields[i]));
      continue;
    }
    const std::string value = CellForField(field, rec.fields[i]);
    if (field == "officer") {
      in.officer = value;
    } else if (field.rfind("person.", 0) == 0) {
      in.person.emplace_back(field.substr(7), value);
    } else {
      in.kase.emplace_back(field.substr(5), value);
    }
  }
  return PrepareCase(o, in);
}

// The case codes held here (a new one must differ from each).
absl::StatusOr<std::set<std::string>> HeldCodes(const Office& o) {
  std::set<std::string> out;
  FS_ASSIGN_OR_RETURN(std::vector<RowId> ids, o.replica.ListRows("cases", true));
  for (const RowId& id : ids) {
    FS_ASSIGN_OR_RETURN(auto row, o.Get("cases", id));
    if (row) out.insert(o.Clear(*row, "cases", "case_code"));
  }
  return out;
}

}  // namespace

absl::StatusOr<ImportReport> ImportCases(const Office& o, const ImportRequest& in) {
  ImportReport out;
  FS_ASSIGN_OR_RETURN(DecodedText decoded, DecodeRegister(in.bytes, in.encoding));
  out.encoding = decoded.encoding;
  out.bom = decoded.bom;
  FS_ASSIGN_OR_RETURN(CsvTable table, ParseCsv(decoded.text));
  out.separator = table.separator;
  if (table.records.empty()) {
    return Coded(absl::InvalidArgumentError("the file holds no header line and no rows"),
                 Msg::kImportEmpty);
  }
  for (size_t i = 0; i < table.records.size() && i < kPreviewRecords; ++i) {
    out.preview.push_back(table.records[i].fields);
  }
  if (table.records.size() - 1 > kMaxImportRows) {
    return Coded(
        absl::InvalidArgumentError(absl::StrCat("the register has ", table.records.size() - 1,
                                                " rows, more than ", kMaxImportRows,
                                                " in one import: split it")),
        Msg::kImportTooMany,
        {{"rows", absl::StrCat(table.records.size() - 1)}, {"max", absl::StrCat(kMaxImportRows)}});
  }
  std::vector<std::string> headers;
  for (const std::string& h : table.records.front().fields) headers.push_back(Trimmed(h));
  FS_ASSIGN_OR_RETURN(std::vector<std::string> fields, MapColumns(headers, in.map));
  for (size_t i = 0; i < headers.size(); ++i) out.columns.push_back({headers[i], fields[i]});
  if (std::find(fields.begin(), fields.end(), "person.full_name") == fields.end()) {
    std::vector<std::string> shown;
    for (const std::string& h : headers) shown.push_back(absl::StrCat("\"", Printable(h), "\""));
    return Coded(
        absl::InvalidArgumentError(absl::StrCat(
            "no column gives the victim's full name: map one (--map 'HEADER=full_name'); the "
            "columns are ",
            absl::StrJoin(shown, ", "))),
        Msg::kImportNoName, {{"columns", absl::StrJoin(shown, ", ")}});
  }
  std::optional<size_t> key_column;
  if (!in.key_column.empty()) {
    for (size_t i = 0; i < headers.size(); ++i) {
      if (FoldForSearch(headers[i]) == FoldForSearch(Trimmed(in.key_column))) key_column = i;
    }
    if (!key_column) {
      return Coded(absl::InvalidArgumentError(absl::StrCat("no column \"", Printable(in.key_column),
                                                           "\" for the key in the header")),
                   Msg::kImportNoKeyColumn, {{"column", Printable(in.key_column)}});
    }
  }

  // Every row checked; the keys seen in this file and recorded before
  // (looked up only with the keys: a locked laptop says nothing of what it
  // imported, docs/FORMATS.md).
  FS_ASSIGN_OR_RETURN(std::optional<crypto::SecretBytes> import_key, ImportKey(o));
  out.already_known = import_key.has_value();
  std::vector<RegisterRow> rows;
  std::vector<std::string> keys;
  for (size_t r = 1; r < table.records.size(); ++r) {
    const CsvRecord& rec = table.records[r];
    RegisterRow row;
    row.line = rec.line;
    if (key_column && (*key_column >= rec.fields.size() || IsBlank(rec.fields[*key_column]))) {
      row.prepared =
          Coded(absl::InvalidArgumentError(absl::StrCat("no value in the key column \"",
                                                        Printable(headers[*key_column]), "\"")),
                Msg::kImportKeyBlank, {{"column", Printable(headers[*key_column])}});
    } else {
      row.digest = RowDigest(fields, rec, key_column);
      if (import_key) {
        row.key = SourceKey(*import_key, row.digest);
        // Version 1 recorded the digest itself: still recognised.
        keys.push_back(row.key);
        keys.push_back(row.digest);
      }
      row.prepared = Check(o, fields, rec, headers.size());
    }
    rows.push_back(std::move(row));
  }
  out.rows = rows.size();
  std::set<std::string> recorded;
  if (import_key) {
    FS_ASSIGN_OR_RETURN(recorded, o.replica.ImportedKeys(keys));
  }
  FS_ASSIGN_OR_RETURN(std::set<std::string> codes, HeldCodes(o));
  std::map<std::string, size_t> first_line;  // key -> the line that gave it first
  std::vector<const RegisterRow*> fresh;
  std::vector<std::pair<std::string, std::string>> rekeyed;  // version 1 key, its keyed form
  for (RegisterRow& row : rows) {
    if (!row.prepared.ok()) {
      std::string why(row.prepared.status().message());
      const std::string tail = ". Nothing was changed";
      if (why.size() > tail.size() && why.compare(why.size() - tail.size(), tail.size(), tail) == 0) {
        why.resize(why.size() - tail.size());
      }
      RejectedRow rejected{row.line, why, {}};
      if (auto m = MessageOf(row.prepared.status())) rejected.message = *std::move(m);
      out.rejected.push_back(std::move(rejected));
      continue;
    }
    if (recorded.count(row.key) > 0 || recorded.count(row.digest) > 0) {
      out.already.push_back(row.line);
      // A version 1 key (the digest itself) found again is keyed now, with
      // the import (attack review 25, LOW 3).
      if (recorded.count(row.digest) > 0) rekeyed.emplace_back(row.digest, row.key);
      continue;
    }
    auto [it, first] = first_line.emplace(row.digest, row.line);
    if (!first) {
      out.repeated.emplace_back(row.line, it->second);
      continue;
    }
    // A code new here and in this import (5 random characters a month:
    // two of thousands may meet).
    PreparedCase& c = *row.prepared;
    while (codes.count(c.opened.code) > 0) {
      c.opened.code = NewCaseCode(o);
      for (auto& [col, v] : c.kase) {
        if (col == "case_code") v = Value::Text(c.opened.code);
      }
    }
    codes.insert(c.opened.code);
    fresh.push_back(&row);
  }
  out.new_rows = fresh.size();
  if (in.dry_run || !out.rejected.empty() || (fresh.empty() && rekeyed.empty())) return out;

  FS_RETURN_IF_ERROR(o.RequireUnlocked("importing cases"));
  if (!import_key) {
    return Coded(absl::FailedPreconditionError("importing cases needs the device's key"),
                 Msg::kNeedsUnlock);
  }
  std::vector<LocalTxn> txns;
  std::vector<std::pair<std::string, RowId>> sources;
  for (size_t i = 0; i < fresh.size(); ++i) {
    if (i % kImportCasesPerCommit == 0) txns.emplace_back();
    const PreparedCase& c = *fresh[i]->prepared;
    txns.back()
        .Create("persons", c.opened.person_id, c.person)
        .Create("cases", c.opened.case_id, c.kase);
    sources.emplace_back(fresh[i]->key, c.opened.case_id);
    out.codes.push_back(c.opened.code);
  }
  auto written = o.replica.WriteImported(txns, sources, o.NowMillis(), rekeyed);
  if (!written.ok()) {
    out.codes.clear();
    if (written.status().code() == absl::StatusCode::kFailedPrecondition && !o.keys.unlocked()) {
      return o.RequireUnlocked("importing cases");
    }
    // A disk error while committing says itself whether the write may
    // have been kept; any other failure wrote nothing.
    if (written.status().code() == absl::StatusCode::kUnavailable) return written.status();
    absl::Status wrapped(written.status().code(),
                         absl::StrCat(written.status().message(), ". Nothing was imported"));
    if (auto m = MessageOf(written.status())) return WithMessage(wrapped, m->key, m->params);
    return Coded(wrapped, Msg::kImportNothingImported);
  }
  out.imported = fresh.size();
  return out;
}

}  // namespace fieldsync::node::ops
