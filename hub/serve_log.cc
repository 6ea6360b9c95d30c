#include "hub/serve_log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace fieldsync::hub {

bool IsJournal(std::FILE* out) {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr || out == nullptr) return false;
  // The programs' stderr is a stream over fd 2 that makes output safe for
  // a terminal (base/terminal.h): a stream with no descriptor of its own.
  int fd = fileno(out);
  if (fd < 0 && out == stderr) fd = STDERR_FILENO;
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0) return false;
  // "<device>:<inode>", both decimal (systemd.exec(5)).
  return std::string(stream) == absl::StrCat(static_cast<unsigned long long>(st.st_dev), ":",
                                             static_cast<unsigned long long>(st.st_ino));
}

std::string LoggableEvent(std::string_view event) {
  std::string text = Printable(event);
  if (text.size() <= kMaxEventBytes) return text;
  // Printable's text is valid UTF-8: back up over continuation bytes.
  size_t cut = kMaxEventBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  const size_t more = text.size() - cut;
  text.resize(cut);
  absl::StrAppend(&text, "... (", more, " bytes more)");
  return text;
}

void ServeLog(LogPriority priority, std::string_view event, std::FILE* out) {
  if (out == nullptr) return;
  std::string line;
  if (IsJournal(out)) absl::StrAppend(&line, "<", static_cast<int>(priority), ">");
  absl::StrAppend(&line, "fieldhub: ", LoggableEvent(event), "\n");
  // One call: the stream's lock keeps lines of concurrent calls whole
  // (stderr is unbuffered: the line goes out as one write). Nowhere to log
  // to is not a reason to stop serving.
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

}  // namespace fieldsync::hub
