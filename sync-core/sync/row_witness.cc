#include "sync/row_witness.h"

#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/tuning.h"
#include "change/commit_codec.h"
#include "crypto/commit_signature.h"
#include "schema/relations.h"

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

// The write of `column` to `row` of `table` in the witness of `version`;
// nullptr if no witness of it is here or it wrote none there.
const FieldWrite* WriteOf(const std::map<VersionKey, Commit>& by_version, const std::string& table,
                          const RowId& row, std::string_view column, const Version& version) {
  auto w = by_version.find(KeyOf(version));
  if (w == by_version.end()) return nullptr;
  for (const RowChange& rc : w->second.changes) {
    if (rc.table != table || rc.row != row) continue;
    for (const FieldWrite& f : rc.fields) {
      if (f.column == column) return &f;
    }
  }
  return nullptr;
}

// Bounds the histories followed (an owner moved more often is not taken).
constexpr int kMaxHistory = tuning::kMaxRowOwnerHistory;

// Why the owner of `r` (witnessed otherwise) is not taken, or "" if it is.
std::string OwnerDoubt(const std::map<VersionKey, Commit>& by_version, const RowSnapshot& r,
                       const std::string& owner_column, const MemberOf& member) {
  const FieldState* live = nullptr;
  const FieldState* owner = nullptr;
  for (const FieldState& f : r.fields) {
    if (f.column == kLiveColumn) live = &f;
    if (f.column == owner_column) owner = &f;
  }
  if (owner == nullptr || owner->value.kind() != Value::Kind::kText) return "";
  if (live == nullptr) return "it holds no creation";
  // The creation: where the chain of `_live` writes begins.
  Version created = live->version.version;
  std::optional<Version> base = live->version.base;
  for (int i = 0; base; ++i) {
    const FieldWrite* w = WriteOf(by_version, r.table, r.row, kLiveColumn, *base);
    if (w == nullptr || i == kMaxHistory) return "the commits back to its creation were not sent";
    created = *base;
    base = w->base;
  }
  // Created once: no version it holds, nor one they replaced, is older,
  // and no other commit of it here wrote its `_live` with no base (a
  // "creation" dated before the real one, whose commit another field
  // still names).
  auto older = [&](const Version& v, const std::optional<Version>& b) {
    return v.hlc < created.hlc || (b && b->hlc < created.hlc);
  };
  for (const FieldState& f : r.fields) {
    if (older(f.version.version, f.version.base)) {
      return "a version of it is older than its creation";
    }
  }
  for (const ConflictRecord& k : r.conflicts) {
    if (older(k.version, k.base)) return "a version of it is older than its creation";
  }
  for (const auto& [key, c] : by_version) {
    if (c.version() == created) continue;
    const FieldWrite* w = WriteOf(by_version, r.table, r.row, kLiveColumn, c.version());
    if (w != nullptr && !w->base) return "two commits here each created it";
  }
  // Each owner written by a member of the office owning the row before it.
  std::string value = owner->value.str();
  Version version = owner->version.version;
  base = owner->version.base;
  for (int i = 0; i <= kMaxHistory; ++i) {
    if (!base) {
      if (version != created) {
        return absl::StrCat("its ", owner_column, " ", value, " is written as new by a commit "
                            "that did not create it");
      }
      if (!member(value, version.device)) {
        return absl::StrCat("it was created naming office ", value, " by a device not of it");
      }
      return "";
    }
    const FieldWrite* was = WriteOf(by_version, r.table, r.row, owner_column, *base);
    if (was == nullptr || was->value.kind() != Value::Kind::kText) {
      return absl::StrCat("the commits of its earlier ", owner_column, " were not sent");
    }
    if (was->value.str() != value && !member(was->value.str(), version.device)) {
      return absl::StrCat("its ", owner_column, " was written ", value, " by device ",
                          version.device.ToString(), ", not of office ", was->value.str(),
                          " which owned it then");
    }
    value = was->value.str();
    version = *base;
    base = was->base;
  }
  return absl::StrCat("its ", owner_column, " moved more than ", kMaxHistory, " times");
}

}  // namespace

WitnessCheck CheckWitnesses(const std::vector<RowSnapshot>& rows,
                            const std::vector<PulledEntry>& witnesses, const SignKeyOf& key_of,
                            const Schema& schema, const MemberOf& member) {
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
      absl::StatusOr<OwnerRelation> own = OwnerOf(schema, r.table);
      const std::string doubt = own.ok() && own->link == OwnerLink::kColumn
                                    ? OwnerDoubt(by_version, r, std::string(own->column), member)
                                    : std::string();
      if (doubt.empty()) {
        out.witnessed.emplace(r.table, r.row);
      } else {
        all = false;
        ++out.unverified;
        out.owner_doubted.push_back(absl::StrCat(
            r.table, " row ", r.row.ToString(), " is not taken as signed: ", doubt,
            " (its owner decides nothing here)"));
      }
    } else {
      ++out.unverified;
    }
    if (!all) doubted.emplace(r.table, r.row);
  }
  for (const auto& key : doubted) out.witnessed.erase(key);
  return out;
}

}  // namespace fieldsync::sync
