// fieldnode device: who belongs to this laptop's office, decided on the
// office's laptops (docs/CRYPTO.md, "Office membership").
//
//   device list [--json]                  members, pending devices, their codes
//   device approve DEVICE --code CODE     a member approves a new laptop after
//                                         comparing the code on both screens
//   device join --code CODE               a new laptop confirms its office with
//                                         the code the approving laptop shows
//   device approve --first --code CODE    the office's first laptop, with its
//                                         code read by the hub administrator
//   device remove DEVICE --yes            a member removes a laptop for good (by id)
//   device alerts [--all] [--ack ID|all]  what the hub served that was refused
//   device resend                         key records the hub refused, sent again
#ifndef FIELDSYNC_NODE_DEVICE_H_
#define FIELDSYNC_NODE_DEVICE_H_

#include <string>

#include "base/args.h"

namespace fieldsync::node {

// (Its help: node/help/device.txt.)
// Runs `fieldnode device ...`; the exit code.
int DeviceCommand(const Args& args);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_DEVICE_H_
