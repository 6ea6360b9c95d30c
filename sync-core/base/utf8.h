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

}  // namespace fieldsync

#endif  // FIELDSYNC_BASE_UTF8_H_
