// Sealing and reading: the version a field is sealed under (its key ring is
// the schema's relation, KeyRingOfField), Seal and Read; Verify and the
// signer, installed with them on the replica (Security()); erasure.
#include "store/keyring_impl.h"

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "change/commit_codec.h"
#include "change/referral_rules.h"
#include "crypto/commit_author.h"
#include "crypto/commit_header.h"
#include "crypto/commit_signature.h"
#include "crypto/envelope.h"
#include "schema/relations.h"
#include "store/keyring_messages.h"

namespace fieldsync {
namespace {

// The problem of a value sealed under another record's key (a kFailed of
// its own: SealedFieldKey tells it from a failed check).
constexpr std::string_view kOtherRecordProblem =
    "sealed under the key of another record (moved or planted); not opened";

// Whether office `from` referred `kase` to `me`: a live referral, vouched
// for here, made by a member of `from`.
absl::StatusOr<bool> Referred(KeyRing::Impl& m, Replica& replica, const RowId& kase,
                              const std::string& from, const std::string& me) {
  std::vector<RowId> refs;
  {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT id FROM referrals WHERE _live = 1 AND "
                                                "case_id = ?1 AND from_office = ?2 AND "
                                                "to_office = ?3"));
    st->BindBlob(1, kase.view());
    st->BindText(2, from);
    st->BindText(3, me);
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      refs.push_back(IdOf(st->ColumnBlob(0)));
    }
  }
  for (const RowId& ref : refs) {
    FS_ASSIGN_OR_RETURN(bool vouched, replica.RowVouched("referrals", ref));
    if (!vouched) continue;
    absl::StatusOr<std::optional<KeyRing::Impl::LetterOffices>> made = m.OfficesOf(replica, ref);
    if (made.ok() && *made && (*made)->from == from && (*made)->to == me) return true;
  }
  return false;
}

// The write of `kase`'s owner `value` at `version` by a commit applied
// here (this laptop's log, verified, its moves checked: CheckOwnerMoves),
// with its author; nullopt if the log holds none (the version came whole).
struct OwnerWrite {
  DeviceId author;
  std::optional<Version> base;
};
absl::StatusOr<std::optional<OwnerWrite>> LoggedOwnerWrite(sqlite::Db& db, const RowId& kase,
                                                           const Version& version,
                                                           const std::string& value) {
  FS_ASSIGN_OR_RETURN(
      std::optional<keyring_internal::LoggedWrite> w,
      keyring_internal::LoggedFieldWrite(db, "cases", kase, "province", version));
  if (!w || !(w->field.value == Value::Text(value))) return std::nullopt;
  return OwnerWrite{w->author, w->field.base};
}

// A case another office owns, taken whole as newly visible here: its owner
// is taken only as the office that referred it to `me` (by a referral made
// by a member of that office and vouched for here), or as an office the
// case was moved to, after it came here, by commits applied here, each by
// a member now of the office that owned it before, back to one that
// referred it here (at most 16 moves). A signature of another office's device on
// the case's `province` served whole (a hub with an office, or an office
// the hub's administrator made) names an owner that referred nothing: not
// taken.
absl::Status ReferredBy(KeyRing::Impl& m, Replica& replica, const RowId& kase,
                        const std::string& owner, const std::string& me) {
  FS_ASSIGN_OR_RETURN(auto whole, m.db->Prepared("SELECT 1 FROM _fs_installed WHERE tbl = "
                                                 "'cases' AND row = ?1 AND position > 0"));
  whole->BindBlob(1, kase.view());
  FS_ASSIGN_OR_RETURN(bool newly_visible, whole->Step());
  if (!newly_visible) return absl::OkStatus();
  std::optional<Version> at;
  {
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica.Get("cases", kase));
    const TableDef* cases = replica.schema().FindTable("cases");
    if (row && cases != nullptr) {
      const auto& v = row->versions[static_cast<size_t>(cases->ColumnIndex("province"))];
      if (v) at = v->version;
    }
  }
  std::string current = owner;
  for (int moves = 0; moves <= 16; ++moves) {
    FS_ASSIGN_OR_RETURN(bool referred, Referred(m, replica, kase, current, me));
    if (referred) return absl::OkStatus();
    if (!at) break;
    FS_ASSIGN_OR_RETURN(std::optional<OwnerWrite> w, LoggedOwnerWrite(*m.db, kase, *at, current));
    if (!w) break;
    // Its author's office, as its approval chain shows it (the registry
    // only names the office to check), and a member of it *now*: a move's
    // HLC is its author's word, so one a stolen laptop wrote after its
    // removal, dated before it, cannot be told from one written before;
    // both stop deciding the owner once the office removes the laptop, as
    // its referrals stop granting (AuthorisedReferrals). The new owner
    // refers the case here again if it should go on (docs/CRYPTO.md).
    auto author = m.registry.find(w->author);
    if (author == m.registry.end()) break;
    const std::string before = author->second.province;
    FS_ASSIGN_OR_RETURN(bool member, m.Trusted(before, w->author, /*now=*/true));
    if (!member) break;
    current = before;
    at = w->base;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "the case ", kase.ToString(), " came to this laptop naming office ", Printable(owner),
      " as its owner, but no referral of it to this office made by that office is here (nor a "
      "move to it, by the office that referred it here, seen since), so this laptop does not "
      "seal for it; nothing was written: sync again; if the case was moved to that office "
      "before it came here, ask that office to refer it to this office again; if this stays, "
      "tell your office and the hub administrator (fieldnode trust)"));
}

}  // namespace

absl::StatusOr<std::string> KeyRing::Impl::ClearText(const std::string& table,
                                                     const std::string& column, const RowId& row) {
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared(absl::StrCat("SELECT \"", column, "\" FROM \"",
                                                         table, "\" WHERE id = ?1")));
  st->BindBlob(1, row.view());
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  if (!r || st->ColumnIsNull(0)) return std::string();
  return st->ColumnString(0);
}

std::string_view OpenedStateName(OpenedField::State s) {
  switch (s) {
    case OpenedField::State::kClear: return "clear";
    case OpenedField::State::kOpened: return "opened";
    case OpenedField::State::kLocked: return "locked";
    case OpenedField::State::kNoKey: return "no key";
    case OpenedField::State::kErased: return "erased";
    case OpenedField::State::kFailed: return "failed";
  }
  return "?";
}

std::string_view SealedFieldKey(const OpenedField& f) {
  switch (f.state) {
    case OpenedField::State::kNoKey: return kMsgSealedNoKey;
    case OpenedField::State::kErased: return kMsgSealedErased;
    case OpenedField::State::kFailed:
      return f.problem == kOtherRecordProblem ? kMsgSealedOtherRecord : kMsgSealedFailed;
    default: return "";
  }
}

absl::StatusOr<uint32_t> KeyRing::NewestTrustedVersion(const RowId& ring,
                                                       const std::string& owner) {
  // The records of the ring addressed to this office, read here; which
  // version they let this office seal under is crypto::NewestSealableVersion's.
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared(
                                   "SELECT version, kind, signer, created, bytes FROM _fs_keys "
                                   "WHERE keyring = ?1 AND province = ?2 AND kind IN (3, 5)"));
  st->BindBlob(1, ring.view());
  st->BindText(2, province_);
  std::vector<crypto::VersionRecord> records;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    crypto::VersionRecord rec;
    rec.version = static_cast<uint32_t>(st->ColumnInt(0));
    rec.kind = static_cast<KeyRecordKind>(st->ColumnInt(1));
    rec.signer = IdOf(st->ColumnBlob(2));
    rec.created = st->ColumnInt(3);
    if (rec.kind == KeyRecordKind::kDataKey) rec.bytes = std::string(st->ColumnBlob(4));
    records.push_back(std::move(rec));
  }
  const DeviceId* me = identity_ ? &identity_->device() : nullptr;
  return crypto::NewestSealableVersion(records, owner, me, *impl_);
}

absl::StatusOr<std::optional<Value>> KeyRing::Seal(sqlite::Transaction& txn,
                                                   const SealRequest& req) {
  const ColumnDef& col = *req.column;
  if (col.sensitivity == Sensitivity::kSensitiveWhenRestricted) {
    FS_ASSIGN_OR_RETURN(Value r, req.row_value(req.table->restriction));
    if (!IsRestricted(r)) return std::nullopt;
  }
  const std::string_view table = req.table->name;
  if (crypto::LooksSealed(req.value->kind() == Value::Kind::kBytes ? req.value->str() : "")) {
    return absl::InvalidArgumentError(absl::StrCat(
        AV(table), ".", AV(col.name), ": a value that is already sealed cannot be written"));
  }
  if (!unlocked()) {
    return crypto::KeysUnreachableError(absl::StrCat(
        AV(table), ".", AV(col.name), " is sensitive and must be sealed, but the keystore is "
        "locked: unlock it (enter the passphrase, or set FIELDSYNC_PASSPHRASE_FILE) and try again"));
  }
  const crypto::DeviceIdentity& me = *identity_;
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(RowId ring, KeyRingOfField(replica_->schema(), table, req.row, col.name,
                                                 req.row_value));
  const bool letter = table == "referrals" && ring == req.row;
  FS_ASSIGN_OR_RETURN(bool erased, m.Erased(ring));
  if (erased) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the keys of ", ring.ToString(), " were destroyed (erasure); nothing more can be "
        "written to its sensitive fields"));
  }
  const uint64_t hlc = req.version.hlc.packed();
  auto cached = m.choice.find(ring);
  if (cached == m.choice.end() || cached->second.hlc != hlc) {
    // Choose the version to seal under for this commit.
    FS_ASSIGN_OR_RETURN(std::shared_ptr<OfficeKey> office, m.CurrentOffice(me, province_));
    if (!office) {
      // No key of the office has reached this device (new, or offline since
      // it was enrolled): one of the newest generation lets it work now;
      // Maintain() shares it with the office's other devices at the next
      // sync, and theirs with this one.
      FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> keys, m.OfficeKeys(province_));
      FS_ASSIGN_OR_RETURN(const KeyRecord* newest,
                          crypto::NewestTrustedOfficeKey(keys, province_, nullptr, m));
      const uint32_t generation = newest != nullptr ? newest->generation : 1;
      FS_ASSIGN_OR_RETURN(office, m.CreateOffice(txn, me, province_, generation, req.version.hlc));
    }
    Impl::Choice c;
    c.hlc = hlc;
    // The office that owns the key ring, and every office entitled to it.
    std::string owner;
    std::string receiver;  // a referral's letter: read by the receiving office from the start
    if (letter) {
      // As the referring office made it, never from the row's current
      // values: a rewritten to_office must not choose who reads the letter.
      FS_ASSIGN_OR_RETURN(std::optional<Impl::LetterOffices> made, m.OfficesOf(*replica_, ring));
      if (made) FS_RETURN_IF_ERROR(Vouched("referrals", ring, "referral", made->from));
      if (made) {
        owner = made->from;
        receiver = made->to;
      } else {
        // Made by this very write, by this device.
        FS_ASSIGN_OR_RETURN(Value from, req.row_value("from_office"));
        FS_ASSIGN_OR_RETURN(Value to, req.row_value("to_office"));
        if (from.kind() == Value::Kind::kText) owner = from.str();
        if (to.kind() == Value::Kind::kText) receiver = to.str();
      }
    } else {
      // As the schema declares the row's owner: the office its owner
      // column names, or its case's (the ring is the case); the shared
      // directory has none: the writer's office owns the key.
      FS_ASSIGN_OR_RETURN(const OwnerRelation own, OwnerOf(replica_->schema(), table));
      const TableDef* cases = CasesTable(replica_->schema());
      if (own.link == OwnerLink::kCase && cases != nullptr &&
          cases->owner.link == OwnerLink::kColumn) {
        FS_ASSIGN_OR_RETURN(owner, m.ClearText(std::string(cases->name),
                                               std::string(cases->owner.column), ring));
        // This office named by a case served whole as newly visible is no
        // more its owner than another office would be.
        bool served = false;
        if (owner == province_) {
          FS_ASSIGN_OR_RETURN(served, replica_->RowServedNewlyVisible(std::string(cases->name),
                                                                      ring));
        }
        if (owner != province_ || served) {
          FS_RETURN_IF_ERROR(Vouched(std::string(cases->name), ring, "case", owner));
        }
        if (owner != province_) FS_RETURN_IF_ERROR(ReferredBy(m, *replica_, ring, owner, province_));
      } else if (own.link == OwnerLink::kColumn) {
        FS_ASSIGN_OR_RETURN(Value p, req.row_value(own.column));
        if (p.kind() == Value::Kind::kText) owner = p.str();
        // Taken from the row as held (this write does not set it).
        FS_ASSIGN_OR_RETURN(std::string held, m.ClearText(std::string(table),
                                                          std::string(own.column), req.row));
        bool served = false;
        if (!owner.empty() && owner == province_ && held == owner) {
          FS_ASSIGN_OR_RETURN(served, replica_->RowServedNewlyVisible(std::string(table),
                                                                      req.row));
        }
        if (!owner.empty() && (owner != province_ || served) && held == owner) {
          FS_RETURN_IF_ERROR(Vouched(std::string(table), req.row, "record", owner));
          if (cases != nullptr && table == cases->name && owner != province_) {
            FS_RETURN_IF_ERROR(ReferredBy(m, *replica_, req.row, owner, province_));
          }
        }
      }
    }
    FS_ASSIGN_OR_RETURN(std::set<std::string> referred, m.ReferredOffices(*replica_, ring));
    const std::set<std::string> entitled =
        crypto::EntitledOffices(std::move(referred), province_, owner, receiver);
    FS_ASSIGN_OR_RETURN(uint32_t newest, NewestTrustedVersion(ring, owner));
    FS_ASSIGN_OR_RETURN(
        bool under_newest,
        crypto::SealsUnderNewest(
            newest, [&] { return m.Fresh(ring, newest, province_, entitled, me.device()); },
            [&] { return m.EndedSince(*replica_, ring, newest, entitled, me.device()); }));
    if (under_newest) {
      // Opened through a record this office stands behind only: a grant
      // of this version signed by a third office's laptop wraps a key its
      // signer knows, and is never sealed under (docs/CRYPTO.md).
      FS_ASSIGN_OR_RETURN(c.key, m.TrustedDataKey(me, ring, newest,
                                                  crypto::SealGranters(province_, owner)));
      if (c.key) c.version = newest;
    }
    if (!c.key) {
      // A new version: for this office, the owning office and the offices
      // the case is referred to now.
      FS_ASSIGN_OR_RETURN(c.version, m.FreshVersion(ring));
      c.key = std::make_shared<SecretBytes>(SecretBytes::Random(crypto::kDataKeyBytes));
      FS_RETURN_IF_ERROR(m.Store(txn,
                                 crypto::WrapDataKeyForOffice(me.device(), req.version.hlc, ring,
                                                              c.version, *c.key, *office),
                                 false));
      for (const auto& [o, purpose] : crypto::NewVersionGrants(entitled, province_, owner)) {
        FS_ASSIGN_OR_RETURN(std::optional<KeyRecord> theirs, m.GrantTarget(o));
        if (!theirs) continue;
        FS_RETURN_IF_ERROR(m.Store(
            txn, crypto::WrapDataKey(me, req.version.hlc, ring, c.version, *c.key, *theirs,
                                     purpose),
            false));
      }
      m.data_keys[{ring, c.version}] = c.key;
    }
    cached = m.choice.insert_or_assign(ring, std::move(c)).first;
  }
  crypto::FieldContext where{table, req.row, col.name, req.version.hlc, req.version.device};
  FS_ASSIGN_OR_RETURN(std::string sealed, crypto::SealValue(*cached->second.key, ring,
                                                            cached->second.version, where,
                                                            *req.value));
  return Value::Bytes(std::move(sealed));
}

absl::Status KeyRing::Vouched(const std::string& table, const RowId& row, std::string_view what,
                              const std::string& office) {
  FS_ASSIGN_OR_RETURN(bool vouched, replica_->RowVouched(table, row));
  if (vouched) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the ", std::string(what), " ", row.ToString(), " came to this laptop as the hub served "
      "it, without the signed commits that wrote it, so this laptop does not take office ", Printable(office),
      " from it as the one to seal for; nothing was written: sync again, and if this stays, "
      "tell your office and the hub administrator (fieldnode trust)"));
}

// An office's own row names the office that owns it in its owner column
// (the schema's OwnerLink::kColumn: a case's `province`), and the owner
// decides whose grants of its keys this laptop stands behind and to whom it
// grants (Seal). Only a device of the owning office moves a row elsewhere
// (the hub's rule too, hub/scope.cc): a pulled commit in which another
// office's device rewrites it, which a malicious hub would relay, is refused
// here. The rule is the hub's, no wider: a pulled commit refused here stops
// the laptop's pull (sync/puller.cc), so one the hub stores by its rules
// must pass here -- the shared directory's `province` (where a body works,
// not whose it is) and a delete (NULL in every field: it moves nothing)
// are no moves.
absl::Status KeyRing::CheckOwnerMoves(const Commit& c, const RegisteredDevice& author) {
  for (const RowChange& rc : c.changes) {
    absl::StatusOr<OwnerRelation> own = OwnerOf(replica_->schema(), rc.table);
    if (!own.ok() || own->link != OwnerLink::kColumn) continue;
    const FieldWrite* moved = nullptr;
    for (const FieldWrite& f : rc.fields) {
      if (f.column == own->column && !f.value.is_null()) moved = &f;
    }
    if (moved == nullptr) continue;
    FS_ASSIGN_OR_RETURN(std::string owner,
                        impl_->ClearText(rc.table, std::string(own->column), rc.row));
    if (owner.empty()) continue;  // not held here (or owned by nobody yet)
    if (moved->value.kind() == Value::Kind::kText && moved->value.str() == owner) continue;
    bool by_owner = author.province == owner;
    if (by_owner) {
      FS_ASSIGN_OR_RETURN(by_owner, impl_->Trusted(owner, c.author, /*now=*/false));
    }
    if (!by_owner) {
      return absl::PermissionDeniedError(absl::StrCat(
          "commit ", c.Name(), " moves ", AV(rc.table), " row ", rc.row.ToString(),
          " away from office ", AV(owner), ", but its author is not a device of that office "
          "(only the owning office moves its records; the hub should have refused it)"));
    }
  }
  return absl::OkStatus();
}

absl::Status KeyRing::Verify(const Commit& c, int64_t position) {
  // Its author as the registry and the office's chain show it; whether it
  // may have signed this commit is crypto::CommitAuthorRefusal's.
  const RegisteredDevice* author = FindDevice(c.author);
  crypto::CommitAuthor facts;
  if (author != nullptr) {
    facts.registered = &author->keys;
    facts.name = author->name;
    facts.revoked = author->revoked();
    facts.revoked_position = author->revoked_position;
    facts.cut_off = impl_->CutOff(c.author);
    facts.office = [&]() -> absl::StatusOr<std::shared_ptr<const crypto::Membership>> {
      return impl_->MembershipOf(author->province);
    };
  }
  FS_RETURN_IF_ERROR(crypto::CommitAuthorRefusal(c, facts, position));
  FS_RETURN_IF_ERROR(crypto::VerifyCommitSignature(c, author->keys.sign_pk));
  return CheckOwnerMoves(c, *author);
}

CommitSecurity KeyRing::Security() {
  CommitSecurity s;
  s.verify = [this](const Commit& c, int64_t position) { return Verify(c, position); };
  s.seal = [this](sqlite::Transaction& txn, const SealRequest& req) { return Seal(txn, req); };
  s.taken = [this](sqlite::Transaction& txn, const Commit& c) {
    return impl_->NoteFinal(txn, c);
  };
  s.sign = [this](const Commit& c) -> absl::StatusOr<std::string> {
    if (!identity_) {
      return crypto::KeysUnreachableError(
          "the keystore is locked, so nothing can be written (every change is signed by this "
          "laptop): unlock it with the passphrase (--passphrase-file FILE, "
          "FIELDSYNC_PASSPHRASE_FILE, or on a terminal) and try again; nothing was changed");
    }
    FS_RETURN_IF_ERROR(CheckReferralWrites(c));
    return crypto::SignCommit(*identity_, c);
  };
  // Only once `sign` succeeded for the same commit: the keystore is open.
  s.sign_header = [this](std::string_view header) -> absl::StatusOr<std::string> {
    if (!identity_) return crypto::KeysUnreachableError("the keystore is locked");
    return crypto::SignCommitHeader(*identity_, header);
  };
  return s;
}

OpenedField KeyRing::Read(std::string_view table, const RowId& row, std::string_view column,
                          const Value& stored, const std::optional<Version>& version) {
  OpenedField out;
  // Only a sensitive column holds sealed values: a clear id may begin with
  // the envelope's magic byte by chance.
  const TableDef* t = replica_->schema().FindTable(table);
  const ColumnDef* col = t == nullptr ? nullptr : t->FindColumn(column);
  const bool sensitive = col != nullptr && col->sensitivity != Sensitivity::kClear;
  if (!sensitive || stored.kind() != Value::Kind::kBytes || !crypto::LooksSealed(stored.str())) {
    out.value = stored;
    return out;
  }
  absl::StatusOr<crypto::EnvelopeHeader> h = crypto::ParseEnvelope(stored.str());
  if (!h.ok()) {
    out.state = OpenedField::State::kFailed;
    out.problem = std::string(h.status().message());
    return out;
  }
  // The value must be sealed under the key ring of the row it sits in: one
  // lifted from another case would otherwise outlive that case's erasure.
  RowId expected = row;
  if (t->case_relation.link == CaseLink::kColumn &&
      !(table == "referrals" && referral::SealedUnderReferral(column))) {
    absl::StatusOr<std::string> c =
        impl_->ClearText(std::string(table), std::string(t->case_relation.column), row);
    expected = c.ok() && c->size() == 16 ? IdOf(*c) : RowId();
  }
  if (h->keyring != expected) {
    out.state = OpenedField::State::kFailed;
    out.problem = std::string(kOtherRecordProblem);
    return out;
  }
  absl::StatusOr<bool> erased = impl_->Erased(h->keyring);
  if (erased.ok() && *erased) {
    out.state = OpenedField::State::kErased;
    out.problem = "erased: the keys of this case were destroyed; the value cannot be read";
    return out;
  }
  if (!unlocked()) {
    out.state = OpenedField::State::kLocked;
    out.problem = "sealed: unlock the keystore to read it";
    return out;
  }
  if (!version) {
    out.state = OpenedField::State::kFailed;
    out.problem = "sealed value without a version: cannot be checked";
    return out;
  }
  absl::StatusOr<std::shared_ptr<SecretBytes>> key =
      impl_->DataKey(*identity_, h->keyring, h->key_version);
  if (!key.ok()) {
    out.state = OpenedField::State::kFailed;
    out.problem = std::string(key.status().message());
    return out;
  }
  if (!*key) {
    out.state = OpenedField::State::kNoKey;
    out.problem = absl::StrCat("no key: version ", h->key_version, " of the key of ",
                               h->keyring.ToString(), " has not been granted to this office (or "
                               "has not arrived yet: sync, then try again)");
    return out;
  }
  crypto::FieldContext where{table, row, column, version->hlc, version->device};
  absl::StatusOr<Value> v = crypto::OpenValue(**key, stored.str(), where);
  if (!v.ok()) {
    // Another record of this version may wrap the real key (a dud wrapped
    // a key of its own and came first): the value's authentication decides,
    // and the key that opened it is the one read with from now on.
    absl::StatusOr<std::vector<std::shared_ptr<SecretBytes>>> others =
        impl_->DataKeys(*identity_, h->keyring, h->key_version, SIZE_MAX, nullptr);
    for (const auto& other : others.ok() ? *others : std::vector<std::shared_ptr<SecretBytes>>{}) {
      if (other->view() == (*key)->view()) continue;
      absl::StatusOr<Value> retry = crypto::OpenValue(*other, stored.str(), where);
      if (retry.ok()) {
        v = std::move(retry);
        impl_->data_keys[{h->keyring, h->key_version}] = other;
        break;
      }
    }
  }
  if (!v.ok()) {
    out.state = OpenedField::State::kFailed;
    out.problem = std::string(v.status().message());
    return out;
  }
  out.state = OpenedField::State::kOpened;
  out.value = std::move(*v);
  return out;
}

absl::Status KeyRing::Erase(const std::vector<RowId>& keyrings) {
  if (!unlocked()) {
    return absl::FailedPreconditionError("erasure needs the keystore unlocked (it is signed)");
  }
  HybridClock clock(impl_->clock, tuning::kDefaultMaxClockSkewMillis);
  // All the key rings or none.
  FS_RETURN_IF_ERROR(impl_->InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    for (const RowId& keyring : keyrings) {
      FS_ASSIGN_OR_RETURN(KeyRecord r, crypto::ErasureRecord(*identity_, clock.Now(), keyring));
      FS_RETURN_IF_ERROR(impl_->Store(txn, r, false));
      FS_RETURN_IF_ERROR(impl_->DestroyRing(txn, r));
    }
    return absl::OkStatus();
  }));
  impl_->db->Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError();
  return absl::OkStatus();
}

absl::StatusOr<bool> KeyRing::IsErased(const RowId& keyring) { return impl_->Erased(keyring); }

absl::StatusOr<int64_t> KeyRing::OtherLiveCasesOf(const RowId& person, const RowId& except) {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("SELECT count(*) FROM cases WHERE person_id = "
                                                   "?1 AND id != ?2 AND _live = 1"));
  st->BindBlob(1, person.view());
  st->BindBlob(2, except.view());
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  return r ? st->ColumnInt(0) : int64_t{0};
}

}  // namespace fieldsync
