#include "hub/store_digest.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "crypto/hash.h"

namespace fieldsync::hub {
namespace {

// Limits that read everything (each store takes them as a 64-bit signed
// bound: not SIZE_MAX).
constexpr size_t kAll = 1'000'000'000;
constexpr uint64_t kLastSeq = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// What one part's reads answered, each value framed (length first), so that
// two different sequences never hash alike.
class Part {
 public:
  explicit Part(std::string name) : name_(std::move(name)) {}
  Part& Int(int64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(static_cast<uint64_t>(v) >> (56 - 8 * i));
    h_.Update(std::string_view(b, 8));
    return *this;
  }
  Part& Str(std::string_view s) {
    Int(static_cast<int64_t>(s.size()));
    h_.Update(s);
    return *this;
  }
  Part& Ver(const Version& v) { return Int(static_cast<int64_t>(v.hlc.packed())).Str(v.device.view()); }
  Part& OptVer(const std::optional<Version>& v) {
    Int(v.has_value() ? 1 : 0);
    return v ? Ver(*v) : *this;
  }
  Part& Val(const Value& v) {
    Int(static_cast<int64_t>(v.kind()));
    return v.kind() == Value::Kind::kInt ? Int(v.int_value()) : Str(v.str());
  }
  Part& Entry(const LogEntry& e) {
    return Int(e.position).Str(e.author.view()).Str(e.body).Str(e.signature).Str(e.header)
        .Str(e.header_signature);
  }
  Part& Chain(const StoredChainEntry& e) {
    return Int(static_cast<int64_t>(e.seq)).Int(e.position).Str(e.header).Str(e.signature)
        .Str(e.link);
  }
  Part& Scoped(const ScopedRow& r) {
    return Str(r.table).Str(r.row.view()).Str(r.entry.owner)
        .Str(r.entry.case_id ? r.entry.case_id->view() : "").Int(r.entry.restricted)
        .Int(r.entry.ever_public);
  }
  HubDigestPart Done() { return HubDigestPart{name_, h_.Final()}; }

 private:
  std::string name_;
  crypto::Blake2bHasher h_;
};

absl::StatusOr<HubDigestPart> Log(HubReadTxn& hub) {
  Part p("log");
  FS_ASSIGN_OR_RETURN(const int64_t head, hub.LogHead());
  p.Int(head);
  FS_ASSIGN_OR_RETURN(std::vector<LogEntry> entries, hub.LogEntriesAfter(0, kAll));
  for (const LogEntry& e : entries) p.Entry(e).Int(static_cast<int64_t>(e.seq));
  FS_ASSIGN_OR_RETURN(const LogPoint hashed, hub.LogHashHead());
  p.Int(hashed.position).Str(hashed.hash);
  for (int64_t pos = 1; pos <= hashed.position; ++pos) {
    FS_ASSIGN_OR_RETURN(std::optional<std::string> h, hub.LogHash(pos));
    p.Str(h.value_or("(none)"));
  }
  return p.Done();
}

absl::StatusOr<HubDigestPart> Keys(HubReadTxn& hub) {
  Part p("keys");
  auto record = [&p](const StoredKeyRecord& r) {
    p.Int(r.seq).Int(r.kind).Str(r.province).Str(r.keyring ? r.keyring->view() : "")
        .Str(r.signer.view()).Int(r.stored_at_millis).Str(r.id).Str(r.bytes);
  };
  FS_ASSIGN_OR_RETURN(const int64_t head, hub.KeyHead());
  p.Int(head);
  FS_RETURN_IF_ERROR(hub.ForEachKeyRecordAfter(0, [&](const StoredKeyRecord& r) {
    record(r);
    return absl::OkStatus();
  }));
  for (int64_t seq = 1; seq <= head; ++seq) {
    FS_ASSIGN_OR_RETURN(std::optional<StoredKeyRecord> at, hub.KeyRecordAt(seq));
    p.Int(at.has_value());
    if (at) record(*at);
  }
  return p.Done();
}

absl::StatusOr<std::vector<HubDigestPart>> Devices(HubReadTxn& hub,
                                                   const std::vector<RegisteredDevice>& devices) {
  Part registry("registry");
  Part chains("chains");
  for (const RegisteredDevice& d : devices) {
    registry.Str(d.keys.device.view()).Str(d.keys.sign_pk).Str(d.keys.box_pk).Str(d.province)
        .Str(d.name).Int(d.revoked_position).Int(d.revoked_at_millis);
    FS_ASSIGN_OR_RETURN(const uint64_t held, hub.AcknowledgedSeq(d.keys.device));
    FS_ASSIGN_OR_RETURN(const uint64_t signed_keys, hub.KeyRecordsSignedBy(d.keys.device));
    registry.Int(static_cast<int64_t>(held)).Int(static_cast<int64_t>(signed_keys));
    FS_ASSIGN_OR_RETURN(const ChainPoint head, hub.ChainHead(d.keys.device));
    chains.Str(d.keys.device.view()).Int(static_cast<int64_t>(head.seq)).Str(head.link);
    FS_ASSIGN_OR_RETURN(std::vector<StoredChainEntry> entries,
                        hub.ChainEntries(d.keys.device, 1, kLastSeq, kAll));
    for (const StoredChainEntry& e : entries) chains.Chain(e);
    FS_ASSIGN_OR_RETURN(std::vector<StoredChainEntry> refused,
                        hub.RefusedChainEntries(d.keys.device));
    chains.Int(static_cast<int64_t>(refused.size()));
    for (const StoredChainEntry& e : refused) chains.Chain(e);
  }
  return std::vector<HubDigestPart>{registry.Done(), chains.Done()};
}

absl::StatusOr<std::vector<HubDigestPart>> Offices(HubReadTxn& hub,
                                                   const std::vector<std::string>& provinces) {
  Part statements("statements");
  FS_ASSIGN_OR_RETURN(std::vector<StoredStatement> all, hub.StatementsAfter(0, provinces, kAll));
  for (const StoredStatement& s : all) {
    statements.Int(s.seq).Str(s.device.view()).Str(s.province)
        .Int(static_cast<int64_t>(s.created_hlc)).Str(s.bytes);
  }
  Part checkpoints("checkpoints");
  for (const std::string& province : provinces) {
    FS_ASSIGN_OR_RETURN(std::vector<std::string> partners, hub.PartnerProvinces(province));
    std::sort(partners.begin(), partners.end());  // a set: in no order the reads promise
    statements.Str(province).Int(static_cast<int64_t>(partners.size()));
    for (const std::string& partner : partners) statements.Str(partner);
    FS_ASSIGN_OR_RETURN(std::optional<StoredCheckpoint> c, hub.NewestCheckpoint(province));
    checkpoints.Str(province).Int(c.has_value());
    if (!c) continue;
    checkpoints.Str(c->id).Str(c->province).Int(c->position).Int(c->leaf_count)
        .Int(c->adopted_at_millis).Int(static_cast<int64_t>(c->gc_epoch)).Str(c->statement);
    FS_ASSIGN_OR_RETURN(std::vector<std::string> leaves, hub.CheckpointLeaves(c->id));
    for (const std::string& leaf : leaves) checkpoints.Str(leaf);
    FS_ASSIGN_OR_RETURN(std::vector<CheckpointRow> rows, hub.CheckpointRows(c->id, 0, kAll));
    for (const CheckpointRow& r : rows) {
      checkpoints.Int(r.index).Str(r.table).Str(r.row.view()).Str(r.state).Str(r.leaf);
    }
  }
  return std::vector<HubDigestPart>{statements.Done(), checkpoints.Done()};
}

absl::StatusOr<HubDigestPart> Rows(HubReadTxn& hub, const HubDigestKeys& keys) {
  Part p("rows");
  for (const auto& [table, row] : keys.rows) {
    FS_ASSIGN_OR_RETURN(std::optional<RowSnapshot> s, hub.ExportRow(table, row));
    p.Str(table).Str(row.view()).Int(s.has_value());
    if (s) {
      for (const FieldState& f : s->fields) {
        p.Str(f.column).Val(f.value).Ver(f.version.version).OptVer(f.version.base);
      }
      p.Int(static_cast<int64_t>(s->conflicts.size()));
      for (const ConflictRecord& c : s->conflicts) {
        p.Str(c.column).Ver(c.version).OptVer(c.base).Val(c.value);
      }
    }
    FS_ASSIGN_OR_RETURN(std::optional<RowScopeEntry> scope, hub.RowScope(table, row));
    p.Int(scope.has_value());
    if (scope) p.Scoped(ScopedRow{table, row, *scope});
    FS_ASSIGN_OR_RETURN(const bool purged, hub.IsPurged(table, row));
    p.Int(purged);
  }
  return p.Done();
}

absl::StatusOr<HubDigestPart> Scope(HubReadTxn& hub, const std::vector<std::string>& provinces) {
  Part p("scope");
  FS_ASSIGN_OR_RETURN(const int64_t head, hub.LogHead());
  FS_ASSIGN_OR_RETURN(const int64_t from, hub.LogScopeFrom());
  p.Int(from);
  for (const TableDef& t : hub.schema().tables()) {
    FS_ASSIGN_OR_RETURN(std::vector<ScopedRow> rows, hub.ScopeRows(std::string(t.name)));
    p.Str(t.name).Int(static_cast<int64_t>(rows.size()));
    for (const ScopedRow& r : rows) p.Scoped(r);
  }
  std::vector<std::string> everyone = provinces;
  everyone.push_back("*");
  for (const std::string& province : everyone) {
    FS_ASSIGN_OR_RETURN(std::vector<LogEntry> under, hub.LogEntriesUnder({province}, 0, head, kAll));
    p.Str(province).Int(static_cast<int64_t>(under.size()));
    for (const LogEntry& e : under) p.Int(e.position);
    // Sets, in no order the reads promise.
    FS_ASSIGN_OR_RETURN(std::vector<RowId> granted, hub.CasesGrantedTo(province));
    std::sort(granted.begin(), granted.end());
    for (const RowId& c : granted) p.Str(c.view());
    FS_ASSIGN_OR_RETURN(std::vector<std::string> owners, hub.GrantedCaseProvinces(province));
    std::sort(owners.begin(), owners.end());
    for (const std::string& o : owners) p.Str(o);
    FS_ASSIGN_OR_RETURN(auto moved, hub.MovedBetween(province, 0, head));
    p.Int(static_cast<int64_t>(moved.size()));
    for (const auto& [table, row] : moved) p.Str(table).Str(row.view());
  }
  FS_ASSIGN_OR_RETURN(auto links, hub.PersonLinks());
  std::sort(links.begin(), links.end());
  p.Int(static_cast<int64_t>(links.size()));
  for (const auto& [person, case_id] : links) p.Str(person.view()).Str(case_id.view());
  FS_ASSIGN_OR_RETURN(std::vector<ScopedRow> made_public, hub.MadePublicBetween(0, head));
  p.Int(static_cast<int64_t>(made_public.size()));
  for (const ScopedRow& r : made_public) p.Scoped(r);
  return p.Done();
}

absl::StatusOr<HubDigestPart> Collection(HubReadTxn& hub,
                                         const std::vector<std::string>& provinces) {
  Part p("collection");
  FS_ASSIGN_OR_RETURN(const GcState gc, hub.Gc());
  p.Int(gc.horizon).Int(static_cast<int64_t>(gc.epoch)).Str(gc.ids);
  std::vector<std::string> everyone = provinces;
  everyone.push_back("");
  for (const std::string& province : everyone) {
    FS_ASSIGN_OR_RETURN(std::vector<PurgedRow> rows, hub.PurgedSince(0, province));
    p.Str(province).Int(static_cast<int64_t>(rows.size()));
    for (const PurgedRow& r : rows) p.Str(r.table).Str(r.row.view()).Int(r.position);
  }
  return p.Done();
}

}  // namespace

absl::StatusOr<std::vector<HubDigestPart>> DigestHub(HubReadTxn& hub, const HubDigestKeys& keys) {
  std::vector<HubDigestPart> parts;
  FS_ASSIGN_OR_RETURN(HubDigestPart log, Log(hub));
  parts.push_back(std::move(log));
  FS_ASSIGN_OR_RETURN(HubDigestPart key_records, Keys(hub));
  parts.push_back(std::move(key_records));
  FS_ASSIGN_OR_RETURN(std::vector<RegisteredDevice> devices, hub.Registry());
  FS_ASSIGN_OR_RETURN(std::vector<HubDigestPart> of_devices, Devices(hub, devices));
  for (HubDigestPart& d : of_devices) parts.push_back(std::move(d));
  FS_ASSIGN_OR_RETURN(std::vector<HubDigestPart> of_offices, Offices(hub, keys.provinces));
  for (HubDigestPart& o : of_offices) parts.push_back(std::move(o));
  FS_ASSIGN_OR_RETURN(HubDigestPart rows, Rows(hub, keys));
  parts.push_back(std::move(rows));
  FS_ASSIGN_OR_RETURN(HubDigestPart scope, Scope(hub, keys.provinces));
  parts.push_back(std::move(scope));
  FS_ASSIGN_OR_RETURN(HubDigestPart collection, Collection(hub, keys.provinces));
  parts.push_back(std::move(collection));
  return parts;
}

std::string DifferingParts(const std::vector<HubDigestPart>& a,
                           const std::vector<HubDigestPart>& b) {
  std::string out;
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i < a.size() && i < b.size() && a[i] == b[i]) continue;
    absl::StrAppend(&out, out.empty() ? "" : ", ", i < a.size() ? a[i].name : b[i].name);
  }
  return out;
}

}  // namespace fieldsync::hub
