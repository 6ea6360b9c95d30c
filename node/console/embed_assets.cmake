# Writes OUT, a C++ header holding every DIR/* file of the console's pages
# (HTML, CSS, JavaScript) with its content type, built into fieldnode so
# that the console works offline and fetches nothing at run time. Run by
# node/CMakeLists.txt whenever an asset changes:
#   cmake -DDIR=node/console/assets -DOUT=.../console_assets.h -P embed_assets.cmake
file(GLOB names RELATIVE "${DIR}" "${DIR}/*")
list(SORT names)
set(body "")
foreach(name IN LISTS names)
  file(READ "${DIR}/${name}" text)
  string(FIND "${text}" ")fieldsync_asset\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${DIR}/${name} contains the raw string delimiter )fieldsync_asset\"")
  endif()
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  else()
    message(FATAL_ERROR "${DIR}/${name}: no content type for it (html, css, js)")
  endif()
  string(APPEND body "    {\"/${name}\", \"${type}\", R\"fieldsync_asset(${text})fieldsync_asset\"},\n")
endforeach()
set(header "// Generated from node/console/assets/* by node/console/embed_assets.cmake: edit those.
#ifndef FIELDSYNC_NODE_CONSOLE_ASSETS_H_
#define FIELDSYNC_NODE_CONSOLE_ASSETS_H_

#include <string_view>

namespace fieldsync::node::console::assets {

struct Asset {
  std::string_view path;  // /app.js
  std::string_view type;  // its Content-Type
  std::string_view body;
};

// Sorted by path.
inline constexpr Asset kAssets[] = {
${body}};

}  // namespace fieldsync::node::console::assets

#endif  // FIELDSYNC_NODE_CONSOLE_ASSETS_H_
")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL header)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${header}")
