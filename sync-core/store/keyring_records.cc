// The key ring's storage: key records in _fs_keys (stored, queried, office
// keys, versions of a key ring), erased key rings, the registry this laptop
// keeps of the hub's list, the pull count and cut-offs as the file holds
// them, pinned first devices and trust alerts.
#include "store/keyring_impl.h"

#include <sodium.h>

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/hash.h"

namespace fieldsync {

absl::Status KeyRing::Impl::LoadRegistry() {
  registry.clear();
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT device, province, name, sign_pk, box_pk, "
                                            "revoked_position, revoked_at FROM _fs_registry"));
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    RegisteredDevice d;
    d.keys.device = IdOf(st->ColumnBlob(0));
    d.province = st->ColumnString(1);
    d.name = st->ColumnString(2);
    d.keys.sign_pk = st->ColumnString(3);
    d.keys.box_pk = st->ColumnString(4);
    d.revoked_position = st->ColumnInt(5);
    d.revoked_at_millis = st->ColumnInt(6);
    registry[d.keys.device] = std::move(d);
  }
  FS_ASSIGN_OR_RETURN(auto q, db->Prepared("SELECT coalesce(max(seq), 0) FROM _fs_keys"));
  FS_ASSIGN_OR_RETURN(bool r, q->Step());
  seq = r ? q->ColumnInt(0) : 0;
  return LoadCutOffs();
}

absl::Status KeyRing::Impl::LoadCutOffs() {
  cutoffs.clear();
  FS_ASSIGN_OR_RETURN(auto c, db->Prepared("SELECT device, pull, why FROM _fs_cutoffs"));
  while (true) {
    FS_ASSIGN_OR_RETURN(bool more, c->Step());
    if (!more) break;
    cutoffs[IdOf(c->ColumnBlob(0))] = {c->ColumnInt(1), c->ColumnString(2)};
  }
  FS_ASSIGN_OR_RETURN(auto p, db->Prepared("SELECT value FROM _fs_trust WHERE key = 'pulls'"));
  FS_ASSIGN_OR_RETURN(bool counted, p->Step());
  pulls = 0;
  pulls_known = counted;
  if (counted && !absl::SimpleAtoi(p->ColumnString(0), &pulls)) pulls = 0;
  return absl::OkStatus();
}

absl::Status KeyRing::Impl::Store(sqlite::Transaction& txn, const absl::StatusOr<KeyRecord>& r,
                                  bool pushed) {
  if (!r.ok()) return r.status();
  return Store(txn, *r, pushed);
}

absl::Status KeyRing::Impl::Store(sqlite::Transaction&, const KeyRecord& r, bool pushed) {
  FS_ASSIGN_OR_RETURN(
      auto st, db->Prepared("INSERT OR IGNORE INTO _fs_keys(id, kind, province, keyring, "
                            "version, office_key, recipient, generation, signer, created, "
                            "bytes, pushed, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                            "?10, ?11, ?12, ?13)"));
  st->BindBlob(1, r.Id());
  st->BindInt(2, static_cast<int64_t>(r.kind));
  if (!r.province.empty()) st->BindText(3, r.province);
  const bool ringed = r.kind == KeyRecordKind::kDataKey ||
                      r.kind == KeyRecordKind::kOfficeDataKey ||
                      r.kind == KeyRecordKind::kErasure;
  if (ringed) st->BindBlob(4, r.keyring.view());
  if (r.key_version != 0) st->BindInt(5, r.key_version);
  if (r.kind != KeyRecordKind::kErasure && r.kind != KeyRecordKind::kMembership) {
    st->BindBlob(6, r.office_key_id.view());
  }
  if (r.kind == KeyRecordKind::kOfficeShare) st->BindBlob(7, r.recipient.view());
  if (r.kind == KeyRecordKind::kMembership) st->BindBlob(7, r.subject.device.view());
  if (r.generation != 0) st->BindInt(8, r.generation);
  st->BindBlob(9, r.signer.view());
  st->BindInt(10, static_cast<int64_t>(r.created.packed()));
  st->BindBlob(11, r.bytes);
  st->BindInt(12, pushed ? 1 : 0);
  st->BindInt(13, ++seq);
  if (r.kind == KeyRecordKind::kMembership) ForgetMemberships();
  return st->Run();
}

absl::StatusOr<std::optional<crypto::DevicePublic>> KeyRing::Impl::Root(
    const std::string& province) {
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT device, sign_pk, box_pk FROM _fs_roots "
                                            "WHERE province = ?1"));
  st->BindText(1, province);
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  if (!r) return std::nullopt;
  crypto::DevicePublic p;
  p.device = IdOf(st->ColumnBlob(0));
  p.sign_pk = st->ColumnString(1);
  p.box_pk = st->ColumnString(2);
  return p;
}

absl::Status KeyRing::Impl::PinRoot(sqlite::Transaction&, const std::string& province,
                                    const crypto::DevicePublic& root, std::string_view how) {
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("INSERT OR IGNORE INTO _fs_roots(province, device, "
                                            "sign_pk, box_pk, how, at) VALUES (?1, ?2, ?3, "
                                            "?4, ?5, ?6)"));
  st->BindText(1, province);
  st->BindBlob(2, root.device.view());
  st->BindBlob(3, root.sign_pk);
  st->BindBlob(4, root.box_pk);
  st->BindText(5, how);
  st->BindInt(6, clock->NowMillis());
  ForgetMemberships();
  return st->Run();
}

absl::Status KeyRing::Impl::Alert(sqlite::Transaction&, const std::string& subject,
                                  const std::string& raw_text) {
  const std::string text = Printable(raw_text);
  const int64_t now = clock->NowMillis();
  // By subject; else by text (an alert stored before subjects were kept).
  FS_ASSIGN_OR_RETURN(auto find, db->Prepared("SELECT seq, text FROM _fs_trust_alerts WHERE "
                                              "subject = ?1 UNION ALL SELECT seq, text FROM "
                                              "_fs_trust_alerts WHERE text = ?2 AND subject IS "
                                              "NULL LIMIT 1"));
  find->BindText(1, subject);
  find->BindText(2, text);
  FS_ASSIGN_OR_RETURN(bool found, find->Step());
  if (!found) {
    FS_ASSIGN_OR_RETURN(auto ins, db->Prepared("INSERT OR IGNORE INTO _fs_trust_alerts(text, "
                                               "at, seq, subject, seen, last_at, acked_at) "
                                               "VALUES (?1, ?2, (SELECT coalesce(max(seq), 0) "
                                               "+ 1 FROM _fs_trust_alerts), ?3, 1, ?2, 0)"));
    ins->BindText(1, text);
    ins->BindInt(2, now);
    ins->BindText(3, subject);
    return ins->Run();
  }
  const int64_t seq = find->ColumnInt(0);
  const bool same = find->ColumnString(1) == text;
  find->Reset();
  FS_ASSIGN_OR_RETURN(auto up, db->Prepared(
                                   same ? "UPDATE _fs_trust_alerts SET seen = seen + 1, "
                                          "last_at = ?2, subject = ?3 WHERE seq = ?1"
                                        : "UPDATE OR IGNORE _fs_trust_alerts SET seen = seen "
                                          "+ 1, last_at = ?2, subject = ?3, text = ?4, "
                                          "acked_at = 0 WHERE seq = ?1"));
  up->BindInt(1, seq);
  up->BindInt(2, now);
  up->BindText(3, subject);
  if (!same) up->BindText(4, text);
  return up->Run();
}

absl::StatusOr<std::vector<KeyRecord>> KeyRing::Impl::Query(
    const std::string& where, const std::function<void(sqlite::Stmt*)>& bind) {
  // In seq order, sorted here: ORDER BY seq would make SQLite build a
  // temporary b-tree at every call (no index gives that order).
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared(absl::StrCat("SELECT seq, bytes FROM _fs_keys "
                                                         "WHERE ", where)));
  bind(st.get());
  std::vector<std::pair<int64_t, KeyRecord>> rows;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(KeyRecord k, crypto::ParseKeyRecord(st->ColumnBlob(1)));
    rows.emplace_back(st->ColumnInt(0), std::move(k));
  }
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<KeyRecord> out;
  out.reserve(rows.size());
  for (auto& row : rows) out.push_back(std::move(row.second));
  return out;
}

absl::StatusOr<std::vector<KeyRecord>> KeyRing::Impl::OfficeKeys(const std::string& province) {
  FS_ASSIGN_OR_RETURN(auto keys, Query(absl::StrCat("kind = ",
                                                    crypto::KindsSql({KeyRecordKind::kOfficeKey}),
                                                    " AND province = ?1"),
                                       [&](sqlite::Stmt* s) {
                        s->BindText(1, province);
                      }));
  std::sort(keys.begin(), keys.end(), [](const KeyRecord& a, const KeyRecord& b) {
    if (a.generation != b.generation) return a.generation > b.generation;
    return a.office_key_id < b.office_key_id;
  });
  return keys;
}

absl::StatusOr<std::vector<uint32_t>> KeyRing::Impl::Versions(const RowId& ring) {
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared(absl::StrCat(
                                   "SELECT DISTINCT version FROM _fs_keys WHERE keyring = ?1 "
                                   "AND kind IN (", crypto::KindsSql({KeyRecordKind::kDataKey,
                                   KeyRecordKind::kOfficeDataKey}), ")")));
  st->BindBlob(1, ring.view());
  std::vector<uint32_t> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    out.push_back(static_cast<uint32_t>(st->ColumnInt(0)));
  }
  return out;
}

absl::StatusOr<uint32_t> KeyRing::Impl::FreshVersion(const RowId& ring) {
  FS_ASSIGN_OR_RETURN(std::vector<uint32_t> used, Versions(ring));
  while (true) {
    const uint32_t v = randombytes_random();
    if (v != 0 && std::find(used.begin(), used.end(), v) == used.end()) return v;
  }
}

absl::StatusOr<bool> KeyRing::Impl::Erased(const RowId& ring) {
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT 1 FROM _fs_erased WHERE keyring = ?1"));
  st->BindBlob(1, ring.view());
  return st->Step();
}

absl::Status KeyRing::Impl::DestroyRing(sqlite::Transaction&, const KeyRecord& erasure) {
  FS_ASSIGN_OR_RETURN(auto del, db->Prepared(absl::StrCat(
                                    "DELETE FROM _fs_keys WHERE keyring = ?1 AND kind IN (",
                                    crypto::KindsSql({KeyRecordKind::kDataKey,
                                                      KeyRecordKind::kOfficeDataKey}), ")")));
  del->BindBlob(1, erasure.keyring.view());
  FS_RETURN_IF_ERROR(del->Run());
  FS_ASSIGN_OR_RETURN(auto ins, db->Prepared("INSERT OR IGNORE INTO _fs_erased(keyring, record) "
                                             "VALUES (?1, ?2)"));
  ins->BindBlob(1, erasure.keyring.view());
  ins->BindBlob(2, erasure.bytes);
  FS_RETURN_IF_ERROR(ins->Run());
  for (auto it = data_keys.begin(); it != data_keys.end();) {
    it = it->first.first == erasure.keyring ? data_keys.erase(it) : std::next(it);
  }
  for (auto it = trusted_keys.begin(); it != trusted_keys.end();) {
    it = std::get<0>(it->first) == erasure.keyring ? trusted_keys.erase(it) : std::next(it);
  }
  choice.erase(erasure.keyring);
  return absl::OkStatus();
}

absl::Status KeyRing::Impl::WriteCutOffs(sqlite::Transaction&,
                                         const std::map<DeviceId, std::string>& out) {
  for (const auto& [d, why] : out) {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("INSERT OR IGNORE INTO _fs_cutoffs(device, "
                                              "pull, why) VALUES (?1, ?2, ?3)"));
    st->BindBlob(1, d.view());
    st->BindInt(2, pulls);
    st->BindText(3, why);
    FS_RETURN_IF_ERROR(st->Run());
  }
  return LoadCutOffs();
}

absl::Status KeyRing::Impl::InWriteTxn(
    const std::function<absl::Status(sqlite::Transaction&)>& body) {
  // sqlite::InTransaction returns COMMIT's status (a failed COMMIT is
  // rolled back and reported, never taken for success).
  absl::Status s = sqlite::InTransaction(*db, sqlite::Transaction::Mode::kWrite, body);
  if (!s.ok()) {
    // Memberships computed inside the transaction may include what was
    // rolled back, and the pins with it.
    ForgetMemberships();
    return s;
  }
  return absl::OkStatus();
}

absl::Status KeyRing::SetRegistry(const std::vector<RegisteredDevice>& devices) {
  for (const RegisteredDevice& d : devices) FS_RETURN_IF_ERROR(crypto::CheckDevicePublic(d.keys));
  // The hub's list is merged into this laptop's own registry: a device's
  // keys are pinned the first time they are seen, a revocation seen once
  // stays, and a device the hub stops listing is kept. What the hub served
  // against that is reported, not taken.
  FS_RETURN_IF_ERROR(impl_->InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    for (const RegisteredDevice& d : devices) {
      RegisteredDevice keep = d;
      auto known = impl_->registry.find(d.keys.device);
      if (known != impl_->registry.end()) {
        const RegisteredDevice& was = known->second;
        if (was.keys.sign_pk != d.keys.sign_pk || was.keys.box_pk != d.keys.box_pk) {
          // This laptop's own keys: said so (process attack 80, MEDIUM 2).
          const bool self = d.keys.device == replica_->device_id();
          FS_RETURN_IF_ERROR(impl_->Alert(
              txn,
              absl::StrCat("keys:", d.keys.device.ToString()),
              absl::StrCat(
              self ? "the hub holds another key for this laptop: tell the hub administrator. It "
                     "lists this laptop, device "
                   : "the hub lists device ",
              d.keys.device.ToString(), " (", Printable(was.name),
              ") with other keys than this laptop first saw (fingerprint ",
              crypto::Fingerprint(was.keys), ", now ", crypto::Fingerprint(d.keys),
              "); the first keys are kept")));
          keep.keys = was.keys;
        }
        if (was.name != d.name) {
          // A name is set at enrolment and never changes: one the hub
          // changes could make an officer remove a colleague instead.
          FS_RETURN_IF_ERROR(impl_->Alert(
              txn,
              absl::StrCat("name:", d.keys.device.ToString()),
              absl::StrCat(
              "the hub lists device ", d.keys.device.ToString(), " as \"", Printable(d.name),
              "\", but this laptop first saw it as \"", Printable(was.name), "\"; the first "
              "name is kept")));
          keep.name = was.name;
        }
        if (was.province != d.province) {
          FS_RETURN_IF_ERROR(impl_->Alert(
              txn,
              absl::StrCat("office:", d.keys.device.ToString()),
              absl::StrCat(
              "the hub lists device ", d.keys.device.ToString(), " in office ",
              Printable(d.province), ", but this laptop first saw it in ", Printable(was.province),
              "; kept in ", Printable(was.province))));
          keep.province = was.province;
        }
        if (was.revoked() && !d.revoked()) {
          FS_RETURN_IF_ERROR(impl_->Alert(
              txn,
              absl::StrCat("unrevoked:", d.keys.device.ToString()),
              absl::StrCat(
              "the hub lists device ", d.keys.device.ToString(), " (", Printable(was.name),
              ") as not revoked, but this laptop saw its revocation; it stays revoked")));
        }
        if (was.revoked()) {
          keep.revoked_position = was.revoked_position;
          keep.revoked_at_millis = was.revoked_at_millis;
        }
      }
      FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared(
                                       "INSERT OR REPLACE INTO _fs_registry(device, province, "
                                       "name, sign_pk, box_pk, revoked_position, revoked_at) "
                                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
      st->BindBlob(1, keep.keys.device.view());
      st->BindText(2, keep.province);
      st->BindText(3, keep.name);
      st->BindBlob(4, keep.keys.sign_pk);
      st->BindBlob(5, keep.keys.box_pk);
      st->BindInt(6, keep.revoked_position);
      st->BindInt(7, keep.revoked_at_millis);
      FS_RETURN_IF_ERROR(st->Run());
    }
    // The digest of the list as the hub sent it, so that the hub resends
    // it only when its own changes.
    FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("INSERT OR REPLACE INTO _fs_trust(key, "
                                                     "value) VALUES ('registry_digest', ?1)"));
    st->BindText(1, fieldsync::RegistryDigest(devices));
    return st->Run();
  }));
  impl_->ForgetMemberships();
  return impl_->LoadRegistry();
}

std::vector<RegisteredDevice> KeyRing::Registry() const {
  std::vector<RegisteredDevice> out;
  for (const auto& [id, d] : impl_->registry) out.push_back(d);
  std::sort(out.begin(), out.end(), [](const RegisteredDevice& a, const RegisteredDevice& b) {
    return a.keys.device < b.keys.device;
  });
  return out;
}

std::string RegistryDigest(std::vector<RegisteredDevice> devices) {
  std::sort(devices.begin(), devices.end(),
            [](const RegisteredDevice& a, const RegisteredDevice& b) {
              return a.keys.device < b.keys.device;
            });
  std::string lines;
  for (const RegisteredDevice& d : devices) {
    absl::StrAppend(&lines, d.keys.device.ToString(), "|", d.province, "|", d.name, "|",
                    absl::BytesToHexString(AV(d.keys.sign_pk)), "|",
                    absl::BytesToHexString(AV(d.keys.box_pk)), "|", d.revoked_position, "|",
                    d.revoked_at_millis, "\n");
  }
  return absl::BytesToHexString(crypto::Blake2b256(lines));
}

std::string KeyRing::RegistryDigest() const {
  absl::StatusOr<sqlite::ScopedStmt> st =
      impl_->db->Prepared("SELECT value FROM _fs_trust WHERE key = 'registry_digest'");
  if (st.ok()) {
    absl::StatusOr<bool> r = (*st)->Step();
    if (r.ok() && *r) return (*st)->ColumnString(0);
  }
  return fieldsync::RegistryDigest(Registry());
}

const RegisteredDevice* KeyRing::FindDevice(const DeviceId& device) const {
  auto it = impl_->registry.find(device);
  return it == impl_->registry.end() ? nullptr : &it->second;
}

}  // namespace fieldsync
