// Text as people type it: Vietnamese is the normal case. Everything a person
// enters is checked to be UTF-8 and stored NFC-normalised (one code point
// per accented letter, whichever keyboard or input method produced it), and
// search compares folded text: no diacritics, đ as d, lower case, so that
// "nguyen thi hang" finds "Nguyễn Thị Hằng". Uses ICU (Debian libicu-dev):
// library fieldsync_text, over base/ only, for node and hub; the engine's
// layers (sync_core) link no Unicode library.
#ifndef FIELDSYNC_TEXT_TEXT_H_
#define FIELDSYNC_TEXT_TEXT_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace fieldsync::text {

// `s` in NFC. INVALID_ARGUMENT naming `what` if it is not UTF-8 or holds a
// control or text-direction character, with one of TextMessageKeys()
// attached (base/message.h; parameter "field": `what`).
absl::StatusOr<std::string> NormalizeInput(std::string_view s, std::string_view what);

// The message keys NormalizeInput attaches: "lib.text.not_utf8",
// "lib.text.control" (parameter "char": U+XXXX), "lib.text.not_normalised".
inline constexpr std::string_view kMsgNotUtf8 = "lib.text.not_utf8";
inline constexpr std::string_view kMsgControl = "lib.text.control";
inline constexpr std::string_view kMsgNotNormalised = "lib.text.not_normalised";
inline constexpr std::string_view kTextMessageKeys[] = {kMsgNotUtf8, kMsgControl,
                                                        kMsgNotNormalised};

// True if `s` (UTF-8) is empty or holds only white space (Unicode
// White_Space: spaces, tabs, newlines, no-break and ideographic spaces) and
// characters that show nothing (Default_Ignorable_Code_Point: zero-width
// spaces and joiners, the Hangul fillers, a soft hyphen).
bool IsBlank(std::string_view s);

// `s` folded for search: NFD, combining marks dropped, đ/Đ as d, lower case.
std::string FoldForSearch(std::string_view s);

// True if every word of `query` (folded, split on spaces) occurs in `text`
// (folded): "hang nguyen" matches "Nguyễn Thị Hằng".
bool MatchesFolded(std::string_view folded_text, std::string_view query);

// Display width in terminal columns (code points; combining marks count 0,
// East Asian wide and fullwidth characters 2), for aligning tables of
// Vietnamese text (and names in Chinese characters).
size_t DisplayWidth(std::string_view s);

// `s` padded with spaces to `width` columns, or cut to it (ending in "…").
std::string PadTo(std::string_view s, size_t width);

}  // namespace fieldsync::text

// node/ calls these unqualified from its own namespace, as when they lived in
// node/text.h; the alias keeps that move to one #include line a file.
namespace fieldsync::node {
using text::DisplayWidth;
using text::FoldForSearch;
using text::IsBlank;
using text::MatchesFolded;
using text::NormalizeInput;
using text::PadTo;
}  // namespace fieldsync::node

#endif  // FIELDSYNC_TEXT_TEXT_H_
