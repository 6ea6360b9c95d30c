// The case rows the benchmarks write: realistic values for 15 of the
// declared columns of `cases` (about 1.1 KB in the full profile),
// deterministic in the case number, so that fieldsync and plain SQLite store
// exactly the same bytes. Shared by fieldsync-bench and fieldsync-bench-sync.
#ifndef FIELDSYNC_TOOLS_BENCH_COMMON_CASE_DATA_H_
#define FIELDSYNC_TOOLS_BENCH_COMMON_CASE_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "change/id.h"
#include "change/value.h"

namespace fieldsync::bench {

inline constexpr const char* kCaseColumns[15] = {
    "case_code",       "person_id",          "province",
    "office",          "assigned_officer",   "intake_channel",
    "status",          "trafficking_status", "exploitation_types",
    "urgency",         "opened_on",          "narrative",
    "interview_notes", "exact_places",       "perpetrator_details",
};

enum class CaseProfile {
  kFull,    // narrative, interview notes, places, perpetrators: ~1.1 KB
  kIntake,  // the same 15 fields as a hotline call first records them: short
};

// The 15 values of case number i, in kCaseColumns order. The province is
// `province` if given, else one of eight border provinces by i ("VN-02", ...).
std::vector<Value> CaseValues(int64_t i, CaseProfile profile, const std::string& province = "");

// A deterministic 16-byte id (case i's persons row), a date in 2026, an
// officer's name.
Id16 PersonId(int64_t i);
std::string Date(int64_t i);
const char* Officer(int64_t i);

}  // namespace fieldsync::bench

#endif  // FIELDSYNC_TOOLS_BENCH_COMMON_CASE_DATA_H_
