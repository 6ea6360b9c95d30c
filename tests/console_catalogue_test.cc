// The console's catalogue holds every message key of the node library
// (node/ops/messages.h, text/text.h) in Vietnamese and English (issue 14,
// requirement 3): read from the pages' own files (node/console/assets/
// messages*.js, as built into fieldnode), each key the library can attach
// must have its words in both languages, Vietnamese in NFC with no control
// or text-direction character, the same {parameters} in both; a key added
// to the library without its words fails here. No "lib.*" entry is left
// that the library no longer attaches.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "base/json.h"
#include "crypto/identity.h"
#include "node/ops/messages.h"
#include "node/pass_lines.h"
#include "schema/schema.h"
#include "store/keyring_messages.h"
#include "store/sqlite.h"
#include "store/store_messages.h"
#include "support/faulty_vfs.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"
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

// Every line a sync pass can give the console (node/pass_lines.h) has its
// words in both languages, filling exactly the parameters the line carries;
// no sync.line.* entry is left that no line gives. A report that says
// everything gives every key (the two clocks' each once).
TEST(ConsoleCatalogueTest, EverySyncLineHasVietnameseAndEnglishWordsForItsParameters) {
  const Catalogue c = ReadCatalogue();
  sync::SyncReport r;
  r.pushed = 3, r.push_duplicates = 1, r.pulled = 5, r.rows_installed = 7;
  r.bootstrapped = true, r.tombstones_purged = 2, r.cursor = 40, r.log_head = 50;
  r.skew_millis = 600'000, r.notice = "maintenance at 22:00";
  r.key_notes = {"office key of LC received"};
  r.key_records_refused = 1, r.key_refusal = "unknown device";
  r.key_records_refused_by_hub = 1, r.key_push_refusal = "stale";
  r.set_aside = 1, r.set_aside_reason = "outside scope";
  r.withdrawal_note = "withdrawn", r.redate_note = "re-dated";
  r.hub_went_back = true, r.went_back_from = 60, r.went_back_to = 40;
  r.relayed = 2, r.relay_notes = {"stopped"};
  r.own_resent = true, r.own_held_seq = 4, r.own_sent_seq = 6;
  r.downgraded_from = 3, r.protocol_version = 2;
  r.chain.problems = {"a gap"}, r.chain.rows_unvouched = 1, r.chain.held = 1;
  r.chain.unacknowledged = 1;
  r.push_refused = absl::FailedPreconditionError("outside scope");
  sync::SyncReport evidence;  // new evidence is said only without a downgrade
  evidence.chain.new_evidence = 1;
  evidence.skew_millis = -600'000;
  std::vector<node::PassLine> lines;
  for (const sync::SyncReport* one : {&r, &evidence}) {
    for (auto part : {node::SkewLines(*one), node::NoticeLines(*one), node::KeyLines(*one),
                      node::RefusedPushLines(*one), node::HistoryLines(*one),
                      node::SummaryLines(*one, 12)}) {
      lines.insert(lines.end(), part.begin(), part.end());
    }
  }
  lines.push_back(node::FailureLine("cannot reach the hub"));
  lines.push_back(node::KeysForgottenLine());

  std::set<std::string> listed;
  for (std::string_view k : node::PassLineKeys()) {
    EXPECT_TRUE(listed.insert(std::string(k)).second) << k << " is listed twice";
  }
  std::set<std::string> given;
  for (const node::PassLine& l : lines) {
    given.insert(l.key);
    EXPECT_TRUE(listed.count(l.key) > 0) << l.key << " is not in PassLineKeys()";
    EXPECT_FALSE(l.text.empty()) << l.key << " has no English words for the command line";
    std::set<std::string> names;
    for (const auto& [name, value] : l.params) names.insert(name);
    for (const auto* lang : {&c.vi, &c.en}) {
      auto words = lang->find(l.key);
      EXPECT_TRUE(words != lang->end() && !words->second.empty())
          << l.key << " has no words in one language in node/console/assets/messages*.js";
      if (words == lang->end()) continue;
      EXPECT_EQ(Parameters(words->second), names)
          << l.key << ": the catalogue's words fill other parameters than the line carries";
    }
    auto vi = c.vi.find(l.key);
    if (vi == c.vi.end()) continue;
    auto nfc = text::NormalizeInput(vi->second, l.key);
    EXPECT_TRUE(nfc.ok() && *nfc == vi->second) << l.key << ": the Vietnamese words are not NFC";
  }
  EXPECT_EQ(given, listed) << "a listed key no report gave (or the other way round)";
  for (const auto* lang : {&c.vi, &c.en}) {
    for (const auto& [key, words] : *lang) {
      if (key.rfind("sync.line.", 0) != 0) continue;
      EXPECT_TRUE(listed.count(key) > 0) << key << " is in the catalogue but no line gives it";
    }
  }
  // The Sync page's refusals' reasons (node/console/api_sync.cc).
  for (const char* key : {"sync.why.signs", "sync.why.wait"}) {
    EXPECT_TRUE(c.vi.count(key) > 0 && c.en.count(key) > 0) << key;
  }
}

// The case file says every column of its records by a label and every value
// of their enum fields in words, in both languages: the History names the
// columns each change wrote (node/ops/cases.cc), the case file and the
// Conflicts page the values (sexual, labour, ... of exploitation_types were
// shown as the schema's tokens). Age bands are figures ("16-17") as they are.
TEST(ConsoleCatalogueTest, EveryColumnAndValueOfTheCaseFileHasWordsInBoth) {
  const Catalogue c = ReadCatalogue();
  const Schema& schema = FieldOfficeSchema();
  size_t values = 0;
  for (const char* table : {"cases", "persons", "consents", "referrals"}) {
    const TableDef* t = schema.FindTable(table);
    ASSERT_NE(t, nullptr) << table;
    for (const ColumnDef& col : t->columns) {
      const std::string field = "field." + std::string(col.name);
      EXPECT_TRUE(c.vi.count(field) > 0 && c.en.count(field) > 0)
          << table << "." << col.name << " has no label in both languages (" << field << ")";
      if (col.type != ColumnType::kEnum && col.type != ColumnType::kEnumSet) continue;
      if (col.name == "age_band") continue;
      for (std::string_view v : col.allowed) {
        const std::string key = "value." + std::string(v);
        ++values;
        EXPECT_TRUE(c.vi.count(key) > 0)
            << table << "." << col.name << ": " << key << " has no Vietnamese words";
        EXPECT_TRUE(c.en.count(key) > 0)
            << table << "." << col.name << ": " << key << " has no English words";
      }
    }
  }
  EXPECT_GE(values, 20u);
}

// The pages' own words for what the server now sends in parts or keys: a
// History line (history.*: the record's heading, the columns' labels), a
// sealed field the page cannot name otherwise, a deletion conflict, and the
// leads of the store's errors (api.cc ErrorReply): each in both languages,
// with the parameters the page fills (app.js historyText, conflicts.js).
TEST(ConsoleCatalogueTest, TheHistoryTheSealedStatesAndTheStoresLeadsHaveWordsInBoth) {
  const Catalogue c = ReadCatalogue();
  const std::map<std::string, std::set<std::string>> keys = {
      {"history.created", {"table", "columns"}}, {"history.created_only", {"table"}},
      {"history.changed", {"table", "columns"}}, {"history.changed_only", {"table"}},
      {"history.deleted", {"table", "columns"}}, {"history.deleted_only", {"table"}},
      {"history.received_whole", {}},            {"case.unreadable", {}},
      {"history.this_laptop", {}},
      {"conflicts.live", {}},                    {"conflicts.deletion", {}},
      {"conflicts.deletion_how", {}},            {"err.busy", {}},
      {"err.unavailable", {}},                   {"err.disk_full", {}},
      {"err.damaged", {}},                       {"err.disk_error", {}}};
  for (const auto& [key, params] : keys) {
    for (const auto* lang : {&c.vi, &c.en}) {
      auto words = lang->find(key);
      EXPECT_TRUE(words != lang->end() && !words->second.empty())
          << key << " has no words in one language";
      if (words != lang->end()) {
        EXPECT_EQ(Parameters(words->second), params) << key << ": other parameters";
      }
    }
  }
  // The case file's records by the case file's own headings.
  for (const char* heading : {"case.case", "case.person", "case.consents", "case.referrals"}) {
    EXPECT_TRUE(c.vi.count(heading) > 0 && c.en.count(heading) > 0) << heading;
  }
}

// Each kind of the store's errors carries its key (store/store_messages.h),
// listed among the library's (so the catalogue holds it: above), with the
// status code the console maps to its lead; another SQLite error none.
TEST(ConsoleCatalogueTest, TheStoresErrorsAreKeyed) {
  const std::vector<std::string_view> library = LibraryMessageKeys();
  const auto listed = [&library](std::string_view k) {
    return std::find(library.begin(), library.end(), k) != library.end();
  };
  const struct {
    int rc;
    absl::StatusCode code;
    std::string_view key;
  } kinds[] = {
      {SQLITE_BUSY, absl::StatusCode::kUnavailable, kMsgStoreBusy},
      {SQLITE_LOCKED, absl::StatusCode::kUnavailable, kMsgStoreBusy},
      {SQLITE_FULL, absl::StatusCode::kResourceExhausted, kMsgStoreDiskFull},
      {SQLITE_IOERR_WRITE, absl::StatusCode::kUnavailable, kMsgStoreIo},
      {SQLITE_CORRUPT, absl::StatusCode::kDataLoss, kMsgStoreDamaged},
      {SQLITE_NOTADB, absl::StatusCode::kDataLoss, kMsgStoreDamaged},
      {SQLITE_READONLY, absl::StatusCode::kFailedPrecondition, kMsgStoreReadOnly},
      {SQLITE_CANTOPEN, absl::StatusCode::kFailedPrecondition, kMsgStoreReadOnly},
      {SQLITE_CONSTRAINT_UNIQUE, absl::StatusCode::kAlreadyExists, kMsgStoreExists},
  };
  for (const auto& k : kinds) {
    const absl::Status s = sqlite::ErrorStatus(nullptr, k.rc, "writing");
    EXPECT_EQ(s.code(), k.code) << k.rc;
    std::optional<Message> m = MessageOf(s);
    ASSERT_TRUE(m.has_value()) << "SQLite code " << k.rc << " has no key: " << s;
    EXPECT_EQ(m->key, k.key) << k.rc;
    EXPECT_TRUE(m->params.empty()) << k.rc;
    EXPECT_TRUE(listed(k.key)) << k.key << " is not in LibraryMessageKeys()";
  }
  EXPECT_FALSE(MessageOf(sqlite::ErrorStatus(nullptr, SQLITE_MISUSE, "writing")).has_value());

  // A write whose COMMIT fails (in WAL mode the pages reach the file there,
  // so a full disk or a disk error mostly shows then), on a real file: the
  // replica's words say it may or may not have been kept, keyed so.
  fieldsync::testing::TempDir dir;
  ReplicaOptions o;
  o.path = dir.File("a.db");
  o.vfs = fieldsync::testing::RegisterFaultyVfs();
  auto replica = Replica::Open(o);
  ASSERT_TRUE(replica.ok()) << replica.status();
  fieldsync::testing::FaultInjector::Get().ArmFailAt(1, fieldsync::testing::FaultMode::kError);
  auto written = (*replica)->Write(LocalTxn().Create(
      "organisations", Id16::NewRandom(),
      {{"name", Value::Text("Hội Liên hiệp Phụ nữ tỉnh Lào Cai")},
       {"kind", Value::Text("womens_union")}}));
  fieldsync::testing::FaultInjector::Get().Disarm();
  ASSERT_FALSE(written.ok()) << "the COMMIT did not fail: the test proves nothing";
  EXPECT_EQ(written.status().code(), absl::StatusCode::kUnavailable) << written.status();
  std::optional<Message> m = MessageOf(written.status());
  ASSERT_TRUE(m.has_value()) << written.status();
  EXPECT_EQ(m->key, kMsgStoreCommitUnsure);
  EXPECT_TRUE(listed(kMsgStoreCommitUnsure));
}

// What became of a sealed field that did not open, keyed by its state; a
// clear, opened or merely locked one has no key (the page masks it).
TEST(ConsoleCatalogueTest, ASealedFieldThatDidNotOpenIsKeyedByWhatBecameOfIt) {
  using State = OpenedField::State;
  const std::vector<std::string_view> library = LibraryMessageKeys();
  const auto key = [](State s, const char* problem) {
    return std::string(SealedFieldKey(OpenedField{s, Value(), problem}));
  };
  EXPECT_EQ(key(State::kNoKey, "no key: version 2"), "lib.sealed.no_key");
  EXPECT_EQ(key(State::kErased, "erased"), "lib.sealed.erased");
  EXPECT_EQ(key(State::kFailed, "decryption failed"), "lib.sealed.failed");
  EXPECT_EQ(key(State::kFailed,
                "sealed under the key of another record (moved or planted); not opened"),
            "lib.sealed.other_record");
  for (State s : {State::kClear, State::kOpened, State::kLocked}) EXPECT_EQ(key(s, ""), "");
  for (std::string_view k : {kMsgSealedNoKey, kMsgSealedErased, kMsgSealedOtherRecord,
                             kMsgSealedFailed}) {
    EXPECT_NE(std::find(library.begin(), library.end(), k), library.end()) << k;
  }
}

// The trust alerts a real key ring stores when the hub's registry differs
// from what this laptop first saw (KeyRing::SetRegistry, as a sync hands it
// the hub's list): this laptop's own keys, a colleague's keys, name and
// office. Each is keyed by its kind with every parameter its catalogue
// words fill (the Devices page showed the English text).
TEST(ConsoleCatalogueTest, EachTrustAlertIsKeyedWithTheParametersItsWordsFill) {
  const Catalogue c = ReadCatalogue();
  fieldsync::testing::TempDir dir;
  auto replica = fieldsync::testing::OpenReplica(dir.File("a.db"), nullptr);
  ASSERT_TRUE(replica);
  auto keys = KeyRing::Open(replica.get(), "LC");
  ASSERT_TRUE(keys.ok()) << keys.status();
  const auto device = [](const crypto::DeviceIdentity& id, const char* province,
                         const char* name) {
    RegisteredDevice d;
    d.keys = id.public_keys();
    d.province = province;
    d.name = name;
    return d;
  };
  const crypto::DeviceIdentity colleague = crypto::DeviceIdentity::Generate(Id16::NewRandom());
  const crypto::DeviceIdentity swapped = crypto::DeviceIdentity::Generate(colleague.device());
  const crypto::DeviceIdentity me = crypto::DeviceIdentity::Generate(replica->device_id());
  const crypto::DeviceIdentity me_swapped =
      crypto::DeviceIdentity::Generate(replica->device_id());
  ASSERT_TRUE((*keys)->SetRegistry({device(colleague, "LC", "Máy của chị Hằng"),
                                    device(me, "LC", "Máy Lào Cai 1")}).ok());
  ASSERT_TRUE((*keys)->SetRegistry({device(swapped, "HN", "máy (khác)"),
                                    device(me_swapped, "LC", "Máy Lào Cai 1")}).ok());
  auto alerts = (*keys)->Alerts(/*acknowledged=*/true);
  ASSERT_TRUE(alerts.ok()) << alerts.status();
  std::set<std::string> kinds;
  for (const KeyRing::TrustAlert& a : *alerts) {
    std::optional<Message> m = TrustAlertMessage(a.text);
    ASSERT_TRUE(m.has_value()) << "no pattern knows: " << a.text;
    kinds.insert(m->key);
    std::set<std::string> names;
    for (const auto& [name, value] : m->params) {
      names.insert(name);
      EXPECT_FALSE(value.empty()) << m->key << ": " << name << " is empty in " << a.text;
      if (name == "device") {
        EXPECT_TRUE(value == colleague.device().ToString() ||
                    value == replica->device_id().ToString())
            << a.text;
      }
    }
    if (m->key == "lib.alert.name") {
      EXPECT_EQ(m->params, (MessageParams{{"device", colleague.device().ToString()},
                                          {"name", "máy (khác)"},
                                          {"was", "Máy của chị Hằng"}}));
    }
    for (const auto* lang : {&c.vi, &c.en}) {
      auto words = lang->find(m->key);
      ASSERT_TRUE(words != lang->end()) << m->key << " has no words in one language";
      EXPECT_EQ(Parameters(words->second), names) << m->key << ": other parameters";
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"lib.alert.own_keys", "lib.alert.keys",
                                          "lib.alert.name", "lib.alert.office"}));
  // A device's refusal by the hub: its action's key, the hub's words as
  // the reason; other words none.
  std::optional<Message> refused = DeviceRefusalMessage(
      "the hub refused this laptop's approval of it (PERMISSION_DENIED: not of office LC)");
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->key, "lib.device.refused_approval");
  EXPECT_EQ(refused->params, (MessageParams{{"reason", "PERMISSION_DENIED: not of office LC"}}));
  EXPECT_FALSE(DeviceRefusalMessage("something else").has_value());
  EXPECT_FALSE(TrustAlertMessage("something else").has_value());
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
