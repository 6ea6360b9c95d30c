#include "hub/key_mark.h"

#include <string>

#include "base/status_macros.h"
#include "crypto/bytes.h"
#include "crypto/hash.h"

namespace fieldsync::hub {

uint64_t KeyMark(const DeviceId& hub_id, const StoredKeyRecord& k) {
  std::string fixed;
  crypto::ByteWriter w(&fixed);
  w.U64(static_cast<uint64_t>(k.seq));
  std::string at;
  crypto::ByteWriter(&at).U64(static_cast<uint64_t>(k.stored_at_millis));
  const std::string h =
      crypto::DomainHash("fieldsync hub key mark v1", {hub_id.view(), fixed, k.id, at});
  uint64_t mark = 0;
  for (size_t i = 0; i < 8; ++i) mark = (mark << 8) | static_cast<unsigned char>(h[i]);
  return mark == 0 ? 1 : mark;
}

absl::StatusOr<int64_t> KeysFrom(HubReadTxn& hub, const DeviceId& hub_id, int64_t key_cursor,
                                 uint64_t mark) {
  if (key_cursor <= 0 || mark == 0) return key_cursor;
  FS_ASSIGN_OR_RETURN(std::optional<StoredKeyRecord> at, hub.KeyRecordAt(key_cursor));
  if (!at || KeyMark(hub_id, *at) != mark) return int64_t{0};
  return key_cursor;
}

}  // namespace fieldsync::hub
