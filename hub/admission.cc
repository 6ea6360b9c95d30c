#include "hub/admission.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "change/commit_codec.h"
#include "crypto/commit_signature.h"
#include "hub/chain_admission.h"
#include "crypto/envelope.h"
#include "crypto/identity.h"
#include "hub/audit.h"
#include "hub/referral_check.h"
#include "hub/scope.h"
#include "schema/relations.h"

namespace fieldsync::hub {
namespace {

// Whether a clear value of `col` in commit `c` is a laptop's work from
// before the column was sealed (ColumnDef::sealed_since): taken, since
// refusing it would block that laptop's work; its author rewrites it sealed
// once upgraded (docs/CRYPTO.md, "Fields sealed in schema version 4"). A
// node at that version or later writes it sealed from its first commit at
// that version.
bool LegacyClearAllowed(const ColumnDef& col, const PushOrigin& origin, const Commit& c) {
  if (col.sealed_since == 0) return false;
  if (origin.schema_version < col.sealed_since) return true;
  return origin.schema_since_seq > 0 && c.seq < origin.schema_since_seq;
}

bool Sealed(const Value& v) {
  return v.kind() == Value::Kind::kBytes && crypto::LooksSealed(v.str());
}

// For the audit trail: "cases row", "persons row", ... of a key ring: a
// row of a table that may be a ring (schema/relations.h, KeyRingTables),
// "key ring" for a ring that is no row's own (a referral's letter: its
// table's rows belong to a case).
absl::StatusOr<std::string> RingTable(HubReadTxn& hub, const RowId& ring) {
  FS_ASSIGN_OR_RETURN(std::optional<std::string> table,
                      hub.TableOf(ring, KeyRingTables(hub.schema())));
  if (table) {
    absl::StatusOr<CaseRelation> rel = CaseRelationOf(hub.schema(), *table);
    if (rel.ok() && rel->link != CaseLink::kColumn) return absl::StrCat(*table, " row");
  }
  return std::string("key ring");
}

// The office that owns the record a ring is for ("" if the hub holds none),
// as the schema declares its owner: a ring of a row of a case's owner (a
// referral's letter) is its case's owner's.
absl::StatusOr<std::optional<std::string>> RingOwner(HubReadTxn& hub, const RowId& ring) {
  FS_ASSIGN_OR_RETURN(std::optional<std::string> table,
                      hub.TableOf(ring, KeyRingTables(hub.schema())));
  if (!table) return std::optional<std::string>();
  FS_ASSIGN_OR_RETURN(std::optional<RowScopeEntry> e, hub.RowScope(*table, ring));
  if (!e) return std::optional<std::string>();
  FS_ASSIGN_OR_RETURN(const OwnerRelation own, OwnerOf(hub.schema(), *table));
  if (own.link != OwnerLink::kCase) return std::optional<std::string>(e->owner);
  const TableDef* cases = CasesTable(hub.schema());
  if (!e->case_id || cases == nullptr) return std::optional<std::string>(std::string());
  FS_ASSIGN_OR_RETURN(std::optional<RowScopeEntry> kase,
                      hub.RowScope(std::string(cases->name), *e->case_id));
  return std::optional<std::string>(kase ? kase->owner : std::string());
}

}  // namespace

absl::StatusOr<std::vector<Commit>> AdmitCommits(const NodeInfo& node, const PushOrigin& origin,
                                                 const std::vector<PushedCommit>& encoded,
                                                 const Schema& schema, bool crypto_checks) {
  std::vector<Commit> commits;
  commits.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    absl::StatusOr<Commit> c = DecodeCommit(encoded[i].canonical);
    if (!c.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("commit ", i, " of ", encoded.size(),
                                                     " is malformed, nothing of the batch was "
                                                     "stored: ", c.status().message()));
    }
    if (c->author != node.device) {
      return absl::PermissionDeniedError(absl::StrCat(
          "commit ", i, " of ", encoded.size(), " (", c->Name(),
          ") was not written by this node (", node.device.ToString(),
          "): a node pushes only its own commits; nothing of the batch was stored"));
    }
    c->signature = encoded[i].signature;
    c->header = encoded[i].header;
    c->header_signature = encoded[i].header_signature;
    if (!crypto_checks) {
      commits.push_back(*std::move(c));
      continue;
    }
    if (absl::Status v = crypto::VerifyCommitSignature(*c, node.keys.sign_pk); !v.ok()) {
      return absl::UnauthenticatedError(absl::StrCat(
          "commit ", i, " of ", encoded.size(), ": ", v.message(),
          "; nothing of the batch was stored"));
    }
    FS_RETURN_IF_ERROR(CheckPushedHeader(node, *c));
    // Sensitive fields travel sealed: a clear value is refused without
    // being repeated in the message (it would land in the hub's log).
    for (const RowChange& rc : c->changes) {
      const TableDef* t = schema.FindTable(rc.table);
      if (t == nullptr) continue;  // ValidateCommit names it
      for (const FieldWrite& f : rc.fields) {
        const ColumnDef* col = t->FindColumn(f.column);
        if (col == nullptr || col->sensitivity != Sensitivity::kSensitive || f.value.is_null() ||
            LegacyClearAllowed(*col, origin, *c)) {
          continue;
        }
        if (!Sealed(f.value)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "commit ", c->Name(), " writes ", rc.table, ".", f.column,
              " in clear; sensitive fields must be sealed on the node before they are sent "
              "(unlock the node's keystore; upgrade an old node). Nothing of the batch was "
              "stored"));
        }
      }
    }
    commits.push_back(*std::move(c));
  }
  return commits;
}

absl::StatusOr<std::vector<crypto::KeyRecord>> AdmitKeyRecords(
    const NodeInfo& node, const std::vector<std::string>& key_records) {
  std::vector<crypto::KeyRecord> records;
  records.reserve(key_records.size());
  for (size_t i = 0; i < key_records.size(); ++i) {
    absl::StatusOr<crypto::KeyRecord> r = crypto::ParseKeyRecord(key_records[i]);
    if (!r.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("key record ", i, " of ", key_records.size(),
                                                     ": ", r.status().message(),
                                                     "; nothing of the push was stored"));
    }
    if (r->signer != node.device) {
      return absl::PermissionDeniedError(absl::StrCat(
          "key record ", i, " (", r->Describe(), ") was not made by this node; nothing of the "
          "push was stored"));
    }
    if (absl::Status v = crypto::VerifyKeyRecord(*r, node.keys); !v.ok()) {
      return absl::UnauthenticatedError(absl::StrCat(v.message(), "; nothing of the push was "
                                                                  "stored"));
    }
    const bool office_bound = r->kind == crypto::KeyRecordKind::kOfficeKey ||
                              r->kind == crypto::KeyRecordKind::kOfficeShare ||
                              r->kind == crypto::KeyRecordKind::kOfficeDataKey ||
                              r->kind == crypto::KeyRecordKind::kMembership;
    if (office_bound && r->province != node.province) {
      return absl::PermissionDeniedError(absl::StrCat(
          r->Describe(), ": a node of office ", node.province, " may make keys of its own office "
          "only; nothing of the push was stored"));
    }
    records.push_back(*std::move(r));
  }
  return records;
}

absl::Status CheckBeforeMerge(HubWriteTxn& hub, Scope& scope, const NodeInfo& node,
                              const PushOrigin& origin,
                              const Commit& c, int64_t gc_horizon, bool crypto_checks,
                              sync::RefusalCode* code) {
  sync::RefusalCode unused = sync::RefusalCode::kUnspecified;
  if (code == nullptr) code = &unused;
  *code = sync::RefusalCode::kUnspecified;
  if (gc_horizon > 0) {
    for (const RowChange& rc : c.changes) {
      FS_ASSIGN_OR_RETURN(bool purged, hub.IsPurged(rc.table, rc.row));
      if (purged) {
        *code = sync::RefusalCode::kRowCollected;
        return absl::PermissionDeniedError(absl::StrCat(
            "commit ", c.Name(), " writes ", rc.table, " row ", rc.row.ToString(),
            ", which was deleted and then collected by the hub: it may no longer be "
            "written. Nothing of the batch was stored"));
      }
    }
  }
  // A field sealed only when its row is restricted must be sealed if the
  // row is restricted once this commit is applied (a concurrent write from
  // a device that had not seen the restriction yet).
  if (crypto_checks) {
    for (const RowChange& rc : c.changes) {
      const TableDef* t = hub.schema().FindTable(rc.table);
      if (t == nullptr || t->restriction.empty()) continue;
      const FieldWrite* clear = nullptr;
      std::optional<bool> restricted;
      for (const FieldWrite& f : rc.fields) {
        if (f.column == t->restriction) restricted = IsRestricted(f.value);
        const ColumnDef* col = t->FindColumn(f.column);
        if (col != nullptr && col->sensitivity == Sensitivity::kSensitiveWhenRestricted &&
            !LegacyClearAllowed(*col, origin, c) && !f.value.is_null() && !Sealed(f.value)) {
          clear = &f;
        }
      }
      if (clear == nullptr) continue;
      if (!restricted) {
        FS_ASSIGN_OR_RETURN(std::optional<RowScopeEntry> e, hub.RowScope(rc.table, rc.row));
        restricted = e && e->restricted;
      }
      if (*restricted) {
        *code = sync::RefusalCode::kSealing;
        return absl::InvalidArgumentError(absl::StrCat(
            "commit ", c.Name(), " writes ", rc.table, ".", clear->column, " in clear, but ",
            rc.table, " row ", rc.row.ToString(), " is restricted: that field must be "
            "sealed (write it again now that the restriction is known). Nothing of the "
            "batch was stored"));
      }
    }
  }
  // A refusal of the rules is a PERMISSION_DENIED or INVALID_ARGUMENT;
  // anything else is the store's.
  auto ruled = [](const absl::Status& s) {
    return s.code() == absl::StatusCode::kPermissionDenied ||
           s.code() == absl::StatusCode::kInvalidArgument;
  };
  if (absl::Status s = scope.CheckWritable(node.province, c); !s.ok()) {
    if (ruled(s)) *code = sync::RefusalCode::kOutOfScope;
    return s;
  }
  absl::Status s = CheckReferralChanges(hub, node.province, c);
  if (!s.ok() && ruled(s)) *code = sync::RefusalCode::kRule;
  return s;
}

absl::Status RecordAfterMerge(HubWriteTxn& hub, Scope& scope, const Commit& c,
                              int64_t position) {
  FS_RETURN_IF_ERROR(scope.Record(c, position));
  return RecordReferralStatus(hub, c);
}

absl::StatusOr<bool> StoreKeyRecords(HubWriteTxn& hub, Scope& scope, const NodeInfo& node,
                                     const std::vector<crypto::KeyRecord>& records,
                                     ClockSource& clock) {
  bool erased_any = false;
  for (const crypto::KeyRecord& r : records) {
    bool erased_now = false;
    const bool ringed = r.kind == crypto::KeyRecordKind::kDataKey ||
                        r.kind == crypto::KeyRecordKind::kOfficeDataKey;
    if (r.kind == crypto::KeyRecordKind::kOfficeShare) {
      FS_ASSIGN_OR_RETURN(bool member, hub.DeviceOf(r.recipient, r.province, /*active=*/true));
      if (!member) {
        return absl::PermissionDeniedError(absl::StrCat(
            r.Describe(), ": shared with device ", r.recipient.ToString(),
            ", which is not an active device of that office; nothing of the push was stored"));
      }
    }
    if (r.kind == crypto::KeyRecordKind::kMembership) {
      // The subject must be a device of the office (the laptops decide
      // membership from the signatures; the hub only keeps nonsense out).
      FS_ASSIGN_OR_RETURN(bool known,
                          hub.DeviceOf(r.subject.device, r.province, /*active=*/false));
      if (!known) {
        return absl::PermissionDeniedError(absl::StrCat(
            r.Describe(), ": device ", r.subject.device.ToString(), " is not a device of office ",
            r.province, "; nothing of the push was stored"));
      }
    }
    if (r.kind == crypto::KeyRecordKind::kDataKey) {
      // A grant only from an office that sees the record it is for (its
      // owner, or an office it was referred to): no other office may choose
      // the keys of someone else's case.
      FS_ASSIGN_OR_RETURN(std::optional<std::string> table,
                          hub.TableOf(r.keyring, KeyRingTables(hub.schema())));
      bool visible = false;
      if (table) {
        FS_ASSIGN_OR_RETURN(visible, scope.Visible(node.province, *table, r.keyring));
      }
      if (!visible) {
        return absl::PermissionDeniedError(absl::StrCat(
            r.Describe(), ": office ", node.province, " does not see the record it is for",
            table ? "" : " (the hub does not hold it)", "; nothing of the push was stored"));
      }
      FS_ASSIGN_OR_RETURN(bool office_known, hub.ProvinceExists(r.province));
      if (!office_known) {
        return absl::PermissionDeniedError(absl::StrCat(
            r.Describe(), ": no such office; nothing of the push was stored"));
      }
    }
    if (ringed || r.kind == crypto::KeyRecordKind::kErasure) {
      FS_ASSIGN_OR_RETURN(bool erased, hub.RingErased(r.keyring));
      if (erased && ringed) {
        return absl::PermissionDeniedError(absl::StrCat(
            r.Describe(), ": the keys of this case were erased and may not be made again; "
            "nothing of the push was stored"));
      }
      if (erased) continue;  // erased already: the order is held
    }
    if (r.kind == crypto::KeyRecordKind::kErasure) {
      FS_ASSIGN_OR_RETURN(std::optional<std::string> owner, RingOwner(hub, r.keyring));
      if (!owner || *owner != node.province) {
        return absl::PermissionDeniedError(absl::StrCat(
            "erasure of ", r.keyring.ToString(), ": only a device of the office that owns the "
            "record may erase it", owner ? "" : " (the hub does not hold it: sync it first)",
            "; nothing of the push was stored"));
      }
      FS_RETURN_IF_ERROR(hub.EraseRing(
          r.keyring,
          {static_cast<int>(crypto::KeyRecordKind::kDataKey),
           static_cast<int>(crypto::KeyRecordKind::kOfficeDataKey)},
          clock.NowMillis(), node.device));
      erased_any = true;
      erased_now = true;
    }
    StoredKeyRecord stored_record;
    stored_record.id = r.Id();
    stored_record.kind = static_cast<int>(r.kind);
    stored_record.province = r.province;
    if (ringed || r.kind == crypto::KeyRecordKind::kErasure) stored_record.keyring = r.keyring;
    stored_record.signer = r.signer;
    stored_record.stored_at_millis = clock.NowMillis();
    stored_record.bytes = r.bytes;
    FS_ASSIGN_OR_RETURN(const bool stored, hub.StoreKeyRecord(stored_record));
    // Audited once, when first stored (a push sent again is not a new act).
    if (stored && r.kind == crypto::KeyRecordKind::kDataKey) {
      FS_ASSIGN_OR_RETURN(std::string table, RingTable(hub, r.keyring));
      FS_RETURN_IF_ERROR(hub.AppendAudit(
          clock.NowMillis(), node.device.ToString(), kAuditGrant,
          absl::StrCat("data key of ", table, " ", r.keyring.ToString(), " version ",
                       r.key_version, " granted from office ", node.province, " to office ",
                       r.province, " (",
                       r.purpose == crypto::DataKeyPurpose::kReferral  ? "referral"
                       : r.purpose == crypto::DataKeyPurpose::kRelayed ? "relayed"
                                                                       : "owner",
                       "), by device \"", node.name, "\"")));
    }
    if (stored && r.kind == crypto::KeyRecordKind::kMembership) {
      FS_RETURN_IF_ERROR(hub.AppendAudit(
          clock.NowMillis(), node.device.ToString(), kAuditMembership,
          absl::StrCat(std::string(crypto::MembershipActionName(r.action)), " of device ",
                       r.subject.device.ToString(), " in office ", r.province,
                       ", signed by device \"", node.name, "\"")));
    }
    if (erased_now) {
      FS_ASSIGN_OR_RETURN(std::string table, RingTable(hub, r.keyring));
      FS_RETURN_IF_ERROR(hub.AppendAudit(
          clock.NowMillis(), node.device.ToString(), kAuditErasure,
          absl::StrCat("every key of ", table, " ", r.keyring.ToString(), " of office ",
                       node.province, " erased, by device \"", node.name, "\"")));
    }
  }
  return erased_any;
}

}  // namespace fieldsync::hub
