#include "crypto/commit_author.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace fieldsync::crypto {

absl::Status CommitAuthorRefusal(const Commit& c, const CommitAuthor& author, int64_t position) {
  if (author.registered == nullptr) {
    return absl::UnauthenticatedError(absl::StrCat(
        "commit ", c.Name(), " is by a device the hub's registry does not list; it cannot be "
        "verified and is refused"));
  }
  if (author.revoked && (position == 0 || position > author.revoked_position)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "commit ", c.Name(), " was signed by device ", c.author.ToString(), " (", AV(author.name),
        ") after its revocation; refused"));
  }
  if (author.cut_off != nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(
        "commit ", c.Name(), " of device ", c.author.ToString(), " (", AV(author.name),
        ") arrived after this laptop had seen that the device was ", *author.cut_off,
        "; refused"));
  }
  if (!author.office) return absl::OkStatus();
  FS_ASSIGN_OR_RETURN(std::shared_ptr<const Membership> office, author.office());
  if (office) {
    auto approved = office->approved.find(c.author);
    if (approved != office->approved.end() &&
        (approved->second.sign_pk != author.registered->sign_pk ||
         approved->second.box_pk != author.registered->box_pk)) {
      return absl::UnauthenticatedError(absl::StrCat(
          "commit ", c.Name(), " is by device ", c.author.ToString(), ", whose keys here differ "
          "from those its office approved; refused"));
    }
  }
  return absl::OkStatus();
}

}  // namespace fieldsync::crypto
