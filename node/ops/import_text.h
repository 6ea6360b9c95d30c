// A register as Excel or a spreadsheet saves it: its bytes decoded to UTF-8
// NFC (UTF-8 with or without a byte-order mark, UTF-16 LE/BE with one,
// Windows-1258), and its text split into records (RFC 4180: quoted fields
// hold separators, quotes doubled, line breaks). For `fieldnode import
// cases` and the console's import page (import_cases.h).
#ifndef FIELDSYNC_NODE_OPS_IMPORT_TEXT_H_
#define FIELDSYNC_NODE_OPS_IMPORT_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fieldsync::node::ops {

// kAuto: a byte-order mark decides; without one the bytes must be UTF-8.
enum class Encoding { kAuto, kUtf8, kUtf16Le, kUtf16Be, kWindows1258 };

// "utf-8", "utf-16le", "utf-16be", "windows-1258" (also "utf8", "cp1258");
// "" or "auto": kAuto. INVALID_ARGUMENT naming the ones taken otherwise.
absl::StatusOr<Encoding> ParseEncoding(std::string_view name);
std::string_view EncodingName(Encoding e);

struct DecodedText {
  std::string text;  // UTF-8, NFC, without the byte-order mark
  Encoding encoding = Encoding::kUtf8;
  bool bom = false;
};
// `bytes` decoded: a byte-order mark (UTF-8, UTF-16 LE or BE) decides, else
// `chosen`; kAuto without a mark takes UTF-8 and refuses bytes that are not
// (IsNotUtf8: the front end suggests windows-1258 with a preview).
// INVALID_ARGUMENT saying where a byte cannot be decoded, or for a mark
// that contradicts `chosen`.
absl::StatusOr<DecodedText> DecodeRegister(std::string_view bytes, Encoding chosen);
bool IsNotUtf8(const absl::Status& s);

// The first `lines` lines of `bytes` as decoded in `e` (a byte it cannot
// decode shown as U+FFFD): the preview a front end shows before the choice.
std::string PreviewAs(std::string_view bytes, Encoding e, size_t lines);

struct CsvRecord {
  size_t line = 0;  // where it starts in the file, from 1
  std::vector<std::string> fields;
};
struct CsvTable {
  char separator = ',';  // ',', ';' or a tab: the header line's most frequent
  std::vector<CsvRecord> records;  // the header first; blank lines left out
};
// `text` split into records. INVALID_ARGUMENT naming the line of a quote
// never closed, or of text after a closing quote.
absl::StatusOr<CsvTable> ParseCsv(std::string_view text);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_IMPORT_TEXT_H_
