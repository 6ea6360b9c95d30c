#include "sync/row_witness.h"

#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "change/commit_codec.h"
#include "crypto/commit_signature.h"

namespace fieldsync::sync {
namespace {

using VersionKey = std::pair<DeviceId, uint64_t>;  // author, packed HLC

VersionKey KeyOf(const Version& v) { return {v.device, v.hlc.packed()}; }

// What one field or conflict record holds, against its witness: kept (the
// witness wrote it), none (no witness for its version), or forged.
enum class Verdict { kKept, kNone, kForged };

Verdict Judge(const std::map<VersionKey, Commit>& by_version, const std::string& table,
              const RowId& row, const std::string& column, const Value& value,
              const Version& version, const std::optional<Version>& base) {
  auto w = by_version.find(KeyOf(version));
  if (w == by_version.end()) return Verdict::kNone;
  for (const RowChange& rc : w->second.changes) {
    if (rc.table != table || rc.row != row) continue;
    for (const FieldWrite& f : rc.fields) {
      if (f.column != column) continue;
      return f.value == value && f.base == base ? Verdict::kKept : Verdict::kForged;
    }
    return Verdict::kForged;  // its change of this row did not write the column
  }
  // The witness's change of this row was left out (or it wrote none here).
  return Verdict::kNone;
}

}  // namespace

WitnessCheck CheckWitnesses(const std::vector<RowSnapshot>& rows,
                            const std::vector<PulledEntry>& witnesses, const SignKeyOf& key_of) {
  WitnessCheck out;
  // Only witnesses that verify count; one that does not is as if the hub
  // had sent none (it decides nothing either way).
  std::map<VersionKey, Commit> by_version;
  for (const PulledEntry& e : witnesses) {
    absl::StatusOr<Commit> c = DecodeCommit(e.canonical);
    if (!c.ok() || e.signature.empty()) continue;
    c->signature = e.signature;
    c->omitted = e.omitted;
    const std::string key = key_of(c->author);
    if (key.empty() || !crypto::VerifyCommitSignature(*c, key).ok()) continue;
    const VersionKey k = KeyOf(c->version());
    by_version.emplace(k, *std::move(c));
  }
  // A row the message holds twice is installed as its last copy: it is
  // witnessed only if every copy is (an honest hub sends each once).
  std::set<std::pair<std::string, RowId>> doubted;
  for (const RowSnapshot& r : rows) {
    bool all = true;
    std::optional<std::pair<std::string, DeviceId>> forged;
    auto take = [&](const std::string& column, const Value& value, const Version& version,
                    const std::optional<Version>& base) {
      switch (Judge(by_version, r.table, r.row, column, value, version, base)) {
        case Verdict::kKept: return;
        case Verdict::kNone: all = false; return;
        case Verdict::kForged:
          all = false;
          if (!forged) forged.emplace(column, version.device);
          return;
      }
    };
    for (const FieldState& f : r.fields) {
      take(f.column, f.value, f.version.version, f.version.base);
    }
    for (const ConflictRecord& k : r.conflicts) take(k.column, k.value, k.version, k.base);
    if (forged) {
      out.forged.push_back(absl::StrCat(
          r.table, " row ", r.row.ToString(), ": its ", forged->first, " is not what the "
          "commit of that version, signed by device ", forged->second.ToString(),
          ", wrote (the hub altered the row it served)"));
      out.named.push_back(forged->second);
    } else if (all) {
      out.witnessed.emplace(r.table, r.row);
    } else {
      ++out.unverified;
    }
    if (!all) doubted.emplace(r.table, r.row);
  }
  for (const auto& key : doubted) out.witnessed.erase(key);
  return out;
}

}  // namespace fieldsync::sync
