#include "node/commands/command.h"

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

int Failed(const absl::Status& s) {
  return ops::IsRequestError(s) ? Usage(std::string(s.message())) : Fail(s);
}

}  // namespace fieldsync::node
