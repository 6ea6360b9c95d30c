// The embedded hub storage: everything in one SQLite file (hub.db) -- the
// hub's replica (sync-core), its scope tables (hub/scope.h) and the registry
// (hub_provinces, hub_tokens, hub_nodes, hub_meta, hub_keys, hub_erased,
// hub_purged, hub_audit, hub_referral_status; docs/FORMATS.md, "Hub file").
// Storage only (hub/storage.h): the rules are the engine's (hub/engine.h).
// One writer connection serves Write() under a mutex; Read() takes a
// connection of a pool, each snapshot one read transaction, so many nodes
// pull at once while one pushes; the registry has a connection of its own.
// The registry's code is in sqlite_registry.cc, the views' in sqlite_views.cc.
#ifndef FIELDSYNC_HUB_SQLITE_STORAGE_H_
#define FIELDSYNC_HUB_SQLITE_STORAGE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "clock/clock_source.h"
#include "hub/storage.h"
#include "store/replica.h"
#include "store/sqlite.h"

namespace fieldsync::hub {

class SqliteHubStorage : public HubStorage {
 public:
  // Opens the hub's file (created by `fieldhub init` or CreateReplicaIn),
  // migrating its hub tables to the current schema version.
  static absl::StatusOr<std::unique_ptr<SqliteHubStorage>> Open(const std::string& path,
                                                                ClockSource* clock);
  ~SqliteHubStorage() override;

  const DeviceId& hub_id() const override { return hub_id_; }
  const Schema& schema() const override;
  absl::StatusOr<int64_t> LogHead() override;

  absl::Status AddProvince(const std::string& code, const std::string& name,
                           const std::string& actor) override;
  absl::StatusOr<std::vector<Province>> Provinces() override;
  absl::StatusOr<EnrollToken> MakeEnrollToken(const std::string& province,
                                              int64_t valid_for_millis,
                                              const std::string& actor) override;
  absl::StatusOr<std::vector<NodeInfo>> Nodes() override;
  absl::StatusOr<std::optional<NodeInfo>> NodeOf(const DeviceId& device) override;
  absl::Status RevokeNode(const DeviceId& device, const std::string& actor,
                          const std::function<void()>& then) override;
  absl::StatusOr<HubAuditTrail> AuditTrail() override;
  absl::Status EnrolTransaction(
      const std::function<absl::Status(HubEnrolTxn&)>& body) override;
  absl::StatusOr<std::vector<RegisteredDevice>> Registry() override;
  absl::StatusOr<bool> SwapLinkKey(const DeviceId& device, std::string_view from,
                                   std::string_view to, const std::string& actor,
                                   const std::string& action, const std::string& detail) override;
  absl::StatusOr<NodeInfo> CheckCredential(const DeviceId& device,
                                           const CredentialCheck& check) override;
  absl::Status RecordDelivered(const DeviceId& device, int64_t position) override;
  absl::Status RecordCall(const DeviceId& device, int protocol_version,
                          std::optional<int64_t> clock_skew_millis,
                          std::optional<int64_t> cursor) override;
  absl::StatusOr<OfficeRecords> OfficeRecordsOf(const std::string& province) override;

  // `PRAGMA quick_check` of the file (a page overwritten, a b-tree broken):
  // OK, or DATA_LOSS naming the file, what SQLite found, and to restore it
  // from a backup. Reads the whole
  // file: about 0.2 s for a hub of 10,000 cases (68 MB), so run where a
  // damaged file must not go on (serve, the administrator's writes), not on
  // every open.
  absl::Status QuickCheck();

  absl::Status Write(const std::function<absl::Status(HubWriteTxn&)>& body) override;
  absl::Status Read(const std::function<absl::Status(HubReadTxn&)>& body) override;

  // The replica itself (tests and `fieldhub status`); callers serialise.
  Replica& replica() ABSL_NO_THREAD_SAFETY_ANALYSIS { return *writer_; }

 private:
  SqliteHubStorage(std::string path, ClockSource* clock)
      : path_(std::move(path)), clock_(clock) {}
  absl::Status Init();
  absl::StatusOr<NodeInfo> LoadNode(const DeviceId& device)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(registry_mu_);
  absl::StatusOr<std::unique_ptr<Replica>> TakeReader();
  void ReturnReader(std::unique_ptr<Replica> r);

  const std::string path_;
  ClockSource* const clock_;
  DeviceId hub_id_;  // set by Init, then read only

  absl::Mutex write_mu_;
  std::unique_ptr<Replica> writer_ ABSL_GUARDED_BY(write_mu_);
  absl::Mutex registry_mu_ ABSL_ACQUIRED_AFTER(write_mu_);
  std::unique_ptr<sqlite::Db> registry_ ABSL_GUARDED_BY(registry_mu_);
  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<Replica>> readers_ ABSL_GUARDED_BY(readers_mu_);
};

// The SQL of the storage's files, shared by sqlite_storage.cc and
// sqlite_registry.cc.
namespace sqlite_storage {
// FAILED_PRECONDITION, saying so in one line, if `path` is a hub.db of a
// newer hub schema version; reads only (call it before anything opens the
// file as a replica, which makes its own tables).
absl::Status RefuseNewerFile(const std::string& path);
// Every enrolled device with its public keys, as nodes verify against it.
absl::StatusOr<std::vector<RegisteredDevice>> ReadRegistry(sqlite::Db& db);
// An office's membership records and revoked devices.
absl::StatusOr<OfficeRecords> ReadOfficeRecords(sqlite::Db& db, const std::string& province);
// The views over one replica's connection (sqlite_views.cc): a snapshot's
// (inside the caller's read transaction) and the writer's.
std::unique_ptr<HubReadTxn> SnapshotView(Replica& reader);
std::unique_ptr<HubWriteTxn> WriterView(Replica& writer);
// The storage's writes take the one transaction type, sqlite::Transaction
// (store/sqlite.h), through sqlite::InTransaction: BEGIN IMMEDIATE, and a
// COMMIT that fails is rolled back, never left open on the connection.
inline constexpr sqlite::Transaction::Mode kWriteTxn = sqlite::Transaction::Mode::kWrite;
}  // namespace sqlite_storage

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_SQLITE_STORAGE_H_
