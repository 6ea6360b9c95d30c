// Private to store/: the state of a KeyRing behind its public interface
// (store/keyring.h), shared by the files that implement it, one concept each:
//   keyring.cc             opening, unlocking, records the hub relays
//                          (AddRecords), pulls and cut-offs, push bookkeeping
//   keyring_records.cc     storage: _fs_keys, erased key rings, the registry,
//                          cut-offs, pinned first devices, trust alerts
//   keyring_membership.cc  office membership, and what officers do with it
//   keyring_keys.cc        office keys and data keys, opened and made
//   keyring_referrals.cc   referral authority: who may be granted a case's keys
//   keyring_maintain.cc    Maintain(): removals, key rotation, shares, grants
//   keyring_seal.cc        sealing, reading, verifying, erasure
// Nothing outside store/ includes this header.
#ifndef FIELDSYNC_STORE_KEYRING_IMPL_H_
#define FIELDSYNC_STORE_KEYRING_IMPL_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clock/hlc.h"
#include "crypto/identity.h"
#include "crypto/key_policy.h"
#include "crypto/key_record.h"
#include "crypto/membership.h"
#include "crypto/referral_authority.h"
#include "crypto/secret.h"
#include "store/keyring.h"
#include "store/sqlite.h"

namespace fieldsync {

using crypto::KeyRecord;
using crypto::KeyRecordKind;
using crypto::OfficeKey;
using crypto::SecretBytes;

namespace keyring_internal {

inline Id16 IdOf(std::string_view raw) {
  std::array<uint8_t, 16> b{};
  if (raw.size() == 16) std::copy(raw.begin(), raw.end(), b.begin());
  return Id16(b);
}

// The write of `column` of `table` row `row` that made `version`, as a
// commit in this laptop's log holds it (author and field); nullopt if the
// log holds none (the version came in a row installed whole).
struct LoggedWrite {
  DeviceId author;
  FieldWrite field;
};
absl::StatusOr<std::optional<LoggedWrite>> LoggedFieldWrite(sqlite::Db& db,
                                                            std::string_view table,
                                                            const RowId& row,
                                                            std::string_view column,
                                                            const Version& version);

}  // namespace keyring_internal

using keyring_internal::IdOf;

// The key table (_fs_keys, the registry, pinned first devices) and what is
// opened from it. The decisions over it are crypto/key_policy.h's: Impl
// answers its questions (crypto::KeyFacts).
class KeyRing::Impl : public crypto::KeyFacts {
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

  // keyring_records.cc: key records in _fs_keys, erased key rings, the registry,
  // the pull count and cut-offs, pinned first devices, trust alerts.

  absl::Status LoadRegistry();

  // The pull count and the cut-offs as the file holds them.
  absl::Status LoadCutOffs();

  // Every function below that writes takes the open transaction it writes
  // in (sqlite::Transaction&): it cannot be called outside one. Each
  // public KeyRing write begins one with InWriteTxn(); the replica's
  // writes hand theirs to the hooks (CommitSecurity::seal, ::taken).

  // A record just made, or why it could not be (a key agent that could not
  // sign): stored, or that error.
  absl::Status Store(sqlite::Transaction& txn, const absl::StatusOr<KeyRecord>& r, bool pushed);
  absl::Status Store(sqlite::Transaction& txn, const KeyRecord& r, bool pushed);

  // The pinned first device of `province`, if any.
  absl::StatusOr<std::optional<crypto::DevicePublic>> Root(const std::string& province);
  absl::Status PinRoot(sqlite::Transaction& txn, const std::string& province,
                       const crypto::DevicePublic& root, std::string_view how);
  // Reports what the hub served and this laptop did not take. `subject`
  // names what it is about ("name:DEVICE"): one alert a subject, counted
  // when served again; other words for it replace the text and show it
  // again, acknowledged or not. The text is stored printable: it carries
  // names and office codes the hub supplied.
  absl::Status Alert(sqlite::Transaction& txn, const std::string& subject,
                     const std::string& raw_text);

  absl::StatusOr<std::vector<KeyRecord>> Query(const std::string& where,
                                               const std::function<void(sqlite::Stmt*)>& bind);

  // Office key records of a province, newest generation first.
  absl::StatusOr<std::vector<KeyRecord>> OfficeKeys(const std::string& province);

  // Versions of a key ring are random 32-bit numbers (two offices or
  // devices offline may each make a new version of one case: they must not
  // collide), ordered by when their records were made.
  absl::StatusOr<std::vector<uint32_t>> Versions(const RowId& ring);
  absl::StatusOr<uint32_t> FreshVersion(const RowId& ring);

  absl::StatusOr<bool> Erased(const RowId& ring);

  absl::Status DestroyRing(sqlite::Transaction& txn, const KeyRecord& erasure);

  // The cut-offs `out` (device: why) recorded at the current pull count,
  // and read back.
  absl::Status WriteCutOffs(sqlite::Transaction& txn,
                            const std::map<DeviceId, std::string>& out);

  // Begin (IMMEDIATE) -> body(txn) -> COMMIT, whose status is returned; on
  // any error the transaction is rolled back, and the memberships computed
  // inside it (which may include what was rolled back, and the pins with
  // it) are forgotten.
  absl::Status InWriteTxn(const std::function<absl::Status(sqlite::Transaction&)>& body);

  // keyring_membership.cc: who belongs to an office.

  // The membership records of `province`.
  absl::StatusOr<std::vector<KeyRecord>> MembershipRecords(const std::string& province);

  // The approvals `removed` signed for today's members of `office` (what a
  // removal of it must keep for them to stay), the one approving `me` first,
  // the others in the order they arrived here.
  absl::StatusOr<std::vector<KeyRecord>> KeptApprovals(const crypto::Membership& office,
                                                       const std::string& province,
                                                       const DeviceId& removed,
                                                       const DeviceId& me);

  // Stores the removal of `subject` from `province`, signed by `me`, keeping
  // `kept` in that order: one record, or several when more than
  // crypto::kMaxKeptApprovals must be kept (their kept lists add up:
  // crypto/membership.h), the first ones in the first record. How many.
  absl::StatusOr<size_t> StoreRemoval(sqlite::Transaction& txn, const crypto::DeviceIdentity& me,
                                      HybridClock& clock,
                                      const std::string& province,
                                      const crypto::DevicePublic& subject,
                                      const std::vector<KeyRecord>& kept);

  // The first devices of `province` whose records this laptop holds, each
  // signed by itself: what a laptop waiting to join may confirm.
  absl::StatusOr<std::vector<crypto::DevicePublic>> CandidateRoots(const std::string& province);

  // The candidates a laptop of `province` waiting to join may confirm: the
  // first devices seen, less `self` and those revoked in this laptop's
  // registry (an office whose root was revoked and that started anew: the
  // old root is no candidate any more). If none remains, the revoked ones
  // whose chain still has a member: an office whose first laptop was lost
  // goes on with the laptops it approved, whose root that still is.
  absl::StatusOr<std::vector<crypto::DevicePublic>> ActiveCandidateRoots(
      const std::string& province, const DeviceId& self);

  // Who belongs to `province`, from its pinned root; null if none pinned.
  absl::StatusOr<std::shared_ptr<crypto::Membership>> MembershipOf(const std::string& province);

  // Whether `signer` was ever approved in `province` (its past key records
  // open what was sealed under them), or is a member now (`now`: a key made
  // after a removal, back-dated or not, must not seal new data).
  absl::StatusOr<bool> Trusted(const std::string& province, const DeviceId& signer,
                               bool now) override;
  const std::string* RegisteredOffice(const DeviceId& device) override {
    auto it = registry.find(device);
    return it == registry.end() ? nullptr : &it->second.province;
  }
  bool SameKeysAsRegistered(const crypto::DevicePublic& keys) const {
    auto it = registry.find(keys.device);
    return it != registry.end() && it->second.keys.sign_pk == keys.sign_pk &&
           it->second.keys.box_pk == keys.box_pk;
  }

  // keyring_keys.cc: office keys and data keys.

  // The office key `id`, opened from this device's share; nullptr if it
  // holds none.
  absl::StatusOr<std::shared_ptr<OfficeKey>> Office(const crypto::DeviceIdentity& me,
                                                    const RowId& id);

  // The newest office key of `province` this device holds.
  absl::StatusOr<std::shared_ptr<OfficeKey>> CurrentOffice(const crypto::DeviceIdentity& me,
                                                           const std::string& province);

  // The newest office key of another office that a device of its approval
  // chain, a member now, published: the only one this laptop seals a grant
  // to. None if the office has no pinned first device or no such key.
  absl::StatusOr<std::optional<KeyRecord>> GrantTarget(const std::string& province);

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
                                                       const RowId& ring, uint32_t version);

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
      const std::set<std::string>& granters);

  // The offices `mine` referred a case to (ReferredByOffice): those whose
  // referral is still open (sent or accepted, never seen final here), and
  // those whose referrals all ended (declined or completed).
  using Sources = crypto::ReferralSources;

  // A version of `ring` another office made, as the office `mine` that
  // owns the ring passes it on to the offices it referred the case to
  // (Maintain): the key opened from the grants of that version to `mine`
  // signed by a member now of one of the `open` sources, or, if none of
  // those granted it, of one of the `ended` ones (a version a former
  // partner made while it was one), and the offices whose grants opened.
  // `ambiguous` when two grants taken open to different keys (one of them
  // a dud): passed on to no one. An office whose referral ended cannot so
  // block a version a partner made. Relayed grants (purpose 3) are never
  // taken from. Only for passing on, for reading: the key is one its maker
  // chose.
  struct Relay {
    std::shared_ptr<SecretBytes> key;
    std::set<std::string> makers;
    bool ambiguous = false;
  };
  absl::StatusOr<Relay> RelayedDataKey(const crypto::DeviceIdentity& me, const std::string& mine,
                                       const RowId& ring, uint32_t version,
                                       const Sources& sources);

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
      const std::set<std::string>* granters);

  // A new office key of `generation`, its public record, and its share for
  // this device; held at once.
  absl::StatusOr<std::shared_ptr<OfficeKey>> CreateOffice(sqlite::Transaction& txn,
                                                          const crypto::DeviceIdentity& me,
                                                          const std::string& province,
                                                          uint32_t generation, Hlc now);

  // Whether version `v` of a key ring may still seal new values: it is
  // wrapped for `mine`, every office it is wrapped for is still entitled to
  // it (a referral that ended, was deleted or re-addressed is not), and each
  // wrap is under its office's newest generation (no revoked device of any
  // of those offices holds the key it is under).
  absl::StatusOr<bool> Fresh(const RowId& ring, uint32_t v, const std::string& mine,
                             const std::set<std::string>& entitled, const DeviceId& me);

  // keyring_referrals.cc: referral authority.

  // A referral whose case's keys may go to its receiving office, judged
  // from the signed authors of its fields (change/referral_rules.h), never
  // from its current values alone: created by a current member of the office
  // that owns the case (case_id, from_office and to_office all written then and
  // never since), accepted by a device of to_office in a write based on
  // that creation, never seen declined, completed or deleted here, and no
  // concurrent answer left open.
  using Authorised = crypto::AuthorisedReferral;
  absl::StatusOr<std::vector<Authorised>> AuthorisedReferrals(Replica& replica,
                                                               const RowId* only_ring);

  // The referring and receiving offices of referral `ref` as its creation
  // wrote them: case_id, from_office and to_office (or to_organisation) in
  // one write by a device of from_office's approval chain, never rewritten
  // since (change/referral_rules.h). The receiver is "" for a referral to an
  // organisation. nullopt for a referral this replica does not hold (being
  // created); FAILED_PRECONDITION when its offices fail that test: a rewrite
  // the hub should have refused, which must not choose who reads a letter.
  using LetterOffices = crypto::LetterOffices;
  absl::StatusOr<std::optional<LetterOffices>> OfficesOf(Replica& replica, const RowId& ref);

  // Whether `version` is that of a commit of this laptop (`me`) the hub
  // refused, set aside here (_fs_set_aside, resolved or not): the hub holds
  // nothing it wrote.
  absl::StatusOr<bool> WrittenSetAside(const Version& version, const DeviceId& me);
  // WrittenSetAside for the creation of referral `ref` (the version of its
  // from_office as held) by this replica's device; false if it does not
  // hold the referral.
  absl::StatusOr<bool> ReferralSetAside(Replica& replica, const RowId& ref);

  // Offices a key ring is granted to beyond its owner: those of the
  // authorised referrals of its case (or of the cases of its person).
  absl::StatusOr<std::set<std::string>> ReferredOffices(Replica& replica, const RowId& ring);

  // The offices `mine` referred the case `ring` (or, for a person's ring,
  // a case of that person) to, by live referrals, vouched for here, made by
  // a member now of `mine`, of a case `mine` owns: open (sent or accepted,
  // never seen declined or completed here) or ended. Whose versions of the
  // ring `mine` passes on (Maintain, RelayedDataKey).
  absl::StatusOr<Sources> ReferredByOffice(Replica& replica, const RowId& ring,
                                           const std::string& mine);

  // Whether version `v` of `ring` may be held by an office that is no
  // longer entitled to it, through the owner's laptops (Maintain passes a
  // version on, purpose 3, and a hub may withhold the record that shows
  // it): a referral of the case (or of a case of the person `ring` is), to
  // an office not in `entitled`, declined, completed or deleted after `v`
  // was made (its earliest key record here), or, for a `v` this laptop
  // made, whose ending reached this laptop's log after the commit that
  // made `v` (an ending's HLC is its ender's word); or one taken whole here whose
  // answer no commit applied here wrote (it may be a replay of an ended
  // acceptance), unless this laptop `me` made `v` itself (after it took
  // that referral). What is written now is then not sealed under `v`.
  absl::StatusOr<bool> EndedSince(Replica& replica, const RowId& ring, uint32_t v,
                                  const std::set<std::string>& entitled, const DeviceId& me);

  // Records the referrals `c` declined, completed or deleted: final here.
  absl::Status NoteFinal(sqlite::Transaction& txn, const Commit& c);

  // keyring_seal.cc: sealing and reading.

  // Text of a clear column of a replicated row, "" if absent.
  absl::StatusOr<std::string> ClearText(const std::string& table, const std::string& column,
                                        const RowId& row);
};

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_KEYRING_IMPL_H_
