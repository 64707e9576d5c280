#include "server/migrate.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "common/ids.hpp"

namespace om {

namespace {

struct ConnCloser {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct ResultCloser {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnCloser>;
using ResPtr = std::unique_ptr<PGresult, ResultCloser>;

ResPtr exec(PGconn* c, const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) {
        values.push_back(p.c_str());
    }
    ResPtr r(params.empty() ? PQexec(c, sql.c_str())
                            : PQexecParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                           nullptr, nullptr, 0));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        throw std::runtime_error(PQerrorMessage(c));
    }
    return r;
}

// Same value in every process: the lock that serialises concurrent migrators.
constexpr const char* lock_key = "738150225431";

}  // namespace

std::vector<Migration> load_migrations(const std::string& dir) {
    std::vector<Migration> out;
    const std::regex name_re(R"(^(\d{4})_[A-Za-z0-9_\-]+\.sql$)");
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (!entry.is_regular_file() || entry.path().extension() != ".sql") {
            continue;
        }
        const auto name = entry.path().filename().string();
        std::smatch m;
        if (!std::regex_match(name, m, name_re)) {
            throw std::runtime_error("migration " + name + ": expected NNNN_description.sql");
        }
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        out.push_back({std::stoi(m[1].str()), name, ss.str()});
    }
    std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
    for (std::size_t i = 1; i < out.size(); ++i) {
        if (out[i].version == out[i - 1].version) {
            throw std::runtime_error("two migrations with version " + std::to_string(out[i].version));
        }
    }
    return out;
}

int latest_version(const std::vector<Migration>& migrations) {
    return migrations.empty() ? 0 : migrations.back().version;
}

MigrateReport migrate(const std::string& database_url, const std::vector<Migration>& migrations) {
    ConnPtr conn(PQconnectdb(database_url.c_str()));
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        throw std::runtime_error("cannot connect to " + database_url + ": " + PQerrorMessage(conn.get()));
    }
    exec(conn.get(), "SET client_min_messages = warning");
    exec(conn.get(), std::string("SELECT pg_advisory_lock(") + lock_key + ")");
    MigrateReport report;
    try {
        exec(conn.get(),
             "CREATE SCHEMA IF NOT EXISTS om_meta;"
             "CREATE TABLE IF NOT EXISTS om_meta.schema_migrations ("
             "  version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
             "  applied_at timestamptz NOT NULL DEFAULT now())");
        auto applied = exec(conn.get(), "SELECT version, name, checksum FROM om_meta.schema_migrations");
        for (const auto& m : migrations) {
            const std::string sum = sha256_hex(m.sql);
            bool done = false;
            for (int i = 0; i < PQntuples(applied.get()); ++i) {
                if (std::stoi(PQgetvalue(applied.get(), i, 0)) == m.version) {
                    done = true;
                    if (sum != PQgetvalue(applied.get(), i, 2)) {
                        throw std::runtime_error("migration " + m.name +
                                                 " was changed after it was applied (checksum mismatch); add a new "
                                                 "migration instead of editing an applied one");
                    }
                }
            }
            if (done) {
                continue;
            }
            exec(conn.get(), "BEGIN");
            try {
                exec(conn.get(), m.sql);
                exec(conn.get(), "INSERT INTO om_meta.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                     {std::to_string(m.version), m.name, sum});
                exec(conn.get(), "COMMIT");
            } catch (const std::exception& e) {
                PQclear(PQexec(conn.get(), "ROLLBACK"));
                throw std::runtime_error("migration " + m.name + " failed: " + e.what());
            }
            report.applied.push_back(m.name);
        }
        auto v = exec(conn.get(), "SELECT coalesce(max(version), 0) FROM om_meta.schema_migrations");
        report.current_version = std::stoi(PQgetvalue(v.get(), 0, 0));
    } catch (...) {
        PQclear(PQexec(conn.get(), (std::string("SELECT pg_advisory_unlock(") + lock_key + ")").c_str()));
        throw;
    }
    exec(conn.get(), std::string("SELECT pg_advisory_unlock(") + lock_key + ")");
    return report;
}

}  // namespace om
