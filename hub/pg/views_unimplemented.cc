// The calls of the PostgreSQL store's views not built yet (issue 15;
// docs/POSTGRES.md, "Left for the next sessions"): each answers
// UNIMPLEMENTED naming itself. The class stays unreachable from any program
// (no `fieldhub --store`) until this file is empty.
#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "hub/pg/views.h"

namespace fieldsync::hub::pg {

absl::Status PgView::Missing(std::string_view call) {
  return absl::UnimplementedError(
      absl::StrCat("the PostgreSQL hub store does not implement ", AV(call),
                   " yet (issue 15; docs/POSTGRES.md); use the SQLite store"));
}

absl::StatusOr<GcState> PgView::Gc() { return Missing("Gc"); }

absl::StatusOr<std::optional<std::string>> PgView::LogHash(int64_t) { return Missing("LogHash"); }

absl::StatusOr<LogPoint> PgView::LogHashHead() { return Missing("LogHashHead"); }

absl::StatusOr<int64_t> PgView::KeyHead() { return Missing("KeyHead"); }

absl::StatusOr<uint64_t> PgView::KeyRecordsSignedBy(const DeviceId&) {
  return Missing("KeyRecordsSignedBy");
}

absl::StatusOr<bool> PgView::IsPurged(const std::string&, const RowId&) {
  return Missing("IsPurged");
}

absl::StatusOr<std::vector<PurgedRow>> PgView::PurgedSince(uint64_t, const std::string&) {
  return Missing("PurgedSince");
}

absl::StatusOr<ChainPoint> PgView::ChainHead(const DeviceId&) { return Missing("ChainHead"); }

absl::StatusOr<std::vector<StoredChainEntry>> PgView::ChainEntries(const DeviceId&, uint64_t,
                                                                   uint64_t, size_t) {
  return Missing("ChainEntries");
}

absl::StatusOr<std::vector<StoredChainEntry>> PgView::RefusedChainEntries(const DeviceId&) {
  return Missing("RefusedChainEntries");
}

absl::StatusOr<std::vector<StoredStatement>> PgView::StatementsAfter(
    int64_t, const std::vector<std::string>&, size_t) {
  return Missing("StatementsAfter");
}

absl::StatusOr<std::vector<std::string>> PgView::PartnerProvinces(const std::string&) {
  return Missing("PartnerProvinces");
}

absl::StatusOr<std::optional<StoredCheckpoint>> PgView::NewestCheckpoint(const std::string&) {
  return Missing("NewestCheckpoint");
}

absl::StatusOr<std::optional<StoredCheckpoint>> PgView::CheckpointById(const std::string&) {
  return Missing("CheckpointById");
}

absl::StatusOr<std::vector<std::string>> PgView::CheckpointLeaves(const std::string&) {
  return Missing("CheckpointLeaves");
}

absl::StatusOr<std::vector<CheckpointRow>> PgView::CheckpointRows(const std::string&, uint32_t,
                                                                  size_t) {
  return Missing("CheckpointRows");
}

absl::StatusOr<std::optional<StoredKeyRecord>> PgView::KeyRecordAt(int64_t) {
  return Missing("KeyRecordAt");
}

absl::Status PgView::ForEachKeyRecordAfter(
    int64_t, const std::function<absl::Status(const StoredKeyRecord&)>&) {
  return Missing("ForEachKeyRecordAfter");
}

absl::StatusOr<std::vector<std::string>> PgView::KeyRecordsOfRing(const RowId&, int,
                                                                  const std::string&, int64_t) {
  return Missing("KeyRecordsOfRing");
}

absl::StatusOr<std::optional<ReferralState>> PgView::Referral(const RowId&) {
  return Missing("Referral");
}

absl::StatusOr<std::optional<std::string>> PgView::RecordedReferralStatus(const RowId&,
                                                                          const Version&) {
  return Missing("RecordedReferralStatus");
}

absl::Status PgView::PutLogHash(int64_t, const std::string&) { return Missing("PutLogHash"); }

absl::Status PgView::AddChainEntry(const DeviceId&, const StoredChainEntry&) {
  return Missing("AddChainEntry");
}

absl::Status PgView::SetChainPosition(const DeviceId&, uint64_t, int64_t) {
  return Missing("SetChainPosition");
}

absl::StatusOr<bool> PgView::PutStatement(const StoredStatement&) {
  return Missing("PutStatement");
}

absl::Status PgView::AdoptCheckpoint(const StoredCheckpoint&, const std::vector<CheckpointRow>&,
                                     size_t) {
  return Missing("AdoptCheckpoint");
}

absl::StatusOr<bool> PgView::RingErased(const RowId&) { return Missing("RingErased"); }

absl::Status PgView::EraseRing(const RowId&, const std::vector<int>&, int64_t, const DeviceId&) {
  return Missing("EraseRing");
}

absl::StatusOr<bool> PgView::StoreKeyRecord(const StoredKeyRecord&) {
  return Missing("StoreKeyRecord");
}

absl::Status PgView::RecordReferralStatus(const RowId&, const Version&, const std::string&) {
  return Missing("RecordReferralStatus");
}

absl::StatusOr<bool> PgView::DropTombstone(const std::string&, const RowId&) {
  return Missing("DropTombstone");
}

absl::Status PgView::RecordPurged(const Tombstone&, uint64_t, bool,
                                  const std::vector<std::string>&) {
  return Missing("RecordPurged");
}

absl::Status PgView::AdvanceGc(int64_t) { return Missing("AdvanceGc"); }

void PgView::Scrub() {}
}  // namespace fieldsync::hub::pg
