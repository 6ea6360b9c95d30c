// Which enrolments the hub accepts (hub/store.h, HubStore::Enroll): engine
// code over one registry transaction of any storage (hub/storage.h,
// HubEnrolTxn), so that a second store keeps the registry's rows and repeats
// none of these rules. A token enrols one device once; the device that used
// it may retry with the same keys (a lost answer) until it expires, and only
// with proof from its own keystore; a revoked device stays revoked; a device
// belongs to one province; a device's keys never change (a retry with other
// keys would be a takeover); every refusal changes nothing.
#ifndef FIELDSYNC_HUB_ENROLMENT_H_
#define FIELDSYNC_HUB_ENROLMENT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "crypto/identity.h"
#include "hub/storage.h"
#include "hub/store.h"

namespace fieldsync::hub {

// Enrols `device` with `token` at `now_millis` inside `txn`: a new secret
// (its credential) stored as the storage keeps credentials, the token
// marked used by the device, the audit trail told. The caller has checked
// `keys` are the device's and well formed; `proven` as in HubStore::Enroll.
absl::StatusOr<Enrolment> EnrolNode(HubEnrolTxn& txn, const std::string& token,
                                    const DeviceId& device, const std::string& name,
                                    const crypto::DevicePublic& keys, bool proven,
                                    int64_t now_millis);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_ENROLMENT_H_
