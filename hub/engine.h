// The hub's engine: the HubStore the protocol handler (hub/sync_handler.h)
// talks to, as rules over a HubStorage (hub/storage.h) -- admission of
// pushes (hub/admission.h), pull planning (hub/pull_plan.h), tombstone
// collection (hub/tombstones.h), and the devices offices removed
// (hub/office_removals.h), refused as revoked ones are. A store is a
// HubStorage; the engine over it is the same for every store.
#ifndef FIELDSYNC_HUB_ENGINE_H_
#define FIELDSYNC_HUB_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "clock/clock_source.h"
#include "hub/office_removals.h"
#include "hub/storage.h"
#include "hub/store.h"

namespace fieldsync::hub {

class HubEngine : public HubStore {
 public:
  // `storage` and `clock` outlive the engine.
  HubEngine(HubStorage* storage, ClockSource* clock) : storage_(storage), clock_(clock) {}

  // Brings what the engine keeps beside the storage's log up to date: the
  // log chain (hub/log_chain.h) of a file written before it. Once, before
  // serving.
  absl::Status BringUpToDate();

  const DeviceId& hub_id() const override { return storage_->hub_id(); }
  absl::StatusOr<int64_t> LogHead() override { return storage_->LogHead(); }

  // Checks the code and name first (CheckProvince).
  absl::Status AddProvince(const std::string& code, const std::string& name,
                           const std::string& actor) override;
  absl::StatusOr<std::vector<Province>> Provinces() override { return storage_->Provinces(); }
  absl::StatusOr<EnrollToken> MakeEnrollToken(const std::string& province,
                                              int64_t valid_for_millis,
                                              const std::string& actor) override;
  absl::StatusOr<std::vector<NodeInfo>> Nodes() override;
  absl::StatusOr<std::optional<NodeInfo>> NodeOf(const DeviceId& device) override;
  absl::Status RevokeNode(const DeviceId& device, const std::string& actor) override;
  absl::StatusOr<HubAuditTrail> AuditTrail() override { return storage_->AuditTrail(); }
  // Runs `body` over one consistent snapshot of the hub's rows, on either
  // store (store/row_scan.h): what `fieldhub audit` (the access logs) and
  // `fieldhub report` read.
  absl::Status ReadRows(const std::function<absl::Status(RowScan&)>& body) {
    return storage_->Read([&](HubReadTxn& rows) { return body(rows); });
  }

  absl::StatusOr<Enrolment> Enroll(const std::string& token, const DeviceId& device,
                                   const std::string& name, const crypto::DevicePublic& keys,
                                   bool proven) override;
  absl::StatusOr<std::vector<RegisteredDevice>> Registry() override {
    return storage_->Registry();
  }
  absl::StatusOr<bool> RegisterLinkKey(const DeviceId& device, std::string_view link_public_key,
                                       const std::string& actor,
                                       const std::string& detail) override {
    return storage_->SwapLinkKey(device, "", link_public_key, actor, kAuditLinkKey, detail);
  }
  absl::StatusOr<bool> CloseLinkKey(const DeviceId& device, std::string_view link_public_key,
                                    const std::string& actor,
                                    const std::string& detail) override {
    return storage_->SwapLinkKey(device, link_public_key, kLinkKeyClosed, actor,
                                 kAuditLinkKeyClosed, detail);
  }
  absl::Status AuditLinkKeyAlarm(const std::string& actor, const std::string& detail) override {
    return storage_->EnrolTransaction([&](HubEnrolTxn& txn) {
      return txn.AppendAudit(clock_->NowMillis(), actor, kAuditLinkKeyAlarm, detail);
    });
  }
  absl::StatusOr<NodeInfo> Authenticate(const DeviceId& device,
                                        const CredentialCheck& check) override;
  absl::Status RecordDelivered(const DeviceId& device, int64_t position) override {
    return storage_->RecordDelivered(device, position);
  }
  absl::Status RecordCall(const DeviceId& device, int protocol_version,
                          std::optional<int64_t> clock_skew_millis,
                          std::optional<int64_t> cursor) override {
    return storage_->RecordCall(device, protocol_version, clock_skew_millis, cursor);
  }

  absl::StatusOr<PushOutcome> Push(const NodeInfo& node, const PushOrigin& origin,
                                   const std::vector<PushedCommit>& commits,
                                   const std::vector<std::string>& key_records) override;
  absl::Status Pull(const NodeInfo& node, const PullParams& params,
                    const std::function<bool(PullChunk&)>& emit) override;
  absl::StatusOr<StatementKept> PutStatement(const NodeInfo& node,
                                             const std::string& bytes) override;
  absl::StatusOr<sync::OwnCommitsHeld> OwnCommitsHeld(const DeviceId& device) override;

  absl::StatusOr<GcReport> CollectTombstones(int64_t min_age_millis,
                                             int64_t stale_after_millis,
                                             const std::string& actor,
                                             bool dry_run = false) override;

  // Off: commits need no signature and sensitive fields may travel in
  // clear. Only for measuring what the cryptography costs (the benchmark's
  // baseline); a hub that real nodes use keeps it on. Set before serving.
  void set_crypto_checks(bool on) { crypto_checks_ = on; }

  // The storage under the engine, for what reads or copies a stored hub
  // whole (`fieldhub migrate --to`, hub/store_digest.h), not its rules.
  HubStorage& storage() const { return *storage_; }

 protected:
  ClockSource* clock() const { return clock_; }

 private:
  // How `device` of `province` was removed by its office, if it was, from
  // the cache or computed from `load`'s records.
  using OfficeLoader = std::function<absl::StatusOr<OfficeRecords>(const std::string&)>;
  absl::StatusOr<std::optional<OfficeRemoval>> RemovalOf(const std::string& province,
                                                         const DeviceId& device,
                                                         const OfficeLoader& load);
  // The removals (and approved devices) of `province`, from the cache or
  // computed from `load`'s records.
  absl::StatusOr<std::shared_ptr<const OfficeRemovals>> OfficeOf(const std::string& province,
                                                                 const OfficeLoader& load);
  // Drops the cached removals of `province` (every office's if empty).
  void ForgetRemovals(const std::string& province);

  HubStorage* storage_;
  ClockSource* clock_;
  bool crypto_checks_ = true;
  std::atomic<int> active_pulls_{0};
  // The removals of each office, computed from the records they were
  // computed from: used only while the records read are the same (another
  // hub process on the store may have stored a removal or a revocation).
  struct CachedOffice {
    OfficeRecords records;
    std::shared_ptr<const OfficeRemovals> removals;
  };
  absl::Mutex removals_mu_;
  std::map<std::string, CachedOffice> removals_ ABSL_GUARDED_BY(removals_mu_);
  // When a laptop's last checkpoint whose root the hub's rows did not give
  // was tried (hub/checkpoints.h): each such try scans its office's rows.
  absl::Mutex checkpoint_mu_;
  std::map<DeviceId, int64_t> checkpoint_failed_ ABSL_GUARDED_BY(checkpoint_mu_);
};

// What a province is registered with: a code by the rule laptops write
// codes by (schema/province_code.h), and a name of 1 to 100 characters of
// UTF-8 text without control or text-direction characters (newlines and
// tabs included: it is printed in tables on every office). The name is
// expected NFC already (the command line normalises what is typed).
// INVALID_ARGUMENT saying what is wrong.
absl::Status CheckProvince(const std::string& code, const std::string& name);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_ENGINE_H_
