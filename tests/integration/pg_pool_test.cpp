// om::pg::Pool against the fixture's PostgreSQL (OM_TEST_PG_URL): queries, parameters, prepared statements,
// SQL errors, transactions through a Lease, pool limits and timeouts, recovery from lost connections.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/task.hpp"
#include "net/pg.hpp"
#include "support/io_run.hpp"
#include "support/test_env.hpp"

namespace {

using namespace std::chrono_literals;
using om::pg::Lease;
using om::pg::Params;
using om::pg::Pool;
using om::pg::PoolOptions;
using om::pg::Result;
using Clock = std::chrono::steady_clock;
using om::test::await;
using om::test::launch;
using om::test::Pending;
using om::test::run_for;
using om::test::run_until;

PoolOptions options(int max_connections = 4) {
    PoolOptions o;
    o.url = om::test::env("OM_TEST_PG_URL");
    o.max_connections = max_connections;
    return o;
}

// True if the pending task failed with om::Unavailable.
template <class T>
bool unavailable(const Pending<T>& p) {
    if (!p.error) {
        return false;
    }
    try {
        std::rethrow_exception(p.error);
    } catch (const om::Unavailable&) {
        return true;
    } catch (...) {
        return false;
    }
}

// The fixture's URL with an extra query parameter.
std::string url_with(const std::string& param) {
    std::string url = om::test::env("OM_TEST_PG_URL");
    url += url.find('?') == std::string::npos ? '?' : '&';
    return url + param;
}

std::string schema_name() { return "om_pg_pool_test_" + std::to_string(::getpid()); }

// A port on 127.0.0.1 that nothing listens on (bound then closed).
int closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // NOLINT
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);  // NOLINT
    ::close(fd);
    return ntohs(addr.sin_port);
}

TEST(PgPool, SimpleQueryAndMultiStatement) {
    boost::asio::io_context io;
    Pool pool(io, options());
    const Result r = await(io, pool.query("SELECT 1 AS one, 'two'::text AS two"));
    ASSERT_EQ(r.rows(), 1);
    EXPECT_EQ(r.columns(), 2);
    EXPECT_EQ(r.get(0, 0), "1");
    EXPECT_EQ(r.get(0, "two"), "two");
    EXPECT_EQ(r.column("one"), 0);
    EXPECT_THROW(static_cast<void>(r.column("three")), std::out_of_range);

    // Several statements: the last result is returned.
    const Result m = await(io, pool.query("SELECT 1; SELECT 2 AS x, 3 AS y"));
    ASSERT_EQ(m.rows(), 1);
    EXPECT_EQ(m.get(0, "y"), "3");

    const Result app = await(io, pool.query("SHOW application_name"));
    EXPECT_EQ(app.get(0, 0), "openmarket");
    EXPECT_EQ(pool.stats().open, 1);
    EXPECT_EQ(pool.stats().busy, 0);
}

// The server's connections plan without parallel workers or JIT (pg.cpp, connect()); a URL's own `options`
// replaces that choice.
TEST(PgPool, SessionsPlanWithoutParallelWorkersOrJitUnlessTheUrlSaysOtherwise) {
    boost::asio::io_context io;
    Pool pool(io, options());
    EXPECT_EQ(await(io, pool.query("SHOW max_parallel_workers_per_gather")).get(0, 0), "0");
    EXPECT_EQ(await(io, pool.query("SHOW jit")).get(0, 0), "off");

    PoolOptions o = options();
    o.url = url_with("options=-c%20max_parallel_workers_per_gather%3D3");
    Pool custom(io, o);
    EXPECT_EQ(await(io, custom.query("SHOW max_parallel_workers_per_gather")).get(0, 0), "3");
    EXPECT_EQ(await(io, custom.query("SHOW jit")).get(0, 0), "on");
}

TEST(PgPool, ParamsIncludingNull) {
    boost::asio::io_context io;
    Pool pool(io, options());
    const Result r = await(io, pool.query("SELECT $1::int + 1 AS n, $2::text AS t, $3::text IS NULL AS isnull",
                                          Params{"41", std::nullopt, std::nullopt}));
    ASSERT_EQ(r.rows(), 1);
    EXPECT_EQ(r.get(0, "n"), "42");
    EXPECT_TRUE(r.is_null(0, 1));
    EXPECT_EQ(r.get(0, 1), "");
    EXPECT_EQ(r.get_opt(0, 1), std::nullopt);
    EXPECT_EQ(r.get(0, "isnull"), "t");

    const Result s = await(io, pool.query("SELECT $1::text AS s", Params{"it's; a \"string\""}));
    EXPECT_EQ(s.get_opt(0, 0), std::optional<std::string>("it's; a \"string\""));
}

TEST(PgPool, PreparedStatementsAreReused) {
    boost::asio::io_context io;
    Pool pool(io, options(1));
    pool.prepare("om_add", "SELECT $1::int + $2::int AS sum");
    EXPECT_THROW(pool.prepare("om_add", "SELECT 1"), std::invalid_argument);
    pool.prepare("om_add", "SELECT $1::int + $2::int AS sum");  // same SQL: no-op

    for (int i = 0; i < 3; ++i) {
        const Result r = await(io, pool.query_prepared("om_add", Params{std::to_string(i), "10"}));
        EXPECT_EQ(r.get(0, "sum"), std::to_string(i + 10));
    }
    auto check = [&]() -> om::Task<std::string> {
        Lease lease = co_await pool.acquire();
        Params args{"1", "2"};  // not inside the co_await expression: GCC 12 rejects a braced list there
        static_cast<void>(co_await lease.exec_prepared("om_add", std::move(args)));
        const Result r = co_await lease.exec("SELECT count(*) FROM pg_prepared_statements WHERE name = 'om_add'");
        co_return std::string(r.get(0, 0));
    };
    EXPECT_EQ(await(io, check()), "1");  // one connection, prepared once
    EXPECT_EQ(pool.stats().open, 1);

    // Deallocated behind the pool's back: prepared again transparently.
    static_cast<void>(await(io, pool.query("DEALLOCATE om_add")));
    EXPECT_EQ(await(io, pool.query_prepared("om_add", Params{"2", "3"})).get(0, 0), "5");

    EXPECT_THROW(static_cast<void>(await(io, pool.query_prepared("om_unknown"))), std::invalid_argument);
}

TEST(PgPool, SqlErrorCarriesSqlstateAndKeepsConnection) {
    boost::asio::io_context io;
    Pool pool(io, options(1));
    auto body = [&]() -> om::Task<std::string> {
        Lease lease = co_await pool.acquire();
        static_cast<void>(co_await lease.exec("CREATE TEMP TABLE om_uniq (id int PRIMARY KEY)"));
        const Result ins = co_await lease.exec("INSERT INTO om_uniq VALUES (1), (2)");
        EXPECT_EQ(ins.affected(), 2);
        std::string state;
        try {
            Params args{"1"};
            static_cast<void>(co_await lease.exec("INSERT INTO om_uniq VALUES ($1::int)", std::move(args)));
        } catch (const om::pg::SqlError& e) {
            EXPECT_TRUE(e.unique_violation());
            state = e.sqlstate();
        }
        // Same connection (the temp table is still there).
        const Result n = co_await lease.exec("SELECT count(*) FROM om_uniq");
        EXPECT_EQ(n.get(0, 0), "2");
        co_return state;
    };
    EXPECT_EQ(await(io, body()), "23505");
    try {
        static_cast<void>(await(io, pool.query("SELECT * FROM om_no_such_table")));
        ADD_FAILURE() << "expected SqlError";
    } catch (const om::pg::SqlError& e) {
        EXPECT_EQ(e.sqlstate(), "42P01");
    }
    EXPECT_EQ(pool.stats().open, 1);
}

TEST(PgPool, TransactionCommitAndRollbackOnException) {
    boost::asio::io_context io;
    Pool pool(io, options(1));
    const std::string schema = schema_name();
    const std::string table = schema + ".items";
    static_cast<void>(await(io, pool.query("DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema +
                                           "; CREATE TABLE " + table + " (id int PRIMARY KEY)")));

    auto commit = [&]() -> om::Task<void> {
        Lease lease = co_await pool.acquire();
        static_cast<void>(co_await lease.exec("BEGIN"));
        Params args{"1"};
        static_cast<void>(co_await lease.exec("INSERT INTO " + table + " VALUES ($1::int)", std::move(args)));
        static_cast<void>(co_await lease.exec("COMMIT"));
    };
    await(io, commit());

    auto fail = [&]() -> om::Task<void> {
        Lease lease = co_await pool.acquire();
        static_cast<void>(co_await lease.exec("BEGIN"));
        Params args{"2"};
        static_cast<void>(co_await lease.exec("INSERT INTO " + table + " VALUES ($1::int)", std::move(args)));
        throw std::runtime_error("boom");
    };
    EXPECT_THROW(await(io, fail()), std::runtime_error);

    // The single connection is rolled back before reuse.
    const Result r = await(io, pool.query("SELECT string_agg(id::text, ',' ORDER BY id) FROM " + table));
    EXPECT_EQ(r.get(0, 0), "1");
    EXPECT_EQ(pool.stats().open, 1);
    EXPECT_EQ(pool.stats().busy, 0);

    // A failed transaction (INERROR) is rolled back too.
    auto failed_tx = [&]() -> om::Task<void> {
        Lease lease = co_await pool.acquire();
        static_cast<void>(co_await lease.exec("BEGIN"));
        static_cast<void>(co_await lease.exec("INSERT INTO " + table + " VALUES (1)"));  // duplicate
    };
    EXPECT_THROW(await(io, failed_tx()), om::pg::SqlError);
    EXPECT_EQ(await(io, pool.query("SELECT count(*) FROM " + table)).get(0, 0), "1");

    static_cast<void>(await(io, pool.query("DROP SCHEMA " + schema + " CASCADE")));
}

TEST(PgPool, BoundedWaiters) {
    boost::asio::io_context io;
    PoolOptions o = options(1);
    o.max_waiters = 1;
    Pool pool(io, o);
    auto hold = [&]() -> om::Task<std::string> {
        Lease lease = co_await pool.acquire();
        const Result r = co_await lease.exec("SELECT pg_sleep(0.2), 'held'");
        co_return std::string(r.get(0, 1));
    };
    auto a = launch(hold());
    auto b = launch(pool.query("SELECT 'b'"));
    auto c = launch(pool.query("SELECT 'c'"));
    EXPECT_TRUE(c->done);  // rejected at once
    EXPECT_TRUE(unavailable(*c));
    EXPECT_EQ(pool.stats().waiting, 1);
    ASSERT_TRUE(run_until(io, [&] { return a->done && b->done; }));
    ASSERT_FALSE(a->error);
    ASSERT_FALSE(b->error);
    EXPECT_EQ(*a->value, "held");
    EXPECT_EQ(b->value->get(0, 0), "b");
    EXPECT_EQ(pool.stats().waiting, 0);
}

TEST(PgPool, AcquireTimeout) {
    boost::asio::io_context io;
    PoolOptions o = options(1);
    o.acquire_timeout = 200ms;
    Pool pool(io, o);
    auto a = launch(pool.query("SELECT pg_sleep(1)"));
    const auto start = Clock::now();
    auto b = launch(pool.acquire());
    ASSERT_TRUE(run_until(io, [&] { return b->done; }));
    const auto elapsed = Clock::now() - start;
    EXPECT_TRUE(unavailable(*b));
    EXPECT_GE(elapsed, 150ms);
    EXPECT_LT(elapsed, 900ms);
    ASSERT_TRUE(run_until(io, [&] { return a->done; }));
    EXPECT_FALSE(a->error);
}

TEST(PgPool, QueryTimeoutDiscardsConnectionAndPoolRecovers) {
    boost::asio::io_context io;
    PoolOptions o = options(1);
    o.query_timeout = 200ms;
    Pool pool(io, o);
    const auto start = Clock::now();
    auto p = launch(pool.query("SELECT pg_sleep(2)"));
    ASSERT_TRUE(run_until(io, [&] { return p->done; }));
    EXPECT_TRUE(unavailable(*p));
    EXPECT_LT(Clock::now() - start, 1500ms);
    EXPECT_EQ(pool.stats().open, 0);
    EXPECT_EQ(pool.stats().busy, 0);
    EXPECT_EQ(await(io, pool.query("SELECT 7")).get(0, 0), "7");
    EXPECT_EQ(pool.stats().open, 1);
}

TEST(PgPool, ManyConcurrentQueries) {
    boost::asio::io_context io;
    Pool pool(io, options(4));
    pool.prepare("om_double", "SELECT $1::int * 2");
    std::vector<std::shared_ptr<Pending<Result>>> tasks;
    for (int i = 0; i < 200; ++i) {
        if (i % 2 == 0) {
            tasks.push_back(launch(pool.query("SELECT $1::int * 2", Params{std::to_string(i)})));
        } else {
            tasks.push_back(launch(pool.query_prepared("om_double", Params{std::to_string(i)})));
        }
    }
    EXPECT_LE(pool.stats().open, 4);
    ASSERT_TRUE(run_until(io, [&] {
        for (const auto& t : tasks) {
            if (!t->done) {
                return false;
            }
        }
        return true;
    }));
    for (int i = 0; i < 200; ++i) {
        ASSERT_FALSE(tasks[i]->error) << i;
        EXPECT_EQ(tasks[i]->value->get(0, 0), std::to_string(i * 2));
    }
    EXPECT_EQ(pool.stats().open, 4);
    EXPECT_EQ(pool.stats().busy, 0);
}

TEST(PgPool, UnreachableServerIsUnavailableQuickly) {
    boost::asio::io_context io;
    PoolOptions o;
    o.url = "postgresql://postgres@127.0.0.1:" + std::to_string(closed_port()) + "/postgres";
    Pool pool(io, o);
    const auto start = Clock::now();
    auto p = launch(pool.query("SELECT 1"));
    ASSERT_TRUE(run_until(io, [&] { return p->done; }));
    EXPECT_TRUE(unavailable(*p));
    EXPECT_LT(Clock::now() - start, 1s);
    EXPECT_EQ(pool.stats().open, 0);
}

TEST(PgPool, ConnectTimeout) {
    // A listening socket that never answers: TCP connects, the startup packet gets no reply.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);  // NOLINT
    ASSERT_EQ(::listen(fd, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);  // NOLINT

    boost::asio::io_context io;
    PoolOptions o;
    o.url = "postgresql://postgres@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/postgres?sslmode=disable";
    o.connect_timeout = 200ms;
    Pool pool(io, o);
    const auto start = Clock::now();
    auto p = launch(pool.query("SELECT 1"));
    ASSERT_TRUE(run_until(io, [&] { return p->done; }));
    EXPECT_TRUE(unavailable(*p));
    EXPECT_LT(Clock::now() - start, 1s);
    EXPECT_EQ(pool.stats().open, 0);
    ::close(fd);
}

TEST(PgPool, RecoversFromTerminatedConnections) {
    boost::asio::io_context io;
    // A private application_name, so that only this pool's connections are terminated.
    const std::string app = "om_pg_pool_test_" + std::to_string(::getpid());
    PoolOptions o = options(2);
    o.url = url_with("application_name=" + app);
    Pool pool(io, o);
    Pool admin(io, options(1));
    // Two connections, then both are killed while idle (as in a server restart).
    auto two = [&]() -> om::Task<void> {
        Lease a = co_await pool.acquire();
        Lease b = co_await pool.acquire();
        static_cast<void>(co_await a.exec("SELECT 1"));
        static_cast<void>(co_await b.exec("SELECT 1"));
    };
    await(io, two());
    EXPECT_EQ(pool.stats().open, 2);
    const Result killed = await(io, admin.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                                "WHERE application_name = $1",
                                                Params{app}));
    EXPECT_EQ(killed.get(0, 0), "2");
    run_for(io, 100ms);
    // Dead idle connections are dropped when leased: the caller does not see an error.
    EXPECT_EQ(await(io, pool.query("SELECT 'back'")).get(0, 0), "back");

    // Killed while leased: Unavailable, then the pool opens a new connection.
    auto in_lease = [&]() -> om::Task<void> {
        Lease lease = co_await pool.acquire();
        const Result pid = co_await lease.exec("SELECT pg_backend_pid()");
        Params args{std::string(pid.get(0, 0))};
        static_cast<void>(co_await admin.query("SELECT pg_terminate_backend($1::int)", std::move(args)));
        static_cast<void>(co_await lease.exec("SELECT 1"));
    };
    EXPECT_THROW(await(io, in_lease()), om::Unavailable);
    EXPECT_EQ(await(io, pool.query("SELECT 'again'")).get(0, 0), "again");
    EXPECT_LE(pool.stats().open, 2);
}

TEST(PgPool, CloseFailsWaitersAndLeaseOutlivesPool) {
    boost::asio::io_context io;
    auto pool = std::make_unique<Pool>(io, options(1));
    auto lease = std::make_shared<std::optional<Lease>>();
    auto first = [&]() -> om::Task<void> { lease->emplace(co_await pool->acquire()); };
    await(io, first());
    auto waiter = launch(pool->acquire());
    EXPECT_EQ(pool->stats().waiting, 1);
    pool->close();
    ASSERT_TRUE(run_until(io, [&] { return waiter->done; }));
    EXPECT_TRUE(unavailable(*waiter));
    EXPECT_THROW(await(io, pool->acquire()), om::Unavailable);

    // The lease still works, and can be dropped after the pool is gone.
    EXPECT_EQ(await(io, (*lease)->exec("SELECT 5")).get(0, 0), "5");
    pool.reset();
    lease->reset();
    run_for(io, 20ms);
}

}  // namespace
