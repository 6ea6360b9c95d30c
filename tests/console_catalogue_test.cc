// The console's catalogue holds every message key of the node library
// (node/ops/messages.h, text/text.h) in Vietnamese and English (issue 14,
// requirement 3): read from the pages' own files (node/console/assets/
// messages*.js, as built into fieldnode), each key the library can attach
// must have its words in both languages, Vietnamese in NFC with no control
// or text-direction character, the same {parameters} in both; a key added
// to the library without its words fails here. No "lib.*" entry is left
// that the library no longer attaches.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "base/json.h"
#include "node/ops/messages.h"
#include "text/text.h"

namespace fieldsync::node::ops {
namespace {

struct Catalogue {
  std::map<std::string, std::string> vi, en;
};

// Every "key": "words" of the messages*.js files, by language: a file's
// `vi: {` or `MESSAGES.vi` starts Vietnamese, `en: {` or `MESSAGES.en`
// English.
Catalogue ReadCatalogue() {
  Catalogue out;
  const std::regex token(
      R"re((?:MESSAGES\.(vi|en)\b|\b(vi|en): \{)|"([a-z0-9_.\-]+)"\s*:\s*"((?:[^"\\]|\\.)*)")re");
  const std::filesystem::path dir(FIELDSYNC_CONSOLE_ASSETS);
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("messages", 0) != 0 || entry.path().extension() != ".js") continue;
    ++files;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    std::map<std::string, std::string>* lang = nullptr;
    for (auto it = std::sregex_iterator(s.begin(), s.end(), token); it != std::sregex_iterator();
         ++it) {
      const std::smatch& m = *it;
      if (m[1].matched || m[2].matched) {
        lang = (m[1].matched ? m[1].str() : m[2].str()) == "vi" ? &out.vi : &out.en;
        continue;
      }
      EXPECT_NE(lang, nullptr) << name << ": \"" << m[3] << "\" before any language";
      if (lang == nullptr) continue;
      const Json words = Json::parse("\"" + m[4].str() + "\"", nullptr, false);
      EXPECT_TRUE(words.is_string()) << name << ": the words of " << m[3] << " do not read";
      if (words.is_string()) (*lang)[m[3].str()] = words.get<std::string>();
    }
  }
  EXPECT_GE(files, 2u) << "no catalogue in " << dir;
  return out;
}

std::set<std::string> Parameters(const std::string& words) {
  std::set<std::string> out;
  const std::regex param(R"(\{(\w+)\})");
  for (auto it = std::sregex_iterator(words.begin(), words.end(), param);
       it != std::sregex_iterator(); ++it) {
    out.insert((*it)[1].str());
  }
  return out;
}

TEST(ConsoleCatalogueTest, EveryLibraryKeyHasVietnameseAndEnglishWords) {
  const Catalogue c = ReadCatalogue();
  const std::vector<std::string_view> keys = LibraryMessageKeys();
  ASSERT_GE(keys.size(), 50u);
  std::set<std::string> library;
  for (std::string_view k : keys) {
    const std::string key(k);
    EXPECT_TRUE(library.insert(key).second) << key << " is listed twice";
    EXPECT_EQ(key.rfind("lib.", 0), 0u) << key << ": the library's keys begin with lib.";
    auto vi = c.vi.find(key);
    auto en = c.en.find(key);
    EXPECT_TRUE(vi != c.vi.end() && !vi->second.empty())
        << key << " has no Vietnamese words in node/console/assets/messages*.js";
    EXPECT_TRUE(en != c.en.end() && !en->second.empty())
        << key << " has no English words in node/console/assets/messages*.js";
    if (vi == c.vi.end() || en == c.en.end()) continue;
    auto nfc = text::NormalizeInput(vi->second, key);
    EXPECT_TRUE(nfc.ok()) << key << ": " << nfc.status();
    if (nfc.ok()) {
      EXPECT_EQ(*nfc, vi->second) << key << ": the Vietnamese words are not NFC";
    }
    EXPECT_EQ(Parameters(vi->second), Parameters(en->second))
        << key << ": the two languages fill different parameters";
  }
  // No lib.* words the library no longer attaches (lib.what.* and
  // lib.this_field are the pages' words for parameters).
  for (const auto* lang : {&c.vi, &c.en}) {
    for (const auto& [key, words] : *lang) {
      if (key.rfind("lib.", 0) != 0 || key.rfind("lib.what.", 0) == 0 || key == "lib.this_field") {
        continue;
      }
      EXPECT_TRUE(library.count(key) > 0) << key << " is in the catalogue but no longer attached";
    }
  }
}

// A key is attached and read back with its parameters in order; an OK
// status carries none.
TEST(ConsoleCatalogueTest, AKeyTravelsWithItsStatus) {
  const absl::Status s = Coded(absl::InvalidArgumentError("English words"), Msg::kValueNotAllowed,
                               {{"field", "persons.sex"}, {"value", "không biết"}});
  EXPECT_EQ(s.message(), "English words");
  std::optional<Message> m = MessageOf(s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->key, "lib.value.not_allowed");
  EXPECT_EQ(m->params, (MessageParams{{"field", "persons.sex"}, {"value", "không biết"}}));
  EXPECT_FALSE(MessageOf(absl::InvalidArgumentError("no key")).has_value());
  EXPECT_TRUE(Coded(absl::OkStatus(), Msg::kValueNotAllowed).ok());
}

// A parameter from a colleague's signed row (a case code, an office) may
// hold a direction override or a control character: it reaches the page
// escaped, never raw (attack review 28, LOW 4). Vietnamese stays as it is.
TEST(ConsoleCatalogueTest, AParameterCarriesNoControlOrDirectionCharacter) {
  const absl::Status s = Coded(absl::InvalidArgumentError("English words"), Msg::kValueNotAllowed,
                               {{"value", "LC-\u202e01\x1b[2J"}, {"field", "Hà Giang"}});
  std::optional<Message> m = MessageOf(s);
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(m->params.size(), 2u);
  EXPECT_EQ(m->params[0].second.find("\u202e"), std::string::npos) << "a direction override raw";
  EXPECT_EQ(m->params[0].second.find('\x1b'), std::string::npos) << "an escape character raw";
  EXPECT_EQ(m->params[1].second, "Hà Giang");
}

}  // namespace
}  // namespace fieldsync::node::ops
