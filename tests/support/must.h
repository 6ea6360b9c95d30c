// Must(x): the value of a StatusOr the test expects to be OK -- a record or
// signature made with a local identity, which cannot fail -- else the
// status on stderr and abort. For the tests' own set-up, where a failure is
// a broken test rather than a finding; what a test checks uses ASSERT_OK.
#ifndef FIELDSYNC_TESTS_SUPPORT_MUST_H_
#define FIELDSYNC_TESTS_SUPPORT_MUST_H_

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/statusor.h"

namespace fieldsync {

template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "unexpected error: %s\n", std::string(v.status().message()).c_str());
    std::abort();
  }
  return *std::move(v);
}

}  // namespace fieldsync

#endif  // FIELDSYNC_TESTS_SUPPORT_MUST_H_
