// How the sync engine names another laptop in the lines it reports:
// "laptop 1A2B3C4D (LC)", the device id's first eight hex digits and, if the
// registry knows it, its office.
#ifndef FIELDSYNC_SYNC_LAPTOP_NAME_H_
#define FIELDSYNC_SYNC_LAPTOP_NAME_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "change/id.h"
#include "store/keyring.h"

namespace fieldsync::sync {

inline std::string LaptopName(const RegisteredDevice* d, const DeviceId& id) {
  if (d == nullptr) return absl::StrCat("laptop ", id.ToString().substr(0, 8));
  return absl::StrCat("laptop ", id.ToString().substr(0, 8), " (", d->province, ")");
}

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_LAPTOP_NAME_H_
