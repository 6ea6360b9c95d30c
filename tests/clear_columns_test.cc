// What the hub may read is written down (docs/CRYPTO.md, "Columns kept in
// clear, and why"): every column the schema leaves clear has a line there,
// and every line names a column that is clear. Adding a clear column
// without saying why fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "schema/schema.h"

namespace fieldsync {
namespace {

std::set<std::string> ListedInCryptoMd() {
  std::ifstream in(std::string(FIELDSYNC_DOCS) + "/CRYPTO.md");
  EXPECT_TRUE(in.good()) << "cannot read docs/CRYPTO.md";
  std::set<std::string> out;
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind("### Columns kept in clear", 0) == 0) {
      inside = true;
      continue;
    }
    if (inside && line.rfind("#", 0) == 0) break;
    if (!inside || line.rfind("| `", 0) != 0) continue;
    const size_t end = line.find('`', 3);
    if (end == std::string::npos) continue;
    EXPECT_TRUE(out.insert(line.substr(3, end - 3)).second) << "listed twice: " << line;
  }
  return out;
}

TEST(ClearColumnsTest, EveryClearColumnIsListedInCryptoMd) {
  const std::set<std::string> listed = ListedInCryptoMd();
  ASSERT_FALSE(listed.empty()) << "no table found under \"### Columns kept in clear\"";
  std::set<std::string> clear;
  for (const TableDef& t : FieldOfficeSchema().tables()) {
    for (const ColumnDef& c : t.columns) {
      if (c.sensitivity == Sensitivity::kClear) {
        clear.insert(std::string(t.name) + "." + std::string(c.name));
      }
    }
  }
  for (const std::string& c : clear) {
    EXPECT_TRUE(listed.count(c)) << c << " is clear in the schema but docs/CRYPTO.md does not "
                                     "say why";
  }
  for (const std::string& c : listed) {
    EXPECT_TRUE(clear.count(c)) << c << " is listed as clear in docs/CRYPTO.md but the schema "
                                     "does not leave it clear (or has no such column)";
  }
}

}  // namespace
}  // namespace fieldsync
