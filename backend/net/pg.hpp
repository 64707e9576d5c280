#pragma once
// Asynchronous PostgreSQL access for one shard: libpq's non-blocking API driven by the shard's
// io_context (the socket is watched with Asio; no shard thread ever blocks on the database).
//
// Contract:
//  - A Pool belongs to one shard and is used only from that shard's thread.
//  - At most `max_connections` connections; callers beyond that wait in a FIFO queue bounded by
//    `max_waiters`, for at most `acquire_timeout`. A full queue, a timeout, a lost connection or a
//    server that is down throw om::Unavailable (mapped to 503 + Retry-After).
//  - SQL errors reported by the server throw pg::SqlError, which carries the SQLSTATE
//    (e.g. "23505" unique_violation) so that repositories can turn expected ones into domain errors.
//  - Statements registered with prepare() are prepared lazily on each connection on first use.
//  - Broken connections are discarded and re-opened on demand, so the pool recovers by itself after a
//    PostgreSQL restart.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/task.hpp"

namespace boost::asio {
class io_context;
}

struct pg_result;  // libpq's PGresult

namespace om::pg {

class SqlError : public std::runtime_error {
public:
    SqlError(std::string sqlstate, const std::string& message)
        : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
    [[nodiscard]] const std::string& sqlstate() const noexcept { return sqlstate_; }
    [[nodiscard]] bool unique_violation() const noexcept { return sqlstate_ == "23505"; }

private:
    std::string sqlstate_;
};

// Text-format parameters; std::nullopt is SQL NULL.
using Params = std::vector<std::optional<std::string>>;

// Builds Params; use instead of a braced list inside coroutines (GCC 12 initializer_list bug).
template <class... A>
Params params(A&&... a) {
    Params v;
    v.reserve(sizeof...(A));
    (v.emplace_back(std::forward<A>(a)), ...);
    return v;
}

// A PostgreSQL array literal of the ids, e.g. "{a,b}", for a `$1::uuid[]` parameter (ids must be UUIDs or
// other values without commas, quotes or braces).
std::string uuid_array(const std::vector<std::string>& ids);

// SQL for "any of the uuid[] parameter `param`" (e.g. "$1") that PostgreSQL plans once: `id = ANY($1::uuid[])`
// looks cheaper planned for each array and was planned again on every call (issue 6: at 300 orders/s, 2,601
// plans for 2,840 calls of the order saga's row lock, 160 µs of planning a call), while the array behind a
// sub-select is unknown to the planner either way, so it keeps the generic plan.
std::string any_uuid(std::string_view param);

// An owned PGresult. Values are returned as text (libpq text format).
class Result {
public:
    Result() = default;
    explicit Result(pg_result* r) noexcept;
    Result(Result&&) noexcept;
    Result& operator=(Result&&) noexcept;
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    ~Result();

    [[nodiscard]] int rows() const noexcept;
    [[nodiscard]] int columns() const noexcept;
    [[nodiscard]] bool empty() const noexcept { return rows() == 0; }
    [[nodiscard]] bool is_null(int row, int col) const noexcept;
    [[nodiscard]] std::string_view get(int row, int col) const noexcept;  // "" for NULL
    [[nodiscard]] std::optional<std::string> get_opt(int row, int col) const;
    [[nodiscard]] int column(std::string_view name) const;  // throws std::out_of_range if absent
    [[nodiscard]] std::string_view get(int row, std::string_view col) const { return get(row, column(col)); }
    [[nodiscard]] std::int64_t affected() const noexcept;  // rows affected by INSERT/UPDATE/DELETE

private:
    pg_result* r_ = nullptr;
};

struct PoolOptions {
    std::string url;  // libpq connection URI
    int max_connections = 4;
    int max_waiters = 1024;
    std::chrono::milliseconds acquire_timeout{2000};
    std::chrono::milliseconds query_timeout{5000};
    std::chrono::milliseconds connect_timeout{3000};
};

struct PoolStats {
    int open = 0;     // connections currently open
    int busy = 0;     // connections leased
    int waiting = 0;  // callers queued for a connection
};

class Pool;

// A leased connection; returned to the pool when destroyed. Use for transactions:
//   auto c = co_await pool.acquire();
//   co_await c.exec("BEGIN"); ... co_await c.exec("COMMIT");
// If a Lease is dropped inside an open transaction (exception), the connection is rolled back
// (or discarded) before reuse.
class Lease {
public:
    Lease() = default;
    Lease(Lease&&) noexcept;
    Lease& operator=(Lease&&) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    // Runs SQL text (no parameters, may hold several statements) or, with params, a one-statement
    // parameterized query.
    Task<Result> exec(std::string sql, Params params = {});
    // Runs a statement registered with Pool::prepare.
    Task<Result> exec_prepared(std::string name, Params params = {});

    struct Impl;
    explicit Lease(Impl* impl) noexcept : impl_(impl) {}

private:
    Impl* impl_ = nullptr;
};

class Pool {
public:
    Pool(boost::asio::io_context& io, PoolOptions options);
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // Registers a named statement (before or after connections exist).
    void prepare(std::string name, std::string sql);

    Task<Lease> acquire();
    // Acquire, run one statement, release.
    Task<Result> query(std::string sql, Params params = {});
    Task<Result> query_prepared(std::string name, Params params = {});
    // Resumes the caller from the pool's io_context after what is already queued there: one turn of the event
    // loop (a Batcher's defer, so that the requests of one turn share a statement).
    Task<void> next_turn();

    [[nodiscard]] PoolStats stats() const noexcept;
    // Closes every connection and fails waiters; used at shutdown.
    void close();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// Blocking, for background threads only (never a shard thread): opens its own connection, runs `snapshot_sql`
// and then `copy_sql` (a `COPY (...) TO STDOUT` in text format) inside one REPEATABLE READ transaction, so both
// see the same snapshot, and calls `on_row` with the unescaped columns of every row. Returns the first value
// of `snapshot_sql`. Throws std::runtime_error on any failure.
std::string copy_out(const std::string& url, const std::string& snapshot_sql, const std::string& copy_sql,
                     const std::function<void(const std::vector<std::string_view>&)>& on_row);

}  // namespace om::pg
