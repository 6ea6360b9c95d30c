// fieldhub enroll-token: a one-time token that enrols one node of a province
// (hub/help/enroll-token.txt).
#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "base/tuning.h"
#include "hub/commands/command.h"
#include "hub/commands/time_args.h"

namespace fieldsync::hub {
namespace {

// A token lives days, not years (base/tuning.h).
constexpr absl::Duration kMaxTokenLife = absl::Hours(24 * tuning::kMaxEnrolTokenDays);

class EnrollTokenCmd final : public Command {
 public:
  EnrollTokenCmd() : Command("enroll-token") {}
  void Declare(CLI::App& app) override {
    DeclareDataDir(app);
    DeclareStore(app);
    DeclareJson(app);
    DeclareActor(app);
    app.add_option("--province", province_);
    app.add_option("--valid-for", valid_for_);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (!operands.empty()) return Usage(io, "enroll-token takes no operands");
    if (province_.empty()) return Usage(io, "enroll-token needs --province CODE");
    auto valid = ParseDuration(valid_for_);
    if (!valid.ok()) return Usage(io, valid.status());
    if (*valid > kMaxTokenLife) {
      return Usage(io, absl::StrCat("--valid-for ", valid_for_,
                                    " is not a token's life: give at most 30d (make another "
                                    "token when it is needed)"));
    }
    auto actor = Actor();
    if (!actor.ok()) return Usage(io, actor.status());
    auto store = OpenHubStore(FileCheck::kWhole);
    if (!store.ok()) return Fail(io, store.status());
    auto t = (*store)->MakeEnrollToken(province_, absl::ToInt64Milliseconds(*valid), *actor);
    if (!t.ok()) return Fail(io, t.status());
    if (json()) {
      Put(io.out, JsonLine(Json{{"token", t->token},
                                {"province", t->province},
                                {"expires_at", FormatMillis(t->expires_at_millis)}}));
      return kExitOk;
    }
    std::fprintf(io.out, "%s\n", t->token.c_str());
    std::fprintf(io.err,
                 "fieldhub: token for province %s, valid until %s, enrols one device once:\n"
                 "  fieldnode enroll --hub HOST:PORT --ca ca.crt --token %s\n",
                 t->province.c_str(), FormatMillis(t->expires_at_millis).c_str(),
                 t->token.c_str());
    return kExitOk;
  }

 private:
  std::string province_;
  std::string valid_for_ = "24h";
};

}  // namespace

std::unique_ptr<Command> MakeEnrollTokenCommand() { return std::make_unique<EnrollTokenCmd>(); }

}  // namespace fieldsync::hub
