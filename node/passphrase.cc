#include "node/passphrase.h"

#include <fcntl.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace fieldsync::node {

namespace {

absl::StatusOr<std::string> FromFile(const std::string& path, const std::string& source) {
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the passphrase file ", path, " (", source, ")"));
  }
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the passphrase file ", path, " (", source, ") is empty"));
  }
  return line;
}

// Reads a line from the terminal without echo; nullopt without a terminal.
std::optional<std::string> AskTerminal(const std::string& prompt) {
  int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct termios old {};
  const bool have_termios = tcgetattr(fd, &old) == 0;
  if (have_termios) {
    struct termios quiet = old;
    quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  std::string p = prompt;
  if (write(fd, p.data(), p.size()) < 0) {
    // nothing to do: the prompt is a courtesy
  }
  std::string line;
  line.reserve(1024);  // no reallocation leaving unwiped copies behind
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n' && line.size() < 1024) line.push_back(c);
  if (have_termios) tcsetattr(fd, TCSAFLUSH, &old);
  if (write(fd, "\n", 1) < 0) {
    // as above
  }
  close(fd);
  return line;
}

}  // namespace

void Wipe(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

absl::StatusOr<std::optional<std::string>> GetPassphrase(const Args& args, bool ask,
                                                         const std::string& prompt) {
  if (args.Has("passphrase-file") || !args.Flag("passphrase-file").empty()) {
    auto p = FromFile(args.Flag("passphrase-file"), "--passphrase-file");
    if (!p.ok()) return p.status();
    return std::optional<std::string>(*std::move(p));
  }
  if (const char* f = std::getenv(kPassphraseFileEnv); f != nullptr && *f != '\0') {
    auto p = FromFile(f, kPassphraseFileEnv);
    if (!p.ok()) return p.status();
    return std::optional<std::string>(*std::move(p));
  }
  if (const char* v = std::getenv(kPassphraseEnv); v != nullptr && *v != '\0') {
    std::string p(v);
    // Not left for child processes or /proc/PID/environ of a long daemon.
    unsetenv(kPassphraseEnv);
    return std::optional<std::string>(std::move(p));
  }
  if (!ask) return std::optional<std::string>();
  std::optional<std::string> typed = AskTerminal(prompt);
  if (typed && typed->empty()) {
    return absl::InvalidArgumentError("no passphrase was typed; nothing was changed");
  }
  return typed;
}

absl::StatusOr<std::string> GetNewPassphrase(const Args& args, bool use_current_sources) {
  if (!args.Flag("new-passphrase-file").empty()) {
    return FromFile(args.Flag("new-passphrase-file"), "--new-passphrase-file");
  }
  if (use_current_sources) {
    auto p = GetPassphrase(args, /*ask=*/false, "");
    if (!p.ok()) return p.status();
    if (*p) return **p;
  }
  std::optional<std::string> first =
      AskTerminal("New passphrase for this laptop's keystore (a sentence is best): ");
  if (!first) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a new passphrase is needed and there is no terminal to ask on: give "
        "--new-passphrase-file FILE (or, for init, --passphrase-file FILE or ",
        kPassphraseFileEnv, ")"));
  }
  std::optional<std::string> again = AskTerminal("Type it again: ");
  if (!again || *again != *first) {
    Wipe(*first);
    if (again) Wipe(*again);
    return absl::InvalidArgumentError("the two passphrases differ; nothing was changed");
  }
  Wipe(*again);
  return *first;
}

}  // namespace fieldsync::node
