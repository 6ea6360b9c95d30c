# Writes OUT, a C++ header holding the text of every DIR/*.txt: the --help
# of the fieldnode commands, one file per command (its name), built into the
# program. Run by node/CMakeLists.txt whenever a text changes:
#   cmake -DDIR=node/help -DOUT=.../help_texts.h -P embed_help.cmake
file(GLOB texts RELATIVE "${DIR}" "${DIR}/*.txt")
list(SORT texts)
set(body "")
foreach(name IN LISTS texts)
  file(READ "${DIR}/${name}" text)
  string(FIND "${text}" ")fieldsync_help\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${DIR}/${name} contains the raw string delimiter )fieldsync_help\"")
  endif()
  string(REGEX REPLACE "\\.txt$" "" command "${name}")
  string(APPEND body "    {\"${command}\", R\"fieldsync_help(${text})fieldsync_help\"},\n")
endforeach()
set(header "// Generated from node/help/*.txt by node/help/embed_help.cmake: edit those.
#ifndef FIELDSYNC_NODE_HELP_TEXTS_H_
#define FIELDSYNC_NODE_HELP_TEXTS_H_

#include <string_view>

namespace fieldsync::node::help {

struct Text {
  std::string_view command;
  std::string_view text;
};

// Sorted by command.
inline constexpr Text kTexts[] = {
${body}};

}  // namespace fieldsync::node::help

#endif  // FIELDSYNC_NODE_HELP_TEXTS_H_
")
# Rewritten only when it changes, so that nothing recompiles for nothing.
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL header)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${header}")
