// Maintain(): what each sync pass keeps up on this laptop: the office's own
// removal of revoked devices, office keys rotated and shared with members,
// and grants of case keys to the offices cases are referred to. What is
// done is decided by crypto/maintain_plan.h over what this reads; this
// reads the key table and writes the records the decisions call for.
#include "store/keyring_impl.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "crypto/maintain_plan.h"

namespace fieldsync {

absl::StatusOr<MaintainReport> KeyRing::Maintain() {
  MaintainReport report;
  if (!unlocked()) {
    report.notes.push_back("keystore locked: office keys and grants not maintained");
    return report;
  }
  const crypto::DeviceIdentity& me = *identity_;
  Impl& m = *impl_;
  HybridClock clock(impl_->clock, tuning::kDefaultMaxClockSkewMillis);
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
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
      FS_RETURN_IF_ERROR(m.CreateOffice(txn, me, province_, generation, clock.Now()).status());
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
      for (const crypto::DevicePublic& revoked : crypto::RemovalsDue(*office)) {
        FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> kept,
                            m.KeptApprovals(*office, province_, revoked.device, me.device()));
        FS_ASSIGN_OR_RETURN(size_t records,
                            m.StoreRemoval(txn, me, clock, province_, revoked, kept));
        std::string who;
        for (const KeyRecord& k : kept) {
          absl::StrAppend(&who, who.empty() ? "" : ", ", k.subject.device.ToString());
        }
        report.notes.push_back(absl::StrCat(
            "recorded the removal of revoked device ", revoked.device.ToString(), " from office ",
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
      std::set<DeviceId> revoked_here;
      for (const auto& [id, d] : m.registry) {
        if (d.province == province_ && d.revoked()) revoked_here.insert(id);
      }
      const std::set<DeviceId> gone = crypto::DevicesGone(*office, revoked_here);
      FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> all_keys, m.OfficeKeys(province_));
      FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> keys,
                          crypto::CountedOfficeKeys(std::move(all_keys), province_, me.device(), m));
      FS_ASSIGN_OR_RETURN(std::shared_ptr<OfficeKey> current, m.CurrentOffice(me, province_));
      FS_ASSIGN_OR_RETURN(
          crypto::OfficeKeyPlan key_plan,
          crypto::PlanOfficeKey(
              province_, keys,
              current ? std::optional<uint32_t>(current->generation) : std::nullopt,
              [&](const RowId& office_key) -> absl::StatusOr<bool> {
                bool shared_with_gone = false;
                for (const DeviceId& d : gone) {
                  FS_ASSIGN_OR_RETURN(bool shared, has_share(office_key, d));
                  shared_with_gone |= shared;
                }
                return shared_with_gone;
              }));
      if (key_plan.generation > 0) {
        FS_RETURN_IF_ERROR(new_office_key(key_plan.generation, key_plan.why));
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
          FS_RETURN_IF_ERROR(
              m.Store(txn, crypto::ShareOfficeKey(me, clock.Now(), *held, member), false));
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
    crypto::GrantPlan plan = crypto::PlanGrants(refs, province_);
    std::set<std::pair<RowId, std::string>>& wanted_set = plan.wanted;
    // The sources of each ring this office owns and referred, once known.
    std::map<RowId, Impl::Sources> sources_of;
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
        // A referral this laptop took whole as the hub served it (an
        // unverified bootstrap) names offices nobody signed here: another
        // laptop of the office, which holds its commit, grants its letter.
        FS_ASSIGN_OR_RETURN(bool vouched, replica_->RowVouched("referrals", ref));
        if (!vouched) continue;
        // Made by a member of this office, with these offices, never
        // rewritten since, and not set aside here (the hub refused it);
        // anything else goes nowhere (crypto::LetterGoesTo).
        absl::StatusOr<std::optional<Impl::LetterOffices>> made = m.OfficesOf(*replica_, ref);
        if (!made.ok()) {
          if (made.status().code() != absl::StatusCode::kFailedPrecondition) return made.status();
          continue;
        }
        FS_ASSIGN_OR_RETURN(
            bool goes, crypto::LetterGoesTo(*made ? &**made : nullptr, province_, to,
                                            [&, ref = ref]() -> absl::StatusOr<bool> {
                                              return m.ReferralSetAside(*replica_, ref);
                                            }));
        if (goes) wanted_set.emplace(ref, to);
      }
    }
    std::vector<std::pair<RowId, std::string>> wanted(wanted_set.begin(), wanted_set.end());
    for (const auto& [wanted_ring, to] : wanted) {
      const RowId ring = wanted_ring;  // captured below (a structured binding cannot be)
      const std::set<std::string> granters = crypto::GrantersOf(plan, ring, province_);
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
        FS_ASSIGN_OR_RETURN(bool granted, crypto::GrantStands(existing, target.office_key_id,
                                                              me.device(), granters, m));
        if (granted) continue;
        // The key as this office stands behind it: a record by another
        // office's laptop may wrap a key of its signer's for this version,
        // and granting that on would hand the receiving office a key its
        // signer reads.
        FS_ASSIGN_OR_RETURN(std::shared_ptr<SecretBytes> dek,
                            m.TrustedDataKey(me, ring, v, granters));
        if (dek) {
          FS_RETURN_IF_ERROR(m.Store(txn,
                                     crypto::WrapDataKey(me, clock.Now(), ring, v, *dek, target,
                                                         crypto::DataKeyPurpose::kReferral),
                                     false));
          ++report.grants_created;
          continue;
        }
        // A version an office this office referred the case to made (it
        // seals what it writes for the owner, and grants the owner only):
        // passed on, for reading, to the partners this office accepted
        // here, from its own log. Which offices read the case stays this
        // office's decision; the receiving laptop grants nothing on a
        // referral it took whole (AnsweredHere). Marked relayed: no one
        // seals under it or grants it on (its maker chose the key).
        if (plan.owned.count(ring) == 0) continue;
        auto own = sources_of.find(ring);
        if (own == sources_of.end()) {
          FS_ASSIGN_OR_RETURN(Impl::Sources sources,
                              m.ReferredByOffice(*replica_, ring, province_));
          own = sources_of.emplace(ring, std::move(sources)).first;
        }
        FS_ASSIGN_OR_RETURN(Impl::Relay relay,
                            m.RelayedDataKey(me, province_, ring, v, own->second));
        if (!relay.key || relay.makers.count(office) > 0) continue;
        if (relay.ambiguous) {
          report.notes.push_back(absl::StrCat(
              "version ", v, " of the key of ", ring.ToString(), " was granted to this office "
              "with different keys by offices it referred the case to (",
              absl::StrJoin(relay.makers, ", "), "): one is not the key its values are sealed "
              "under, so it was passed on to no one; tell the hub administrator"));
          continue;
        }
        FS_RETURN_IF_ERROR(m.Store(txn,
                                   crypto::WrapDataKey(me, clock.Now(), ring, v, *relay.key,
                                                       target, crypto::DataKeyPurpose::kRelayed),
                                   false));
        ++report.relays_created;
      }
    }
    return absl::OkStatus();
  }));
  if (report.relays_created > 0) {
    report.notes.push_back(absl::StrCat("passed on ", report.relays_created,
                                        " key versions other offices made of cases this office "
                                        "owns to the offices it referred them to, for reading"));
  }
  if (report.grants_created > 0) {
    report.notes.push_back(absl::StrCat("granted ", report.grants_created,
                                        " case key versions to offices cases were referred to"));
  }
  return report;
}

}  // namespace fieldsync
