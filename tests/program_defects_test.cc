// Defects of issue 12 (point 7) seen by running the programs as a user
// would, each checked on the real programs: one line saying what is wrong,
// a documented exit code, no gRPC log line, no abort.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "sync/protocol.h"
#include "tools/lib/sync_harness.h"

namespace fieldsync {
namespace {

using ::testing::HasSubstr;

std::string Fieldhub() { return harness::BinDir() + "/fieldhub"; }
std::string Fieldnode() { return harness::BinDir() + "/fieldnode"; }

// `version --json` names the highest protocol version the programs speak.
TEST(ProgramDefectsTest, VersionSaysTheProtocolVersionSpoken) {
  for (const std::string& program : {Fieldnode(), Fieldhub()}) {
    harness::CommandResult r = harness::Run({program, "version", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["protocol_version"], sync::kMaxProtocolVersion) << program << ": " << r.out;
    EXPECT_TRUE(j["schema_version"].is_number());
    EXPECT_TRUE(j["commit_format"].is_number());
    harness::CommandResult text = harness::Run({program, "version"});
    EXPECT_THAT(text.out, HasSubstr(absl::StrCat("protocol version ", sync::kMaxProtocolVersion)));
  }
}

}  // namespace
}  // namespace fieldsync
