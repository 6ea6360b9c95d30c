#include "tools/bench/common/case_data.h"

#include <array>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace fieldsync::bench {
namespace {

struct Province {
  const char* code;
  const char* name;
  const char* district;
};
constexpr Province kProvinces[] = {
    {"VN-02", "Lào Cai", "Bát Xát"},      {"VN-03", "Hà Giang", "Mèo Vạc"},
    {"VN-01", "Lai Châu", "Phong Thổ"},   {"VN-71", "Điện Biên", "Mường Nhé"},
    {"VN-13", "Quảng Ninh", "Móng Cái"},  {"VN-22", "Nghệ An", "Kỳ Sơn"},
    {"VN-04", "Cao Bằng", "Trùng Khánh"}, {"VN-44", "An Giang", "Tịnh Biên"},
};
constexpr const char* kOfficers[] = {
    "Nguyễn Thị Hoa", "Trần Văn Minh", "Lê Thị Lan",    "Phạm Quốc Bảo",
    "Hoàng Thị Mai",  "Vũ Đức Thắng",  "Đặng Thu Hằng", "Bùi Văn Long",
};
constexpr const char* kChannels[] = {"hotline_call", "walk_in", "referral_in", "police"};
constexpr const char* kExploitation[] = {
    "sexual",          "labour",        "sexual,forced_marriage", "labour,other",
    "forced_marriage", "sexual,labour", "child_selling",          "labour,forced_marriage",
};

template <typename T, size_t N>
const T& Pick(const T (&a)[N], int64_t i) {
  return a[static_cast<size_t>(i) % N];
}

}  // namespace

Id16 PersonId(int64_t i) {
  uint64_t x = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
  std::array<uint8_t, Id16::kSize> b;
  for (size_t k = 0; k < b.size(); ++k) {
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 32;
    b[k] = static_cast<uint8_t>(x);
  }
  b[6] = static_cast<uint8_t>(0x70 | (b[6] & 0x0F));
  b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3F));
  return Id16(b);
}

std::string Date(int64_t i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "2026-%02d-%02d", static_cast<int>(1 + i % 11),
                static_cast<int>(1 + (i / 11) % 28));
  return buf;
}

const char* Officer(int64_t i) { return Pick(kOfficers, i); }

std::vector<Value> CaseValues(int64_t i, CaseProfile profile, const std::string& province) {
  const Province& p = Pick(kProvinces, i);
  const std::string code_of_province = province.empty() ? std::string(p.code) : province;
  const std::string date = Date(i);
  char code[48];
  std::snprintf(code, sizeof(code), "%s-2026-%06lld",
                province.empty() ? p.code + 3 : province.c_str(), static_cast<long long>(i));
  std::vector<Value> v;
  v.reserve(15);
  v.push_back(Value::Text(code));
  v.push_back(Value::Bytes(std::string(PersonId(i).view())));
  v.push_back(Value::Text(code_of_province));
  v.push_back(Value::Text(absl::StrCat(code_of_province, "-", 1 + i % 4)));
  v.push_back(Value::Text(Pick(kOfficers, i)));
  v.push_back(Value::Text(Pick(kChannels, i / 3)));
  v.push_back(Value::Text("intake"));
  v.push_back(Value::Text("possible"));
  v.push_back(Value::Text(Pick(kExploitation, i / 7)));
  v.push_back(Value::Text(i % 9 == 0 ? "urgent" : "normal"));
  v.push_back(Value::Text(date));
  if (profile == CaseProfile::kIntake) {
    v.push_back(Value::Text(absl::StrCat("Gọi 18001567 từ ", p.name, "; chờ xác minh.")));
    v.push_back(Value::Text(absl::StrCat("Cán bộ ", Pick(kOfficers, i), " nhận cuộc gọi.")));
    v.push_back(Value::Text(absl::StrCat("Huyện ", p.district)));
    v.push_back(Value::Text("Chưa rõ"));
    return v;
  }
  v.push_back(Value::Text(
      absl::StrCat("Nạn nhân được giải cứu tại ", p.name, " ngày ", date,
                   ". Chị cho biết một người quen trong bản hứa hẹn việc làm phụ bếp lương cao ở "
                   "bên kia biên giới, sau đó bị đưa đi bằng đường mòn ban đêm, bị giữ giấy tờ "
                   "và bị ép làm việc không công suốt ",
                   3 + i % 20, " tháng trước khi trốn thoát được.")));
  v.push_back(Value::Text(absl::StrCat(
      "Phỏng vấn lần 1 (", date, ", cán bộ ", Pick(kOfficers, i),
      "): nạn nhân còn hoảng sợ, cần hỗ trợ y tế và tư vấn tâm lý. Đã báo Hội Liên hiệp "
      "Phụ nữ huyện ",
      p.district, " để bố trí chỗ ở tạm thời.")));
  v.push_back(Value::Text(absl::StrCat("Tuyển dụng: chợ phiên huyện ", p.district, ", ", p.name,
                                       "; trung chuyển: đường mòn gần cửa khẩu; bóc lột: "
                                       "một xưởng may cách biên giới khoảng ",
                                       20 + i % 80, " km.")));
  v.push_back(Value::Text(
      absl::StrCat("Một phụ nữ khoảng ", 30 + i % 15,
                   " tuổi, tự xưng là \"chị Hằng\", nói giọng miền Bắc, đi xe máy Wave màu đỏ; "
                   "liên lạc qua Zalo với số điện thoại kết thúc bằng ",
                   1000 + i % 9000, ".")));
  return v;
}

}  // namespace fieldsync::bench
