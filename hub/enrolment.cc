#include "hub/enrolment.h"

#include <sodium.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "hub/audit.h"

namespace fieldsync::hub {

absl::StatusOr<Enrolment> EnrolNode(HubEnrolTxn& txn, const std::string& token,
                                    const DeviceId& device, const std::string& name,
                                    const crypto::DevicePublic& keys, bool proven,
                                    int64_t now) {
  Enrolment e;
  FS_ASSIGN_OR_RETURN(std::optional<StoredToken> t, txn.Token(token));
  if (!t) {
    return absl::PermissionDeniedError(
        "this enrolment token is not known to the hub: check it was copied whole, or ask "
        "the hub administrator for a new one (fieldhub enroll-token)");
  }
  e.province = t->province;
  const bool used_by_this_device = t->used && t->used_by == device.view();
  // The same device retrying with its token (the answer was lost on the
  // way, or the node crashed before saving it) is enrolled again below,
  // with a new secret; anyone else is refused.
  if (t->used && !used_by_this_device) {
    return absl::PermissionDeniedError(
        "this enrolment token was already used (each token enrols one device once): ask the "
        "hub administrator for a new one");
  }
  if (t->expires_at_millis <= now) {
    return absl::PermissionDeniedError(
        "this enrolment token has expired: ask the hub administrator for a new one "
        "(fieldhub enroll-token --province CODE --valid-for 24h)");
  }
  FS_ASSIGN_OR_RETURN(std::optional<StoredNode> node, txn.Node(device));
  const bool enrolled = node.has_value();
  if (enrolled && node->revoked) {
    return absl::PermissionDeniedError(absl::StrCat(
        "device ", device.ToString(),
        " was revoked at this hub and stays revoked; a replacement needs a new replica "
        "(fieldnode init) and a new token"));
  }
  if (enrolled && node->province != e.province) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device ", device.ToString(), " is enrolled for province ", node->province,
        " and this token is for ", e.province,
        "; a replica belongs to one province: use a token of its province"));
  }
  // A device's keys are registered once (issue 11: a device id is public
  // and a used token stays valid for its device's retries, so a retry
  // with other keys would be a takeover). Absent keys (enrolled before
  // protocol version 2) match nothing.
  const bool same_keys = enrolled && node->sign_pk && node->box_pk &&
                         *node->sign_pk == keys.sign_pk && *node->box_pk == keys.box_pk;
  if (enrolled && !same_keys) {
    return absl::PermissionDeniedError(absl::StrCat(
        "device ", device.ToString(),
        " is enrolled at this hub with other public keys, and a device's keys never change; "
        "nothing was changed. A lost answer is retried from the same keystore; a new "
        "keystore needs a new replica (fieldnode init) and a new token"));
  }
  // Only the retry of this token by this device re-enrols an enrolled
  // device: anyone else holding a token could otherwise take over a
  // colleague's device id (ids are in every commit), and a replica
  // restored from a backup would reuse sequence numbers the hub holds.
  if (enrolled && !used_by_this_device) {
    return absl::AlreadyExistsError(absl::StrCat(
        "device ", device.ToString(),
        " is already enrolled at this hub; its credential is in its data directory. If that "
        "was lost, or the replica was restored from a backup, make a new replica (fieldnode "
        "init) and enrol it with a new token"));
  }
  // The retry replaces the credential, so it must come from the device's
  // own keystore: its id, its keys and (often) its used token are no
  // secret, and anyone holding them would otherwise lock it out.
  if (enrolled && !proven) {
    return absl::PermissionDeniedError(absl::StrCat(
        "device ", device.ToString(), " is enrolled at this hub already; enrolling it again "
        "(an answer that was lost) needs proof that the request comes from its own keystore, "
        "which fieldnode enroll of this version sends: run it again from the device's data "
        "directory (upgrade fieldnode if it is older). Nothing was changed"));
  }
  // The retry gets a new secret: the old credential stops working.
  e.secret.resize(32);
  randombytes_buf(e.secret.data(), e.secret.size());
  FS_RETURN_IF_ERROR(txn.StoreNode(device, name, e.province, e.secret, keys, now));
  FS_RETURN_IF_ERROR(txn.AppendAudit(
      now, device.ToString(), kAuditEnrol,
      absl::StrCat(enrolled ? "re-enrolled (a retry with its token, new credential): " : "",
                   "device ", device.ToString(), " \"", name, "\" for province ", e.province,
                   ", key fingerprint ", crypto::Fingerprint(keys))));
  FS_RETURN_IF_ERROR(txn.UseToken(token, device, now));
  return e;
}

}  // namespace fieldsync::hub
