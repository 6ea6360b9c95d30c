// The key ring's refusals of an office's device membership (approving and
// removing a device: keyring_membership.cc) as keys a front end says in
// its own words (base/message.h); the English words stay the command
// line's. Parameters: "device" (its id), "office" (a province code). A
// wrong pairing code is keyed by the node library (lib.device.wrong_code).
#ifndef FIELDSYNC_STORE_KEYRING_MESSAGES_H_
#define FIELDSYNC_STORE_KEYRING_MESSAGES_H_

#include <string_view>

namespace fieldsync {

inline constexpr std::string_view kMsgNotMember = "lib.keys.not_member";        // office
inline constexpr std::string_view kMsgDeviceUnknown = "lib.keys.device_unknown";  // device, office
inline constexpr std::string_view kMsgDeviceGone = "lib.keys.device_gone";      // device
inline constexpr std::string_view kMsgRemoveSelf = "lib.keys.remove_self";
inline constexpr std::string_view kKeyRingMessageKeys[] = {
    kMsgNotMember, kMsgDeviceUnknown, kMsgDeviceGone, kMsgRemoveSelf};

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_KEYRING_MESSAGES_H_
