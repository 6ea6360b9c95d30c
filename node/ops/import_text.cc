#include "node/ops/import_text.h"

#include <unicode/normalizer2.h>
#include <unicode/ucnv.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "node/ops/messages.h"
#include "text/text.h"

namespace fieldsync::node::ops {
namespace {

constexpr std::string_view kNotUtf8Url = "fieldsync.node.ops/not-utf8";
constexpr std::string_view kBomUtf8 = "\xEF\xBB\xBF";
constexpr std::string_view kBomUtf16Le = "\xFF\xFE";
constexpr std::string_view kBomUtf16Be = "\xFE\xFF";

const char* IcuName(Encoding e) {
  switch (e) {
    case Encoding::kUtf16Le: return "UTF-16LE";
    case Encoding::kUtf16Be: return "UTF-16BE";
    case Encoding::kWindows1258: return "windows-1258";
    default: return "UTF-8";
  }
}

// `bytes` through ICU's converter for `e`; `stop`: refuse a byte it cannot
// decode, else show it as U+FFFD.
absl::StatusOr<std::string> Convert(std::string_view bytes, Encoding e, bool stop) {
  UErrorCode err = U_ZERO_ERROR;
  std::unique_ptr<UConverter, void (*)(UConverter*)> conv(ucnv_open(IcuName(e), &err),
                                                          ucnv_close);
  if (U_FAILURE(err)) {
    return absl::InternalError(absl::StrCat("no converter for ", IcuName(e), ": ",
                                            u_errorName(err)));
  }
  if (stop) {
    ucnv_setToUCallBack(conv.get(), UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &err);
  }
  std::u16string out(bytes.size() + 1, u'\0');
  const int32_t n = ucnv_toUChars(conv.get(), out.data(), static_cast<int32_t>(out.size()),
                                  bytes.data(), static_cast<int32_t>(bytes.size()), &err);
  if (U_FAILURE(err)) {
    return Coded(absl::InvalidArgumentError(
                     absl::StrCat("the file cannot be read as ", AV(EncodingName(e)), " (",
                                  u_errorName(err), "): choose the encoding it was saved in")),
                 Msg::kImportUnreadable, {{"encoding", std::string(EncodingName(e))}});
  }
  out.resize(static_cast<size_t>(n));
  std::string utf8;
  icu::UnicodeString(false, out.data(), n).toUTF8String(utf8);
  return utf8;
}

// `utf8` in NFC (Windows-1258 writes most tones as combining marks: NFC
// joins them). The rules of a typed value (NormalizeInput: no control
// characters) are the cells' own, checked with their fields: the file's
// line ends and tabs are not refused here.
std::string Nfc(const std::string& utf8) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(err);
  if (U_FAILURE(err)) return utf8;
  icu::UnicodeString u = nfc->normalize(icu::UnicodeString::fromUTF8(utf8), err);
  if (U_FAILURE(err)) return utf8;
  std::string out;
  u.toUTF8String(out);
  return out;
}

// The offset of the first byte that is not part of UTF-8, or npos.
size_t FirstNotUtf8(std::string_view s) {
  int32_t i = 0;
  const int32_t n = static_cast<int32_t>(s.size());
  while (i < n) {
    const int32_t at = i;
    UChar32 c;
    U8_NEXT(s.data(), i, n, c);
    if (c < 0) return static_cast<size_t>(at);
  }
  return std::string_view::npos;
}

}  // namespace

absl::StatusOr<Encoding> ParseEncoding(std::string_view name) {
  const std::string n = absl::AsciiStrToLower(AV(name));
  if (n.empty() || n == "auto") return Encoding::kAuto;
  if (n == "utf-8" || n == "utf8") return Encoding::kUtf8;
  if (n == "utf-16le" || n == "utf16le") return Encoding::kUtf16Le;
  if (n == "utf-16be" || n == "utf16be") return Encoding::kUtf16Be;
  if (n == "windows-1258" || n == "cp1258" || n == "windows1258") return Encoding::kWindows1258;
  return Coded(absl::InvalidArgumentError(
                   absl::StrCat("encoding \"", Printable(name),
                                "\" is not one taken: give utf-8, utf-16le, utf-16be or "
                                "windows-1258")),
               Msg::kImportEncoding, {{"encoding", Printable(name)}});
}

std::string_view EncodingName(Encoding e) {
  switch (e) {
    case Encoding::kAuto: return "auto";
    case Encoding::kUtf8: return "utf-8";
    case Encoding::kUtf16Le: return "utf-16le";
    case Encoding::kUtf16Be: return "utf-16be";
    case Encoding::kWindows1258: return "windows-1258";
  }
  return "?";
}

absl::StatusOr<DecodedText> DecodeRegister(std::string_view bytes, Encoding chosen) {
  DecodedText out;
  Encoding e = chosen;
  for (const auto& [bom, enc] : {std::pair{kBomUtf8, Encoding::kUtf8},
                                 std::pair{kBomUtf16Le, Encoding::kUtf16Le},
                                 std::pair{kBomUtf16Be, Encoding::kUtf16Be}}) {
    if (bytes.substr(0, bom.size()) != bom) continue;
    if (chosen != Encoding::kAuto && chosen != enc) {
      return Coded(
          absl::InvalidArgumentError(absl::StrCat(
              "the file begins with the byte-order mark of ", AV(EncodingName(enc)), ", not ",
              AV(EncodingName(chosen)), ": leave the encoding out (the mark decides)")),
          Msg::kImportBomDiffers,
          {{"bom", std::string(EncodingName(enc))}, {"chosen", std::string(EncodingName(chosen))}});
    }
    bytes.remove_prefix(bom.size());
    e = enc;
    out.bom = true;
    break;
  }
  if (e == Encoding::kAuto || e == Encoding::kUtf8) {
    const size_t bad = FirstNotUtf8(bytes);
    if (bad != std::string_view::npos) {
      const size_t line = 1 + std::count(bytes.begin(), bytes.begin() + bad, '\n');
      absl::Status s = Coded(
          absl::InvalidArgumentError(absl::StrCat(
              "the file is not UTF-8 (line ", line,
              "): a register Excel saved as CSV on a "
              "Vietnamese Windows is windows-1258; choose that encoding (--encoding windows-1258) "
              "and check the preview")),
          Msg::kImportNotUtf8, {{"line", absl::StrCat(line)}});
      s.SetPayload(AV(kNotUtf8Url), absl::Cord("1"));
      return s;
    }
    out.encoding = Encoding::kUtf8;
    out.text = std::string(bytes);
  } else {
    out.encoding = e;
    auto t = Convert(bytes, e, /*stop=*/true);
    if (!t.ok()) return t.status();
    out.text = std::move(*t);
  }
  out.text = Nfc(out.text);
  return out;
}

bool IsNotUtf8(const absl::Status& s) { return s.GetPayload(AV(kNotUtf8Url)).has_value(); }

std::string PreviewAs(std::string_view bytes, Encoding e, size_t lines) {
  for (std::string_view bom : {kBomUtf8, kBomUtf16Le, kBomUtf16Be}) {
    if (bytes.substr(0, bom.size()) == bom) {
      e = bom == kBomUtf8 ? Encoding::kUtf8
          : bom == kBomUtf16Le ? Encoding::kUtf16Le : Encoding::kUtf16Be;
      bytes.remove_prefix(bom.size());
      break;
    }
  }
  // Enough bytes for the first lines of a register, not the whole file.
  bytes = bytes.substr(0, 64 * 1024);
  if (e == Encoding::kUtf16Le || e == Encoding::kUtf16Be) bytes = bytes.substr(0, bytes.size() & ~size_t{1});
  auto t = Convert(bytes, e == Encoding::kAuto ? Encoding::kUtf8 : e, /*stop=*/false);
  std::string text = t.ok() ? *t : "";
  text = Nfc(text);
  size_t pos = 0;
  for (size_t i = 0; i < lines && pos != std::string::npos; ++i) {
    pos = text.find('\n', pos);
    if (pos != std::string::npos) ++pos;
  }
  if (pos != std::string::npos) text.resize(pos);
  return text;
}

absl::StatusOr<CsvTable> ParseCsv(std::string_view text) {
  CsvTable out;
  // The separator: the header line's most frequent of ',', ';', tab
  // (outside quotes); a comma if it has none.
  {
    size_t comma = 0, semi = 0, tab = 0;
    bool quoted = false;
    for (char ch : text) {
      if (ch == '"') quoted = !quoted;
      if (quoted) continue;
      if (ch == '\n' || ch == '\r') break;
      comma += ch == ',';
      semi += ch == ';';
      tab += ch == '\t';
    }
    if (tab > comma && tab >= semi) out.separator = '\t';
    else if (semi > comma) out.separator = ';';
  }
  const char sep = out.separator;
  size_t line = 1;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    CsvRecord rec;
    rec.line = line;
    std::string field;
    bool end = false;
    while (!end) {
      field.clear();
      if (i < n && text[i] == '"') {
        const size_t opened = line;
        ++i;
        while (true) {
          if (i >= n) {
            return Coded(absl::InvalidArgumentError(absl::StrCat(
                             "line ", opened, ": a quoted field is never closed (a \" missing)")),
                         Msg::kImportQuoteOpen, {{"line", absl::StrCat(opened)}});
          }
          if (text[i] == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field.push_back('"');
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          // A line break inside a field is kept as one '\n' (a CR is no
          // text a field holds).
          if (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') ++i;
          field.push_back(text[i] == '\r' ? '\n' : text[i]);
          ++i;
        }
        if (i < n && text[i] != sep && text[i] != '\n' && text[i] != '\r') {
          return Coded(absl::InvalidArgumentError(
                           absl::StrCat("line ", line,
                                        ": text after a closing quote (a quote inside a field is "
                                        "written twice: \"\")")),
                       Msg::kImportAfterQuote, {{"line", absl::StrCat(line)}});
        }
      } else {
        while (i < n && text[i] != sep && text[i] != '\n' && text[i] != '\r') {
          field.push_back(text[i++]);
        }
      }
      rec.fields.push_back(field);
      if (i < n && text[i] == sep) {
        ++i;
        continue;
      }
      // The record ends: CRLF, LF, CR or the end of the text.
      if (i < n && text[i] == '\r') ++i;
      if (i < n && text[i] == '\n') ++i;
      ++line;
      end = true;
    }
    const bool blank = std::all_of(rec.fields.begin(), rec.fields.end(),
                                   [](const std::string& f) { return IsBlank(f); });
    if (!blank) out.records.push_back(std::move(rec));
  }
  return out;
}

}  // namespace fieldsync::node::ops
