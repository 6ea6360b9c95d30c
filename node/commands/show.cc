// fieldnode show TABLE ID (node/help/show.txt): one record of any table,
// over node/ops/records.h; this file parses and prints.
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/ops/records.h"
#include "node/passphrase.h"
#include "node/session.h"
#include "store/data_dir.h"

namespace fieldsync::node {

int RunShowCommand(const Args& args) {
  if (args.positional.size() != 3) {
    return Usage("show needs TABLE and ID, e.g. fieldnode show cases 0190f5d2-...");
  }
  const std::string table = args.positional[1];
  auto id = Id16::Parse(args.positional[2], "record id");
  if (!id.ok()) return Usage(std::string(id.status().message()));
  const DataDir dir = NodeDir(args);
  Session s;
  auto r = OpenReplicaIn(dir);
  if (!r.ok()) return Fail(r.status());
  s.replica = *std::move(r);
  // A table that does not exist is said before a passphrase is asked.
  if (s.replica->schema().FindTable(table) == nullptr) {
    return Usage(absl::StrCat("no table \"", table, "\"; the tables are listed in docs/SCHEMA.md"));
  }
  absl::Status ks = OpenKeys(args, dir, /*ask=*/isatty(STDIN_FILENO) != 0, &s);
  if (!ks.ok()) return Fail(ks);
  OfficeContext c(args, std::move(s));
  auto record = ops::ReadRecord(c.office, table, *id,
                                c.json ? ops::Access::kExport : ops::Access::kShow);
  if (!record.ok()) return Failed(record.status());
  if (c.json) {
    Json doc{{"table", table}, {"id", id->ToString()}, {"live", record->live},
             {"fields", Json::object()}};
    for (const ops::Record::Field& rf : record->fields) {
      const OpenedField& f = rf.field;
      Json field = Json::object();
      field["state"] = std::string(OpenedStateName(f.state));
      if (f.state != OpenedField::State::kClear && f.state != OpenedField::State::kOpened) {
        field["problem"] = f.problem;
      } else if (f.value.kind() == Value::Kind::kInt) {
        field["value"] = f.value.int_value();
      } else {
        field["value"] = ShowValue(f.value);
      }
      doc["fields"][rf.column] = std::move(field);
    }
    doc["locked"] = !c.office.keys.unlocked();
    Print(JsonLine(doc));
    return 0;
  }
  std::string out = absl::StrCat(table, " ", id->ToString(), record->live ? "" : " (deleted)", "\n");
  for (const ops::Record::Field& rf : record->fields) {
    const OpenedField& f = rf.field;
    if (f.state == OpenedField::State::kClear || f.state == OpenedField::State::kOpened) {
      absl::StrAppend(&out, "  ", rf.column, ": ", ShowValue(f.value), "\n");
    } else if (f.state == OpenedField::State::kLocked) {
      absl::StrAppend(&out, "  ", rf.column, ": •••••• (sealed)\n");
    } else {
      absl::StrAppend(&out, "  ", rf.column, ": [cannot be read: ", f.problem, "]\n");
    }
  }
  if (record->masked) {
    absl::StrAppend(&out, "Sealed fields are masked: the keystore is locked. Unlock it with "
                          "--passphrase-file FILE or ", kPassphraseFileEnv,
                    ", or run this on a terminal to be asked for the passphrase.\n");
  }
  Print(out);
  return 0;
}

}  // namespace fieldsync::node
