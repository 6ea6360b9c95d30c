#include "store/keyring.h"

#include <sodium.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "change/referral_rules.h"
#include "crypto/commit_signature.h"
#include "crypto/envelope.h"
#include "crypto/membership.h"
#include "crypto/pairing_code.h"
#include "schema/relations.h"
#include "store/replica_internal.h"
#include "store/sqlite.h"

namespace fieldsync {

using crypto::KeyRecord;
using crypto::KeyRecordKind;
using crypto::OfficeKey;
using crypto::SecretBytes;

namespace {

constexpr const char* kTables[] = {
    "CREATE TABLE IF NOT EXISTS _fs_registry(device BLOB PRIMARY KEY, province TEXT NOT NULL, "
    "name TEXT NOT NULL, sign_pk BLOB NOT NULL, box_pk BLOB NOT NULL, "
    "revoked_position INTEGER NOT NULL, revoked_at INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS _fs_keys(id BLOB PRIMARY KEY, kind INTEGER NOT NULL, "
    "province TEXT, keyring BLOB, version INTEGER, office_key BLOB, recipient BLOB, "
    "generation INTEGER, signer BLOB NOT NULL, created INTEGER NOT NULL, bytes BLOB NOT NULL, "
    "pushed INTEGER NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS _fs_keys_ring ON _fs_keys(keyring, version)",
    "CREATE INDEX IF NOT EXISTS _fs_keys_office ON _fs_keys(kind, province, generation)",
    "CREATE INDEX IF NOT EXISTS _fs_keys_unpushed ON _fs_keys(pushed, seq)",
    "CREATE TABLE IF NOT EXISTS _fs_erased(keyring BLOB PRIMARY KEY, record BLOB NOT NULL) "
    "WITHOUT ROWID",
    // The first device of each office, pinned on this laptop (its own office's
    // when it made or first saw it; another office's on first sight).
    "CREATE TABLE IF NOT EXISTS _fs_roots(province TEXT PRIMARY KEY, device BLOB NOT NULL, "
    "sign_pk BLOB NOT NULL, box_pk BLOB NOT NULL, how TEXT NOT NULL, at INTEGER NOT NULL) "
    "WITHOUT ROWID",
    // What the hub served that this laptop did not take (changed keys for a
    // known device, a revocation undone, a second first device): reported,
    // one row a subject, until an officer acknowledges it. (subject, seen,
    // last_at, acked_at were added later: Open adds them to an older table.)
    "CREATE TABLE IF NOT EXISTS _fs_trust_alerts(text TEXT PRIMARY KEY, at INTEGER NOT NULL, "
    "seq INTEGER NOT NULL, subject TEXT, seen INTEGER NOT NULL DEFAULT 1, "
    "last_at INTEGER NOT NULL DEFAULT 0, acked_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
    // Why the hub refused records of this laptop's, set aside (pushed = 2).
    "CREATE TABLE IF NOT EXISTS _fs_key_refusals(id BLOB PRIMARY KEY, reason TEXT NOT NULL, "
    "at INTEGER NOT NULL, refusals INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS _fs_trust(key TEXT PRIMARY KEY, value TEXT NOT NULL) "
    "WITHOUT ROWID",
    // Referrals this laptop has seen declined, completed or deleted by a
    // signed write: final here for good, whatever is written or shown later.
    "CREATE TABLE IF NOT EXISTS _fs_referral_final(referral BLOB PRIMARY KEY) WITHOUT ROWID",
    // Devices removed from their office or revoked, and the number of the
    // pull (counted in _fs_trust 'pulls') after which this laptop takes
    // nothing more of theirs (KeyRing::EndPull).
    "CREATE TABLE IF NOT EXISTS _fs_cutoffs(device BLOB PRIMARY KEY, pull INTEGER NOT NULL, "
    "why TEXT NOT NULL) WITHOUT ROWID",
};

Id16 IdOf(std::string_view raw) {
  std::array<uint8_t, 16> b{};
  if (raw.size() == 16) std::copy(raw.begin(), raw.end(), b.begin());
  return Id16(b);
}

}  // namespace

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

class KeyRing::Impl {
 public:
  sqlite::Db* db = nullptr;
  // The wall clock of this laptop: HLCs of the records it signs, times of
  // refusals, alerts and pinned roots.
  ClockSource* clock = SystemClock::Get();
  absl::flat_hash_map<DeviceId, RegisteredDevice> registry;
  // Opened office keys by id; data keys by (key ring, version).
  absl::flat_hash_map<RowId, std::shared_ptr<OfficeKey>> office_keys;
  std::map<std::pair<RowId, uint32_t>, std::shared_ptr<SecretBytes>> data_keys;
  // Keys this laptop may seal under or grant, by (key ring, version, the
  // offices whose grants it stands behind): opened only through a record of
  // ranks 0 to 2 of DataKeys() (TrustedDataKey()).
  std::map<std::tuple<RowId, uint32_t, std::string>, std::shared_ptr<SecretBytes>> trusted_keys;
  // The version chosen for sealing a key ring in the commit being written.
  struct Choice {
    uint64_t hlc = 0;
    uint32_t version = 0;
    std::shared_ptr<SecretBytes> key;
  };
  absl::flat_hash_map<RowId, Choice> choice;
  int64_t seq = 0;
  // Memberships computed from the records held, by province; dropped when
  // membership records, roots or revocations change.
  std::map<std::string, std::shared_ptr<crypto::Membership>> memberships;
  // Pulls begun (persisted in _fs_trust), whether one is under way, and the
  // cut-offs of removed or revoked devices: (pull, why), from _fs_cutoffs.
  int64_t pulls = 0;
  bool pulls_known = false;  // false on a replica this code has not opened before
  bool in_pull = false;
  std::map<DeviceId, std::pair<int64_t, std::string>> cutoffs;

  // Why a record or commit of `device` arriving now is refused (it was
  // removed or revoked, and this laptop has completed a pull since the hub
  // held that), or nullptr. Outside a pull, anything arriving counts as
  // after the last one.
  const std::string* CutOff(const DeviceId& device) const {
    auto it = cutoffs.find(device);
    if (it == cutoffs.end()) return nullptr;
    const int64_t now = in_pull ? pulls : pulls + 1;
    return it->second.first < now ? &it->second.second : nullptr;
  }

  // Drops the memberships computed, and with them the office and data keys
  // opened (Office() and DataKey() chose each by who was a member then: a
  // signer removed since must not keep its record chosen).
  void ForgetMemberships() {
    memberships.clear();
    office_keys.clear();
    data_keys.clear();
    trusted_keys.clear();
  }

  void Wipe() {
    office_keys.clear();
    data_keys.clear();
    trusted_keys.clear();
    choice.clear();
  }

  absl::Status LoadRegistry() {
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

  // The pull count and the cut-offs as the file holds them.
  absl::Status LoadCutOffs() {
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

  // A record just made, or why it could not be (a key agent that could not
  // sign): stored, or that error.
  absl::Status Store(const absl::StatusOr<KeyRecord>& r, bool pushed) {
    if (!r.ok()) return r.status();
    return Store(*r, pushed);
  }
  absl::Status Store(const KeyRecord& r, bool pushed) {
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

  // The pinned first device of `province`, if any.
  absl::StatusOr<std::optional<crypto::DevicePublic>> Root(const std::string& province) {
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
  absl::Status PinRoot(const std::string& province, const crypto::DevicePublic& root,
                       std::string_view how) {
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
  // Reports what the hub served and this laptop did not take. `subject`
  // names what it is about ("name:DEVICE"): one alert a subject, counted
  // when served again; other words for it replace the text and show it
  // again, acknowledged or not. The text is stored printable: it carries
  // names and office codes the hub supplied.
  absl::Status Alert(const std::string& subject, const std::string& raw_text) {
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

  // The membership records of `province`.
  absl::StatusOr<std::vector<KeyRecord>> MembershipRecords(const std::string& province) {
    return Query(absl::StrCat("kind = ", crypto::KindsSql({KeyRecordKind::kMembership}),
                              " AND province = ?1"),
                 [&](sqlite::Stmt* s) { s->BindText(1, province); });
  }

  // The approvals `removed` signed for today's members of `office` (what a
  // removal of it must keep for them to stay), the one approving `me` first,
  // the others in the order they arrived here.
  absl::StatusOr<std::vector<KeyRecord>> KeptApprovals(const crypto::Membership& office,
                                                       const std::string& province,
                                                       const DeviceId& removed,
                                                       const DeviceId& me) {
    FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> links, MembershipRecords(province));
    std::vector<KeyRecord> kept;
    for (KeyRecord& l : links) {
      if (l.action == crypto::MembershipAction::kApprove && l.signer == removed &&
          office.IsMember(l.subject.device)) {
        kept.push_back(std::move(l));
      }
    }
    std::stable_partition(kept.begin(), kept.end(),
                          [&](const KeyRecord& l) { return l.subject.device == me; });
    return kept;
  }

  // Stores the removal of `subject` from `province`, signed by `me`, keeping
  // `kept` in that order: one record, or several when more than
  // crypto::kMaxKeptApprovals must be kept (their kept lists add up:
  // crypto/membership.h), the first ones in the first record. How many.
  absl::StatusOr<size_t> StoreRemoval(const crypto::DeviceIdentity& me, HybridClock& clock,
                                      const std::string& province,
                                      const crypto::DevicePublic& subject,
                                      const std::vector<KeyRecord>& kept) {
    size_t written = 0;
    size_t i = 0;
    do {
      std::vector<std::string> part;
      for (; i < kept.size() && part.size() < crypto::kMaxKeptApprovals; ++i) {
        part.push_back(kept[i].Id());
      }
      FS_RETURN_IF_ERROR(Store(crypto::MembershipRecord(me, clock.Now(), province,
                                                        crypto::MembershipAction::kRemove,
                                                        subject, std::move(part)),
                               false));
      ++written;
    } while (i < kept.size());
    return written;
  }

  // The first devices of `province` whose records this laptop holds, each
  // signed by itself: what a laptop waiting to join may confirm.
  absl::StatusOr<std::vector<crypto::DevicePublic>> CandidateRoots(const std::string& province) {
    FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> records, MembershipRecords(province));
    std::vector<crypto::DevicePublic> out;
    for (const KeyRecord* r : crypto::FirstDeviceRecords(records)) {
      const bool dup = std::any_of(out.begin(), out.end(), [&](const crypto::DevicePublic& d) {
        return d.device == r->subject.device && d.sign_pk == r->subject.sign_pk;
      });
      if (!dup) out.push_back(r->subject);
    }
    return out;
  }

  // The candidates a laptop of `province` waiting to join may confirm: the
  // first devices seen, less `self` and those revoked in this laptop's
  // registry (an office whose root was revoked and that started anew: the
  // old root is no candidate any more). If none remains, the revoked ones
  // whose chain still has a member: an office whose first laptop was lost
  // goes on with the laptops it approved, whose root that still is.
  absl::StatusOr<std::vector<crypto::DevicePublic>> ActiveCandidateRoots(
      const std::string& province, const DeviceId& self) {
    FS_ASSIGN_OR_RETURN(std::vector<crypto::DevicePublic> seen, CandidateRoots(province));
    seen.erase(std::remove_if(seen.begin(), seen.end(),
                              [&](const crypto::DevicePublic& d) { return d.device == self; }),
               seen.end());
    auto revoked = [&](const crypto::DevicePublic& d) {
      auto reg = registry.find(d.device);
      return reg != registry.end() && reg->second.revoked();
    };
    std::vector<crypto::DevicePublic> active;
    for (const crypto::DevicePublic& d : seen) {
      if (!revoked(d)) active.push_back(d);
    }
    if (!active.empty() || seen.empty()) return active;
    FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> records, MembershipRecords(province));
    std::set<DeviceId> gone;
    for (const auto& [id, d] : registry) {
      if (d.revoked()) gone.insert(id);
    }
    for (const crypto::DevicePublic& d : seen) {
      if (!crypto::ComputeMembership(d, records, gone).members.empty()) active.push_back(d);
    }
    return active;
  }

  // Who belongs to `province`, from its pinned root; null if none pinned.
  absl::StatusOr<std::shared_ptr<crypto::Membership>> MembershipOf(const std::string& province) {
    auto it = memberships.find(province);
    if (it != memberships.end()) return it->second;
    FS_ASSIGN_OR_RETURN(std::optional<crypto::DevicePublic> root, Root(province));
    std::shared_ptr<crypto::Membership> m;
    if (root) {
      FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> records, MembershipRecords(province));
      std::set<DeviceId> revoked;
      for (const auto& [id, d] : registry) {
        if (d.revoked()) revoked.insert(id);
      }
      m = std::make_shared<crypto::Membership>(
          crypto::ComputeMembership(*root, records, revoked));
    }
    memberships[province] = m;
    return m;
  }

  // Whether `signer` was ever approved in `province` (its past key records
  // open what was sealed under them), or is a member now (`now`: a key made
  // after a removal, back-dated or not, must not seal new data).
  absl::StatusOr<bool> Trusted(const std::string& province, const DeviceId& signer, bool now) {
    FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> m, MembershipOf(province));
    if (!m) return false;
    auto approved = m->approved.find(signer);
    if (approved == m->approved.end()) return false;
    // Its records were verified against the keys this laptop's registry
    // holds for it: they must be the keys it was approved with.
    if (!SameKeysAsRegistered(approved->second)) return false;
    if (m->IsMember(signer)) return true;
    return !now;
  }
  bool SameKeysAsRegistered(const crypto::DevicePublic& keys) const {
    auto it = registry.find(keys.device);
    return it != registry.end() && it->second.keys.sign_pk == keys.sign_pk &&
           it->second.keys.box_pk == keys.box_pk;
  }

  absl::StatusOr<std::vector<KeyRecord>> Query(const std::string& where,
                                               const std::function<void(sqlite::Stmt*)>& bind) {
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

  // Office key records of a province, newest generation first.
  absl::StatusOr<std::vector<KeyRecord>> OfficeKeys(const std::string& province) {
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
  // The office key `id`, opened from this device's share; nullptr if it
  // holds none.
  absl::StatusOr<std::shared_ptr<OfficeKey>> Office(const crypto::DeviceIdentity& me,
                                                    const RowId& id) {
    auto it = office_keys.find(id);
    if (it != office_keys.end()) return it->second;
    FS_ASSIGN_OR_RETURN(auto published,
                        Query(absl::StrCat("kind = ", crypto::KindsSql({KeyRecordKind::kOfficeKey}),
                                           " AND office_key = ?1"),
                              [&](sqlite::Stmt* s) { s->BindBlob(1, id.view()); }));
    // Only an office key made by this device or by a device approved in
    // the office's own chain, shared by one of them: a device the hub
    // registered in the office, unapproved, cannot hand it a key of its own.
    // A record of the same id by any other device (a forged duplicate) is
    // passed over, never allowed to hide the real one. One by this device
    // or a member now comes first: a device removed since (a stolen
    // laptop) may have copied the id of the generation made to exclude it,
    // with a key of its own, and a hub relay that copy first; the copy must
    // not become the key this laptop seals under.
    auto trusted = [&](const std::string& province, const DeviceId& signer,
                       bool now) -> absl::StatusOr<bool> {
      if (signer == me.device()) return true;
      return Trusted(province, signer, now);
    };
    std::optional<KeyRecord> pub;
    for (const bool now : {true, false}) {
      for (KeyRecord& k : published) {
        FS_ASSIGN_OR_RETURN(bool key_trusted, trusted(k.province, k.signer, now));
        if (key_trusted) {
          pub = std::move(k);
          break;
        }
      }
      if (pub) break;
    }
    if (!pub) return std::shared_ptr<OfficeKey>();
    FS_ASSIGN_OR_RETURN(auto shares,
                        Query(absl::StrCat("kind = ",
                                           crypto::KindsSql({KeyRecordKind::kOfficeShare}),
                                           " AND office_key = ?1 AND recipient = ?2"),
                              [&](sqlite::Stmt* s) {
                                s->BindBlob(1, id.view());
                                s->BindBlob(2, me.device().view());
                              }));
    for (const KeyRecord& share : shares) {
      FS_ASSIGN_OR_RETURN(bool share_trusted, trusted(pub->province, share.signer, false));
      if (!share_trusted) continue;
      absl::StatusOr<OfficeKey> k = crypto::OpenOfficeShare(me, share, *pub);
      if (!k.ok()) {
        // A bad share is skipped (another may open); a key agent that
        // could not be asked is an error of its own.
        const absl::StatusCode code = k.status().code();
        if (code == absl::StatusCode::kUnauthenticated ||
            code == absl::StatusCode::kPermissionDenied ||
            code == absl::StatusCode::kInvalidArgument) {
          continue;
        }
        return k.status();
      }
      auto held = std::make_shared<OfficeKey>(std::move(*k));
      office_keys[id] = held;
      return held;
    }
    return std::shared_ptr<OfficeKey>();
  }

  // The newest office key of `province` this device holds.
  absl::StatusOr<std::shared_ptr<OfficeKey>> CurrentOffice(const crypto::DeviceIdentity& me,
                                                           const std::string& province) {
    FS_ASSIGN_OR_RETURN(auto keys, OfficeKeys(province));
    for (const KeyRecord& k : keys) {
      if (k.signer != me.device()) {
        FS_ASSIGN_OR_RETURN(bool member, Trusted(province, k.signer, /*now=*/true));
        if (!member) continue;
      }
      FS_ASSIGN_OR_RETURN(std::shared_ptr<OfficeKey> held, Office(me, k.office_key_id));
      if (held) return held;
    }
    return std::shared_ptr<OfficeKey>();
  }

  // The newest office key of another office that a device of its approval
  // chain, a member now, published: the only one this laptop seals a grant
  // to. None if the office has no pinned first device or no such key.
  absl::StatusOr<std::optional<KeyRecord>> GrantTarget(const std::string& province) {
    FS_ASSIGN_OR_RETURN(auto keys, OfficeKeys(province));
    for (KeyRecord& k : keys) {
      FS_ASSIGN_OR_RETURN(bool member, Trusted(province, k.signer, /*now=*/true));
      if (member) return std::move(k);
    }
    return std::nullopt;
  }

  // Data key (keyring, version), opened through any record addressed to an
  // office key this device holds; nullptr if none. Records of that version
  // no device removed since can have made come first: a wrap under the
  // newest office key a member made (kind 5: only the office's members now
  // hold that key), then a grant by this device or by a current member of
  // its office (kind 3), then the others. A removed device (a stolen
  // laptop) knows the office's earlier keys and may wrap or grant a
  // version made since, with a key of its own, and a hub relay that first:
  // it must not become the key this laptop seals under.
  // For reading only: a key found this way may be anyone's.
  absl::StatusOr<std::shared_ptr<SecretBytes>> DataKey(const crypto::DeviceIdentity& me,
                                                       const RowId& ring, uint32_t version) {
    auto it = data_keys.find({ring, version});
    if (it != data_keys.end()) return it->second;
    FS_ASSIGN_OR_RETURN(std::vector<std::shared_ptr<SecretBytes>> keys,
                        DataKeys(me, ring, version, /*max_keys=*/1, nullptr));
    if (keys.empty()) return std::shared_ptr<SecretBytes>();
    data_keys[{ring, version}] = keys.front();
    return keys.front();
  }

  // Data key (ring, version) as this laptop may seal under it or grant it
  // on: opened only through a wrap under an office key of its own office
  // (kind 5: only members that held that key made it) or a grant signed by
  // this device or by a current member of one of `granters` (this office,
  // the office that owns the ring). A grant by anyone else (a third office's
  // laptop, a hub-invented office's first device) wraps a key its signer
  // knows: sealing under it would hand the signer what this office writes.
  // nullptr if no such record opens here.
  absl::StatusOr<std::shared_ptr<SecretBytes>> TrustedDataKey(
      const crypto::DeviceIdentity& me, const RowId& ring, uint32_t version,
      const std::set<std::string>& granters) {
    const auto cache_key = std::make_tuple(ring, version, absl::StrJoin(granters, ","));
    auto it = trusted_keys.find(cache_key);
    if (it != trusted_keys.end()) return it->second;
    FS_ASSIGN_OR_RETURN(std::vector<std::shared_ptr<SecretBytes>> keys,
                        DataKeys(me, ring, version, /*max_keys=*/1, &granters));
    if (keys.empty()) return std::shared_ptr<SecretBytes>();
    trusted_keys[cache_key] = keys.front();
    return keys.front();
  }

  // The keys the records of (ring, version) open to, in DataKey's order, at
  // most `max_keys`. More than one when someone wrapped a key of their own
  // for that version: a reader tries them in turn, the sealed value's
  // authentication telling the real one. With `granters`, only records
  // TrustedDataKey() accepts. Every record is tried: a cap would let 64
  // forged office wraps (unsigned, ranked first) hide the real grant for
  // good; the key that opens a value is kept (Read), so the cost of duds is
  // paid once per version.
  absl::StatusOr<std::vector<std::shared_ptr<SecretBytes>>> DataKeys(
      const crypto::DeviceIdentity& me, const RowId& ring, uint32_t version, size_t max_keys,
      const std::set<std::string>* granters) {
    std::vector<std::shared_ptr<SecretBytes>> out;
    FS_ASSIGN_OR_RETURN(auto wraps,
                        Query("keyring = ?1 AND version = ?2 AND kind IN (3, 5)",
                              [&](sqlite::Stmt* s) {
                                s->BindBlob(1, ring.view());
                                s->BindInt(2, version);
                              }));
    std::map<std::string, std::optional<RowId>> newest;  // by province
    // 0: under the newest office key; 1: a grant by this device or a
    // current member of a granting office (with `granters`: of one of those;
    // without, of any office, an order for reading only); 2: an office wrap
    // under an older key; 3: else, never with `granters`.
    auto rank = [&](const KeyRecord& w) -> absl::StatusOr<int> {
      if (w.kind == KeyRecordKind::kDataKey) {
        if (w.signer == me.device()) return 1;
        if (granters != nullptr) {
          for (const std::string& g : *granters) {
            FS_ASSIGN_OR_RETURN(bool member, Trusted(g, w.signer, /*now=*/true));
            if (member) return 1;
          }
          return 3;
        }
        auto reg = registry.find(w.signer);
        if (reg == registry.end()) return 3;
        FS_ASSIGN_OR_RETURN(bool member, Trusted(reg->second.province, w.signer, /*now=*/true));
        return member ? 1 : 3;
      }
      auto n = newest.find(w.province);
      if (n == newest.end()) {
        std::optional<RowId> id;
        FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> keys, OfficeKeys(w.province));
        for (const KeyRecord& k : keys) {
          bool trusted = k.signer == me.device();
          if (!trusted) {
            FS_ASSIGN_OR_RETURN(trusted, Trusted(w.province, k.signer, /*now=*/true));
          }
          if (trusted) {
            id = k.office_key_id;
            break;
          }
        }
        n = newest.emplace(w.province, id).first;
      }
      return n->second.has_value() && *n->second == w.office_key_id ? 0 : 2;
    };
    std::vector<int> ranks;
    for (const KeyRecord& w : wraps) {
      FS_ASSIGN_OR_RETURN(int r, rank(w));
      ranks.push_back(r);
    }
    for (const int pass : {0, 1, 2, 3}) {
      if (pass == 3 && granters != nullptr) break;
      for (size_t i = 0; i < wraps.size(); ++i) {
        const KeyRecord& w = wraps[i];
        if (ranks[i] != pass) continue;
        FS_ASSIGN_OR_RETURN(std::shared_ptr<OfficeKey> office, Office(me, w.office_key_id));
        if (!office) continue;
        absl::StatusOr<SecretBytes> k = crypto::OpenDataKey(*office, w);
        if (!k.ok()) continue;
        bool seen = false;
        for (const auto& o : out) seen |= o->view() == k->view();
        if (!seen) out.push_back(std::make_shared<SecretBytes>(std::move(*k)));
        if (out.size() >= max_keys) return out;
      }
    }
    return out;
  }

  // A new office key of `generation`, its public record, and its share for
  // this device; held at once.
  absl::StatusOr<std::shared_ptr<OfficeKey>> CreateOffice(const crypto::DeviceIdentity& me,
                                                          const std::string& province,
                                                          uint32_t generation, Hlc now) {
    OfficeKey k = crypto::NewOfficeKey(province, generation);
    FS_RETURN_IF_ERROR(Store(crypto::OfficeKeyRecord(me, now, k), false));
    FS_RETURN_IF_ERROR(Store(crypto::ShareOfficeKey(me, now, k, me.public_keys()), false));
    auto held = std::make_shared<OfficeKey>(std::move(k));
    office_keys[held->id] = held;
    return held;
  }

  // Versions of a key ring are random 32-bit numbers (two offices or
  // devices offline may each make a new version of one case: they must not
  // collide), ordered by when their records were made.
  absl::StatusOr<std::vector<uint32_t>> Versions(const RowId& ring) {
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
  absl::StatusOr<uint32_t> FreshVersion(const RowId& ring) {
    FS_ASSIGN_OR_RETURN(std::vector<uint32_t> used, Versions(ring));
    while (true) {
      const uint32_t v = randombytes_random();
      if (v != 0 && std::find(used.begin(), used.end(), v) == used.end()) return v;
    }
  }

  absl::StatusOr<bool> Erased(const RowId& ring) {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT 1 FROM _fs_erased WHERE keyring = ?1"));
    st->BindBlob(1, ring.view());
    return st->Step();
  }

  absl::Status DestroyRing(const KeyRecord& erasure) {
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

  absl::Status InTxn(const std::function<absl::Status()>& body) {
    absl::Status s = sqlite::InTransaction(*db, sqlite::Transaction::Mode::kWrite,
                                           [&](sqlite::Transaction&) { return body(); });
    if (!s.ok()) {
      // Memberships computed inside the transaction may include what was
      // rolled back, and the pins with it.
      ForgetMemberships();
      return s;
    }
    return absl::OkStatus();
  }

  // Text of a clear column of a replicated row, "" if absent.
  absl::StatusOr<std::string> ClearText(const std::string& table, const std::string& column,
                                        const RowId& row) {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared(absl::StrCat("SELECT \"", column, "\" FROM \"",
                                                           table, "\" WHERE id = ?1")));
    st->BindBlob(1, row.view());
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r || st->ColumnIsNull(0)) return std::string();
    return st->ColumnString(0);
  }

  // A referral whose case's keys may go to its receiving office, judged
  // from the signed authors of its fields (change/referral_rules.h), never
  // from its current values alone: created by a current member of the office
  // that owns the case (case_id, from_office and to_office all written then and
  // never since), accepted by a device of to_office in a write based on
  // that creation, never seen declined, completed or deleted here, and no
  // concurrent answer left open.
  struct Authorised {
    RowId referral;
    RowId case_id;
    std::optional<RowId> person;
    std::string to_office;
    std::string owner;  // the office that owns the case and referred it
  };
  absl::StatusOr<std::vector<Authorised>> AuthorisedReferrals(Replica& replica,
                                                               const RowId* only_ring) {
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
    auto version_of = [&](const Row& row, std::string_view column) {
      return row.versions[static_cast<size_t>(t->ColumnIndex(column))];
    };
    for (size_t i = 0; i < candidates.size(); ++i) {
      const Authorised& a = candidates[i];
      const auto& [owner, from_office] = offices[i];
      if (owner != from_office || a.to_office == owner) continue;
      FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica.Get("referrals", a.referral));
      if (!row) continue;
      const auto created = version_of(*row, "to_office");
      const auto case_v = version_of(*row, "case_id");
      const auto from_v = version_of(*row, "from_office");
      const auto status_v = version_of(*row, "status");
      if (!created || !case_v || !from_v || !status_v) continue;
      if (case_v->version != created->version || from_v->version != created->version) continue;
      // Made by a member of the owning office *now*: a referral made by a
      // device removed (or revoked) since grants nothing more, however it
      // was dated. A creation's HLC is its author's choice, so a stolen
      // laptop's referral made after the theft cannot be told from one made
      // before; both stop once the office removes it, and a current member
      // refers the case again if it should go on (docs/CRYPTO.md, "Referral
      // authority"). The receiving office's answer may come from a device
      // removed since: the grant goes only to that office's current key.
      FS_ASSIGN_OR_RETURN(bool by_owner, Trusted(owner, created->version.device, /*now=*/true));
      if (!by_owner) continue;
      FS_ASSIGN_OR_RETURN(bool by_receiver, Trusted(a.to_office, status_v->version.device, false));
      if (!by_receiver) continue;
      if (!status_v->base || *status_v->base != created->version) continue;
      candidates[i].owner = owner;
      FS_ASSIGN_OR_RETURN(std::vector<ConflictRecord> open,
                          replica.Conflicts(std::string("referrals"), a.referral));
      // An answer another laptop wrote concurrently leaves the referral
      // contested until it is resolved; the same answer written on two
      // laptops apart (both accepted it) does not: it is no disagreement,
      // and every replica judges it alike from the same conflict records.
      const Value& answer = row->values[static_cast<size_t>(t->ColumnIndex("status"))];
      bool contested = false;
      for (const ConflictRecord& k : open) contested |= k.column == "status" && k.value != answer;
      if (contested) continue;
      out.push_back(a);
    }
    return out;
  }

  // The referring and receiving offices of referral `ref` as its creation
  // wrote them: case_id, from_office and to_office (or to_organisation) in
  // one write by a device of from_office's approval chain, never rewritten
  // since (change/referral_rules.h). The receiver is "" for a referral to an
  // organisation. nullopt for a referral this replica does not hold (being
  // created); FAILED_PRECONDITION when its offices fail that test: a rewrite
  // the hub should have refused, which must not choose who reads a letter.
  struct LetterOffices {
    std::string from;
    std::string to;
  };
  absl::StatusOr<std::optional<LetterOffices>> OfficesOf(Replica& replica, const RowId& ref) {
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica.Get("referrals", ref));
    if (!row) return std::nullopt;
    const TableDef* t = replica.schema().FindTable("referrals");
    auto at = [&](std::string_view c) { return static_cast<size_t>(t->ColumnIndex(c)); };
    const std::optional<FieldVersion>& created = row->versions[at("from_office")];
    const Value& from = row->values[at("from_office")];
    const Value& to = row->values[at("to_office")];
    bool ok = row->live && created && from.kind() == Value::Kind::kText &&
              (to.is_null() || to.kind() == Value::Kind::kText);
    for (std::string_view c : {"case_id", "to_office", "to_organisation"}) {
      const std::optional<FieldVersion>& v = row->versions[at(c)];
      if (!ok) break;
      if (c == "case_id" ? !v || v->version != created->version
                         : v && v->version != created->version) {
        ok = false;
      }
    }
    if (ok) {
      FS_ASSIGN_OR_RETURN(ok, Trusted(from.str(), created->version.device, false));
    }
    if (!ok) {
      return absl::FailedPreconditionError(absl::StrCat(
          "referral ", ref.ToString(), " does not hold the offices its referring office wrote "
          "when it was made (a rewrite the hub should have refused, or a referral made by "
          "another office): its letter is neither sealed nor shared here; tell the hub "
          "administrator"));
    }
    return LetterOffices{from.str(), to.is_null() ? std::string() : to.str()};
  }

  // Offices a key ring is granted to beyond its owner: those of the
  // authorised referrals of its case (or of the cases of its person).
  absl::StatusOr<std::set<std::string>> ReferredOffices(Replica& replica, const RowId& ring) {
    FS_ASSIGN_OR_RETURN(std::vector<Authorised> refs, AuthorisedReferrals(replica, &ring));
    std::set<std::string> out;
    for (const Authorised& a : refs) out.insert(a.to_office);
    return out;
  }

  // Records the referrals `c` declined, completed or deleted: final here.
  absl::Status NoteFinal(const Commit& c) {
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
      }
    }
    return absl::OkStatus();
  }

  // Whether version `v` of a key ring may still seal new values: it is
  // wrapped for `mine`, every office it is wrapped for is still entitled to
  // it (a referral that ended, was deleted or re-addressed is not), and each
  // wrap is under its office's newest generation (no revoked device of any
  // of those offices holds the key it is under).
  absl::StatusOr<bool> Fresh(const RowId& ring, uint32_t v, const std::string& mine,
                             const std::set<std::string>& entitled, const DeviceId& me) {
    std::vector<std::pair<std::string, int64_t>> wraps;  // (office, generation or -1)
    {
      FS_ASSIGN_OR_RETURN(
          auto st, db->Prepared("SELECT k.province, o.generation FROM _fs_keys k LEFT JOIN "
                                "_fs_keys o ON o.kind = 1 AND o.office_key = k.office_key WHERE "
                                "k.keyring = ?1 AND k.version = ?2 AND k.kind IN (3, 5)"));
      st->BindBlob(1, ring.view());
      st->BindInt(2, v);
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        wraps.emplace_back(st->ColumnString(0), st->ColumnIsNull(1) ? -1 : st->ColumnInt(1));
      }
    }
    bool for_me = false;
    for (const auto& [office, generation] : wraps) {
      if (entitled.count(office) == 0 || generation < 0) return false;
      // The newest generation of that office made by a device of its own
      // chain (or this one): a key an unapproved device published, of any
      // generation, neither counts nor forces a new version at every write.
      int64_t newest = 0;
      FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> keys, OfficeKeys(office));
      for (const KeyRecord& k : keys) {
        bool trusted = k.signer == me;
        if (!trusted) {
          FS_ASSIGN_OR_RETURN(trusted, Trusted(office, k.signer, /*now=*/true));
        }
        if (trusted) {
          newest = k.generation;
          break;
        }
      }
      if (generation != newest) return false;
      for_me |= office == mine;
    }
    return for_me;
  }

};

KeyRing::KeyRing(Replica* replica, std::string province)
    : replica_(replica), province_(std::move(province)), impl_(std::make_unique<Impl>()) {}
KeyRing::~KeyRing() { Lock(); }
ClockSource& KeyRing::clock() const { return *impl_->clock; }

absl::StatusOr<std::unique_ptr<KeyRing>> KeyRing::Open(Replica* replica, std::string province,
                                                       ClockSource* clock) {
  crypto::EnsureSodium();
  if (province.empty()) {
    return absl::InvalidArgumentError("a key ring needs the node's province");
  }
  std::unique_ptr<KeyRing> k(new KeyRing(replica, std::move(province)));
  k->impl_->db = &ReplicaInternal::Db(*replica);
  if (clock != nullptr) k->impl_->clock = clock;
  // Deleted keys are overwritten in the file, not merely unlinked.
  FS_RETURN_IF_ERROR(k->impl_->db->Exec("PRAGMA secure_delete = ON"));
  FS_RETURN_IF_ERROR(k->impl_->InTxn([&]() -> absl::Status {
    for (const char* sql : kTables) FS_RETURN_IF_ERROR(k->impl_->db->Exec(sql));
    // _fs_trust_alerts of a replica made before alerts were acknowledged.
    FS_ASSIGN_OR_RETURN(auto cols, k->impl_->db->Prepared("SELECT 1 FROM "
                                                          "pragma_table_info('_fs_trust_alerts') "
                                                          "WHERE name = 'acked_at'"));
    FS_ASSIGN_OR_RETURN(bool current, cols->Step());
    cols->Reset();
    if (!current) {
      for (const char* sql :
           {"ALTER TABLE _fs_trust_alerts ADD COLUMN subject TEXT",
            "ALTER TABLE _fs_trust_alerts ADD COLUMN seen INTEGER NOT NULL DEFAULT 1",
            "ALTER TABLE _fs_trust_alerts ADD COLUMN last_at INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE _fs_trust_alerts ADD COLUMN acked_at INTEGER NOT NULL DEFAULT 0",
            "UPDATE _fs_trust_alerts SET last_at = at"}) {
        FS_RETURN_IF_ERROR(k->impl_->db->Exec(sql));
      }
    }
    return k->impl_->db->Exec("CREATE UNIQUE INDEX IF NOT EXISTS _fs_trust_alerts_subject ON "
                              "_fs_trust_alerts(subject)");
  }));
  FS_RETURN_IF_ERROR(k->impl_->LoadRegistry());
  if (!k->impl_->pulls_known) {
    // First opened by a build that counts pulls: the removals and
    // revocations already held were seen in earlier pulls.
    FS_ASSIGN_OR_RETURN(auto st, k->impl_->db->Prepared("INSERT OR REPLACE INTO _fs_trust(key, "
                                                        "value) VALUES ('pulls', '0')"));
    FS_RETURN_IF_ERROR(st->Run());
    k->impl_->pulls_known = true;
    FS_RETURN_IF_ERROR(k->EndPull());
  }
  return k;
}

absl::Status KeyRing::Unlock(crypto::DeviceIdentity identity) {
  if (identity.device() != replica_->device_id()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the keystore belongs to device ", identity.device().ToString(), " but this replica is "
        "device ", replica_->device_id().ToString(), "; use the keystore of this data directory"));
  }
  const RegisteredDevice* me = FindDevice(identity.device());
  if (me != nullptr && (me->keys.sign_pk != identity.public_keys().sign_pk ||
                        me->keys.box_pk != identity.public_keys().box_pk)) {
    return absl::FailedPreconditionError(
        "the keystore's keys are not the ones the hub registered for this device; the keystore "
        "was replaced: re-enrol this device");
  }
  Lock();
  identity_ = std::make_unique<crypto::DeviceIdentity>(std::move(identity));
  return absl::OkStatus();
}

void KeyRing::Lock() {
  impl_->Wipe();
  identity_.reset();
}

absl::Status KeyRing::SetRegistry(const std::vector<RegisteredDevice>& devices) {
  for (const RegisteredDevice& d : devices) FS_RETURN_IF_ERROR(crypto::CheckDevicePublic(d.keys));
  // The hub's list is merged into this laptop's own registry: a device's
  // keys are pinned the first time they are seen, a revocation seen once
  // stays, and a device the hub stops listing is kept. What the hub served
  // against that is reported, not taken.
  FS_RETURN_IF_ERROR(impl_->InTxn([&]() -> absl::Status {
    for (const RegisteredDevice& d : devices) {
      RegisteredDevice keep = d;
      auto known = impl_->registry.find(d.keys.device);
      if (known != impl_->registry.end()) {
        const RegisteredDevice& was = known->second;
        if (was.keys.sign_pk != d.keys.sign_pk || was.keys.box_pk != d.keys.box_pk) {
          FS_RETURN_IF_ERROR(impl_->Alert(
              absl::StrCat("keys:", d.keys.device.ToString()),
              absl::StrCat(
              "the hub lists device ", d.keys.device.ToString(), " (", Printable(was.name),
              ") with other keys than this laptop first saw (fingerprint ",
              crypto::Fingerprint(was.keys), ", now ", crypto::Fingerprint(d.keys),
              "); the first keys are kept")));
          keep.keys = was.keys;
        }
        if (was.name != d.name) {
          // A name is set at enrolment and never changes: one the hub
          // changes could make an officer remove a colleague instead.
          FS_RETURN_IF_ERROR(impl_->Alert(
              absl::StrCat("name:", d.keys.device.ToString()),
              absl::StrCat(
              "the hub lists device ", d.keys.device.ToString(), " as \"", Printable(d.name),
              "\", but this laptop first saw it as \"", Printable(was.name), "\"; the first "
              "name is kept")));
          keep.name = was.name;
        }
        if (was.province != d.province) {
          FS_RETURN_IF_ERROR(impl_->Alert(
              absl::StrCat("office:", d.keys.device.ToString()),
              absl::StrCat(
              "the hub lists device ", d.keys.device.ToString(), " in office ",
              Printable(d.province), ", but this laptop first saw it in ", Printable(was.province),
              "; kept in ", Printable(was.province))));
          keep.province = was.province;
        }
        if (was.revoked() && !d.revoked()) {
          FS_RETURN_IF_ERROR(impl_->Alert(
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
  crypto::EnsureSodium();
  std::sort(devices.begin(), devices.end(),
            [](const RegisteredDevice& a, const RegisteredDevice& b) {
              return a.keys.device < b.keys.device;
            });
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  for (const RegisteredDevice& d : devices) {
    std::string line = absl::StrCat(d.keys.device.ToString(), "|", d.province, "|", d.name, "|",
                                    absl::BytesToHexString(AV(d.keys.sign_pk)), "|",
                                    absl::BytesToHexString(AV(d.keys.box_pk)), "|",
                                    d.revoked_position, "|", d.revoked_at_millis, "\n");
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(line.data()),
                              line.size());
  }
  unsigned char h[32];
  crypto_generichash_final(&st, h, sizeof h);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(h), sizeof h));
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

absl::StatusOr<KeyRecordsReport> KeyRing::AddRecords(const std::vector<std::string>& records) {
  KeyRecordsReport report;
  auto refuse = [&](const std::string& why) {
    ++report.refused;
    if (report.first_refusal.empty()) report.first_refusal = why;
  };
  FS_RETURN_IF_ERROR(impl_->InTxn([&]() -> absl::Status {
    for (const std::string& bytes : records) {
      absl::StatusOr<KeyRecord> r = crypto::ParseKeyRecord(bytes);
      if (!r.ok()) {
        refuse(std::string(r.status().message()));
        continue;
      }
      const RegisteredDevice* signer = FindDevice(r->signer);
      if (signer == nullptr) {
        refuse(absl::StrCat(r->Describe(), ": its signer is not in the hub's registry"));
        continue;
      }
      // A device removed or revoked: nothing more of it once this laptop
      // completed a pull after the hub held that (never judged by the
      // record's own `created`, which its signer chooses). A grant to
      // another office is still taken: it only tells who holds which key
      // version, and knowing more of that never makes this laptop seal
      // under a key it should not.
      const bool bookkeeping =
          r->kind == KeyRecordKind::kDataKey && r->province != province_;
      if (const std::string* why = impl_->CutOff(r->signer);
          why != nullptr && r->signer != replica_->device_id() && !bookkeeping) {
        refuse(absl::StrCat(r->Describe(), ": its signer was ", *why, " before this record "
                            "arrived"));
        continue;
      }
      absl::Status v = crypto::VerifyKeyRecord(*r, signer->keys);
      if (!v.ok()) {
        refuse(std::string(v.message()));
        continue;
      }
      const bool office_bound = r->kind == KeyRecordKind::kOfficeKey ||
                                r->kind == KeyRecordKind::kOfficeShare ||
                                r->kind == KeyRecordKind::kOfficeDataKey ||
                                r->kind == KeyRecordKind::kMembership;
      if (office_bound && signer->province != r->province) {
        refuse(absl::StrCat(r->Describe(), ": signed by a device of office ", signer->province));
        continue;
      }
      if (r->kind == KeyRecordKind::kMembership &&
          r->action == crypto::MembershipAction::kFirstDevice) {
        // The first first device seen of an office is pinned; another is
        // stored (it proves what the hub relayed) but never trusted.
        FS_ASSIGN_OR_RETURN(std::optional<crypto::DevicePublic> root, impl_->Root(r->province));
        if (!root && r->province != province_) {
          // Another office's: pinned on first sight (what a grant to that
          // office is checked against). This laptop's own office's first
          // device is pinned only by an officer here (Join, ApproveFirst).
          FS_RETURN_IF_ERROR(impl_->PinRoot(r->province, r->subject, "first seen"));
        } else if (root && (root->device != r->subject.device ||
                            root->sign_pk != r->subject.sign_pk)) {
          FS_RETURN_IF_ERROR(impl_->Alert(
              absl::StrCat("first:", r->province, ":", r->subject.device.ToString()),
              absl::StrCat(
              "device ", r->subject.device.ToString(), " claims to be the first device of office ",
              Printable(r->province), ", whose first device here is ", root->device.ToString(),
              "; not trusted (if the office really started again, see docs/CRYPTO.md)")));
        }
      }
      if (r->kind == KeyRecordKind::kDataKey || r->kind == KeyRecordKind::kOfficeDataKey) {
        FS_ASSIGN_OR_RETURN(bool erased, impl_->Erased(r->keyring));
        if (erased) {
          refuse(absl::StrCat(r->Describe(), ": its key ring was erased"));
          continue;
        }
      }
      FS_ASSIGN_OR_RETURN(auto exists, impl_->db->Prepared("SELECT 1 FROM _fs_keys WHERE id = ?1"));
      exists->BindBlob(1, r->Id());
      FS_ASSIGN_OR_RETURN(bool dup, exists->Step());
      if (dup) {
        ++report.duplicates;
        continue;
      }
      FS_RETURN_IF_ERROR(impl_->Store(*r, /*pushed=*/true));
      if (r->kind == KeyRecordKind::kErasure) {
        FS_RETURN_IF_ERROR(impl_->DestroyRing(*r));
        ++report.erased;
      }
      ++report.added;
    }
    return absl::OkStatus();
  }));
  if (report.erased > 0) {
    impl_->db->Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError();
  }
  return report;
}

absl::Status KeyRing::BeginPull() {
  Impl& m = *impl_;
  // Counted in the file, and the cut-offs read again: another process of
  // this data directory (the daemon, a sync) may have pulled meanwhile.
  FS_RETURN_IF_ERROR(m.InTxn([&]() -> absl::Status {
    FS_RETURN_IF_ERROR(m.db->Exec("INSERT OR REPLACE INTO _fs_trust(key, value) SELECT 'pulls', "
                                  "CAST(coalesce((SELECT CAST(value AS INTEGER) FROM _fs_trust "
                                  "WHERE key = 'pulls'), 0) + 1 AS TEXT)"));
    return m.LoadCutOffs();
  }));
  m.in_pull = true;
  return absl::OkStatus();
}

void KeyRing::AbandonPull() { impl_->in_pull = false; }

absl::Status KeyRing::EndPull() {
  Impl& m = *impl_;
  m.in_pull = false;
  const DeviceId self = replica_->device_id();
  std::map<DeviceId, std::string> out;  // newly cut off, and why
  for (const auto& [id, d] : m.registry) {
    if (d.revoked() && id != self && m.cutoffs.count(id) == 0) {
      out[id] = "revoked by the hub administrator";
    }
  }
  // Removed by an office whose first device is pinned here, by a removal
  // the hub holds (relayed by it, or pushed and acknowledged): a removal
  // made here and not yet pushed waits, since the hub may still take the
  // device's work until it has it.
  std::vector<std::string> provinces;
  {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT province FROM _fs_roots"));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      provinces.push_back(st->ColumnString(0));
    }
  }
  for (const std::string& p : provinces) {
    FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office, m.MembershipOf(p));
    if (!office) continue;
    for (const DeviceId& d : office->removed) {
      if (d == self || m.cutoffs.count(d) > 0 || out.count(d) > 0) continue;
      FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> removals,
                          m.Query(absl::StrCat("kind = ",
                                               crypto::KindsSql({KeyRecordKind::kMembership}),
                                               " AND recipient = ?1 AND pushed = 1"),
                                  [&](sqlite::Stmt* s) { s->BindBlob(1, d.view()); }));
      for (const KeyRecord& r : removals) {
        if (r.action == crypto::MembershipAction::kRemove && r.province == p &&
            office->approved.count(r.signer) > 0) {
          out[d] = absl::StrCat("removed from office ", p, " by its office");
          break;
        }
      }
    }
  }
  if (out.empty()) return absl::OkStatus();
  return m.InTxn([&]() -> absl::Status {
    for (const auto& [d, why] : out) {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("INSERT OR IGNORE INTO _fs_cutoffs(device, "
                                                  "pull, why) VALUES (?1, ?2, ?3)"));
      st->BindBlob(1, d.view());
      st->BindInt(2, m.pulls);
      st->BindText(3, why);
      FS_RETURN_IF_ERROR(st->Run());
    }
    return m.LoadCutOffs();
  });
}

absl::StatusOr<std::vector<std::string>> KeyRing::UnpushedRecords(size_t limit) {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("SELECT bytes FROM _fs_keys WHERE pushed = 0 "
                                                   "ORDER BY seq LIMIT ?1"));
  st->BindInt(1, static_cast<int64_t>(limit));
  std::vector<std::string> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    out.push_back(st->ColumnString(0));
  }
  return out;
}

absl::Status KeyRing::MarkRefused(const std::vector<std::string>& records,
                                  std::string_view reason) {
  return impl_->InTxn([&]() -> absl::Status {
    for (const std::string& bytes : records) {
      FS_ASSIGN_OR_RETURN(KeyRecord r, crypto::ParseKeyRecord(bytes));
      FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("UPDATE _fs_keys SET pushed = 2 WHERE "
                                                       "id = ?1"));
      st->BindBlob(1, r.Id());
      FS_RETURN_IF_ERROR(st->Run());
      FS_ASSIGN_OR_RETURN(auto why, impl_->db->Prepared(
                                        "INSERT INTO _fs_key_refusals(id, reason, at, refusals) "
                                        "VALUES (?1, ?2, ?3, 1) ON CONFLICT(id) DO UPDATE SET "
                                        "reason = ?2, at = ?3, refusals = refusals + 1"));
      why->BindBlob(1, r.Id());
      why->BindText(2, Printable(reason));
      why->BindInt(3, impl_->clock->NowMillis());
      FS_RETURN_IF_ERROR(why->Run());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<size_t> KeyRing::ResendRefused(size_t limit, int64_t refused_before_millis) {
  Impl& m = *impl_;
  size_t n = 0;
  FS_RETURN_IF_ERROR(m.InTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office, m.MembershipOf(province_));
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(absl::StrCat(
                                     "SELECT k.id, k.kind, k.province, k.signer, k.recipient "
                                     "FROM _fs_keys k LEFT JOIN _fs_key_refusals r ON r.id = k.id "
                                     "WHERE k.pushed = 2 AND coalesce(r.at, 0) < ?1 ORDER BY "
                                     "k.kind = ", crypto::KindsSql({KeyRecordKind::kMembership}),
                                     " DESC, coalesce(r.at, 0), k.seq")));
    st->BindInt(1, refused_before_millis);
    std::vector<std::string> ids;
    while (ids.size() < limit) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      const auto kind = static_cast<KeyRecordKind>(st->ColumnInt(1));
      const bool office_bound = kind == KeyRecordKind::kOfficeKey ||
                                kind == KeyRecordKind::kOfficeShare ||
                                kind == KeyRecordKind::kOfficeDataKey ||
                                kind == KeyRecordKind::kMembership;
      if (IdOf(st->ColumnBlob(3)) != replica_->device_id()) continue;
      if (office_bound && st->ColumnString(2) != province_) continue;
      if (kind == KeyRecordKind::kOfficeShare &&
          !(office && office->IsMember(IdOf(st->ColumnBlob(4))))) {
        continue;
      }
      ids.push_back(st->ColumnString(0));
    }
    st->Reset();
    FS_ASSIGN_OR_RETURN(auto up, m.db->Prepared("UPDATE _fs_keys SET pushed = 0 WHERE id = ?1 "
                                                "AND pushed = 2"));
    for (const std::string& id : ids) {
      up->BindBlob(1, id);
      FS_RETURN_IF_ERROR(up->Run());
      n += static_cast<size_t>(m.db->Changes());
      up->Reset();
    }
    return absl::OkStatus();
  }));
  return n;
}

absl::StatusOr<std::vector<KeyRing::RefusedRecord>> KeyRing::RefusedRecords() {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared(
                                   "SELECT k.bytes, r.reason, r.at, r.refusals FROM _fs_keys k "
                                   "JOIN _fs_key_refusals r ON r.id = k.id WHERE k.pushed = 2 "
                                   "ORDER BY k.seq"));
  std::vector<RefusedRecord> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    absl::StatusOr<KeyRecord> rec = crypto::ParseKeyRecord(st->ColumnBlob(0));
    if (!rec.ok()) continue;
    out.push_back({*std::move(rec), st->ColumnString(1), st->ColumnInt(2), st->ColumnInt(3)});
  }
  return out;
}

absl::Status KeyRing::MarkPushed(const std::vector<std::string>& records) {
  return impl_->InTxn([&]() -> absl::Status {
    for (const std::string& bytes : records) {
      FS_ASSIGN_OR_RETURN(KeyRecord r, crypto::ParseKeyRecord(bytes));
      FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("UPDATE _fs_keys SET pushed = 1 WHERE "
                                                       "id = ?1"));
      st->BindBlob(1, r.Id());
      FS_RETURN_IF_ERROR(st->Run());
      FS_ASSIGN_OR_RETURN(auto why, impl_->db->Prepared("DELETE FROM _fs_key_refusals WHERE id "
                                                        "= ?1"));
      why->BindBlob(1, r.Id());
      FS_RETURN_IF_ERROR(why->Run());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::map<crypto::KeyRecordKind, int64_t>> KeyRing::CountRecords() {
  FS_ASSIGN_OR_RETURN(auto st,
                      impl_->db->Prepared("SELECT kind, count(*) FROM _fs_keys GROUP BY kind"));
  std::map<crypto::KeyRecordKind, int64_t> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    out[static_cast<KeyRecordKind>(st->ColumnInt(0))] = st->ColumnInt(1);
  }
  return out;
}

absl::StatusOr<MaintainReport> KeyRing::Maintain() {
  MaintainReport report;
  if (!unlocked()) {
    report.notes.push_back("keystore locked: office keys and grants not maintained");
    return report;
  }
  const crypto::DeviceIdentity& me = *identity_;
  Impl& m = *impl_;
  HybridClock clock(impl_->clock, tuning::kDefaultMaxClockSkewMillis);
  FS_RETURN_IF_ERROR(m.InTxn([&]() -> absl::Status {
    // Members come from the office's signed approval chain, never from the
    // hub's registry: a device the hub enrolled in the office is given
    // nothing until an officer approved it on a laptop of the office.
    FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office, m.MembershipOf(province_));
    if (!office) {
      report.notes.push_back(absl::StrCat(
          "this laptop does not know office ", province_, "'s first device yet: it shares and "
          "receives no office key. On the office's first laptop: fieldnode device approve "
          "--first --code CODE; on any other: fieldnode device list, then fieldnode device join "
          "--code CODE once a member approved it"));
    } else if (!office->IsMember(me.device())) {
      report.notes.push_back(
          "this laptop waits for approval by a laptop of its office: there, an officer runs "
          "\"fieldnode device approve DEVICE --code CODE\" with the code \"fieldnode device "
          "list\" shows here; until then it shares and receives no office key");
      office.reset();
    }
    auto has_share = [&](const RowId& office_key, const DeviceId& device) -> absl::StatusOr<bool> {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(absl::StrCat(
                                       "SELECT 1 FROM _fs_keys WHERE kind = ",
                                       crypto::KindsSql({KeyRecordKind::kOfficeShare}),
                                       " AND office_key = ?1 AND recipient = ?2")));
      st->BindBlob(1, office_key.view());
      st->BindBlob(2, device.view());
      return st->Step();
    };
    auto new_office_key = [&](uint32_t generation, const std::string& why) -> absl::Status {
      FS_RETURN_IF_ERROR(m.CreateOffice(me, province_, generation, clock.Now()).status());
      ++report.shares_created;
      ++report.office_keys_created;
      report.notes.push_back(absl::StrCat("created office key generation ", generation, " for ",
                                          province_, ": ", why));
      return absl::OkStatus();
    };
    if (office) {
      // A revocation seen here becomes the office's own signed removal, so
      // that no hub can undo it for the laptops that have not seen it; the
      // approvals the revoked device signed for today's members are kept
      // (in several records if more than a record holds).
      for (const DeviceId& revoked : office->revoked) {
        if (office->removed.count(revoked) > 0) continue;
        auto keys = office->approved.find(revoked);
        if (keys == office->approved.end()) continue;
        FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> kept,
                            m.KeptApprovals(*office, province_, revoked, me.device()));
        FS_ASSIGN_OR_RETURN(size_t records,
                            m.StoreRemoval(me, clock, province_, keys->second, kept));
        std::string who;
        for (const KeyRecord& k : kept) {
          absl::StrAppend(&who, who.empty() ? "" : ", ", k.subject.device.ToString());
        }
        report.notes.push_back(absl::StrCat(
            "recorded the removal of revoked device ", revoked.ToString(), " from office ",
            province_, kept.empty() ? "; it had approved no device still in the office"
                                    : absl::StrCat("; the approvals it signed for ", who,
                                                   " are kept, so they stay members"),
            records > 1 ? absl::StrCat(" (", records, " removal records)") : ""));
      }
      FS_ASSIGN_OR_RETURN(office, m.MembershipOf(province_));
      // Devices a share to which exposes an office key: removed or revoked
      // by the office's records or this laptop's registry, whether or not
      // the registry lists them (a laptop enrolled after a removal may never
      // have seen the removed device listed).
      std::set<DeviceId> gone(office->removed.begin(), office->removed.end());
      gone.insert(office->revoked.begin(), office->revoked.end());
      for (const auto& [id, d] : m.registry) {
        if (d.province == province_ && d.revoked()) gone.insert(id);
      }

      // The office's keys made by this laptop or a member now (a key an
      // unapproved or removed device published, of whatever generation,
      // does not count), newest generation first.
      std::vector<KeyRecord> keys;
      FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> all_keys, m.OfficeKeys(province_));
      for (KeyRecord& k : all_keys) {
        bool t = k.signer == me.device();
        if (!t) {
          FS_ASSIGN_OR_RETURN(t, m.Trusted(province_, k.signer, /*now=*/true));
        }
        if (t) keys.push_back(std::move(k));
      }
      const uint32_t newest = keys.empty() ? 0 : keys.front().generation;
      auto next_generation = [&](uint32_t g) -> absl::StatusOr<uint32_t> {
        if (g >= crypto::kMaxOfficeGeneration) {
          return absl::FailedPreconditionError(absl::StrCat(
              "office ", province_, " has used every office key generation; nothing was "
              "rotated (report this)"));
        }
        return g + 1;
      };
      FS_ASSIGN_OR_RETURN(std::shared_ptr<OfficeKey> current, m.CurrentOffice(me, province_));
      if (keys.empty()) {
        FS_RETURN_IF_ERROR(new_office_key(1, "the office had none"));
      } else if (!current) {
        // Another member made the office key but has not shared it with
        // this one yet: a key of the newest generation lets it work now.
        FS_RETURN_IF_ERROR(new_office_key(newest, "no key of the office has reached this device"));
      } else {
        // The key this laptop seals under, or one of its generation, shared
        // with a device since revoked or removed: a new generation, shared
        // only with the members.
        bool exposed = false;
        for (const KeyRecord& k : keys) {
          if (k.generation != current->generation) continue;
          for (const DeviceId& d : gone) {
            FS_ASSIGN_OR_RETURN(bool shared, has_share(k.office_key_id, d));
            exposed |= shared;
          }
        }
        if (exposed) {
          FS_ASSIGN_OR_RETURN(uint32_t g, next_generation(std::max(newest, current->generation)));
          FS_RETURN_IF_ERROR(new_office_key(g, "a device of the office was revoked or removed"));
        }
      }
      // Every office key held goes to every member that lacks it, sealed
      // to the keys the member was approved with.
      FS_ASSIGN_OR_RETURN(all_keys, m.OfficeKeys(province_));
      for (const KeyRecord& k : all_keys) {
        FS_ASSIGN_OR_RETURN(std::shared_ptr<OfficeKey> held, m.Office(me, k.office_key_id));
        if (!held) continue;
        for (const auto& [id, member] : office->members) {
          FS_ASSIGN_OR_RETURN(bool shared, has_share(k.office_key_id, id));
          if (shared) continue;
          FS_RETURN_IF_ERROR(m.Store(crypto::ShareOfficeKey(me, clock.Now(), *held, member), false));
          ++report.shares_created;
        }
      }
    }
    // Grants: every version held of a referred case's key ring (and of its
    // person's) goes to each office it is referred to, once that office has
    // an office key.
    // Only referrals authorised by the signed authors of their fields.
    FS_ASSIGN_OR_RETURN(std::vector<Impl::Authorised> refs,
                        m.AuthorisedReferrals(*replica_, nullptr));
    std::set<std::pair<RowId, std::string>> wanted_set;
    // The offices whose grants of a ring this laptop stands behind: its own,
    // and the office that owns the case (it granted, on its laptops).
    std::map<RowId, std::set<std::string>> granting;
    for (const Impl::Authorised& a : refs) {
      if (a.to_office == province_) continue;
      wanted_set.emplace(a.case_id, a.to_office);
      granting[a.case_id].insert(a.owner);
      if (a.person) {
        wanted_set.emplace(*a.person, a.to_office);
        granting[*a.person].insert(a.owner);
      }
    }
    // A referral's letter (its own key ring) goes to the receiving office
    // as soon as this office made the referral (change/referral_rules.h).
    {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(
                                       "SELECT id, to_office FROM referrals WHERE _live = 1 AND "
                                       "from_office = ?1 AND to_office IS NOT NULL AND "
                                       "to_office != ?1"));
      st->BindText(1, province_);
      std::vector<std::pair<RowId, std::string>> letters;
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        letters.emplace_back(IdOf(st->ColumnBlob(0)), st->ColumnString(1));
      }
      for (const auto& [ref, to] : letters) {
        // Made by a member of this office, with these offices, never
        // rewritten since; anything else goes nowhere.
        absl::StatusOr<std::optional<Impl::LetterOffices>> made = m.OfficesOf(*replica_, ref);
        if (!made.ok()) {
          if (made.status().code() != absl::StatusCode::kFailedPrecondition) return made.status();
          continue;
        }
        if (*made && (*made)->from == province_ && (*made)->to == to) wanted_set.emplace(ref, to);
      }
    }
    std::vector<std::pair<RowId, std::string>> wanted(wanted_set.begin(), wanted_set.end());
    for (const auto& [wanted_ring, to] : wanted) {
      const RowId ring = wanted_ring;  // captured below (a structured binding cannot be)
      std::set<std::string> granters = {province_};
      if (auto g = granting.find(ring); g != granting.end()) {
        granters.insert(g->second.begin(), g->second.end());
      }
      // Only to an office key published by a member of that office's own
      // approval chain: a reader the administrator enrolled gets nothing.
      FS_ASSIGN_OR_RETURN(std::optional<KeyRecord> target_key, m.GrantTarget(to));
      if (!target_key) continue;  // no approved device of that office yet: later
      const KeyRecord& target = *target_key;
      const std::string& office = to;
      FS_ASSIGN_OR_RETURN(std::vector<uint32_t> versions, m.Versions(ring));
      for (uint32_t v : versions) {
        // Granted already only by a record this laptop stands behind: a
        // grant (kind 3, signed) made by itself, a current member of its
        // office or of the office that owns the case, under the receiving
        // office's key. Another office's own wrap (kind 5) is unsigned: its
        // signer is only a claim, so a hub could plant one to stop the
        // grant; it does not count (granting again costs one wrap). Anyone else's record (a third office's laptop, a laptop
        // this office removed, a hub's plant) may wrap a key of its own: it
        // must not stop the real grant.
        FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> existing,
                            m.Query("keyring = ?1 AND version = ?2 AND province = ?3 AND "
                                    "kind IN (3, 5)",
                                    [&](sqlite::Stmt* st) {
                                      st->BindBlob(1, ring.view());
                                      st->BindInt(2, v);
                                      st->BindText(3, office);
                                    }));
        bool granted = false;
        for (const KeyRecord& w : existing) {
          bool ours = w.signer == me.device();
          if (!ours && w.kind == KeyRecordKind::kDataKey &&
              w.office_key_id == target.office_key_id) {
            for (const std::string& granter : granters) {
              if (ours) break;
              FS_ASSIGN_OR_RETURN(ours, m.Trusted(granter, w.signer, /*now=*/true));
            }
          }
          if (ours) {
            granted = true;
            break;
          }
        }
        if (granted) continue;
        // The key as this office stands behind it: a record by another
        // office's laptop may wrap a key of its signer's for this version,
        // and granting that on would hand the receiving office a key its
        // signer reads.
        FS_ASSIGN_OR_RETURN(std::shared_ptr<SecretBytes> dek,
                            m.TrustedDataKey(me, ring, v, granters));
        if (!dek) continue;
        FS_RETURN_IF_ERROR(m.Store(crypto::WrapDataKey(me, clock.Now(), ring, v, *dek, target,
                                                       crypto::DataKeyPurpose::kReferral),
                                   false));
        ++report.grants_created;
      }
    }
    return absl::OkStatus();
  }));
  if (report.grants_created > 0) {
    report.notes.push_back(absl::StrCat("granted ", report.grants_created,
                                        " case key versions to offices cases were referred to"));
  }
  return report;
}

// ---------------------------------------------------------------------------
// Office membership

absl::StatusOr<KeyRing::OfficeView> KeyRing::Office() {
  Impl& m = *impl_;
  OfficeView v;
  const DeviceId self = replica_->device_id();
  crypto::DevicePublic mine{self, "", ""};
  if (identity_) {
    mine = identity_->public_keys();
  } else if (const RegisteredDevice* d = FindDevice(self); d != nullptr) {
    mine = d->keys;
  }
  FS_ASSIGN_OR_RETURN(v.root, m.Root(province_));
  const bool have_keys = mine.sign_pk.size() == 32;
  if (!v.root) {
    FS_ASSIGN_OR_RETURN(std::vector<crypto::DevicePublic> seen,
                        m.ActiveCandidateRoots(province_, self));
    for (const crypto::DevicePublic& d : seen) {
      const RegisteredDevice* reg = FindDevice(d.device);
      v.first_devices_seen.push_back(
          {d, reg != nullptr ? reg->name : "", have_keys ? crypto::PairingCode(d, mine) : ""});
    }
    if (seen.size() == 1) v.first_device_seen = seen.front();
  }
  FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office, m.MembershipOf(province_));
  if (have_keys && v.first_devices_seen.size() <= 1) {
    const crypto::DevicePublic& against = v.root               ? *v.root
                                          : v.first_device_seen ? *v.first_device_seen
                                                                : mine;
    v.my_code = crypto::PairingCode(against, mine);
  }
  if (office) {
    v.member = office->IsMember(self);
    v.removed = office->removed.count(self) > 0 || office->revoked.count(self) > 0;
    v.problems = office->problems;
  }
  // Membership records of this laptop's the hub refused, by subject.
  std::map<DeviceId, std::string> refused;
  {
    FS_ASSIGN_OR_RETURN(std::vector<RefusedRecord> aside, RefusedRecords());
    for (const RefusedRecord& r : aside) {
      if (r.record.kind != KeyRecordKind::kMembership || r.record.signer != self) continue;
      refused[r.record.subject.device] =
          absl::StrCat("the hub refused this laptop's ",
                       AV(crypto::MembershipActionName(r.record.action)), " of it (", r.reason,
                       ")");
    }
  }
  for (const RegisteredDevice& d : Registry()) {
    if (d.province != province_) continue;
    OfficeDevice od;
    if (auto it = refused.find(d.keys.device); it != refused.end()) od.refused = it->second;
    od.device = d;
    od.me = d.keys.device == self;
    od.first = v.root && v.root->device == d.keys.device;
    if (office) {
      auto by = office->approved_by.find(d.keys.device);
      if (by != office->approved_by.end()) od.approved_by = by->second;
      if (office->IsMember(d.keys.device)) {
        od.state = OfficeDevice::State::kMember;
      } else if (office->removed.count(d.keys.device) > 0) {
        od.state = OfficeDevice::State::kRemoved;
      } else if (office->revoked.count(d.keys.device) > 0) {
        od.state = OfficeDevice::State::kRevoked;
      }
    }
    if (od.state == OfficeDevice::State::kPending && d.revoked()) {
      od.state = OfficeDevice::State::kRevoked;
    }
    if (v.root && !od.first && !od.me && od.state != OfficeDevice::State::kRemoved &&
        od.state != OfficeDevice::State::kRevoked) {
      od.code = crypto::PairingCode(*v.root, d.keys);
    }
    v.devices.push_back(std::move(od));
  }
  return v;
}

absl::Status KeyRing::Join(std::string_view code, std::optional<DeviceId> first_device) {
  if (!identity_) {
    return absl::FailedPreconditionError(
        "joining needs the keystore unlocked (the code is computed from this laptop's own keys)");
  }
  Impl& m = *impl_;
  const crypto::DevicePublic me = identity_->public_keys();
  FS_RETURN_IF_ERROR(crypto::ParsePairingCode(code).status());
  FS_ASSIGN_OR_RETURN(std::optional<crypto::DevicePublic> root, m.Root(province_));
  if (root) {
    if (first_device && *first_device != root->device) {
      return absl::FailedPreconditionError(absl::StrCat(
          "this laptop already trusts ", root->device.ToString(), " as the first device of "
          "office ", province_, ", not ", first_device->ToString(), "; nothing was changed"));
    }
    FS_ASSIGN_OR_RETURN(bool same, crypto::PairingCodeMatches(code, *root, me));
    if (same) return absl::OkStatus();  // joined already
    return absl::PermissionDeniedError(absl::StrCat(
        "wrong code: this laptop already trusts ", root->device.ToString(),
        " as the first device of office ", province_, ", and the code does not match it; "
        "nothing was changed"));
  }
  FS_ASSIGN_OR_RETURN(std::vector<crypto::DevicePublic> seen,
                      m.ActiveCandidateRoots(province_, me.device));
  if (seen.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this laptop has seen no first device of office ", province_, " yet: sync, then try "
        "again (if this is the office's first laptop, use device approve --first); nothing was "
        "changed"));
  }
  if (first_device) {
    seen.erase(std::remove_if(seen.begin(), seen.end(),
                              [&](const crypto::DevicePublic& d) {
                                return d.device != *first_device;
                              }),
               seen.end());
    if (seen.empty()) {
      return absl::NotFoundError(absl::StrCat(
          first_device->ToString(), " is not a first device of office ", province_, " this "
          "laptop has seen (fieldnode device list shows those it has); nothing was changed"));
    }
  } else if (seen.size() > 1) {
    // Two roots for one office: one of them is not the office's (an
    // administrator's laptop, or a hub's forgery). The code alone would
    // pick the right one, but the officer must see that there are two.
    std::string which;
    for (const crypto::DevicePublic& d : seen) {
      const RegisteredDevice* reg = FindDevice(d.device);
      absl::StrAppend(&which, which.empty() ? "" : ", ", d.device.ToString(), " (",
                      reg != nullptr ? Printable(reg->name) : std::string("not in the registry"),
                      ")");
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "office ", province_, " has ", seen.size(), " first devices as this laptop sees it: ",
        which, "; only one is your office's. Read the first device on the approving laptop's "
        "\"fieldnode device list\", run \"fieldnode device join --first-device ID --code "
        "CODE\" with it, and tell the hub administrator about the other (fieldhub node revoke); "
        "nothing was changed"));
  }
  for (const crypto::DevicePublic& candidate : seen) {
    FS_ASSIGN_OR_RETURN(bool ok, crypto::PairingCodeMatches(code, candidate, me));
    if (!ok) continue;
    return m.InTxn([&]() { return m.PinRoot(province_, candidate, "confirmed by an officer"); });
  }
  return absl::PermissionDeniedError(
      "wrong code: it is not the code a laptop of the office shows for this one. Read it again "
      "from the approving laptop's \"fieldnode device list\"; if it still differs, the hub shows "
      "one of the two laptops another office: do not go on. Nothing was changed");
}

absl::Status KeyRing::ApproveFirst(std::string_view code) {
  if (!identity_) {
    return absl::FailedPreconditionError(
        "approving needs the keystore unlocked (the approval is signed by this laptop)");
  }
  Impl& m = *impl_;
  const crypto::DevicePublic me = identity_->public_keys();
  FS_ASSIGN_OR_RETURN(std::optional<crypto::DevicePublic> root, m.Root(province_));
  if (root && root->device == me.device) return absl::OkStatus();  // done already
  {
    FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office, m.MembershipOf(province_));
    if (office && office->IsMember(me.device)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "this laptop is a member of office ", province_, " already; it cannot start the "
          "office anew. Nothing was changed"));
    }
  }
  // Any other first device this laptop knows of, pinned or seen: the office
  // has one already. One since revoked (the administrator had enrolled a
  // laptop of their own first, say) does not leave this laptop stuck: it
  // may start the office anew; laptops that pinned the old one keep it.
  std::vector<crypto::DevicePublic> others;
  if (root) others.push_back(*root);
  FS_ASSIGN_OR_RETURN(std::vector<crypto::DevicePublic> seen, m.CandidateRoots(province_));
  for (const crypto::DevicePublic& d : seen) {
    if (d.device != me.device && !(root && root->device == d.device)) others.push_back(d);
  }
  std::vector<crypto::DevicePublic> active;
  for (const crypto::DevicePublic& d : others) {
    const RegisteredDevice* reg = FindDevice(d.device);
    if (reg == nullptr || !reg->revoked()) active.push_back(d);
  }
  if (!active.empty()) {
    const crypto::DevicePublic& first = active.front();
    const RegisteredDevice* reg = FindDevice(first.device);
    return absl::FailedPreconditionError(absl::StrCat(
        "office ", province_, " already has a first device: ", first.device.ToString(), " (",
        reg != nullptr ? Printable(reg->name) : std::string("not in the registry"),
        ", fingerprint ", crypto::Fingerprint(first),
        "); ask an officer at one of the office's laptops to approve this one, then run "
        "\"fieldnode device join\". If that device is not one of your office's laptops, tell "
        "the hub administrator: nothing was changed"));
  }
  const bool restart = !others.empty();
  const RegisteredDevice* registered = FindDevice(me.device);
  if (registered == nullptr) {
    return absl::FailedPreconditionError(
        "this laptop is not in the hub's registry yet: sync first (fieldnode sync), then "
        "approve; nothing was changed");
  }
  FS_ASSIGN_OR_RETURN(bool matches, crypto::PairingCodeMatches(code, me, me));
  if (!matches) {
    return absl::PermissionDeniedError(
        "wrong code: it is not this laptop's code as the hub registered it. Ask the hub "
        "administrator to read this device's code from \"fieldhub node list\" again; if it "
        "still differs, the hub holds other keys for this laptop: do not go on. Nothing was "
        "changed");
  }
  HybridClock clock(impl_->clock, tuning::kDefaultMaxClockSkewMillis);
  return m.InTxn([&]() -> absl::Status {
    if (restart) {
      FS_RETURN_IF_ERROR(m.Alert(
          absl::StrCat("restart:", province_, ":", me.device.ToString()),
          absl::StrCat(
          "every first device of office ", province_, " this laptop knew of was revoked; this "
          "laptop became the office's first device instead")));
      FS_ASSIGN_OR_RETURN(auto del, m.db->Prepared("DELETE FROM _fs_roots WHERE province = ?1"));
      del->BindText(1, province_);
      FS_RETURN_IF_ERROR(del->Run());
    }
    FS_RETURN_IF_ERROR(m.Store(crypto::MembershipRecord(*identity_, clock.Now(), province_,
                                                        crypto::MembershipAction::kFirstDevice,
                                                        me),
                               false));
    return m.PinRoot(province_, me, "this laptop");
  });
}

absl::StatusOr<std::shared_ptr<crypto::Membership>> KeyRing::SigningMember(
    std::string_view doing, std::string_view act) {
  if (!identity_) {
    return absl::FailedPreconditionError(absl::StrCat(
        AV(doing), " needs the keystore unlocked (it is signed by this laptop)"));
  }
  FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office, impl_->MembershipOf(province_));
  if (!office || !office->IsMember(identity_->device())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this laptop is not an approved member of office ", province_, ", so it cannot ",
        AV(act), office ? "" : " (its office's first device is not confirmed here)",
        "; nothing was changed"));
  }
  return office;
}

absl::Status KeyRing::Approve(const DeviceId& device, std::string_view code) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office,
                      SigningMember("approving", "approve others"));
  const RegisteredDevice* d = FindDevice(device);
  if (d == nullptr || d->province != province_) {
    return absl::NotFoundError(absl::StrCat(
        "device ", device.ToString(), " is not a device of office ", province_,
        " in this laptop's registry (sync, then look at \"fieldnode device list\"); nothing was "
        "changed"));
  }
  if (d->revoked() || office->removed.count(device) > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device ", device.ToString(), " was revoked or removed and cannot be approved again; "
        "enrol the laptop anew with a new data directory; nothing was changed"));
  }
  if (office->IsMember(device)) return absl::OkStatus();
  FS_ASSIGN_OR_RETURN(bool matches, crypto::PairingCodeMatches(code, office->root, d->keys));
  if (!matches) {
    return absl::PermissionDeniedError(absl::StrCat(
        "wrong code for device ", device.ToString(), " (", Printable(d->name),
        "): it does not match the code this laptop computes. Read the code again from the new "
        "laptop's screen (\"fieldnode device list\" there); if it still differs, the hub shows "
        "one of the two laptops other keys: do not approve. Nothing was changed"));
  }
  HybridClock clock(impl_->clock, tuning::kDefaultMaxClockSkewMillis);
  return m.InTxn([&]() -> absl::Status {
    return m.Store(crypto::MembershipRecord(*identity_, clock.Now(), province_,
                                            crypto::MembershipAction::kApprove, d->keys),
                   false);
  });
}

absl::StatusOr<KeyRing::Removal> KeyRing::Remove(const DeviceId& device) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office,
                      SigningMember("removing", "remove devices"));
  if (device == identity_->device()) {
    return absl::InvalidArgumentError(
        "a laptop cannot remove itself: remove it from another laptop of the office; nothing "
        "was changed");
  }
  Removal out;
  if (office->removed.count(device) > 0) {
    out.done_already = true;
    return out;
  }
  const RegisteredDevice* d = FindDevice(device);
  crypto::DevicePublic keys;
  if (auto it = office->approved.find(device); it != office->approved.end()) {
    keys = it->second;
  } else if (d != nullptr && d->province == province_) {
    keys = d->keys;
  } else {
    return absl::NotFoundError(absl::StrCat("device ", device.ToString(), " is not a device of "
                                            "office ", province_, "; nothing was changed"));
  }
  FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> kept,
                      m.KeptApprovals(*office, province_, device, identity_->device()));
  for (const KeyRecord& k : kept) out.kept.push_back(k.subject.device);
  HybridClock clock(impl_->clock, tuning::kDefaultMaxClockSkewMillis);
  FS_RETURN_IF_ERROR(m.InTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(out.records, m.StoreRemoval(*identity_, clock, province_, keys, kept));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<bool> KeyRing::IsMember(const std::string& province, const DeviceId& device) {
  return impl_->Trusted(province, device, /*now=*/true);
}

absl::StatusOr<std::vector<KeyRing::TrustAlert>> KeyRing::Alerts(bool acknowledged) {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("SELECT seq, text, at, last_at, seen, acked_at "
                                                   "FROM _fs_trust_alerts WHERE ?1 OR acked_at "
                                                   "= 0 ORDER BY seq"));
  st->BindInt(1, acknowledged ? 1 : 0);
  std::vector<TrustAlert> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    TrustAlert a;
    a.id = st->ColumnInt(0);
    a.text = st->ColumnString(1);
    a.first_at_millis = st->ColumnInt(2);
    a.last_at_millis = st->ColumnInt(3);
    a.seen = st->ColumnInt(4);
    a.acknowledged_at_millis = st->ColumnInt(5);
    out.push_back(std::move(a));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> KeyRing::TrustAlerts() {
  FS_ASSIGN_OR_RETURN(std::vector<TrustAlert> alerts, Alerts(/*acknowledged=*/false));
  std::vector<std::string> out;
  for (TrustAlert& a : alerts) out.push_back(std::move(a.text));
  return out;
}

absl::StatusOr<size_t> KeyRing::AcknowledgeAlerts(std::optional<int64_t> id) {
  Impl& m = *impl_;
  size_t n = 0;
  FS_RETURN_IF_ERROR(m.InTxn([&]() -> absl::Status {
    if (id) {
      FS_ASSIGN_OR_RETURN(auto known, m.db->Prepared("SELECT 1 FROM _fs_trust_alerts WHERE seq "
                                                     "= ?1"));
      known->BindInt(1, *id);
      FS_ASSIGN_OR_RETURN(bool found, known->Step());
      if (!found) {
        return absl::NotFoundError(absl::StrCat(
            "there is no alert ", *id, " (fieldnode device alerts --all lists them with their "
            "numbers); nothing was changed"));
      }
    }
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("UPDATE _fs_trust_alerts SET acked_at = ?1 "
                                                "WHERE acked_at = 0 AND (?2 IS NULL OR seq = "
                                                "?2)"));
    st->BindInt(1, impl_->clock->NowMillis());
    if (id) st->BindInt(2, *id);
    FS_RETURN_IF_ERROR(st->Run());
    n = static_cast<size_t>(m.db->Changes());
    return absl::OkStatus();
  }));
  return n;
}

absl::StatusOr<RowId> KeyRing::KeyRingOf(
    std::string_view table, const RowId& row, std::string_view column,
    const std::function<absl::StatusOr<Value>(std::string_view)>& row_value) {
  if (table == "referrals" && referral::SealedUnderReferral(column)) return row;
  FS_ASSIGN_OR_RETURN(const CaseRelation rel, CaseRelationOf(FieldOfficeSchema(), table));
  if (rel.link == CaseLink::kColumn) {
    FS_ASSIGN_OR_RETURN(Value c, row_value(rel.column));
    if (c.kind() != Value::Kind::kBytes || c.str().size() != 16) {
      return absl::FailedPreconditionError(absl::StrCat(
          AV(table), " row ", row.ToString(),
          " names no case, so its sensitive fields have no key to be sealed under; set case_id "
          "in the same write"));
    }
    return IdOf(c.str());
  }
  return row;
}

absl::StatusOr<uint32_t> KeyRing::NewestTrustedVersion(const RowId& ring,
                                                       const std::string& owner) {
  // Only versions this office may trust to seal under: made by a member of
  // this office (kind 5: it opens only with the office key), or granted to
  // it by a device of the office that owns the key ring. Another office
  // cannot choose the key this office's writes are sealed under.
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared(
                                   "SELECT version, kind, signer, created FROM _fs_keys WHERE "
                                   "keyring = ?1 AND province = ?2 AND kind IN (3, 5)"));
  st->BindBlob(1, ring.view());
  st->BindText(2, province_);
  uint32_t best = 0;
  int64_t best_created = -1;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    const auto kind = static_cast<KeyRecordKind>(st->ColumnInt(1));
    if (kind == KeyRecordKind::kDataKey) {
      const RegisteredDevice* signer = FindDevice(IdOf(st->ColumnBlob(2)));
      bool by_owner = signer != nullptr && !owner.empty() && signer->province == owner;
      if (by_owner) {
        // A member of the owning office now: a version a device removed
        // since made (it knows that key) is never sealed under again.
        FS_ASSIGN_OR_RETURN(by_owner, impl_->Trusted(owner, signer->keys.device, /*now=*/true));
      }
      const bool by_me = identity_ && IdOf(st->ColumnBlob(2)) == identity_->device();
      if (!by_owner && !by_me) continue;
    }
    const int64_t created = st->ColumnInt(3);
    if (created > best_created) {
      best_created = created;
      best = static_cast<uint32_t>(st->ColumnInt(0));
    }
  }
  return best;
}

absl::StatusOr<std::optional<Value>> KeyRing::Seal(const SealRequest& req) {
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
    return absl::FailedPreconditionError(absl::StrCat(
        AV(table), ".", AV(col.name), " is sensitive and must be sealed, but the keystore is "
        "locked: unlock it (enter the passphrase, or set FIELDSYNC_PASSPHRASE_FILE) and try again"));
  }
  const crypto::DeviceIdentity& me = *identity_;
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(RowId ring, KeyRingOf(table, req.row, col.name, req.row_value));
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
      uint32_t generation = 1;
      for (const KeyRecord& k : keys) {
        FS_ASSIGN_OR_RETURN(bool trusted, m.Trusted(province_, k.signer, true));
        if (trusted) {
          generation = k.generation;
          break;
        }
      }
      FS_ASSIGN_OR_RETURN(office, m.CreateOffice(me, province_, generation, req.version.hlc));
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
    } else if (table == "referrals" || table == "consents") {
      FS_ASSIGN_OR_RETURN(owner, m.ClearText("cases", "province", ring));
    } else if (req.table->FindColumn("province") != nullptr) {
      FS_ASSIGN_OR_RETURN(Value p, req.row_value("province"));
      if (p.kind() == Value::Kind::kText) owner = p.str();
    }  // services name no province: the writer's office owns the key
    FS_ASSIGN_OR_RETURN(std::set<std::string> entitled, m.ReferredOffices(*replica_, ring));
    entitled.insert(province_);
    if (!owner.empty()) entitled.insert(owner);
    if (!receiver.empty()) entitled.insert(receiver);
    FS_ASSIGN_OR_RETURN(uint32_t newest, NewestTrustedVersion(ring, owner));
    if (newest > 0) {
      FS_ASSIGN_OR_RETURN(bool fresh, m.Fresh(ring, newest, province_, entitled, me.device()));
      if (fresh) {
        // Opened through a record this office stands behind only: a grant
        // of this version signed by a third office's laptop wraps a key its
        // signer knows, and is never sealed under (docs/CRYPTO.md).
        std::set<std::string> granters = {province_};
        if (!owner.empty()) granters.insert(owner);
        FS_ASSIGN_OR_RETURN(c.key, m.TrustedDataKey(me, ring, newest, granters));
        if (c.key) c.version = newest;
      }
    }
    if (!c.key) {
      // A new version: for this office, the owning office and the offices
      // the case is referred to now.
      FS_ASSIGN_OR_RETURN(c.version, m.FreshVersion(ring));
      c.key = std::make_shared<SecretBytes>(SecretBytes::Random(crypto::kDataKeyBytes));
      FS_RETURN_IF_ERROR(m.Store(crypto::WrapDataKeyForOffice(me.device(), req.version.hlc, ring,
                                                              c.version, *c.key, *office),
                                 false));
      std::set<std::string> others = entitled;
      others.erase(province_);
      for (const std::string& o : others) {
        FS_ASSIGN_OR_RETURN(std::optional<KeyRecord> theirs, m.GrantTarget(o));
        if (!theirs) continue;
        FS_RETURN_IF_ERROR(m.Store(
            crypto::WrapDataKey(me, req.version.hlc, ring, c.version, *c.key, *theirs,
                                o == owner ? crypto::DataKeyPurpose::kOwner
                                           : crypto::DataKeyPurpose::kReferral),
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

absl::Status KeyRing::Verify(const Commit& c, int64_t position) {
  const RegisteredDevice* author = FindDevice(c.author);
  if (author == nullptr) {
    return absl::UnauthenticatedError(absl::StrCat(
        "commit ", c.Name(), " is by a device the hub's registry does not list; it cannot be "
        "verified and is refused"));
  }
  if (author->revoked() && (position == 0 || position > author->revoked_position)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "commit ", c.Name(), " was signed by device ", c.author.ToString(), " (", author->name,
        ") after its revocation; refused"));
  }
  if (const std::string* why = impl_->CutOff(c.author); why != nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(
        "commit ", c.Name(), " of device ", c.author.ToString(), " (", author->name,
        ") arrived after this laptop had seen that the device was ", *why, "; refused"));
  }
  // A device of an office's chain signs with the keys it was approved
  // with: a hub that lists other keys for it cannot have its commits taken.
  FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office,
                      impl_->MembershipOf(author->province));
  if (office) {
    auto approved = office->approved.find(c.author);
    if (approved != office->approved.end() && !impl_->SameKeysAsRegistered(approved->second)) {
      return absl::UnauthenticatedError(absl::StrCat(
          "commit ", c.Name(), " is by device ", c.author.ToString(), ", whose keys here differ "
          "from those its office approved; refused"));
    }
  }
  FS_RETURN_IF_ERROR(crypto::VerifyCommitSignature(c, author->keys.sign_pk));
  FS_RETURN_IF_ERROR(CheckOwnerMoves(c, *author));
  return impl_->NoteFinal(c);
}

// A row's `province` names the office that owns it, and the owner decides
// whose grants of its keys this laptop stands behind and to whom it grants
// (Seal). Only a device of the owning office moves a row elsewhere (the
// hub's rule too, hub/scope.cc): a pulled commit in which another office's
// device rewrites it, which a malicious hub would relay, is refused here.
absl::Status KeyRing::CheckOwnerMoves(const Commit& c, const RegisteredDevice& author) {
  for (const RowChange& rc : c.changes) {
    const TableDef* t = replica_->schema().FindTable(rc.table);
    if (t == nullptr || t->FindColumn("province") == nullptr) continue;
    const FieldWrite* moved = nullptr;
    for (const FieldWrite& f : rc.fields) {
      if (f.column == "province") moved = &f;
    }
    if (moved == nullptr) continue;
    FS_ASSIGN_OR_RETURN(std::string owner, impl_->ClearText(rc.table, "province", rc.row));
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

CommitSecurity KeyRing::Security() {
  CommitSecurity s;
  s.verify = [this](const Commit& c, int64_t position) { return Verify(c, position); };
  s.seal = [this](const SealRequest& req) { return Seal(req); };
  s.sign = [this](const Commit& c) -> absl::StatusOr<std::string> {
    if (!identity_) {
      return absl::FailedPreconditionError(
          "the keystore is locked, so nothing can be written (every change is signed by this "
          "laptop): unlock it with the passphrase (--passphrase-file FILE, "
          "FIELDSYNC_PASSPHRASE_FILE, or on a terminal) and try again; nothing was changed");
    }
    FS_RETURN_IF_ERROR(CheckReferralWrites(c));
    FS_RETURN_IF_ERROR(impl_->NoteFinal(c));
    return crypto::SignCommit(*identity_, c);
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
    out.problem = "sealed under the key of another record (moved or planted); not opened";
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
  FS_RETURN_IF_ERROR(impl_->InTxn([&]() -> absl::Status {
    for (const RowId& keyring : keyrings) {
      FS_ASSIGN_OR_RETURN(KeyRecord r, crypto::ErasureRecord(*identity_, clock.Now(), keyring));
      FS_RETURN_IF_ERROR(impl_->Store(r, false));
      FS_RETURN_IF_ERROR(impl_->DestroyRing(r));
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
