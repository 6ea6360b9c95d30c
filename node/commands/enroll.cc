// fieldnode enroll (node/help/enroll.txt): enrolment with the hub, over
// node/setup.h; this file parses, unlocks and prints.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/identity.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/session.h"
#include "node/setup.h"
#include "proto/address.h"
#include "text/text.h"

namespace fieldsync::node {

int RunEnrollCommand(const Args& args) {
  const DataDir dir = NodeDir(args);
  EnrolRequest request;
  request.hub = args.Flag("hub");
  request.token = args.Flag("token");
  request.ca_file = args.Flag("ca");
  request.insecure = args.Has("insecure");
  if (request.hub.empty()) return Usage("enroll needs --hub HOST:PORT");
  // A port over 65535 would wrap around to another one (process attack 80).
  // Several addresses of one hub, comma-separated, are tried in turn
  // (node/hub_links.h).
  if (absl::StatusOr<std::vector<std::string>> hubs = wire::SplitHubAddresses(request.hub);
      !hubs.ok()) {
    return Usage(absl::StrCat("--hub: ", hubs.status().message()));
  }
  if (request.token.empty()) {
    return Usage("enroll needs --token TOKEN (from the hub administrator)");
  }
  if (!request.insecure && request.ca_file.empty()) {
    return Usage("enroll needs --ca FILE, the CA certificate of the hub (or --insecure for a "
                 "hub on this machine)");
  }
  auto plan = PlanEnrolment(dir, request);
  if (!plan.ok()) return Fail(plan.status());
  char host[256] = "";
  gethostname(host, sizeof(host) - 1);
  auto name = NormalizeInput(args.Flag("name", host), "--name");
  if (!name.ok()) return Fail(name.status());
  request.name = *name;
  auto identity = MustUnlock(args, dir, "enrolment");
  if (!identity.ok()) return Fail(identity.status());
  auto done = Enrol(dir, request, *plan, *identity);
  if (!done.ok()) return FailHub(done.status());
  const std::string device = done->credential.device.ToString();
  const std::string fingerprint = crypto::Fingerprint(identity->public_keys());
  if (args.Has("json")) {
    Print(JsonLine(Json{{"device", device},
                        {"hub", request.hub},
                        {"province", done->hub.province},
                        {"fingerprint", fingerprint}}));
    return 0;
  }
  std::printf("enrolled device %s with the hub at %s for province %s\n"
              "key fingerprint %s (compare it with the one `fieldhub node list` shows)\n"
              "next: this laptop receives the office's keys once a laptop of the office has "
              "approved it. Sync, then run \"fieldnode device list\": it shows the code to "
              "compare and what to run (the office's first laptop types the code the hub "
              "administrator reads from \"fieldhub node list\")\n",
              device.c_str(), request.hub.c_str(), done->hub.province.c_str(),
              fingerprint.c_str());
  return 0;
}

}  // namespace fieldsync::node
