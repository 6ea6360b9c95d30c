// The rule a keystore passphrase must meet (docs/CRYPTO.md, "Keystore file"),
// checked by `fieldnode init` and `fieldnode passphrase` before anything is
// written, and at each unlock by passphrase (a passphrase chosen before the
// rule still opens the keystore, but must be replaced then: MaybeUnlock in
// node/session.h):
//
//   - at least kMinPassphraseChars characters: Unicode code points after NFC,
//     so "Gió" typed on a keyboard that sends o + combining acute counts 3,
//     as on one that sends ó;
//   - at least 10^kMinPassphraseGuessesLog10 guesses by the zxcvbn estimate
//     (Debian's libzxcvbn), taking the lower of the text as typed and its
//     folded form (no diacritics, lower case: zxcvbn's dictionaries are
//     English, and "toi yeu viet nam" is no stronger for its accents), with
//     a few words of this deployment counted as known ones.
//
// Why 10^10: a stolen laptop's keystore is attacked offline, against
// Argon2id at libsodium's MODERATE limits (256 MiB per guess). zxcvbn's own
// scale calls 10^10 "strong protection in the offline slow-hash scenario"
// and 10^8 only "moderate"; at an assumed 10^4 guesses per second (a rack of
// GPUs, memory-bound), 10^8 falls in under 3 hours, 10^10 takes about 12
// days on average. A sentence of four ordinary words passes easily.
#ifndef FIELDSYNC_NODE_PASSPHRASE_RULE_H_
#define FIELDSYNC_NODE_PASSPHRASE_RULE_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fieldsync::node {

inline constexpr size_t kMinPassphraseChars = 12;
inline constexpr double kMinPassphraseGuessesLog10 = 10;

struct PassphraseStrength {
  size_t chars = 0;            // code points after NFC
  double guesses_log10 = 0;    // zxcvbn's estimate, the lower of typed and folded
};

// INVALID_ARGUMENT if `passphrase` is not UTF-8 (the message never repeats it).
absl::StatusOr<PassphraseStrength> MeasurePassphrase(std::string_view passphrase);

// OK if `passphrase` meets the rule; else INVALID_ARGUMENT with one line,
// whose subject is `what` ("the passphrase", "the new passphrase"), saying
// what is wrong and what to choose instead. It never repeats the passphrase.
absl::Status CheckPassphraseRule(std::string_view passphrase, std::string_view what);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_PASSPHRASE_RULE_H_
