#pragma once
// Access to the PostgreSQL and Redis servers started by the CTest fixture (tests/fixtures/services.sh).
// The fixture writes KEY=VALUE lines to the file named by OM_TEST_ENV_FILE (compile definition),
// overridable with the environment variable of the same name.
//   OM_TEST_PG_URL     postgresql://postgres@127.0.0.1:PORT/postgres   (superuser, maintenance db)
//   OM_TEST_PG_PORT, OM_TEST_PG_DATA, OM_TEST_PG_BIN
//   OM_TEST_REDIS_URL  redis://127.0.0.1:PORT/0
//   OM_TEST_REDIS_PORT
#include <string>

namespace om::test {

// Value of KEY from the fixture's env file; fails the calling test (GTEST_SKIP is not used: a missing
// fixture is an error) by throwing std::runtime_error when absent.
std::string env(const std::string& key);

// Creates a fresh, empty database with a unique name and returns its URL (dropped at process exit).
std::string fresh_database(const std::string& prefix = "om_test");

// A Redis database number (1-15) that no other concurrently running test process uses (file lock held
// until exit), and the URL for it. Callers FLUSHDB it before use.
int exclusive_redis_db();
std::string redis_url_for_test();

}  // namespace om::test
