// This laptop's own check of its own commits before they are pushed
// (docs/PROTOCOL.md, "A commit damaged on this laptop's disk"; process attack
// 80, HIGH 1 and MEDIUM 2). Its own signature against its own key: cheap,
// and needs no word of the hub. What fails it was damaged on this laptop's
// disk (or altered by someone with it); the hub would refuse the whole push
// for it, at every pass. What passes it and is refused by the hub as not
// signed by this laptop tells the laptop the hub holds another key for it.
#ifndef FIELDSYNC_SYNC_OWN_CHECK_H_
#define FIELDSYNC_SYNC_OWN_CHECK_H_

#include <string>
#include <string_view>

#include "change/commit.h"

namespace fieldsync::sync {

struct OwnCheck {
  enum class Kind {
    kSound,          // signature (and header, if any) verify and cover the body
    kBodyDamaged,    // its signed header is sound (author, seq, signature):
                     // it can be set aside at the hub by that header alone
    kHeaderDamaged,  // no sound header either (or none: a chain not begun):
                     // the hub can be told nothing of it
  };
  Kind kind = Kind::kSound;
  std::string why;  // plain words, no value of the commit; empty if sound
};

// `c` as read from this laptop's log, checked against this laptop's own
// public signing key `own_sign_pk` (of its unlocked identity: never a key
// the hub named).
OwnCheck CheckOwnCommit(const Commit& c, std::string_view own_sign_pk);

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_OWN_CHECK_H_
