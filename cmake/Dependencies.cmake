# Every dependency comes from Debian bookworm's packages (design §2).
find_package(Boost 1.81 REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(prometheus-cpp REQUIRED COMPONENTS core)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
# The server's allocator (issue 6): glibc malloc was a third of the server's CPU under order load (perf,
# _int_malloc / malloc_consolidate); jemalloc took 17 % off the server's CPU at 700 orders/s (docs/performance.md).
pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
