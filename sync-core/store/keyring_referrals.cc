// Referral authority: the referrals that let a case's keys go to another
// office, judged from the signed authors of their fields; the offices of a
// referral's letter; referrals final here; the check of a write that
// resolves a referral's status.
#include "store/keyring_impl.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "change/commit_codec.h"
#include "change/referral_rules.h"
#include "crypto/referral_authority.h"

namespace fieldsync {

namespace keyring_internal {

absl::StatusOr<std::optional<LoggedWrite>> LoggedFieldWrite(sqlite::Db& db,
                                                            std::string_view table,
                                                            const RowId& row,
                                                            std::string_view column,
                                                            const Version& version) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT l.body FROM _fs_log l JOIN _fs_devices d ON "
                                           "d.idx = l.device WHERE d.id = ?1 AND l.hlc = ?2"));
  st->BindBlob(1, version.device.view());
  st->BindInt(2, static_cast<int64_t>(version.hlc.packed()));
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) return std::nullopt;
    absl::StatusOr<Commit> c = DecodeCommit(st->ColumnBlob(0));
    if (!c.ok() || c->author != version.device) continue;
    for (const RowChange& rc : c->changes) {
      if (rc.table != table || rc.row != row) continue;
      for (const FieldWrite& f : rc.fields) {
        if (f.column == column) return LoggedWrite{c->author, f};
      }
    }
  }
}

}  // namespace keyring_internal

namespace {

// Whether the answer `value` of referral `ref`, at `version`, came to this
// laptop in a commit applied here. Always so for a referral that was never
// installed whole, or was in a bootstrap (its office's checkpoint); for one
// installed whole as newly visible (its case referred here later), only if
// this laptop's log holds the commit of that version writing that answer.
absl::StatusOr<bool> AnsweredHere(sqlite::Db& db, const RowId& ref, const Version& version,
                                  const Value& value) {
  FS_ASSIGN_OR_RETURN(auto whole, db.Prepared("SELECT 1 FROM _fs_installed WHERE tbl = "
                                              "'referrals' AND row = ?1 AND position > 0"));
  whole->BindBlob(1, ref.view());
  FS_ASSIGN_OR_RETURN(bool newly_visible, whole->Step());
  if (!newly_visible) return true;
  FS_ASSIGN_OR_RETURN(std::optional<keyring_internal::LoggedWrite> w,
                      keyring_internal::LoggedFieldWrite(db, "referrals", ref, "status", version));
  return w.has_value() && w->field.value == value;
}

// The position in this laptop's log of `author`'s commit stamped `hlc`;
// nullopt if the log holds none.
absl::StatusOr<std::optional<int64_t>> LogPosition(sqlite::Db& db, const DeviceId& author,
                                                   uint64_t hlc) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT l.pos FROM _fs_log l JOIN _fs_devices d ON "
                                           "d.idx = l.device WHERE d.id = ?1 AND l.hlc = ?2"));
  st->BindBlob(1, author.view());
  st->BindInt(2, static_cast<int64_t>(hlc));
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  if (!r) return std::nullopt;
  return st->ColumnInt(0);
}

// Whether version `v` of `ring` is one this laptop `me` made (its earliest
// key record of it by `me`, dated by the commit that first sealed under
// it) and `ending`, a commit applied here, reached this laptop's log after
// that commit: this laptop's own order, which the ender cannot choose.
absl::StatusOr<bool> EndedAfterMadeHere(sqlite::Db& db, const RowId& ring, uint32_t v,
                                        const DeviceId& me, const Version& ending) {
  FS_ASSIGN_OR_RETURN(auto mine, db.Prepared("SELECT min(created) FROM _fs_keys WHERE keyring = "
                                             "?1 AND version = ?2 AND signer = ?3 AND kind IN "
                                             "(3, 5)"));
  mine->BindBlob(1, ring.view());
  mine->BindInt(2, v);
  mine->BindBlob(3, me.view());
  FS_ASSIGN_OR_RETURN(bool any, mine->Step());
  if (!any || mine->ColumnIsNull(0)) return false;
  const uint64_t made = static_cast<uint64_t>(mine->ColumnInt(0));
  FS_ASSIGN_OR_RETURN(std::optional<int64_t> made_at, LogPosition(db, me, made));
  if (!made_at) return false;
  FS_ASSIGN_OR_RETURN(std::optional<int64_t> ended_at,
                      LogPosition(db, ending.device, ending.hlc.packed()));
  return ended_at && *ended_at > *made_at;
}

}  // namespace

absl::StatusOr<std::vector<KeyRing::Impl::Authorised>> KeyRing::Impl::AuthorisedReferrals(
    Replica& replica, const RowId* only_ring) {
  std::vector<Authorised> candidates;
  std::vector<std::pair<std::string, std::string>> offices;  // (owner, from_office)
  {
  FS_ASSIGN_OR_RETURN(
      auto st, db->Prepared("SELECT r.id, r.case_id, c.person_id, r.to_office, c.province, "
                            "r.from_office FROM referrals r JOIN cases c ON c.id = r.case_id "
                            "WHERE r._live = 1 AND r.status = ?2 AND r.to_office IS "
                            "NOT NULL AND NOT EXISTS (SELECT 1 FROM _fs_referral_final f "
                            "WHERE f.referral = r.id) AND (?1 IS NULL OR r.case_id = ?1 OR "
                            "c.person_id = ?1)"));
  if (only_ring != nullptr) st->BindBlob(1, only_ring->view());
  st->BindText(2, referral::StatusName(referral::Status::kAccepted));
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    Authorised a;
    a.referral = IdOf(st->ColumnBlob(0));
    a.case_id = IdOf(st->ColumnBlob(1));
    if (!st->ColumnIsNull(2)) a.person = IdOf(st->ColumnBlob(2));
    a.to_office = st->ColumnString(3);
    if (only_ring != nullptr && *only_ring != a.case_id &&
        !(a.person && *only_ring == *a.person)) {
      continue;
    }
    candidates.push_back(std::move(a));
    offices.emplace_back(st->ColumnString(4), st->ColumnString(5));
  }
  }
  std::vector<Authorised> out;
  const TableDef* t = replica.schema().FindTable("referrals");
  auto version_of = [&](const Row& row,
                        std::string_view column) -> const std::optional<FieldVersion>& {
    return row.versions[static_cast<size_t>(t->ColumnIndex(column))];
  };
  auto written = [&](const Row& row, std::string_view column) -> const Version* {
    const std::optional<FieldVersion>& v = version_of(row, column);
    return v ? &v->version : nullptr;
  };
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Authorised& a = candidates[i];
    const auto& [owner, from_office] = offices[i];
    if (!crypto::ReferralOfficesMayGrant(owner, from_office, a.to_office)) continue;
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica.Get("referrals", a.referral));
    if (!row) continue;
    // Who wrote its creation and its answer (crypto/referral_authority.h).
    const auto& status_v = version_of(*row, "status");
    crypto::ReferralAuthorship authorship{owner, a.to_office};
    authorship.case_id = written(*row, "case_id");
    authorship.from_office = written(*row, "from_office");
    authorship.to_office_written = written(*row, "to_office");
    authorship.status = written(*row, "status");
    authorship.status_base = status_v && status_v->base ? &*status_v->base : nullptr;
    authorship.created_set_aside = [&]() -> absl::StatusOr<bool> {
      if (authorship.to_office_written == nullptr) return false;
      return WrittenSetAside(*authorship.to_office_written, replica.device_id());
    };
    FS_ASSIGN_OR_RETURN(bool authorises, crypto::ReferralAuthorises(authorship, *this));
    if (!authorises) continue;
    // A referral received whole (a bootstrap, a case newly referred) names
    // authors the hub chose: its offices and its answer count only once a
    // signed commit here shows them (until signed checkpoints, another
    // laptop of the office that received the commits grants).
    FS_ASSIGN_OR_RETURN(bool made_signed, replica.VersionSigned("referrals", a.referral,
                                                                "to_office"));
    FS_ASSIGN_OR_RETURN(bool answer_signed, replica.VersionSigned("referrals", a.referral,
                                                                  "status"));
    if (!made_signed || !answer_signed) continue;
    const Value& answer = row->values[static_cast<size_t>(t->ColumnIndex("status"))];
    // A referral taken whole with a case newly referred here holds the
    // answer the hub chose among its real versions: an acceptance later
    // completed, declined or deleted (the rest left out) is signed all the
    // same. Its answer sends keys from this laptop only once a commit
    // applied here wrote it; until then the owning office's laptops, which
    // hold the referral's log, grant (docs/PROTOCOL.md, "Newly visible
    // rows").
    FS_ASSIGN_OR_RETURN(bool answered_here, AnsweredHere(*db, a.referral, *authorship.status,
                                                         answer));
    if (!answered_here) continue;
    candidates[i].owner = owner;
    FS_ASSIGN_OR_RETURN(std::vector<ConflictRecord> open,
                        replica.Conflicts(std::string("referrals"), a.referral));
    // An answer another laptop wrote concurrently leaves the referral
    // contested until it is resolved; the same answer written on two
    // laptops apart (both accepted it) does not: it is no disagreement,
    // and every replica judges it alike from the same conflict records.
    bool contested = false;
    for (const ConflictRecord& k : open) contested |= k.column == "status" && k.value != answer;
    if (contested) continue;
    out.push_back(a);
  }
  return out;
}

absl::StatusOr<std::optional<KeyRing::Impl::LetterOffices>> KeyRing::Impl::OfficesOf(
    Replica& replica, const RowId& ref) {
  FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica.Get("referrals", ref));
  if (!row) return std::nullopt;
  const TableDef* t = replica.schema().FindTable("referrals");
  auto at = [&](std::string_view c) { return static_cast<size_t>(t->ColumnIndex(c)); };
  auto written = [&](std::string_view c) -> const Version* {
    const std::optional<FieldVersion>& v = row->versions[at(c)];
    return v ? &v->version : nullptr;
  };
  const Value& from = row->values[at("from_office")];
  const Value& to = row->values[at("to_office")];
  crypto::LetterAuthorship letter;
  letter.live = row->live;
  letter.from_office = &from;
  letter.to_office = &to;
  letter.created = written("from_office");
  letter.case_id = written("case_id");
  letter.to_office_written = written("to_office");
  letter.to_organisation = written("to_organisation");
  FS_ASSIGN_OR_RETURN(bool ok, crypto::LetterOfficesHold(letter, *this));
  if (!ok) {
    return absl::FailedPreconditionError(absl::StrCat(
        "referral ", ref.ToString(), " does not hold the offices its referring office wrote "
        "when it was made (a rewrite the hub should have refused, or a referral made by "
        "another office): its letter is neither sealed nor shared here; tell the hub "
        "administrator"));
  }
  return LetterOffices{from.str(), to.is_null() ? std::string() : to.str()};
}

absl::StatusOr<bool> KeyRing::Impl::WrittenSetAside(const Version& version, const DeviceId& me) {
  if (version.device != me) return false;  // only this laptop's own commits are set aside
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT 1 FROM _fs_log l JOIN _fs_devices d ON "
                                            "d.idx = l.device JOIN _fs_set_aside s ON s.seq = "
                                            "l.seq WHERE d.id = ?1 AND l.hlc = ?2"));
  st->BindBlob(1, me.view());
  st->BindInt(2, static_cast<int64_t>(version.hlc.packed()));
  return st->Step();
}

absl::StatusOr<bool> KeyRing::Impl::ReferralSetAside(Replica& replica, const RowId& ref) {
  FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica.Get("referrals", ref));
  if (!row) return false;
  const TableDef* t = replica.schema().FindTable("referrals");
  const std::optional<FieldVersion>& created =
      row->versions[static_cast<size_t>(t->ColumnIndex("from_office"))];
  if (!created) return false;
  return WrittenSetAside(created->version, replica.device_id());
}

absl::StatusOr<std::set<std::string>> KeyRing::Impl::ReferredOffices(Replica& replica,
                                                                     const RowId& ring) {
  FS_ASSIGN_OR_RETURN(std::vector<Authorised> refs, AuthorisedReferrals(replica, &ring));
  std::set<std::string> out;
  for (const Authorised& a : refs) out.insert(a.to_office);
  return out;
}

absl::StatusOr<KeyRing::Impl::Sources> KeyRing::Impl::ReferredByOffice(Replica& replica,
                                                                       const RowId& ring,
                                                                       const std::string& mine) {
  std::vector<std::pair<RowId, std::string>> refs;
  {
    FS_ASSIGN_OR_RETURN(
        auto st, db->Prepared("SELECT r.id, r.to_office FROM referrals r JOIN cases c ON c.id = "
                              "r.case_id WHERE r._live = 1 AND r.from_office = ?2 AND "
                              "c.province = ?2 AND r.to_office IS NOT NULL AND r.to_office != ?2 "
                              "AND (r.case_id = ?1 OR c.person_id = ?1)"));
    st->BindBlob(1, ring.view());
    st->BindText(2, mine);
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      refs.emplace_back(IdOf(st->ColumnBlob(0)), st->ColumnString(1));
    }
  }
  // The facts of each referral read here; which offices they make sources,
  // open or ended, is crypto/referral_authority.h's.
  Sources out;
  const TableDef* t = replica.schema().FindTable("referrals");
  for (const auto& [ref, to] : refs) {
    if (crypto::SourceSettled(out, to)) continue;
    FS_ASSIGN_OR_RETURN(bool vouched, replica.RowVouched("referrals", ref));
    if (!vouched) continue;
    absl::StatusOr<std::optional<LetterOffices>> made = OfficesOf(replica, ref);
    if (!made.ok()) {
      if (made.status().code() != absl::StatusCode::kFailedPrecondition) return made.status();
      continue;
    }
    if (!*made) continue;
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica.Get("referrals", ref));
    if (!row) continue;
    const std::optional<FieldVersion>& created =
        row->versions[static_cast<size_t>(t->ColumnIndex("from_office"))];
    crypto::SourceReferral facts;
    facts.letter = &**made;
    facts.created = created ? &created->version : nullptr;
    facts.status = &row->values[static_cast<size_t>(t->ColumnIndex("status"))];
    facts.noted_final = [&, ref = ref]() -> absl::StatusOr<bool> {
      FS_ASSIGN_OR_RETURN(auto noted, db->Prepared("SELECT 1 FROM _fs_referral_final WHERE "
                                                   "referral = ?1"));
      noted->BindBlob(1, ref.view());
      return noted->Step();
    };
    FS_ASSIGN_OR_RETURN(crypto::SourceStanding standing,
                        crypto::ReferralSourceStanding(mine, to, facts, *this));
    crypto::AddReferralSource(out, to, standing);
  }
  return out;
}

absl::StatusOr<bool> KeyRing::Impl::EndedSince(Replica& replica, const RowId& ring, uint32_t v,
                                               const std::set<std::string>& entitled,
                                               const DeviceId& me) {
  FS_ASSIGN_OR_RETURN(auto made, db->Prepared("SELECT min(created) FROM _fs_keys WHERE keyring = "
                                              "?1 AND version = ?2 AND kind IN (3, 5)"));
  made->BindBlob(1, ring.view());
  made->BindInt(2, v);
  FS_ASSIGN_OR_RETURN(bool any, made->Step());
  // No record of the version here: nothing to have ended since.
  if (!any || made->ColumnIsNull(0)) return false;
  const uint64_t created = static_cast<uint64_t>(made->ColumnInt(0));
  std::vector<std::pair<RowId, std::string>> refs;
  {
    FS_ASSIGN_OR_RETURN(
        auto st, db->Prepared("SELECT r.id, r.to_office FROM referrals r LEFT JOIN cases c ON "
                              "c.id = r.case_id WHERE (r.case_id = ?1 OR c.person_id = ?1) AND "
                              "r.to_office IS NOT NULL"));
    st->BindBlob(1, ring.view());
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      refs.emplace_back(IdOf(st->ColumnBlob(0)), st->ColumnString(1));
    }
  }
  {
    // Deleted since (the row cleared): as the deletion found it.
    FS_ASSIGN_OR_RETURN(
        auto st, db->Prepared("SELECT d.to_office, d.hlc FROM _fs_referral_deleted d WHERE "
                              "d.case_id = ?1 OR d.case_id IN (SELECT id FROM cases WHERE "
                              "person_id = ?1)"));
    st->BindBlob(1, ring.view());
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      if (crypto::DeletionEndsVersion(st->ColumnString(0), static_cast<uint64_t>(st->ColumnInt(1)),
                                      entitled, created)) {
        return true;
      }
    }
  }
  // The facts of each referral read here, the costly ones when the
  // decision (crypto::ReferralEndsVersion) asks for them.
  const TableDef* t = replica.schema().FindTable("referrals");
  const size_t status_at = static_cast<size_t>(t->ColumnIndex("status"));
  for (const auto& [ref, to] : refs) {
    if (entitled.count(to) > 0) continue;
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica.Get("referrals", ref));
    if (!row) continue;
    const Value& status = row->values[status_at];
    crypto::HeldReferral held;
    held.to = to;
    held.live = row->live;
    held.status = &status;
    const std::optional<FieldVersion>& answer = row->versions[status_at];
    held.answer = answer ? &answer->version : nullptr;
    held.deletion = row->live_version ? &row->live_version->version : nullptr;
    held.answered_here = [&, ref = ref](const Version& version) {
      return AnsweredHere(*db, ref, version, status);
    };
    held.made_here = [&]() -> absl::StatusOr<bool> {
      FS_ASSIGN_OR_RETURN(auto mine, db->Prepared("SELECT 1 FROM _fs_keys WHERE keyring = ?1 "
                                                  "AND version = ?2 AND signer = ?3"));
      mine->BindBlob(1, ring.view());
      mine->BindInt(2, v);
      mine->BindBlob(3, me.view());
      return mine->Step();
    };
    held.final_here = [&, ref = ref]() -> absl::StatusOr<bool> {
      FS_ASSIGN_OR_RETURN(auto noted, db->Prepared("SELECT 1 FROM _fs_referral_final WHERE "
                                                   "referral = ?1"));
      noted->BindBlob(1, ref.view());
      return noted->Step();
    };
    held.ended_after_made_here = [&](const Version& ending) {
      return EndedAfterMadeHere(*db, ring, v, me, ending);
    };
    FS_ASSIGN_OR_RETURN(bool ends, crypto::ReferralEndsVersion(held, entitled, created));
    if (ends) return true;
  }
  return false;
}

absl::Status KeyRing::Impl::NoteFinal(sqlite::Transaction&, const Commit& c) {
  for (const RowChange& rc : c.changes) {
    if (rc.table != "referrals") continue;
    for (const FieldWrite& f : rc.fields) {
      const bool final_status = f.column == "status" && f.value.kind() == Value::Kind::kText &&
                                referral::IsFinal(f.value.str());
      const bool deleted = f.column == kLiveColumn && f.value.kind() == Value::Kind::kInt &&
                           f.value.int_value() == 0;
      if (!final_status && !deleted) continue;
      FS_ASSIGN_OR_RETURN(auto st, db->Prepared("INSERT OR IGNORE INTO _fs_referral_final("
                                                "referral) VALUES (?1)"));
      st->BindBlob(1, rc.row.view());
      FS_RETURN_IF_ERROR(st->Run());
      if (deleted) {
        // The row as held, before the deletion clears it.
        FS_ASSIGN_OR_RETURN(auto del, db->Prepared(
                                          "INSERT OR IGNORE INTO _fs_referral_deleted(referral, "
                                          "case_id, to_office, hlc) SELECT id, case_id, "
                                          "to_office, ?2 FROM referrals WHERE id = ?1 AND "
                                          "to_office IS NOT NULL"));
        del->BindBlob(1, rc.row.view());
        del->BindInt(2, static_cast<int64_t>(c.hlc.packed()));
        FS_RETURN_IF_ERROR(del->Run());
      }
    }
  }
  return absl::OkStatus();
}

absl::Status KeyRing::CheckReferralWrites(const Commit& c) {
  FS_RETURN_IF_ERROR(referral::CheckFixedColumns(c));
  const TableDef* t = replica_->schema().FindTable("referrals");
  for (const RowChange& rc : c.changes) {
    if (rc.table != "referrals") continue;
    for (const FieldWrite& f : rc.fields) {
      if (f.column != "status" || f.resolves.empty()) continue;
      FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica_->Get("referrals", rc.row));
      if (!row) continue;
      auto text = [](const Value& v) { return v.kind() == Value::Kind::kText ? v.str() : ""; };
      auto at = [&](std::string_view col) {
        return text(row->values[static_cast<size_t>(t->ColumnIndex(col))]);
      };
      std::vector<std::string> among = {at("status")};
      FS_ASSIGN_OR_RETURN(std::vector<ConflictRecord> open,
                          replica_->Conflicts(std::string("referrals"), rc.row));
      for (const ConflictRecord& k : open) {
        if (k.column == "status") among.push_back(text(k.value));
      }
      absl::Status ok = referral::CheckResolution(among, text(f.value), province_,
                                                  at("from_office"), at("to_office"));
      if (!ok.ok()) {
        return absl::PermissionDeniedError(absl::StrCat(
            "referral ", rc.row.ToString(), " ", ok.message(), "; nothing was changed"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace fieldsync
