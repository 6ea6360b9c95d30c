// The hub's storage on PostgreSQL (issue 15; docs/POSTGRES.md): a second
// HubStorage beside the embedded SqliteHubStorage, for several hub
// processes on one database. Storage only: the rules stay the engine's
// (hub/engine.h).
//
// The registry (provinces, tokens, nodes, credentials, revocation, the
// audit trail, an office's records) on a versioned schema
// (hub/pg/schema.h); Write() with every call of the writer's view (the
// merge's storage, the log with positions from the locked head, scope
// tables, key records, chains, statements, checkpoints, collection) and
// Read() as a REPEATABLE READ, READ ONLY snapshot (hub/pg/views.h). No
// program reaches this class yet (no `fieldhub --store`); only the tests
// do. The hub's clock is restored at open from the stamps it holds.
//
// The registry's connection is used under a mutex, the writer's under
// write_mu_ (one writer in this process; across processes the head's row
// lock), and each Read() takes a connection of a pool. Times come from
// `clock`, as in the SQLite storage.
#ifndef FIELDSYNC_HUB_PG_STORAGE_H_
#define FIELDSYNC_HUB_PG_STORAGE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "clock/clock_source.h"
#include "clock/hlc.h"
#include "hub/pg/connection.h"
#include "hub/storage.h"

namespace fieldsync::hub {

class PostgresHubStorage : public HubStorage {
 public:
  // Whether opening may change the database's schema (attack review 22,
  // MED 5): only `init`, `serve` and `migrate` do (kMigrate: brought to
  // the current version, a new hub's tables and id made if it has none);
  // every other command opens a database of the current version as it is
  // (kAsIs: FAILED_PRECONDITION for any other version, nothing changed).
  enum class SchemaUse { kMigrate, kAsIs };

  // Connects to `target` (pg::Connection::Open: a postgresql:// URI or a
  // socket directory) and, with kMigrate, migrates the database to the
  // current schema version.
  static absl::StatusOr<std::unique_ptr<PostgresHubStorage>> Open(
      const std::string& target, ClockSource* clock, SchemaUse schema = SchemaUse::kMigrate);
  // The same over `conn`, a connection to `target` the caller opened (to
  // read the database's version first): one connection fewer a command.
  static absl::StatusOr<std::unique_ptr<PostgresHubStorage>> Open(
      const std::string& target, std::unique_ptr<pg::Connection> conn, ClockSource* clock,
      SchemaUse schema);
  ~PostgresHubStorage() override;

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

  // OK while the database's schema version is the one this process
  // opened. Once another fieldhub changed it (a newer `fieldhub migrate`
  // or `serve`), UNAVAILABLE saying so, and from then on, for good, every
  // Write(), Read(), enrolment and registry change of this process is
  // refused with the same line, storing nothing: the process knows nothing
  // of the new version's invariants (`fieldhub serve` asks at each health
  // tick and goes NOT_SERVING).
  absl::Status CheckSchema();

  absl::Status Write(const std::function<absl::Status(HubWriteTxn&)>& body) override;
  absl::Status Read(const std::function<absl::Status(HubReadTxn&)>& body) override;

 private:
  PostgresHubStorage(std::string target, std::unique_ptr<pg::Connection> conn,
                     ClockSource* clock);
  absl::Status Init(SchemaUse schema);
  // OK, or the line CheckSchema latched.
  absl::Status Stale() const;
  // NOT_FOUND-free lookup: nullopt if `device` is not enrolled.
  absl::StatusOr<std::optional<NodeInfo>> LoadNode(const DeviceId& device)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // A connection for the writer or a reader.
  absl::StatusOr<std::unique_ptr<pg::Connection>> Connect();

  const std::string target_;
  ClockSource* const clock_;
  DeviceId hub_id_;  // set by Init, then read only
  int64_t schema_version_ = 0;  // as opened (set by Init)
  int64_t log_scope_from_ = 0;  // pg::ReadLogScopeFrom, at Init
  // Set once CheckSchema found another version; then read only.
  std::atomic<bool> stale_{false};
  absl::Mutex stale_mu_;
  std::string stale_line_ ABSL_GUARDED_BY(stale_mu_);

  // Held by RevokeNode and (next session) Write(): within this process no
  // write of the log runs while a revocation is stored. Across processes
  // the hub_log_head row lock does that (docs/POSTGRES.md).
  absl::Mutex write_mu_;
  absl::Mutex mu_ ABSL_ACQUIRED_AFTER(write_mu_);
  std::unique_ptr<pg::Connection> conn_ ABSL_GUARDED_BY(mu_);
  // The writer's (opened at its first Write) and its merges' clock.
  std::unique_ptr<pg::Connection> writer_ ABSL_GUARDED_BY(write_mu_);
  HybridClock hlc_;
  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<pg::Connection>> readers_ ABSL_GUARDED_BY(readers_mu_);
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_PG_STORAGE_H_
