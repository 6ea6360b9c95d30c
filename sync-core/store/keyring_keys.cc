// Office keys and data keys: opened from the records this laptop holds, in
// the order that keeps a key a removed device made out of what this laptop
// seals under; new office keys; whether a data key version may still seal.
#include "store/keyring_impl.h"

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace fieldsync {

absl::StatusOr<std::shared_ptr<OfficeKey>> KeyRing::Impl::Office(const crypto::DeviceIdentity& me,
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
    return crypto::SignedByTrusted(signer, province, &me.device(), now, *this);
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

absl::StatusOr<std::shared_ptr<OfficeKey>> KeyRing::Impl::CurrentOffice(
    const crypto::DeviceIdentity& me, const std::string& province) {
  FS_ASSIGN_OR_RETURN(auto keys, OfficeKeys(province));
  for (const KeyRecord& k : keys) {
    FS_ASSIGN_OR_RETURN(bool trusted, crypto::SignedByTrusted(k.signer, province, &me.device(),
                                                              /*now=*/true, *this));
    if (!trusted) continue;
    FS_ASSIGN_OR_RETURN(std::shared_ptr<OfficeKey> held, Office(me, k.office_key_id));
    if (held) return held;
  }
  return std::shared_ptr<OfficeKey>();
}

absl::StatusOr<std::optional<KeyRecord>> KeyRing::Impl::GrantTarget(const std::string& province) {
  FS_ASSIGN_OR_RETURN(auto keys, OfficeKeys(province));
  FS_ASSIGN_OR_RETURN(const KeyRecord* newest,
                      crypto::NewestTrustedOfficeKey(keys, province, nullptr, *this));
  if (newest == nullptr) return std::nullopt;
  return std::optional<KeyRecord>(*newest);
}

absl::StatusOr<std::shared_ptr<SecretBytes>> KeyRing::Impl::DataKey(
    const crypto::DeviceIdentity& me, const RowId& ring, uint32_t version) {
  auto it = data_keys.find({ring, version});
  if (it != data_keys.end()) return it->second;
  FS_ASSIGN_OR_RETURN(std::vector<std::shared_ptr<SecretBytes>> keys,
                      DataKeys(me, ring, version, /*max_keys=*/1, nullptr));
  if (keys.empty()) return std::shared_ptr<SecretBytes>();
  data_keys[{ring, version}] = keys.front();
  return keys.front();
}

absl::StatusOr<std::shared_ptr<SecretBytes>> KeyRing::Impl::TrustedDataKey(
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

absl::StatusOr<KeyRing::Impl::Relay> KeyRing::Impl::RelayedDataKey(
    const crypto::DeviceIdentity& me, const std::string& mine, const RowId& ring,
    uint32_t version, const Sources& sources) {
  Relay out;
  FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> grants,
                      Query(absl::StrCat("keyring = ?1 AND version = ?2 AND province = ?3 AND "
                                         "kind = ", crypto::KindsSql({KeyRecordKind::kDataKey})),
                            [&](sqlite::Stmt* s) {
                              s->BindBlob(1, ring.view());
                              s->BindInt(2, version);
                              s->BindText(3, mine);
                            }));
  // The open referrals' offices first; the ended ones' only for a version
  // none of those granted.
  for (const std::set<std::string>* offices : {&sources.open, &sources.ended}) {
    for (const KeyRecord& w : grants) {
      if (w.purpose == crypto::DataKeyPurpose::kRelayed) continue;
      // Signed by a member now of an office this office referred the case
      // to, whatever office the hub's registry lists the signer in.
      std::string maker;
      for (const std::string& office : *offices) {
        FS_ASSIGN_OR_RETURN(bool member, Trusted(office, w.signer, /*now=*/true));
        if (member) {
          maker = office;
          break;
        }
      }
      if (maker.empty()) continue;
      FS_ASSIGN_OR_RETURN(std::shared_ptr<OfficeKey> office, Office(me, w.office_key_id));
      if (!office) continue;
      absl::StatusOr<SecretBytes> k = crypto::OpenDataKey(*office, w);
      if (!k.ok()) continue;
      if (!out.key) {
        out.key = std::make_shared<SecretBytes>(std::move(*k));
      } else if (out.key->view() != k->view()) {
        out.ambiguous = true;
      }
      out.makers.insert(maker);
    }
    if (out.key) break;
  }
  return out;
}

absl::StatusOr<std::vector<std::shared_ptr<SecretBytes>>> KeyRing::Impl::DataKeys(
    const crypto::DeviceIdentity& me, const RowId& ring, uint32_t version, size_t max_keys,
    const std::set<std::string>* granters) {
  std::vector<std::shared_ptr<SecretBytes>> out;
  FS_ASSIGN_OR_RETURN(auto wraps,
                      Query("keyring = ?1 AND version = ?2 AND kind IN (3, 5)",
                            [&](sqlite::Stmt* s) {
                              s->BindBlob(1, ring.view());
                              s->BindInt(2, version);
                            }));
  // The newest trusted office key of each office wrapped for, asked once.
  std::map<std::string, std::optional<RowId>> newest;  // by province
  // The order is crypto::WrapRank's; kOther is never tried with `granters`.
  auto rank = [&](const KeyRecord& w) -> absl::StatusOr<crypto::WrapRank> {
    if (w.kind == KeyRecordKind::kDataKey) {
      return crypto::RankGrant(w, me.device(), granters, *this);
    }
    auto n = newest.find(w.province);
    if (n == newest.end()) {
      std::optional<RowId> id;
      FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> keys, OfficeKeys(w.province));
      FS_ASSIGN_OR_RETURN(const KeyRecord* k,
                          crypto::NewestTrustedOfficeKey(keys, w.province, &me.device(), *this));
      if (k != nullptr) id = k->office_key_id;
      n = newest.emplace(w.province, id).first;
    }
    return crypto::RankOfficeWrap(w, n->second.has_value() ? &*n->second : nullptr);
  };
  std::vector<crypto::WrapRank> ranks;
  ranks.reserve(wraps.size());
  for (const KeyRecord& w : wraps) {
    FS_ASSIGN_OR_RETURN(crypto::WrapRank r, rank(w));
    ranks.push_back(r);
  }
  for (const crypto::WrapRank pass :
       {crypto::WrapRank::kNewestOfficeWrap, crypto::WrapRank::kTrustedGrant,
        crypto::WrapRank::kOlderOfficeWrap, crypto::WrapRank::kOther}) {
    if (pass == crypto::WrapRank::kOther && granters != nullptr) break;
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

absl::StatusOr<std::shared_ptr<OfficeKey>> KeyRing::Impl::CreateOffice(
    sqlite::Transaction& txn, const crypto::DeviceIdentity& me, const std::string& province,
    uint32_t generation, Hlc now) {
  OfficeKey k = crypto::NewOfficeKey(province, generation);
  FS_RETURN_IF_ERROR(Store(txn, crypto::OfficeKeyRecord(me, now, k), false));
  FS_RETURN_IF_ERROR(Store(txn, crypto::ShareOfficeKey(me, now, k, me.public_keys()), false));
  auto held = std::make_shared<OfficeKey>(std::move(k));
  office_keys[held->id] = held;
  return held;
}

absl::StatusOr<bool> KeyRing::Impl::Fresh(const RowId& ring, uint32_t v, const std::string& mine,
                                          const std::set<std::string>& entitled,
                                          const DeviceId& me) {
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
  // The newest generation of an office made by a device of its own chain
  // (or this one): a key an unapproved device published, of any
  // generation, neither counts nor forces a new version at every write.
  auto newest_generation = [&](const std::string& office) -> absl::StatusOr<int64_t> {
    FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> keys, OfficeKeys(office));
    FS_ASSIGN_OR_RETURN(const KeyRecord* k,
                        crypto::NewestTrustedOfficeKey(keys, office, &me, *this));
    return k == nullptr ? int64_t{0} : int64_t{k->generation};
  };
  return crypto::VersionStillSeals(wraps, mine, entitled, newest_generation);
}

}  // namespace fieldsync
