#include "node/passphrase_rule.h"

#include <zxcvbn.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/strings.h"
#include "base/utf8.h"
#include "node/passphrase.h"
#include "text/text.h"

namespace fieldsync::node {
namespace {

// Words this deployment's officers are likely to build a passphrase from,
// counted by zxcvbn as known words (folded spelling: compared with the
// folded form too). "mat khau" is "password".
const char* const kKnownWords[] = {"fieldsync", "fieldnode", "fieldhub", "hotline",
                                   "18001567",  "matkhau",   "mat khau", "vietnam",
                                   "viet nam",  "passphrase", nullptr};

// zxcvbn's estimate of `s` as log10 of guesses. zxcvbn-c reads a C string:
// a NUL inside shortens what it sees, which can only lower the estimate.
double GuessesLog10(const std::string& s) {
  const char** dict = const_cast<const char**>(kKnownWords);
  const double bits = ZxcvbnMatch(s.c_str(), dict, nullptr);
  return bits * std::log10(2.0);
}

size_t CodePoints(std::string_view utf8) {
  // Every code point has exactly one byte that is not a continuation byte.
  return static_cast<size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

absl::StatusOr<PassphraseStrength> MeasurePassphrase(std::string_view passphrase) {
  size_t bad = 0;
  if (!IsValidUtf8(passphrase, &bad)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "is not UTF-8 text (byte ", bad, "): set the terminal or file to UTF-8"));
  }
  absl::StatusOr<std::string> nfc = NormalizeInput(passphrase, "the passphrase");
  if (!nfc.ok()) return absl::InvalidArgumentError("cannot be normalised to NFC");
  std::string folded = FoldForSearch(*nfc);
  PassphraseStrength s;
  s.chars = CodePoints(*nfc);
  s.guesses_log10 = std::min(GuessesLog10(*nfc), GuessesLog10(folded));
  Wipe(*nfc);
  Wipe(folded);
  return s;
}

absl::Status CheckPassphraseRule(std::string_view passphrase, std::string_view what) {
  absl::StatusOr<PassphraseStrength> s = MeasurePassphrase(passphrase);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(AV(what), " ", s.status().message()));
  }
  if (s->chars < kMinPassphraseChars) {
    return absl::InvalidArgumentError(absl::StrCat(
        AV(what), " has ", s->chars, " characters and at least ", kMinPassphraseChars,
        " are needed: a sentence of several words is best"));
  }
  if (s->guesses_log10 < kMinPassphraseGuessesLog10) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s is among the easiest to guess (about 10^%.0f guesses, at least 10^%.0f are "
        "needed): avoid common words, names, dates, keyboard rows and repeats; a sentence of "
        "several unusual words is best",
        AV(what), std::floor(s->guesses_log10), kMinPassphraseGuessesLog10));
  }
  return absl::OkStatus();
}

}  // namespace fieldsync::node
