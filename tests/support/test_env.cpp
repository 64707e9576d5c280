#include "support/test_env.hpp"

#include <libpq-fe.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace om::test {

namespace {

const std::map<std::string, std::string>& values() {
    static const std::map<std::string, std::string> v = [] {
        std::map<std::string, std::string> out;
        const char* override_path = std::getenv("OM_TEST_ENV_FILE");
        const std::string path = override_path ? override_path : OM_TEST_ENV_FILE;
        std::ifstream in(path);
        if (!in) {
            throw std::runtime_error("test services are not running: cannot read " + path +
                                     " (run the tests through ctest so that the services.start fixture runs)");
        }
        std::string line;
        while (std::getline(in, line)) {
            const auto eq = line.find('=');
            if (eq != std::string::npos && !line.starts_with("#")) {
                out[line.substr(0, eq)] = line.substr(eq + 1);
            }
        }
        return out;
    }();
    return v;
}

void exec_admin(const std::string& sql) {
    PGconn* c = PQconnectdb(env("OM_TEST_PG_URL").c_str());
    if (PQstatus(c) != CONNECTION_OK) {
        std::string msg = PQerrorMessage(c);
        PQfinish(c);
        throw std::runtime_error("cannot connect to the test PostgreSQL: " + msg);
    }
    PGresult* r = PQexec(c, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    std::string msg = PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    if (!ok) {
        throw std::runtime_error(sql + ": " + msg);
    }
}

std::vector<std::string>& created() {
    static std::vector<std::string> dbs;
    return dbs;
}

void drop_created() {
    for (const auto& db : created()) {
        try {
            exec_admin("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
        } catch (...) {
            // best effort at exit
        }
    }
}

}  // namespace

std::string env(const std::string& key) {
    const auto& v = values();
    auto it = v.find(key);
    if (it == v.end() || it->second.empty()) {
        throw std::runtime_error("test environment has no " + key);
    }
    return it->second;
}

std::string fresh_database(const std::string& prefix) {
    std::random_device rd;
    const std::string name = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(rd() % 1000000);
    exec_admin("CREATE DATABASE " + name);
    static std::once_flag once;
    std::call_once(once, [] {
        (void)created();  // construct before registering, so it is destroyed after drop_created runs
        (void)values();
        std::atexit(drop_created);
    });
    created().push_back(name);
    std::string url = env("OM_TEST_PG_URL");
    const auto slash = url.rfind('/');
    return url.substr(0, slash + 1) + name;
}

int exclusive_redis_db() {
    static const int db = [] {
        const std::string dir = env("OM_TEST_STATE_DIR");
        for (int n = 1; n < 16; ++n) {
            const std::string path = dir + "/redis-db-" + std::to_string(n) + ".lock";
            const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
            if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0) {
                return n;  // fd stays open (and locked) until the process exits
            }
            if (fd >= 0) {
                ::close(fd);
            }
        }
        throw std::runtime_error("no free Redis database for this test process");
    }();
    return db;
}

std::string redis_url_for_test() {
    std::string url = env("OM_TEST_REDIS_URL");
    const auto slash = url.rfind('/');
    return url.substr(0, slash + 1) + std::to_string(exclusive_redis_db());
}

}  // namespace om::test
