// UTF-8 validation. Text crossing a module boundary must be valid UTF-8;
// NFC normalisation is done where text enters from a person (the CLIs), since
// sync-core deliberately links no Unicode library.
#ifndef FIELDSYNC_BASE_UTF8_H_
#define FIELDSYNC_BASE_UTF8_H_

#include <cstddef>
#include <string_view>

namespace fieldsync {

// True if `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF). On failure `*bad_offset` (if given)
// receives the byte offset of the first invalid sequence.
bool IsValidUtf8(std::string_view s, size_t* bad_offset = nullptr);

// The code point whose well-formed UTF-8 sequence starts at `s[i]`, in
// `*cp`, and the sequence's length; 0 if no well-formed sequence starts
// there (a stray or bad lead byte, a bad continuation, an overlong form, a
// surrogate, a sequence cut by the end of `s`). Callers replace one byte and
// go on, so the byte after a bad lead byte is never swallowed.
size_t DecodeUtf8(std::string_view s, size_t i, char32_t* cp);

}  // namespace fieldsync

#endif  // FIELDSYNC_BASE_UTF8_H_
