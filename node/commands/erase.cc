// fieldnode erase --case CASE --yes (node/help/erase.txt): crypto-shredding
// a case, over node/ops/records.h; this file parses and prints.
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "node/commands/command.h"
#include "node/ops/records.h"
#include "node/session.h"

namespace fieldsync::node {

int RunEraseCommand(const Args& args) {
  const std::string ref = args.Flag("case");
  if (ref.empty()) {
    return Usage("erase needs --case CASE (its code, as case list shows it, or its id)");
  }
  if (!args.Has("yes")) {
    return Usage("erase destroys the case's keys here and, once synced, everywhere: its sealed "
                 "fields can never be read again. Add --yes to confirm");
  }
  auto context = OpenOfficeContext(args, /*ask=*/true);
  if (!context.ok()) return Fail(context.status());
  auto erased = ops::EraseCase((*context)->office, ref);
  if (!erased.ok()) return Failed(erased.status());
  const std::string person_note =
      erased->person_erased ? " and of its person"
      : erased->has_person
          ? absl::StrCat(" (its person's keys are kept: ", erased->person_other_cases,
                         " other case(s) name the same person)")
          : "";
  std::printf("erased the keys of case %s%s on this node; sync to destroy the hub's copies and "
              "those of every other node. Its sealed fields can no longer be read anywhere "
              "the order has reached.\n",
              erased->case_id.ToString().c_str(), person_note.c_str());
  return 0;
}

}  // namespace fieldsync::node
