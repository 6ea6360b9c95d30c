// fieldhub province add|list: the province offices the hub knows
// (hub/help/province.txt).
#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "hub/commands/command.h"
#include "text/text.h"

namespace fieldsync::hub {
namespace {

class ProvinceCmd final : public Command {
 public:
  ProvinceCmd() : Command("province") {}
  void Declare(CLI::App& app) override {
    DeclareDataDir(app);
    DeclareStore(app);
    DeclareJson(app);
    DeclareActor(app);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (operands.empty()) return Usage(io, "province needs add or list");
    const std::string& sub = operands[0];
    if (sub != "add" && sub != "list") {
      return Usage(io, absl::StrCat("unknown province command \"", sub, "\"; it is add or list"));
    }
    if (sub == "add" && operands.size() != 3) {
      return Usage(io, "province add needs CODE and NAME, e.g. LC \"Lào Cai\"");
    }
    if (sub == "list" && operands.size() != 1) {
      return Usage(io, "province list takes no operands");
    }
    auto actor = Actor();
    if (!actor.ok()) return Usage(io, actor.status());
    // A code or name the store would refuse is a wrong command line: said
    // before the store is opened. The name as typed, stored NFC (one code
    // point per accented letter).
    absl::StatusOr<std::string> name;
    if (sub == "add") {
      name = text::NormalizeInput(operands[2], "the province name");
      if (!name.ok()) return Usage(io, name.status());
      if (absl::Status s = CheckProvince(operands[1], *name); !s.ok()) return Usage(io, s);
    }
    auto store = OpenHubStore(sub == "add" ? FileCheck::kWhole : FileCheck::kOpened);
    if (!store.ok()) return Fail(io, store.status());
    return sub == "add" ? Add(**store, operands[1], *name, *actor, io) : List(**store, io);
  }

 private:
  int Add(HubStore& store, const std::string& code, const std::string& name,
          const std::string& actor, const Io& io) {
    absl::Status s = store.AddProvince(code, name, actor);
    if (!s.ok()) return Fail(io, s);
    std::fprintf(io.out, "province %s (%s) registered\n", code.c_str(), name.c_str());
    return kExitOk;
  }

  int List(HubStore& store, const Io& io) {
    auto list = store.Provinces();
    if (!list.ok()) return Fail(io, list.status());
    if (json()) {
      Json out = Json::array();
      for (const Province& p : *list) out.push_back({{"code", p.code}, {"name", p.name}});
      Put(io.out, JsonLine(out));
      return kExitOk;
    }
    if (list->empty()) std::fprintf(io.out, "no provinces yet: fieldhub province add CODE NAME\n");
    for (const Province& p : *list) {
      std::fprintf(io.out, "%-8s %s\n", p.code.c_str(), p.name.c_str());
    }
    return kExitOk;
  }
};

}  // namespace

std::unique_ptr<Command> MakeProvinceCommand() { return std::make_unique<ProvinceCmd>(); }

}  // namespace fieldsync::hub
