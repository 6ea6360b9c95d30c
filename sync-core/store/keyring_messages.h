// The key ring's messages as keys a front end says in its own words
// (base/message.h); the English words stay the command line's.
// Refusals of an office's device membership (approving and removing a
// device: keyring_membership.cc). Parameters: "device" (its id), "office"
// (a province code). A wrong pairing code is keyed by the node library
// (lib.device.wrong_code).
// What became of a sealed field that did not open (OpenedField, KeyRing::
// Read in keyring_seal.cc): no parameters; the English `problem` says more,
// for the command line.
#ifndef FIELDSYNC_STORE_KEYRING_MESSAGES_H_
#define FIELDSYNC_STORE_KEYRING_MESSAGES_H_

#include <optional>
#include <string_view>

#include "base/message.h"
#include "store/keyring.h"

namespace fieldsync {

inline constexpr std::string_view kMsgNotMember = "lib.keys.not_member";        // office
inline constexpr std::string_view kMsgDeviceUnknown = "lib.keys.device_unknown";  // device, office
inline constexpr std::string_view kMsgDeviceGone = "lib.keys.device_gone";      // device
inline constexpr std::string_view kMsgRemoveSelf = "lib.keys.remove_self";
// A sealed field: no key for it has reached this device; its case's keys
// were erased; sealed under another record's key (moved or planted); it
// failed its check (malformed, tampered, no version).
inline constexpr std::string_view kMsgSealedNoKey = "lib.sealed.no_key";
inline constexpr std::string_view kMsgSealedErased = "lib.sealed.erased";
inline constexpr std::string_view kMsgSealedOtherRecord = "lib.sealed.other_record";
inline constexpr std::string_view kMsgSealedFailed = "lib.sealed.failed";
// A trust alert (KeyRing::TrustAlert::text: what the hub served that this
// laptop did not take), by its kind. Parameters: "device" (an id), "name"
// (as the hub lists it), "office", "was" (what this laptop first saw),
// "now" (a fingerprint), "first" (the office's first device here).
inline constexpr std::string_view kMsgAlertOwnKeys = "lib.alert.own_keys";    // device, name, was, now
inline constexpr std::string_view kMsgAlertKeys = "lib.alert.keys";           // device, name, was, now
inline constexpr std::string_view kMsgAlertName = "lib.alert.name";           // device, name, was
inline constexpr std::string_view kMsgAlertOffice = "lib.alert.office";       // device, office, was
inline constexpr std::string_view kMsgAlertUnrevoked = "lib.alert.unrevoked"; // device, name
inline constexpr std::string_view kMsgAlertFirst = "lib.alert.first";         // device, office, first
inline constexpr std::string_view kMsgAlertRestart = "lib.alert.restart";     // office
// A membership record of this laptop's the hub refused (OfficeView's
// device `refused`): "reason", the hub's words.
inline constexpr std::string_view kMsgRefusedApproval = "lib.device.refused_approval";
inline constexpr std::string_view kMsgRefusedRemoval = "lib.device.refused_removal";
inline constexpr std::string_view kMsgRefusedFirst = "lib.device.refused_first";
inline constexpr std::string_view kKeyRingMessageKeys[] = {
    kMsgNotMember,       kMsgDeviceUnknown,     kMsgDeviceGone,     kMsgRemoveSelf,
    kMsgSealedNoKey,     kMsgSealedErased,      kMsgSealedOtherRecord, kMsgSealedFailed,
    kMsgAlertOwnKeys,    kMsgAlertKeys,         kMsgAlertName,      kMsgAlertOffice,
    kMsgAlertUnrevoked,  kMsgAlertFirst,        kMsgAlertRestart,   kMsgRefusedApproval,
    kMsgRefusedRemoval,  kMsgRefusedFirst};

// The key of what became of `f` if it is sealed and did not open (no key,
// erased, another record's, failed); "" if it is clear, opened, or only
// locked (a front end masks a locked one in its own words).
std::string_view SealedFieldKey(const OpenedField& f);

// A trust alert's text as its key and parameters; nullopt for words no
// pattern knows (an alert stored by an older version): the text as it is.
std::optional<Message> TrustAlertMessage(std::string_view text);
// A device's `refused` (KeyRing::OfficeDevice) as its key and the hub's
// reason; nullopt for other words.
std::optional<Message> DeviceRefusalMessage(std::string_view refused);

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_KEYRING_MESSAGES_H_
