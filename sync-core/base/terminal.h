// What reaches a terminal. Names, places and notes come from every office
// and from the hub (device and province names): a control character (ESC
// starting a colour or cursor sequence, CR overwriting a line) or a
// bidirectional formatting character (U+202E turning text around, as in
// "Trojan Source") must never reach a terminal raw, whoever wrote it.
#ifndef FIELDSYNC_BASE_TERMINAL_H_
#define FIELDSYNC_BASE_TERMINAL_H_

#include <cstdio>
#include <string>
#include <string_view>

namespace fieldsync {

// Whether code point `c` is one a terminal must not receive raw: C0
// controls but newline and tab, DEL, C1 controls, and the bidirectional
// formatting characters (U+061C, U+200E, U+200F, U+202A-U+202E,
// U+2066-U+2069).
bool IsUnsafeForTerminal(char32_t c);

// `s` with each such code point, and each byte of invalid UTF-8, replaced
// by U+FFFD; newlines too unless `keep_newlines` (a table cell).
std::string TerminalSafe(std::string_view s, bool keep_newlines = true);

// From now on, everything written to stdout and stderr goes through
// TerminalSafe (a UTF-8 sequence cut between two writes is joined first).
// Called first thing in each program's main.
void MakeOutputTerminalSafe();

// The standard error stream before MakeOutputTerminalSafe(), for the
// program's own terminal control (a progress line rewritten in place);
// stderr if it was never called.
FILE* RawStderr();

}  // namespace fieldsync

#endif  // FIELDSYNC_BASE_TERMINAL_H_
