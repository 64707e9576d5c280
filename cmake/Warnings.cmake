# om_warnings: an interface target that every first-party target links.
add_library(om_warnings INTERFACE)
target_compile_options(om_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wimplicit-fallthrough
  $<$<BOOL:${OM_WERROR}>:-Werror>)

add_library(om_sanitize INTERFACE)
if(OM_SANITIZE)
  target_compile_options(om_sanitize INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(om_sanitize INTERFACE -fsanitize=address,undefined)
endif()
