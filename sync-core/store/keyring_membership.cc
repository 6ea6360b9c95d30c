// Office membership: who belongs to an office, from its pinned first device
// and its signed membership records; what an officer does with it (Office(),
// Join, ApproveFirst, Approve, Remove) and the trust alerts shown to them.
#include "store/keyring_impl.h"

#include <algorithm>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/message.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "crypto/pairing_code.h"
#include "store/keyring_messages.h"

namespace fieldsync {

absl::StatusOr<std::vector<KeyRecord>> KeyRing::Impl::MembershipRecords(
    const std::string& province) {
  return Query(absl::StrCat("kind = ", crypto::KindsSql({KeyRecordKind::kMembership}),
                            " AND province = ?1"),
               [&](sqlite::Stmt* s) { s->BindText(1, province); });
}

absl::StatusOr<std::vector<KeyRecord>> KeyRing::Impl::KeptApprovals(
    const crypto::Membership& office, const std::string& province, const DeviceId& removed,
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

absl::StatusOr<size_t> KeyRing::Impl::StoreRemoval(sqlite::Transaction& txn,
                                                   const crypto::DeviceIdentity& me,
                                                   HybridClock& clock, const std::string& province,
                                                   const crypto::DevicePublic& subject,
                                                   const std::vector<KeyRecord>& kept) {
  size_t written = 0;
  size_t i = 0;
  do {
    std::vector<std::string> part;
    for (; i < kept.size() && part.size() < crypto::kMaxKeptApprovals; ++i) {
      part.push_back(kept[i].Id());
    }
    FS_RETURN_IF_ERROR(Store(txn, crypto::MembershipRecord(me, clock.Now(), province,
                                                      crypto::MembershipAction::kRemove,
                                                      subject, std::move(part)),
                             false));
    ++written;
  } while (i < kept.size());
  return written;
}

absl::StatusOr<std::vector<crypto::DevicePublic>> KeyRing::Impl::CandidateRoots(
    const std::string& province) {
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

absl::StatusOr<std::vector<crypto::DevicePublic>> KeyRing::Impl::ActiveCandidateRoots(
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

absl::StatusOr<std::shared_ptr<crypto::Membership>> KeyRing::Impl::MembershipOf(
    const std::string& province) {
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

absl::StatusOr<bool> KeyRing::Impl::Trusted(const std::string& province, const DeviceId& signer,
                                            bool now) {
  FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> m, MembershipOf(province));
  auto reg = registry.find(signer);
  return crypto::TrustedSigner(m.get(), signer, reg == registry.end() ? nullptr : &reg->second.keys,
                               now);
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
    return m.InWriteTxn([&](sqlite::Transaction& txn) {
      return m.PinRoot(txn, province_, candidate, "confirmed by an officer");
    });
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
  return m.InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    if (restart) {
      FS_RETURN_IF_ERROR(m.Alert(
          txn, absl::StrCat("restart:", province_, ":", me.device.ToString()),
          absl::StrCat(
          "every first device of office ", province_, " this laptop knew of was revoked; this "
          "laptop became the office's first device instead")));
      FS_ASSIGN_OR_RETURN(auto del, m.db->Prepared("DELETE FROM _fs_roots WHERE province = ?1"));
      del->BindText(1, province_);
      FS_RETURN_IF_ERROR(del->Run());
    }
    FS_RETURN_IF_ERROR(m.Store(txn,
                               crypto::MembershipRecord(*identity_, clock.Now(), province_,
                                                        crypto::MembershipAction::kFirstDevice,
                                                        me),
                               false));
    return m.PinRoot(txn, province_, me, "this laptop");
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
    return WithMessage(absl::FailedPreconditionError(absl::StrCat(
                           "this laptop is not an approved member of office ", province_,
                           ", so it cannot ", AV(act),
                           office ? "" : " (its office's first device is not confirmed here)",
                           "; nothing was changed")),
                       kMsgNotMember, {{"office", Printable(province_)}});
  }
  return office;
}

absl::Status KeyRing::Approve(const DeviceId& device, std::string_view code) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office,
                      SigningMember("approving", "approve others"));
  const RegisteredDevice* d = FindDevice(device);
  if (d == nullptr || d->province != province_) {
    return WithMessage(
        absl::NotFoundError(absl::StrCat(
            "device ", device.ToString(), " is not a device of office ", province_,
            " in this laptop's registry (sync, then look at \"fieldnode device list\"); nothing "
            "was changed")),
        kMsgDeviceUnknown, {{"device", device.ToString()}, {"office", Printable(province_)}});
  }
  if (d->revoked() || office->removed.count(device) > 0) {
    return WithMessage(absl::FailedPreconditionError(absl::StrCat(
                           "device ", device.ToString(),
                           " was revoked or removed and cannot be approved again; enrol the "
                           "laptop anew with a new data directory; nothing was changed")),
                       kMsgDeviceGone, {{"device", device.ToString()}});
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
  return m.InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    return m.Store(txn, crypto::MembershipRecord(*identity_, clock.Now(), province_,
                                            crypto::MembershipAction::kApprove, d->keys),
                   false);
  });
}

absl::StatusOr<KeyRing::Removal> KeyRing::Remove(const DeviceId& device) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(std::shared_ptr<crypto::Membership> office,
                      SigningMember("removing", "remove devices"));
  if (device == identity_->device()) {
    return WithMessage(absl::InvalidArgumentError(
                           "a laptop cannot remove itself: remove it from another laptop of "
                           "the office; nothing was changed"),
                       kMsgRemoveSelf);
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
    return WithMessage(
        absl::NotFoundError(absl::StrCat("device ", device.ToString(), " is not a device of "
                                         "office ", province_, "; nothing was changed")),
        kMsgDeviceUnknown, {{"device", device.ToString()}, {"office", Printable(province_)}});
  }
  FS_ASSIGN_OR_RETURN(std::vector<KeyRecord> kept,
                      m.KeptApprovals(*office, province_, device, identity_->device()));
  for (const KeyRecord& k : kept) out.kept.push_back(k.subject.device);
  HybridClock clock(impl_->clock, tuning::kDefaultMaxClockSkewMillis);
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    FS_ASSIGN_OR_RETURN(out.records, m.StoreRemoval(txn, *identity_, clock, province_, keys, kept));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<bool> KeyRing::IsMember(const std::string& province, const DeviceId& device) {
  return impl_->Trusted(province, device, /*now=*/true);
}

absl::StatusOr<bool> KeyRing::Approved(const DeviceId& device) {
  const RegisteredDevice* d = FindDevice(device);
  if (d == nullptr) return false;
  return impl_->Trusted(d->province, device, /*now=*/false);
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
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
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

namespace {

// The words of each alert (keyring.cc, keyring_records.cc, ApproveFirst
// above, as stored) and the names of its parameters, in the order of the
// pattern's groups. The hub supplies names and offices: a parameter is the
// stored text, Printable already.
struct AlertWords {
  std::string_view key;
  std::regex pattern;
  std::vector<std::string_view> params;
};
const std::vector<AlertWords>& AlertPatterns() {
  static const std::vector<AlertWords> patterns = {
      {kMsgAlertOwnKeys,
       std::regex(R"re(^the hub holds another key for this laptop: [\s\S]* device (\S+) )re"
                  R"re(\(([\s\S]*)\) with other keys than this laptop first saw )re"
                  R"re(\(fingerprint ([\s\S]*), now ([\s\S]*)\); the first keys are kept$)re"),
       {"device", "name", "was", "now"}},
      {kMsgAlertKeys,
       std::regex(R"re(^the hub lists device (\S+) \(([\s\S]*)\) with other keys than this )re"
                  R"re(laptop first saw \(fingerprint ([\s\S]*), now ([\s\S]*)\); the first )re"
                  R"re(keys are kept$)re"),
       {"device", "name", "was", "now"}},
      {kMsgAlertName,
       std::regex(R"re(^the hub lists device (\S+) as "([\s\S]*)", but this laptop first saw )re"
                  R"re(it as "([\s\S]*)"; the first name is kept$)re"),
       {"device", "name", "was"}},
      {kMsgAlertOffice,
       std::regex(R"re(^the hub lists device (\S+) in office ([\s\S]*), but this laptop )re"
                  R"re(first saw it in ([\s\S]*); kept in [\s\S]*$)re"),
       {"device", "office", "was"}},
      {kMsgAlertUnrevoked,
       std::regex(R"re(^the hub lists device (\S+) \(([\s\S]*)\) as not revoked, but this )re"
                  R"re(laptop saw its revocation; it stays revoked$)re"),
       {"device", "name"}},
      {kMsgAlertFirst,
       std::regex(R"re(^device (\S+) claims to be the first device of office ([\s\S]*), )re"
                  R"re(whose first device here is (\S+); not trusted[\s\S]*$)re"),
       {"device", "office", "first"}},
      {kMsgAlertRestart,
       std::regex(R"re(^every first device of office ([\s\S]*) this laptop knew of was )re"
                  R"re(revoked; this laptop became the office's first device instead$)re"),
       {"office"}},
  };
  return patterns;
}

}  // namespace

std::optional<Message> TrustAlertMessage(std::string_view text) {
  const std::string t(text);
  for (const AlertWords& a : AlertPatterns()) {
    std::smatch m;
    if (!std::regex_match(t, m, a.pattern)) continue;
    Message out{std::string(a.key), {}};
    for (size_t i = 0; i < a.params.size() && i + 1 < m.size(); ++i) {
      out.params.emplace_back(std::string(a.params[i]), m[i + 1].str());
    }
    return out;
  }
  return std::nullopt;
}

std::optional<Message> DeviceRefusalMessage(std::string_view refused) {
  static const std::regex kRefused(
      R"re(^the hub refused this laptop's (first device|approval|removal) of it )re"
      R"re(\(([\s\S]*)\)$)re");
  const std::string t(refused);
  std::smatch m;
  if (!std::regex_match(t, m, kRefused)) return std::nullopt;
  const std::string action = m[1].str();
  return Message{std::string(action == "approval"  ? kMsgRefusedApproval
                             : action == "removal" ? kMsgRefusedRemoval
                                                   : kMsgRefusedFirst),
                 {{"reason", m[2].str()}}};
}

}  // namespace fieldsync
