#include "text/text.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/message.h"
#include "base/strings.h"
#include "base/terminal.h"
#include "base/utf8.h"

namespace fieldsync::text {

absl::StatusOr<std::string> NormalizeInput(std::string_view s, std::string_view what) {
  size_t bad = 0;
  if (!IsValidUtf8(s, &bad)) {
    return WithMessage(absl::InvalidArgumentError(absl::StrCat(
                           AV(what), " is not valid UTF-8 text (byte ", bad,
                           "); set the terminal or file to UTF-8 and enter it again. Nothing was "
                           "changed")),
                       kMsgNotUtf8, {{"field", std::string(what)}});
  }
  // Control and bidirectional formatting characters (an escape sequence, a
  // U+202E turning text around) have no place in a case file: refused
  // where they are typed. Newlines and tabs are text.
  const icu::UnicodeString check =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  for (int32_t i = 0; i < check.length();) {
    const UChar32 c = check.char32At(i);
    if (IsUnsafeForTerminal(static_cast<char32_t>(c))) {
      return WithMessage(
          absl::InvalidArgumentError(absl::StrFormat(
              "%s holds the control or text-direction character U+%04X, which is not text: "
              "type it again without it. Nothing was changed",
              AV(what), static_cast<uint32_t>(c))),
          kMsgControl,
          {{"field", std::string(what)},
           {"char", absl::StrFormat("U+%04X", static_cast<uint32_t>(c))}});
    }
    i += U16_LENGTH(c);
  }
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(err);
  if (U_FAILURE(err)) {
    return absl::InternalError(absl::StrCat("ICU cannot normalise text: ", u_errorName(err)));
  }
  const icu::UnicodeString in =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  icu::UnicodeString out = nfc->normalize(in, err);
  if (U_FAILURE(err)) {
    return WithMessage(absl::InvalidArgumentError(
                           absl::StrCat(AV(what), " cannot be normalised: ", u_errorName(err))),
                       kMsgNotNormalised, {{"field", std::string(what)}});
  }
  std::string utf8;
  out.toUTF8String(utf8);
  return utf8;
}

bool IsBlank(std::string_view s) {
  const icu::UnicodeString u =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  for (int32_t i = 0; i < u.length();) {
    const UChar32 c = u.char32At(i);
    // White space, and what shows nothing: a zero-width space or joiner,
    // a Hangul filler, a soft hyphen (Default_Ignorable_Code_Point).
    if (!u_isUWhiteSpace(c) && !u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
      return false;
    }
    i += U16_LENGTH(c);
  }
  return true;
}

std::string FoldForSearch(std::string_view s) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(err);
  const icu::UnicodeString in =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  icu::UnicodeString decomposed = U_SUCCESS(err) ? nfd->normalize(in, err) : in;
  if (U_FAILURE(err)) decomposed = in;
  icu::UnicodeString folded;
  for (int32_t i = 0; i < decomposed.length();) {
    const UChar32 c = decomposed.char32At(i);
    i += U16_LENGTH(c);
    if (u_charType(c) == U_NON_SPACING_MARK) continue;
    if (c == 0x0111 || c == 0x0110) {  // đ Đ: a letter of its own, not d with a mark
      folded.append(static_cast<UChar32>('d'));
      continue;
    }
    folded.append(u_tolower(c));
  }
  std::string out;
  folded.toUTF8String(out);
  return out;
}

bool MatchesFolded(std::string_view folded_text, std::string_view query) {
  const std::string q = FoldForSearch(query);
  bool any = false;
  for (absl::string_view word : absl::StrSplit(AV(q), ' ', absl::SkipEmpty())) {
    any = true;
    if (folded_text.find(SV(word)) == std::string_view::npos) return false;
  }
  return any;
}

namespace {

// The columns one code point takes on a terminal.
size_t Columns(UChar32 c) {
  if (u_charType(c) == U_NON_SPACING_MARK) return 0;
  const int ea = u_getIntPropertyValue(c, UCHAR_EAST_ASIAN_WIDTH);
  return ea == U_EA_WIDE || ea == U_EA_FULLWIDTH ? 2 : 1;
}

}  // namespace

size_t DisplayWidth(std::string_view s) {
  const icu::UnicodeString u =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  size_t width = 0;
  for (int32_t i = 0; i < u.length();) {
    const UChar32 c = u.char32At(i);
    i += U16_LENGTH(c);
    width += Columns(c);
  }
  return width;
}

std::string PadTo(std::string_view raw, size_t width) {
  // A table cell is one line: a newline in a value would break the table.
  const std::string safe = TerminalSafe(raw, /*keep_newlines=*/false);
  const std::string_view s = safe;
  const size_t w = DisplayWidth(s);
  if (w <= width) return absl::StrCat(AV(s), std::string(width - w, ' '));
  // Cut to at most width - 1 columns, then an ellipsis (a wide character
  // that does not fit whole is left out).
  const icu::UnicodeString u =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  icu::UnicodeString cut;
  size_t n = 0;
  for (int32_t i = 0; i < u.length();) {
    const UChar32 c = u.char32At(i);
    const size_t columns = Columns(c);
    if (n + columns + 1 > width) break;
    i += U16_LENGTH(c);
    cut.append(c);
    n += columns;
  }
  std::string out;
  cut.toUTF8String(out);
  return absl::StrCat(out, "…", std::string(width > n + 1 ? width - n - 1 : 0, ' '));
}

}  // namespace fieldsync::text
