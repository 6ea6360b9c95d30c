// The embedded hub store: everything in one SQLite file (hub.db) -- the
// hub's replica (sync-core), its scope tables (hub/scope.h) and the registry
// (hub_provinces, hub_tokens, hub_nodes, hub_meta, hub_audit; docs/FORMATS.md,
// "Hub file"). One writer connection merges pushes under a mutex; pulls read
// through a pool of reader connections, each stream in one read
// transaction, so many nodes pull at once while one pushes.
#ifndef FIELDSYNC_HUB_SQLITE_STORE_H_
#define FIELDSYNC_HUB_SQLITE_STORE_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clock/clock_source.h"
#include "crypto/key_record.h"
#include "hub/office_removals.h"
#include "hub/store.h"
#include "store/sqlite.h"

namespace fieldsync::hub {

class SqliteHubStore : public HubStore {
 public:
  // Opens the hub's file (created by `fieldhub init` or CreateReplicaIn).
  static absl::StatusOr<std::unique_ptr<SqliteHubStore>> Open(const std::string& path,
                                                              ClockSource* clock = nullptr);
  ~SqliteHubStore() override;

  const DeviceId& hub_id() const override { return hub_id_; }
  absl::StatusOr<int64_t> LogHead() override;

  absl::Status AddProvince(const std::string& code, const std::string& name,
                           const std::string& actor) override;
  absl::StatusOr<std::vector<Province>> Provinces() override;
  absl::StatusOr<EnrollToken> MakeEnrollToken(const std::string& province,
                                              int64_t valid_for_millis,
                                              const std::string& actor) override;
  absl::StatusOr<std::vector<NodeInfo>> Nodes() override;
  absl::Status RevokeNode(const DeviceId& device, const std::string& actor) override;
  absl::StatusOr<HubAuditTrail> AuditTrail() override;

  absl::StatusOr<Enrolment> Enroll(const std::string& token, const DeviceId& device,
                                   const std::string& name, const crypto::DevicePublic& keys,
                                   bool proven) override;
  absl::StatusOr<std::vector<RegisteredDevice>> Registry() override;
  absl::StatusOr<NodeInfo> Authenticate(const DeviceId& device,
                                        const std::string& secret) override;
  absl::Status RecordDelivered(const DeviceId& device, int64_t position) override;
  absl::Status RecordCall(const DeviceId& device, int protocol_version,
                          std::optional<int64_t> clock_skew_millis,
                          std::optional<int64_t> cursor) override;

  absl::StatusOr<PushOutcome> Push(const NodeInfo& node, const PushOrigin& origin,
                                   const std::vector<PushedCommit>& commits,
                                   const std::vector<std::string>& key_records) override;
  absl::Status Pull(const NodeInfo& node, const PullParams& params,
                    const std::function<bool(PullChunk&)>& emit) override;

  absl::StatusOr<GcReport> CollectTombstones(int64_t min_age_millis,
                                             int64_t stale_after_millis,
                                             const std::string& actor) override;

  // Off: commits need no signature and sensitive fields may travel in
  // clear. Only for measuring what the cryptography costs (the benchmark's
  // baseline); a hub that real nodes use keeps it on. Set before serving.
  void set_crypto_checks(bool on) { crypto_checks_ = on; }

  // The replica itself (tests and `fieldhub status`); callers serialise.
  Replica& replica() { return *writer_; }

 private:
  SqliteHubStore(std::string path, ClockSource* clock) : path_(std::move(path)), clock_(clock) {}
  bool crypto_checks_ = true;
  absl::Status Init();
  // Inside the push's transaction: stores key records (checked already for
  // signer and office), applies erasures. True if a key ring was erased.
  absl::StatusOr<bool> StoreKeyRecords(const NodeInfo& node,
                                       const std::vector<crypto::KeyRecord>& records);
  absl::StatusOr<std::unique_ptr<Replica>> TakeReader();
  void ReturnReader(std::unique_ptr<Replica> r);
  absl::StatusOr<int64_t> GcHorizon(sqlite::Db& db);
  absl::StatusOr<uint64_t> GcEpoch(sqlite::Db& db);
  absl::StatusOr<NodeInfo> LoadNode(const DeviceId& device);
  // How `device` of `province` was removed by its office, if it was
  // (hub/office_removals.h), read through `db` on a cache miss; the caller
  // holds the lock of that connection.
  absl::StatusOr<std::optional<OfficeRemoval>> RemovalOf(sqlite::Db& db,
                                                         const std::string& province,
                                                         const DeviceId& device);
  // Drops the cached removals of `province` (every office's if empty).
  void ForgetRemovals(const std::string& province);

  std::string path_;
  ClockSource* clock_;
  DeviceId hub_id_;

  std::mutex write_mu_;                  // the writer replica
  std::unique_ptr<Replica> writer_;
  std::mutex registry_mu_;               // the registry connection
  std::unique_ptr<sqlite::Db> registry_;
  std::atomic<int> active_pulls_{0};
  // The removals of each office, computed on first need; dropped when a
  // membership record of the office is stored, or any device revoked (which
  // can change the hub's root). A computation that raced a drop is not kept
  // (removals_version_ counts the drops).
  std::mutex removals_mu_;
  std::map<std::string, std::shared_ptr<const OfficeRemovals>> removals_;  // by removals_mu_
  uint64_t removals_version_ = 0;                                         // by removals_mu_
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Replica>> readers_;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_SQLITE_STORE_H_
