// The log of `fieldhub serve`: one line per event on stderr, in the form
// docs/OPERATING.md ("The hub's log") documents. Each line is "fieldhub: "
// and the event, made printable (base/strings.h: no newline, no control,
// no ANSI escape can come from a node's bytes), written with one fwrite
// so that lines of concurrent calls never mix. When stderr is the journal
// (systemd sets $JOURNAL_STREAM to its device:inode) each line starts with
// sd-daemon's priority prefix, "<3>" to "<6>", which journald takes as the
// line's priority and removes; on a terminal or into a file there is none.
// An event is cut at kMaxEventBytes (made printable), then "... (N bytes
// more)": journald cuts a longer line at its LineMax (48K) and reads a
// priority prefix again at the start of each piece, so a node's bytes far
// into one event could otherwise give a line of their own, say "<0>", an
// emergency written to every terminal (attack review 21, LOW 3).
#ifndef FIELDSYNC_HUB_SERVE_LOG_H_
#define FIELDSYNC_HUB_SERVE_LOG_H_

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace fieldsync::hub {

// syslog(3)'s priorities, as sd-daemon(3) numbers them.
enum class LogPriority {
  kError = 3,    // serving stops or cannot start
  kWarning = 4,  // a call refused (a node's or the network's doing)
  kNotice = 5,   // the hub's state changes: serving, stopping, stopped
  kInfo = 6,     // one call (enrolments; pushes and pulls with --verbose)
};

// The most bytes of an event's printable text one line carries.
inline constexpr size_t kMaxEventBytes = 4096;

// `event` made printable and cut at kMaxEventBytes (never inside a UTF-8
// sequence), then "... (N bytes more)" with N the printable bytes left out.
std::string LoggableEvent(std::string_view event);

// Writes one line to `out` (stderr by default).
void ServeLog(LogPriority priority, std::string_view event, std::FILE* out = stderr);

// Whether `out` is the journal: $JOURNAL_STREAM names its device and inode.
bool IsJournal(std::FILE* out);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_SERVE_LOG_H_
