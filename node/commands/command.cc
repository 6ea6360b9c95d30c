#include "node/commands/command.h"

#include <signal.h>

#include <cstdio>

namespace fieldsync::node {

OfficeContext::OfficeContext(const Args& a, Session s)
    : args(a),
      session(std::move(s)),
      office{*session.replica, *session.keys, session.hub.province, Officer(a), UnlockHint()},
      json(a.Has("json")) {}

absl::StatusOr<std::unique_ptr<OfficeContext>> OpenOfficeContext(const Args& args, bool ask) {
  auto session = OpenLocal(args, ask);
  if (!session.ok()) return session.status();
  return std::make_unique<OfficeContext>(args, *std::move(session));
}

void Print(const std::string& s) { std::fputs(s.c_str(), stdout); }

std::atomic<bool>& StopFlag() {
  static std::atomic<bool> stop{false};
  return stop;
}

namespace {
void OnSignal(int) { StopFlag().store(true); }
}  // namespace

void StopOnSignals() {
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
}

int Failed(const absl::Status& s) {
  return ops::IsRequestError(s) ? Usage(std::string(s.message())) : Fail(s);
}

}  // namespace fieldsync::node
