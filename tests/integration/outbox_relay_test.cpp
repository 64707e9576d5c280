// events::OutboxRelay on its own, with a table and stream of its own (as payment and order will use it):
// committed rows reach the stream in order with their event ids, rolled-back ones never do, a Redis outage
// leaves the rows unsent until Redis is back, and run() stops when asked.
#include <gtest/gtest.h>

// Boost 1.81 + GCC 12 at -O2: -Wnull-dereference false positive inside Asio headers (see redis_client_test.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#pragma GCC diagnostic pop

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <unistd.h>

#include "common/ids.hpp"
#include "core/error.hpp"
#include "core/task.hpp"
#include "events/outbox_relay.hpp"
#include "net/pg.hpp"
#include "net/redis.hpp"
#include "support/server_process.hpp"
#include "support/io_run.hpp"
#include "support/test_env.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

template <class T>
using Outcome = om::test::Pending<T>;
using om::test::run;
using om::test::run_until;

// Appends `n` events for `aggregate` in one transaction, committed or rolled back. Returns their ids.
om::Task<std::vector<std::string>> write_events(om::pg::Pool& pool, std::string table, std::string aggregate, int n,
                                                bool commit) {
    om::events::prepare_outbox(pool, table);
    auto tx = co_await pool.acquire();
    co_await tx.exec("BEGIN");
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
        om::events::OutboxEvent e;
        e.id = om::new_uuid_v7();
        e.type = "TestHappened";
        e.aggregate_id = aggregate;
        e.payload = R"({"n":)" + std::to_string(i) + "}";
        ids.push_back(e.id);
        co_await om::events::append(tx, table, std::move(e));
    }
    co_await tx.exec(commit ? "COMMIT" : "ROLLBACK");
    co_return ids;
}

om::Task<om::redis::Reply> command(om::redis::Client& c, std::vector<std::string> args) {
    co_return co_await c.command(std::move(args));
}

TEST(OutboxRelay, RelaysCommittedRowsInOrderAndWaitsOutRedisOutages) {
    const auto url = om::test::fresh_database("om_outbox");
    om::test::sql_value(url,
                        "CREATE SCHEMA relay_test; CREATE TABLE relay_test.outbox (seq bigserial NOT NULL, "
                        "id uuid PRIMARY KEY, event_type text NOT NULL, aggregate_id text NOT NULL, payload jsonb NOT NULL, "
                        "created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz)");
    const std::string table = "relay_test.outbox";
    const std::string stream = "om:test:outbox:" + std::to_string(::getpid()) + ":" + om::new_uuid_v7();

    boost::asio::io_context io;
    om::pg::PoolOptions po;
    po.url = url;
    om::pg::Pool pool(io, po);

    auto committed = run(io, write_events(pool, table, "agg-1", 3, true));
    ASSERT_FALSE(committed->error);
    auto rolled_back = run(io, write_events(pool, table, "agg-2", 2, false));
    ASSERT_FALSE(rolled_back->error);

    // Redis is down (nothing listens on this port): nothing is marked sent.
    om::redis::Options dead;
    dead.port = om::test::free_port();
    dead.connect_timeout = 200ms;
    om::redis::Client down(io, dead);
    down.start();
    om::events::RelayOptions ro;
    ro.table = table;
    ro.stream = stream;
    {
        om::events::OutboxRelay relay(io, pool, down, ro);
        auto failed = run(io, relay.relay_once());
        ASSERT_TRUE(failed->error) << "relay_once should fail without Redis";
        try {
            std::rethrow_exception(failed->error);
        } catch (const om::Unavailable&) {
        } catch (const std::exception& e) {
            ADD_FAILURE() << "expected om::Unavailable, got " << e.what();
        }
    }
    down.stop();
    EXPECT_EQ(om::test::sql_value(url, "SELECT count(*) FROM relay_test.outbox WHERE sent_at IS NULL"), "3");

    // Redis is back: the three committed rows go out, in order, once.
    om::redis::Client up(io, om::redis::parse_url(om::test::redis_url_for_test()));
    up.start();
    om::events::OutboxRelay relay(io, pool, up, ro);
    std::shared_ptr<Outcome<int>> sent;
    for (int attempt = 0; attempt < 50; ++attempt) {  // the client may still be connecting on the first tries
        sent = run(io, relay.relay_once());
        if (!sent->error) {
            break;
        }
        run_until(io, [] { return false; }, 100ms);
    }
    ASSERT_FALSE(sent->error);
    EXPECT_EQ(sent->value.value_or(-1), 3);
    EXPECT_EQ(om::test::sql_value(url, "SELECT count(*) FROM relay_test.outbox"), "0") << "sent rows are deleted";
    auto again = run(io, relay.relay_once());
    ASSERT_FALSE(again->error);
    EXPECT_EQ(again->value.value_or(-1), 0);

    auto entries = run(io, command(up, om::redis::args("XRANGE", stream, "-", "+")));
    ASSERT_FALSE(entries->error);
    const auto& list = entries->value->elements;
    ASSERT_EQ(list.size(), 3U);
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto& fields = list[i].elements.at(1).elements;  // [id, [k1, v1, k2, v2, ...]]
        ASSERT_EQ(fields.size(), 8U);
        EXPECT_EQ(fields[0].str, "eventId");
        EXPECT_EQ(fields[1].str, committed->value->at(i)) << "stream order follows the outbox order";
        EXPECT_EQ(fields[3].str, "TestHappened");
        EXPECT_EQ(fields[5].str, "agg-1");
        EXPECT_NE(fields[7].str.find("\"n\": " + std::to_string(i)), std::string::npos) << fields[7].str;
    }

    // run() relays new rows as they commit and returns soon after stop().
    auto loop = std::make_shared<Outcome<int>>();
    om::start_detached(relay.run(), [loop](std::exception_ptr e) {
        loop->done = true;
        loop->error = e;
    });
    auto more = run(io, write_events(pool, table, "agg-3", 2, true));
    ASSERT_FALSE(more->error);
    long long len = 0;
    for (int attempt = 0; attempt < 100 && len != 5; ++attempt) {
        run_until(io, [] { return false; }, 50ms);
        auto r = run(io, command(up, om::redis::args("XLEN", stream)));
        len = r->value ? r->value->integer : 0;
    }
    EXPECT_EQ(len, 5);
    relay.stop();
    EXPECT_TRUE(run_until(io, [&] { return loop->done; }, 2s));
    EXPECT_FALSE(loop->error);
    up.stop();
    pool.close();
    io.restart();
    io.run_for(50ms);
}

// Two relays on one table (two processes, each with its own connections): every event reaches the stream
// exactly once.
TEST(OutboxRelay, ConcurrentRelaysSendEachEventOnce) {
    const auto url = om::test::fresh_database("om_outbox");
    om::test::sql_value(url,
                        "CREATE SCHEMA relay_test; CREATE TABLE relay_test.outbox (seq bigserial NOT NULL, "
                        "id uuid PRIMARY KEY, event_type text NOT NULL, aggregate_id text NOT NULL, payload jsonb NOT NULL, "
                        "created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz)");
    const std::string table = "relay_test.outbox";
    const std::string stream = "om:test:outbox:" + std::to_string(::getpid()) + ":" + om::new_uuid_v7();

    boost::asio::io_context io;
    om::pg::PoolOptions po;
    po.url = url;
    om::pg::Pool writer(io, po);
    om::pg::Pool pool_a(io, po);
    om::pg::Pool pool_b(io, po);
    om::redis::Client redis_a(io, om::redis::parse_url(om::test::redis_url_for_test()));
    om::redis::Client redis_b(io, om::redis::parse_url(om::test::redis_url_for_test()));
    redis_a.start();
    redis_b.start();
    om::events::RelayOptions ro;
    ro.table = table;
    ro.stream = stream;
    ro.batch = 7;  // many small rounds, so that the two relays interleave
    ro.poll_ms = 10;
    om::events::OutboxRelay a(io, pool_a, redis_a, ro);
    om::events::OutboxRelay b(io, pool_b, redis_b, ro);
    auto done_a = std::make_shared<Outcome<int>>();
    auto done_b = std::make_shared<Outcome<int>>();
    om::start_detached(a.run(), [done_a](std::exception_ptr e) {
        done_a->done = true;
        done_a->error = e;
    });
    om::start_detached(b.run(), [done_b](std::exception_ptr e) {
        done_b->done = true;
        done_b->error = e;
    });
    constexpr int kBatches = 20;
    constexpr int kPerBatch = 10;
    for (int i = 0; i < kBatches; ++i) {
        auto w = run(io, write_events(writer, table, "agg-" + std::to_string(i), kPerBatch, true));
        ASSERT_FALSE(w->error);
    }
    long long len = 0;
    for (int attempt = 0; attempt < 200 && len < kBatches * kPerBatch; ++attempt) {
        run_until(io, [] { return false; }, 50ms);
        auto r = run(io, command(redis_a, om::redis::args("XLEN", stream)));
        len = r->value ? r->value->integer : 0;
    }
    run_until(io, [] { return false; }, 300ms);  // time for any duplicate to show up
    auto all = run(io, command(redis_a, om::redis::args("XRANGE", stream, "-", "+")));
    ASSERT_FALSE(all->error);
    std::set<std::string> ids;
    for (const auto& entry : all->value->elements) {
        ids.insert(entry.elements.at(1).elements.at(1).str);
    }
    EXPECT_EQ(all->value->elements.size(), static_cast<std::size_t>(kBatches * kPerBatch));
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(kBatches * kPerBatch));
    EXPECT_EQ(om::test::sql_value(url, "SELECT count(*) FROM relay_test.outbox"), "0");
    a.stop();
    b.stop();
    EXPECT_TRUE(run_until(io, [&] { return done_a->done && done_b->done; }, 2s));
    redis_a.stop();
    redis_b.stop();
    writer.close();
    pool_a.close();
    pool_b.close();
    io.restart();
    io.run_for(50ms);
}

}  // namespace
