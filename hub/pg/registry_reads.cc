#include "hub/pg/registry_reads.h"

#include <utility>

#include "base/status_macros.h"
#include "crypto/key_record.h"

namespace fieldsync::hub::pg {

absl::StatusOr<std::vector<RegisteredDevice>> ReadRegistry(Connection& conn) {
  FS_ASSIGN_OR_RETURN(Result r, conn.Exec("SELECT device, name, province, sign_pk, box_pk, "
                                          "revoked_at, revoked_position FROM hub_nodes WHERE "
                                          "sign_pk IS NOT NULL ORDER BY device"));
  std::vector<RegisteredDevice> out;
  for (int i = 0; i < r.rows(); ++i) {
    RegisteredDevice d;
    FS_ASSIGN_OR_RETURN(d.keys.device, Id16::FromBytes(r.Bytes(i, 0), "node device"));
    d.name = r.Bytes(i, 1);
    d.province = r.Bytes(i, 2);
    d.keys.sign_pk = r.Bytes(i, 3);
    d.keys.box_pk = r.Bytes(i, 4);
    if (!r.IsNull(i, 5)) {
      FS_ASSIGN_OR_RETURN(d.revoked_at_millis, r.Int(i, 5));
      FS_ASSIGN_OR_RETURN(d.revoked_position, r.Int(i, 6));
    }
    out.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<OfficeRecords> ReadOfficeRecords(Connection& conn, const std::string& province) {
  // The membership records (part 0, in the order stored) and the revoked
  // devices (part 1) in one statement: one snapshot, one round trip (every
  // call of every node reads them, HubEngine::Authenticate).
  OfficeRecords out;
  FS_ASSIGN_OR_RETURN(
      Result r, conn.Exec("SELECT 0 AS part, bytes, stored_at, seq FROM hub_keys WHERE kind = $1 "
                          "AND province = $2 UNION ALL SELECT 1, device, NULL, NULL FROM "
                          "hub_nodes WHERE province = $2 AND revoked_at IS NOT NULL ORDER BY "
                          "part, seq",
                          {Param::Int(static_cast<int64_t>(crypto::KeyRecordKind::kMembership)),
                           Param::Text(province)}));
  for (int i = 0; i < r.rows(); ++i) {
    FS_ASSIGN_OR_RETURN(const int64_t part, r.Int(i, 0));
    if (part == 0) {
      FS_ASSIGN_OR_RETURN(const int64_t at, r.Int(i, 2));
      out.membership.emplace_back(r.Bytes(i, 1), at);
    } else {
      FS_ASSIGN_OR_RETURN(DeviceId d, Id16::FromBytes(r.Bytes(i, 1), "node device"));
      out.revoked.insert(d);
    }
  }
  return out;
}

}  // namespace fieldsync::hub::pg
