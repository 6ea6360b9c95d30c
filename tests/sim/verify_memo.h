// The simulation's memory of signature checks (sim/verify_memo.cc).
#ifndef FIELDSYNC_TESTS_SIM_VERIFY_MEMO_H_
#define FIELDSYNC_TESTS_SIM_VERIFY_MEMO_H_

#include <cstddef>

namespace fieldsync::sim {

// A schedule begins: what only the schedules before the last one verified
// is forgotten.
void VerifyMemoNextSchedule();
// Triples (public key, signature, message) remembered as verified.
size_t VerifyMemoSize();

}  // namespace fieldsync::sim

#endif  // FIELDSYNC_TESTS_SIM_VERIFY_MEMO_H_
