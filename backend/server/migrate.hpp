#pragma once
// Versioned, idempotent schema migrations (db/migrations/NNNN_name.sql), embedded in the binary.
// `openmarket-server migrate` applies the missing ones in order, each in its own transaction, under a
// PostgreSQL advisory lock so that several processes may run it at once. An applied migration whose text
// changed since is refused (checksum mismatch): migrations are append-only.
#include <string>
#include <vector>

namespace om {

struct Migration {
    int version;
    std::string name;
    std::string sql;
};

const std::vector<Migration>& embedded_migrations();
// Reads NNNN_name.sql files from a folder (sorted by version). Throws std::runtime_error on bad names.
std::vector<Migration> load_migrations(const std::string& dir);
int latest_version(const std::vector<Migration>& migrations);

struct MigrateReport {
    std::vector<std::string> applied;  // names applied by this run
    int current_version = 0;
};

// Blocking (used by the CLI, never on a shard thread). Throws std::runtime_error with a clear message.
MigrateReport migrate(const std::string& database_url, const std::vector<Migration>& migrations);

}  // namespace om
