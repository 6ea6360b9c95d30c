#include "base/terminal.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/utf8.h"

namespace fieldsync {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the UTF-8 sequence starting with `lead`, 0 if `lead` cannot
// start one.
size_t SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Appends the safe form of `s` to `out`; returns how many bytes of `s` were
// consumed: all, unless `s` ends inside a sequence that may still be
// completed (when `partial_ok`).
size_t Append(std::string_view s, bool keep_newlines, bool partial_ok, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = SequenceLength(p[i]);
    if (n == 0) {
      out->append(kReplacement);
      ++i;
      continue;
    }
    if (i + n > s.size()) {
      bool prefix_ok = true;  // the bytes so far could still make a sequence
      for (size_t k = i + 1; k < s.size(); ++k) prefix_ok &= (p[k] & 0xC0) == 0x80;
      if (partial_ok && prefix_ok) return i;
      out->append(kReplacement);
      ++i;
      continue;
    }
    char32_t c = 0;
    if (DecodeUtf8(s, i, &c) != n) {
      out->append(kReplacement);
      ++i;
      continue;
    }
    if ((c == '\n' && !keep_newlines) || IsUnsafeForTerminal(c)) {
      out->append(kReplacement);
    } else {
      out->append(s.substr(i, n));
    }
    i += n;
  }
  return i;
}

struct Filtered {
  int fd;
  std::string carry;  // the start of a UTF-8 sequence cut by the last write
};

// The filters of stdout and stderr, once installed (null after a close).
Filtered* filtered_out = nullptr;
Filtered* filtered_err = nullptr;

bool WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t w = ::write(fd, s.data(), s.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    s.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

ssize_t FilteredWrite(void* cookie, const char* buf, size_t size) {
  auto* f = static_cast<Filtered*>(cookie);
  f->carry.append(buf, size);
  std::string out;
  out.reserve(f->carry.size() + 16);
  const size_t used = Append(f->carry, true, true, &out);
  f->carry.erase(0, used);
  if (!WriteAll(f->fd, out)) return -1;
  return static_cast<ssize_t>(size);
}

int FilteredClose(void* cookie) {
  auto* f = static_cast<Filtered*>(cookie);
  std::string out;
  Append(f->carry, true, false, &out);
  WriteAll(f->fd, out);
  if (f == filtered_out) filtered_out = nullptr;
  if (f == filtered_err) filtered_err = nullptr;
  delete f;
  return 0;
}

FILE* raw_stderr = nullptr;

// At exit the C library flushes the streams but never closes them, so the
// start of a sequence still waiting for its end would be lost: what was
// written is shown, replaced.
void FinishAtExit() {
  std::fflush(stdout);
  std::fflush(stderr);
  for (Filtered* f : {filtered_out, filtered_err}) {
    if (f == nullptr || f->carry.empty()) continue;
    std::string out;
    Append(f->carry, true, false, &out);
    f->carry.clear();
    WriteAll(f->fd, out);
  }
}

FILE* Wrap(int fd, int mode, Filtered** cookie) {
  cookie_io_functions_t io{};
  io.write = &FilteredWrite;
  io.close = &FilteredClose;
  auto* filtered = new Filtered{fd, {}};
  FILE* f = fopencookie(filtered, "w", io);
  if (f == nullptr) {
    delete filtered;
    return nullptr;
  }
  setvbuf(f, nullptr, mode, mode == _IONBF ? 0 : BUFSIZ);
  *cookie = filtered;
  return f;
}

}  // namespace

bool IsUnsafeForTerminal(char32_t c) {
  if (c < 0x20) return c != '\n' && c != '\t';
  if (c >= 0x7F && c <= 0x9F) return true;
  return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069);
}

std::string TerminalSafe(std::string_view s, bool keep_newlines) {
  std::string out;
  out.reserve(s.size());
  Append(s, keep_newlines, false, &out);
  return out;
}

void MakeOutputTerminalSafe() {
  if (raw_stderr != nullptr) return;
  std::fflush(stdout);
  std::fflush(stderr);
  // The program's own stderr, kept for its terminal control sequences.
  const int err_copy = ::dup(STDERR_FILENO);
  raw_stderr = err_copy >= 0 ? fdopen(err_copy, "w") : nullptr;
  if (raw_stderr != nullptr) setvbuf(raw_stderr, nullptr, _IONBF, 0);
  FILE* out = Wrap(STDOUT_FILENO, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, &filtered_out);
  FILE* err = Wrap(STDERR_FILENO, _IONBF, &filtered_err);
  if (out != nullptr) stdout = out;
  if (err != nullptr) stderr = err;
  std::atexit(&FinishAtExit);
}

FILE* RawStderr() { return raw_stderr != nullptr ? raw_stderr : stderr; }

}  // namespace fieldsync
