// Bringing a register in (node/ops/import_cases.h) over a real replica: a
// generated register of 5,000 Vietnamese rows, some bad; the dry run lists
// exactly those, the import writes all or nothing in one transaction, a
// second import adds nothing, and the same register saved as UTF-16 or
// Windows-1258 gives the same cases. Randomized: the seed is printed, and
// FIELDSYNC_IMPORT_SEED=N replays it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unicode/normalizer2.h>
#include <unicode/ucnv.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/message.h"
#include "clock/clock_source.h"
#include "crypto/hash.h"
#include "crypto/identity.h"
#include "node/ops/cases.h"
#include "node/ops/import_cases.h"
#include "node/ops/import_map.h"
#include "node/ops/import_text.h"
#include "node/ops/messages.h"
#include "node/ops/office.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "store/sqlite.h"
#include "support/faulty_vfs.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync::node::ops {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1'795'521'600'000;  // 2026-11-24T12:00:00Z

// A generated register: its CSV text (UTF-8, NFC) and the lines of its bad
// rows.
struct Register {
  std::string csv;
  std::vector<size_t> bad_lines;
  std::vector<std::string> names;  // of the good rows, in order
};

// `rows` rows with Vietnamese names and addresses; about one in 100 bad
// when `with_bad` (a blank name, an unknown sex, an implausible year of
// birth, a date of birth that is no date), each kind at least once.
Register Generate(uint32_t seed, size_t rows, bool with_bad) {
  static const char* kFamily[] = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng",
                                  "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Lò", "Giàng"};
  static const char* kMiddle[] = {"Thị", "Văn", "Thị Thu", "Ngọc", "Đức", "Minh", "Thị Mỹ"};
  static const char* kGiven[] = {"Hằng", "Lan", "Hương", "Dũng", "Tuấn", "Mai", "Thảo",
                                 "Nguyệt", "Phượng", "Sử", "Quỳnh", "Ánh", "Yến", "Hải"};
  static const char* kPlace[] = {"Sa Pa, Lào Cai", "Bát Xát, Lào Cai", "Mường Khương",
                                 "Bắc Hà, Lào Cai", "Hà Nội", "Thành phố Hồ Chí Minh"};
  std::mt19937 rng(seed);
  auto pick = [&](auto& a) { return a[rng() % (sizeof(a) / sizeof(a[0]))]; };
  Register r;
  r.csv = "STT,Họ và tên,Giới tính,Ngày sinh,Địa chỉ,Tóm tắt,Khẩn cấp\r\n";
  for (size_t i = 1; i <= rows; ++i) {
    const size_t line = i + 1;
    std::string name = absl::StrCat(pick(kFamily), " ", pick(kMiddle), " ", pick(kGiven));
    std::string sex = rng() % 2 ? "Nữ" : "Nam";
    std::string dob = absl::StrCat(1 + rng() % 28, "/", 1 + rng() % 12, "/", 1970 + rng() % 40);
    std::string narrative = absl::StrCat("Bị lừa sang biên giới, \"việc làm\" ở ", pick(kPlace),
                                         " (hồ sơ ", i, ")");
    const int kind = with_bad ? (i == 7 ? 1 : i == 11 ? 2 : i == 13 ? 3 : i == 17 ? 4
                                 : rng() % 100 == 0 ? 1 + static_cast<int>(rng() % 4) : 0)
                              : 0;
    if (kind == 1) name = " ";
    if (kind == 2) sex = "không biết";
    if (kind == 3) dob = "12/05/1850";
    if (kind == 4) dob = "mười hai";
    if (kind != 0) r.bad_lines.push_back(line);
    if (kind == 0) r.names.push_back(name);
    absl::StrAppend(&r.csv, i, ",", name, ",", sex, ",", dob, ",\"", pick(kPlace), "\",\"",
                    absl::StrReplaceAll(narrative, {{"\"", "\"\""}}), "\",",
                    i % 50 == 0 ? "có" : "", "\r\n");
  }
  return r;
}

uint32_t Seed() {
  const char* env = std::getenv("FIELDSYNC_IMPORT_SEED");
  const uint32_t seed = env != nullptr ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10))
                                       : std::random_device{}();
  std::printf("import register seed: %u (replay: FIELDSYNC_IMPORT_SEED=%u)\n", seed, seed);
  return seed;
}

// `utf8` in `encoding` through ICU, a byte-order mark first if `bom`.
std::string Encode(const std::string& utf8, const char* encoding, std::string bom) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(utf8);
  UErrorCode err = U_ZERO_ERROR;
  UConverter* conv = ucnv_open(encoding, &err);
  EXPECT_TRUE(U_SUCCESS(err));
  ucnv_setFromUCallBack(conv, UCNV_FROM_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &err);
  std::string out(utf8.size() * 4 + 16, '\0');
  const int32_t n = ucnv_fromUChars(conv, out.data(), static_cast<int32_t>(out.size()),
                                    u.getBuffer(), u.length(), &err);
  ucnv_close(conv);
  EXPECT_TRUE(U_SUCCESS(err)) << u_errorName(err);
  out.resize(n);
  return bom + out;
}

// Vietnamese as Windows-1258 writes it: the letters with their vowel mark
// precomposed (ê, ơ, ư, ă, â, ô, đ), the tone as a combining mark after
// them ("ễ" as "ê" U+0303), then encoded.
std::string Windows1258(const std::string& utf8) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(err);
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(err);
  icu::UnicodeString d = nfd->normalize(icu::UnicodeString::fromUTF8(utf8), err);
  icu::UnicodeString out, cluster, tones;
  auto flush = [&] {
    out += nfc->normalize(cluster, err);
    out += tones;
    cluster.remove();
    tones.remove();
  };
  for (int32_t i = 0; i < d.length(); ++i) {
    const char16_t c = d.charAt(i);
    const bool tone = c == 0x300 || c == 0x301 || c == 0x303 || c == 0x309 || c == 0x323;
    const bool mark = tone || (c >= 0x300 && c <= 0x36f);
    if (!mark) flush();
    if (tone) {
      tones += c;
    } else {
      cluster += c;
    }
  }
  flush();
  std::string back;
  out.toUTF8String(back);
  return Encode(back, "windows-1258", "");
}

class ImportCasesTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(const std::string& vfs = "") {
    office_.reset();
    keys_.reset();
    replica_.reset();
    ReplicaOptions opts;
    opts.path = dir_.path() + "/replica.db";
    opts.clock = &clock_;
    opts.vfs = vfs;
    auto r = Replica::Open(opts);
    ASSERT_TRUE(r.ok()) << r.status();
    replica_ = *std::move(r);
    auto keys = KeyRing::Open(replica_.get(), "LC");
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = *std::move(keys);
    if (!identity_) identity_ = crypto::DeviceIdentity::Generate(replica_->device_id());
    ASSERT_TRUE(keys_->Unlock(identity_->Clone()).ok());
    replica_->SetSecurity(keys_->Security());
    office_ = std::make_unique<Office>(
        Office{*replica_, *keys_, "LC", "Lò Thị Mai", "unlock it", &clock_});
  }

  const Office& o() { return *office_; }

  absl::StatusOr<ImportReport> Import(const std::string& bytes, bool dry_run,
                                      Encoding e = Encoding::kAuto) {
    ImportRequest in;
    in.bytes = bytes;
    in.dry_run = dry_run;
    in.encoding = e;
    return ImportCases(o(), in);
  }

  size_t CaseCount() {
    auto ids = replica_->ListRows("cases", false);
    EXPECT_TRUE(ids.ok());
    return ids.ok() ? ids->size() : 0;
  }

  // The victims' full names of every case, opened, sorted.
  std::vector<std::string> Names() {
    std::vector<std::string> out;
    auto ids = replica_->ListRows("persons", false);
    EXPECT_TRUE(ids.ok());
    for (const RowId& id : *ids) {
      auto row = o().Get("persons", id);
      EXPECT_TRUE(row.ok() && *row);
      OpenedField f = o().Open(**row, "persons", "full_name");
      EXPECT_EQ(f.state, State::kOpened);
      out.push_back(TextOf(f.value));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  FakeClock clock_{kNow};
  testing::TempDir dir_;
  std::optional<crypto::DeviceIdentity> identity_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<KeyRing> keys_;
  std::unique_ptr<Office> office_;
};

std::vector<size_t> Lines(const std::vector<RejectedRow>& rows) {
  std::vector<size_t> out;
  for (const RejectedRow& r : rows) out.push_back(r.line);
  return out;
}

TEST_F(ImportCasesTest, DryRunListsExactlyTheBadRowsThenTheFixedRegisterImportsOnce) {
  const Register bad = Generate(Seed(), 5000, /*with_bad=*/true);
  ASSERT_GE(bad.bad_lines.size(), 4u);
  auto dry = Import(bad.csv, /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->rows, 5000u);
  EXPECT_THAT(Lines(dry->rejected), ElementsAreArray(bad.bad_lines));
  EXPECT_EQ(dry->new_rows, 5000u - bad.bad_lines.size());
  EXPECT_EQ(dry->imported, 0u);
  for (const RejectedRow& r : dry->rejected) EXPECT_FALSE(r.reason.empty()) << r.line;
  EXPECT_EQ(CaseCount(), 0u);
  // Without --dry-run, the bad rows refuse the whole register.
  auto refused = Import(bad.csv, /*dry_run=*/false);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->imported, 0u);
  EXPECT_EQ(CaseCount(), 0u);

  // Fixed (the same seed without the bad rows): 5,000 cases, one import.
  const Register good = Generate(Seed(), 5000, /*with_bad=*/false);
  auto imported = Import(good.csv, /*dry_run=*/false);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_TRUE(imported->rejected.empty());
  EXPECT_EQ(imported->imported, 5000u);
  EXPECT_EQ(std::set<std::string>(imported->codes.begin(), imported->codes.end()).size(), 5000u)
      << "each case its own code";
  EXPECT_EQ(CaseCount(), 5000u);
  std::vector<std::string> names = good.names;
  std::sort(names.begin(), names.end());
  EXPECT_EQ(Names(), names);

  // Again: nothing added twice.
  auto again = Import(good.csv, /*dry_run=*/false);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->imported, 0u);
  EXPECT_EQ(again->already.size(), 5000u);
  EXPECT_EQ(CaseCount(), 5000u);
}

TEST_F(ImportCasesTest, ABadLastRowLeavesNothingImported) {
  Register r = Generate(Seed(), 2000, /*with_bad=*/false);
  r.csv += "2001,Hà Thị Bích,Nữ,31/13/1999,Sa Pa,,\r\n";
  auto report = Import(r.csv, /*dry_run=*/false);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(Lines(report->rejected), ElementsAreArray({size_t{2002}}));
  EXPECT_EQ(report->imported, 0u);
  EXPECT_EQ(CaseCount(), 0u);
  auto keys = replica_->ImportedKeys({});
  ASSERT_TRUE(keys.ok());
}

// A disk error at any point of the import's writing: after reopening the
// file, either every case of the register is there or none is, and the
// source keys with them.
TEST_F(ImportCasesTest, ADiskErrorWhileWritingLeavesAllOrNothing) {
  const Register r = Generate(Seed(), 1000, /*with_bad=*/false);
  Open(testing::RegisterFaultyVfs());
  // How many writes one import makes.
  uint64_t total = 0;
  {
    auto dry = Import(r.csv, /*dry_run=*/true);
    ASSERT_TRUE(dry.ok());
    testing::FaultInjector::Get().StartCounting();
    auto report = Import(r.csv, /*dry_run=*/false);
    ASSERT_TRUE(report.ok()) << report.status();
    total = testing::FaultInjector::Get().ops_since_arm();
    ASSERT_EQ(CaseCount(), 1000u);
  }
  ASSERT_GT(total, 3u);
  for (uint64_t at : {uint64_t{1}, total / 3, total / 2, total - 1}) {
    SCOPED_TRACE(absl::StrCat("disk error at write ", at, " of ", total));
    // A fresh file each time.
    office_.reset();
    keys_.reset();
    replica_.reset();
    for (const char* f : {"/replica.db", "/replica.db-wal", "/replica.db-shm"}) {
      std::remove((dir_.path() + f).c_str());
    }
    identity_.reset();
    Open(testing::RegisterFaultyVfs());
    testing::FaultInjector::Get().ArmFailAt(at, testing::FaultMode::kError);
    auto report = Import(r.csv, /*dry_run=*/false);
    testing::FaultInjector::Get().Disarm();
    Open();
    const size_t cases = CaseCount();
    EXPECT_TRUE(cases == 0 || cases == 1000u) << cases << " cases after " << report.status();
    auto again = Import(r.csv, /*dry_run=*/true);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->already.size(), cases) << "source keys kept with the cases, not apart";
  }
}

TEST_F(ImportCasesTest, Utf16AndWindows1258GiveTheSameCasesAsUtf8) {
  const Register r = Generate(Seed(), 300, /*with_bad=*/false);
  auto first = Import("\xEF\xBB\xBF" + r.csv, /*dry_run=*/false);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->imported, 300u);
  EXPECT_TRUE(first->bom);
  const std::vector<std::string> names = Names();
  struct Saved {
    const char* what;
    std::string bytes;
    Encoding chosen;
  };
  const std::vector<Saved> saved = {
      {"UTF-16 LE with its mark", Encode(r.csv, "UTF-16LE", "\xFF\xFE"), Encoding::kAuto},
      {"UTF-16 BE with its mark", Encode(r.csv, "UTF-16BE", "\xFE\xFF"), Encoding::kAuto},
      {"Windows-1258, chosen", Windows1258(r.csv), Encoding::kWindows1258},
  };
  for (const Saved& s : saved) {
    SCOPED_TRACE(s.what);
    auto decoded = DecodeRegister(s.bytes, s.chosen);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->text, r.csv) << "decoded to the same NFC text";
    // The same source keys: every row is already in.
    auto again = Import(s.bytes, /*dry_run=*/false, s.chosen);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->already.size(), 300u);
    EXPECT_EQ(again->imported, 0u);
  }
  EXPECT_EQ(Names(), names);
  // The Windows-1258 file really holds the tones as combining marks: ê, then
  // the combining tilde (0xDE), as Excel writes it.
  EXPECT_EQ(Windows1258("Nguyễn"), "Nguy\xEA\xDEn");
}

TEST_F(ImportCasesTest, Windows1258WithoutTheChoiceIsRefusedWithTheHint) {
  const Register r = Generate(Seed(), 20, /*with_bad=*/false);
  const std::string bytes = Windows1258(r.csv);
  auto report = Import(bytes, /*dry_run=*/true);
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(IsNotUtf8(report.status())) << report.status();
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("windows-1258"));
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("line 1"));
  EXPECT_THAT(PreviewAs(bytes, Encoding::kWindows1258, 2),
              HasSubstr("STT,Họ và tên,Giới tính"));
  EXPECT_EQ(CaseCount(), 0u);
}

TEST_F(ImportCasesTest, QuotedFieldsHoldCommasQuotesAndLines) {
  const std::string csv =
      "Họ và tên;Tóm tắt;Giới tính\n"
      "\"Trần, Thị Lan\";\"Cô ấy nói: \"\"tôi muốn về nhà\"\"\n"
      "dòng thứ hai; vẫn trong ô\";Nữ\n"
      "Phạm Văn Dũng;;đàn ông\n";
  auto report = Import(csv, /*dry_run=*/false);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->separator, ';');
  EXPECT_EQ(report->rows, 2u);
  // The second row starts on line 4: the first held a line break.
  EXPECT_THAT(Lines(report->rejected), ElementsAreArray({size_t{4}}));
  EXPECT_THAT(report->rejected[0].reason, HasSubstr("sex"));
  auto fixed = Import(absl::StrReplaceAll(csv, {{"đàn ông", "Nam"}}), /*dry_run=*/false);
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  ASSERT_EQ(fixed->imported, 2u);
  auto file = ReadCaseFile(o(), fixed->codes[0], Access::kShow);
  ASSERT_TRUE(file.ok()) << file.status();
  std::string narrative, name;
  for (const FieldView& f : file->kase.fields) {
    if (f.column == "narrative") narrative = TextOf(f.field.value);
  }
  for (const FieldView& f : file->person->fields) {
    if (f.column == "full_name") name = TextOf(f.field.value);
  }
  EXPECT_EQ(name, "Trần, Thị Lan");
  EXPECT_EQ(narrative, "Cô ấy nói: \"tôi muốn về nhà\"\ndòng thứ hai; vẫn trong ô");
}

TEST_F(ImportCasesTest, AnUnclosedQuoteOrAMissingNameColumnIsOneLineAndNothingWritten) {
  auto unclosed = Import("Họ và tên,Tóm tắt\nLan,\"chưa đóng\n", /*dry_run=*/false);
  ASSERT_FALSE(unclosed.ok());
  EXPECT_THAT(std::string(unclosed.status().message()), HasSubstr("line 2"));
  auto nameless = Import("Tên gọi,Tuổi\nLan,17\n", /*dry_run=*/false);
  ASSERT_FALSE(nameless.ok());
  EXPECT_THAT(std::string(nameless.status().message()), HasSubstr("--map"));
  ImportRequest in;
  const std::string bytes = "Tên gọi,Tuổi\nLan,17\n";
  in.bytes = bytes;
  auto map = ParseImportMap("tên gọi=full_name,Tuổi=-");
  ASSERT_TRUE(map.ok()) << map.status();
  in.map = *map;
  auto mapped = ImportCases(o(), in);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(mapped->imported, 1u);
  EXPECT_FALSE(ParseImportMap("Tên=favourite_colour").ok());
  in.map = {{"Không có", "person.full_name"}};
  EXPECT_FALSE(ImportCases(o(), in).ok());
  EXPECT_EQ(CaseCount(), 1u);
}

TEST_F(ImportCasesTest, AKeyColumnNamesARowAcrossCorrections) {
  ImportRequest in;
  in.key_column = "Mã hồ sơ";
  std::string v1 = "Mã hồ sơ,Họ và tên\nLC-01,Lò Thị Sử\n";
  in.bytes = v1;
  auto first = ImportCases(o(), in);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->imported, 1u);
  std::string v2 = "Mã hồ sơ,Họ và tên\nLC-01,Lò Thị Sử (đã sửa)\nLC-02,Vàng Thị Mỷ\n";
  in.bytes = v2;
  auto second = ImportCases(o(), in);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->already.size(), 1u);
  EXPECT_EQ(second->imported, 1u);
  EXPECT_EQ(CaseCount(), 2u);
}

// The source keys recorded in _fs_imported, read from the file itself (as
// a thief with the laptop reads them, without the passphrase).
std::vector<std::string> RecordedKeys(const std::string& path) {
  std::vector<std::string> out;
  auto db = sqlite::Db::Open(path, "");
  EXPECT_TRUE(db.ok()) << db.status();
  if (!db.ok()) return out;
  auto st = (*db)->Prepared("SELECT source_key FROM _fs_imported ORDER BY source_key");
  EXPECT_TRUE(st.ok()) << st.status();
  if (!st.ok()) return out;
  while (true) {
    auto row = (*st)->Step();
    if (!row.ok() || !*row) break;
    out.push_back(std::string((*st)->ColumnBlob(0)));
  }
  return out;
}

// Attack review 24, LOW 1: the source key of a row is no unkeyed hash of
// what the register says (a thief holding the laptop and the office's
// register, or a list of suspected victims, could confirm who was imported
// here): neither a content key nor a key column's value recomputes it.
TEST_F(ImportCasesTest, ASourceKeyIsNotAHashAnyoneCanRecompute) {
  auto content = Import("Họ và tên\nLò Thị Sử\n", /*dry_run=*/false);
  ASSERT_TRUE(content.ok()) << content.status();
  ASSERT_EQ(content->imported, 1u);
  ImportRequest in;
  in.key_column = "Mã hồ sơ";
  in.bytes = "Mã hồ sơ,Họ và tên\nLC-01,Vàng Thị Mỷ\n";
  auto keyed = ImportCases(o(), in);
  ASSERT_TRUE(keyed.ok()) << keyed.status();
  ASSERT_EQ(keyed->imported, 1u);

  const std::vector<std::string> recorded = RecordedKeys(dir_.path() + "/replica.db");
  ASSERT_EQ(recorded.size(), 2u);
  const std::string by_content =
      crypto::DomainHash("fieldsync import row v1", {"content", "person.full_name=Lò Thị Sử\x1e"});
  const std::string by_number = crypto::DomainHash("fieldsync import row v1", {"key", "LC-01"});
  for (const std::string& k : recorded) {
    EXPECT_EQ(k.size(), 32u);
    EXPECT_NE(k, by_content) << "the row's content hash, unkeyed, is on disk";
    EXPECT_NE(k, by_number) << "the register number's hash, unkeyed, is on disk";
  }
  // And the same register is still not imported twice.
  auto again = Import("Họ và tên\nLò Thị Sử\n", /*dry_run=*/false);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->imported, 0u);
  EXPECT_EQ(again->already.size(), 1u);
}

// A laptop that imported before version 2 recorded the unkeyed digest: that
// row is still known as imported (and never imported twice).
TEST_F(ImportCasesTest, ARowRecordedUnkeyedBeforeIsStillNotImportedTwice) {
  {
    auto db = sqlite::Db::Open(dir_.path() + "/replica.db", "");
    ASSERT_TRUE(db.ok()) << db.status();
    auto st = (*db)->Prepared("INSERT INTO _fs_imported(source_key, row, at) VALUES (?1, ?2, 1)");
    ASSERT_TRUE(st.ok()) << st.status();
    (*st)->BindBlob(1, crypto::DomainHash("fieldsync import row v1",
                                         {"content", "person.full_name=Lò Thị Sử\x1e"}));
    (*st)->BindBlob(2, std::string(16, '\x01'));
    ASSERT_TRUE((*st)->Run().ok());
  }
  auto again = Import("Họ và tên\nLò Thị Sử\nVàng Thị Mỷ\n", /*dry_run=*/false);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->already, std::vector<size_t>{2});
  EXPECT_EQ(again->imported, 1u);
}

// Attack review 25, LOW 3: a version 1 key (the row's digest, unkeyed) let
// a thief holding the file confirm that person was imported, for good. An
// unlocked import that finds one again keys it in place (a version 2 key is
// the keyed hash of that very digest); a dry run changes nothing. Red
// before: the digest stayed in _fs_imported.
TEST_F(ImportCasesTest, AnUnkeyedKeyFoundAgainIsKeyedByTheNextImport) {
  const std::string digest =
      crypto::DomainHash("fieldsync import row v1", {"content", "person.full_name=Lò Thị Sử\x1e"});
  auto keys_on_disk = [&] {
    std::vector<std::string> out;
    auto db = sqlite::Db::Open(dir_.path() + "/replica.db", "");
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return out;
    auto st = (*db)->Prepared("SELECT source_key FROM _fs_imported ORDER BY source_key");
    EXPECT_TRUE(st.ok()) << st.status();
    while (st.ok() && *(*st)->Step()) out.push_back((*st)->ColumnString(0));
    return out;
  };
  {
    auto db = sqlite::Db::Open(dir_.path() + "/replica.db", "");
    ASSERT_TRUE(db.ok()) << db.status();
    auto st = (*db)->Prepared("INSERT INTO _fs_imported(source_key, row, at) VALUES (?1, ?2, 1)");
    ASSERT_TRUE(st.ok()) << st.status();
    (*st)->BindBlob(1, digest);
    (*st)->BindBlob(2, std::string(16, '\x01'));
    ASSERT_TRUE((*st)->Run().ok());
  }
  const std::string csv = "Họ và tên\nLò Thị Sử\n";
  auto dry = Import(csv, /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->already, std::vector<size_t>{2});
  EXPECT_EQ(keys_on_disk(), std::vector<std::string>{digest}) << "a dry run changes nothing";
  // Nothing new to import, the key keyed all the same.
  auto done = Import(csv, /*dry_run=*/false);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->already, std::vector<size_t>{2});
  EXPECT_EQ(done->imported, 0u);
  const std::vector<std::string> after = keys_on_disk();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0], digest) << "the unkeyed key is still on disk";
  // Still recognised: never imported twice.
  auto again = Import("Họ và tên\nLò Thị Sử\nVàng Thị Mỷ\n", /*dry_run=*/false);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->already, std::vector<size_t>{2});
  EXPECT_EQ(again->imported, 1u);
  EXPECT_EQ(keys_on_disk().size(), 2u);
}

// Locked, a dry run looks nothing up in _fs_imported: it says it does not
// know which rows were imported before, rather than answering "already".
TEST_F(ImportCasesTest, ALockedDryRunSaysNothingOfWhatWasImported) {
  auto done = Import("Họ và tên\nLò Thị Sử\n", /*dry_run=*/false);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->imported, 1u);
  keys_->Lock();
  auto dry = Import("Họ và tên\nLò Thị Sử\n", /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_FALSE(dry->already_known);
  EXPECT_TRUE(dry->already.empty());
  EXPECT_EQ(dry->new_rows, 1u);
  auto write = Import("Họ và tên\nLò Thị Sử\n", /*dry_run=*/false);
  EXPECT_EQ(write.status().code(), absl::StatusCode::kFailedPrecondition) << write.status();
  EXPECT_EQ(CaseCount(), 1u);
}

// Issue 14, requirement 3: each refused row's reason comes with a key and
// its parameters (node/ops/messages.h) for a front end's own words, beside
// the English reason the CLI prints; a parameter repeats a clear value (the
// sex typed), never a sealed one (a date or year of birth). A whole-file
// refusal carries its key too.
TEST_F(ImportCasesTest, RefusedRowsCarryAKeyAndParametersButNeverASealedValue) {
  const std::string csv =
      "Họ và tên,Giới tính,Ngày sinh,Năm sinh\n"
      "Nguyễn Thị Hằng,không biết,,\n"  // line 2: a sex that is no value
      "Lò Văn Sử,Nam,mười hai,\n"       // line 3: a date of birth that is no date
      "Vàng Thị Mỷ,Nữ,,khoảng 1990\n"   // line 4: a year of birth that is no number
      " ,Nữ,,\n"                        // line 5: no name (a blank cell)
      "Hà Thị \xe2\x80\xae"
      "Bích,Nữ,,\n";  // line 6: a text-direction character
  auto dry = Import(csv, /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status();
  ASSERT_THAT(Lines(dry->rejected), ElementsAreArray({2u, 3u, 4u, 5u, 6u}));
  std::map<size_t, Message> by_line;
  for (const RejectedRow& r : dry->rejected) {
    ASSERT_TRUE(r.message.has_value())
        << "line " << r.line << ": no key for \"" << r.reason << "\"";
    by_line[r.line] = *r.message;
    for (const auto& [name, value] : r.message->params) {
      for (const char* sealed : {"mười hai", "khoảng 1990", "Hằng", "Bích"}) {
        EXPECT_EQ(value.find(sealed), std::string::npos)
            << "line " << r.line << ": parameter " << name << " repeats a sealed value";
      }
    }
  }
  using Params = MessageParams;
  EXPECT_EQ(by_line[2].key, "lib.value.not_allowed");
  EXPECT_EQ(by_line[2].params, (Params{{"field", "persons.sex"},
                                       {"value", "không biết"},
                                       {"allowed", "female,male,other,unknown"}}));
  EXPECT_EQ(by_line[3].key, "lib.value.bad_date");
  EXPECT_EQ(by_line[3].params,
            (Params{{"field", "persons.date_of_birth"}, {"example", o().Today()}}));
  EXPECT_EQ(by_line[4].key, "lib.value.not_number");
  EXPECT_EQ(by_line[4].params, (Params{{"field", "persons.birth_year"}}));
  EXPECT_EQ(by_line[5].key, "lib.case.name_needed");
  EXPECT_EQ(by_line[6].key, "lib.text.control");
  EXPECT_EQ(by_line[6].params, (Params{{"field", "persons.full_name"}, {"char", "U+202E"}}));
  // The English reason is the CLI's, as before.
  EXPECT_THAT(dry->rejected[0].reason, HasSubstr("is not a value of persons.sex"));

  auto no_name = Import("STT,Giới tính\n1,Nữ\n", /*dry_run=*/true);
  ASSERT_FALSE(no_name.ok());
  std::optional<Message> m = MessageOf(no_name.status());
  ASSERT_TRUE(m.has_value()) << no_name.status();
  EXPECT_EQ(m->key, "lib.import.no_name_column");
  EXPECT_EQ(m->params, (Params{{"columns", "\"STT\", \"Giới tính\""}}));
}

}  // namespace
}  // namespace fieldsync::node::ops
