// events::StreamConsumer against the real Redis (and PostgreSQL for mark_processed), each test on streams and
// groups of its own: one delivery per group across consumers, retries then the dead-letter stream, replay,
// claiming the pending entries of a dead consumer, idempotent handlers, and the `events` command line.
#include <gtest/gtest.h>

// Boost 1.81 + GCC 12 at -O2: -Wnull-dereference false positive inside Asio headers (see redis_client_test.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#pragma GCC diagnostic pop

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "common/ids.hpp"
#include "core/error.hpp"
#include "core/task.hpp"
#include "events/dead_letters.hpp"
#include "events/processed_events.hpp"
#include "events/stream_consumer.hpp"
#include "net/offload.hpp"
#include "net/pg.hpp"
#include "net/redis.hpp"
#include "support/server_process.hpp"
#include "support/io_run.hpp"
#include "support/test_env.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using om::events::HandlerResult;
using om::events::StreamEntry;

template <class T>
using Outcome = om::test::Pending<T>;
using om::test::run;
using om::test::run_until;

struct Loop {
    bool done = false;
    std::exception_ptr error;
};

std::shared_ptr<Loop> start(om::events::StreamConsumer& c) {
    auto loop = std::make_shared<Loop>();
    om::start_detached(c.run(), [loop](std::exception_ptr e) {
        loop->done = true;
        loop->error = e;
    });
    return loop;
}

om::Task<om::redis::Reply> command(om::redis::Client& c, std::vector<std::string> args) {
    co_return co_await c.command(std::move(args));
}

om::Task<int> as_task_unit(om::Task<void> t) {
    co_await std::move(t);
    co_return 0;
}

std::string unique_stream(const std::string& what) {
    return "om:test:consumer:" + what + ":" + std::to_string(::getpid()) + ":" + om::new_uuid_v7();
}

struct Fixture {
    boost::asio::io_context io;
    om::redis::Client redis{io, om::redis::parse_url(om::test::redis_url_for_test())};

    Fixture() {
        redis.start();
        EXPECT_TRUE(run_until(io, [&] { return redis.connected(); }));
    }
    ~Fixture() {
        redis.stop();
        io.restart();
        io.run_for(50ms);
    }
    om::redis::Reply cmd(std::vector<std::string> args) {
        auto r = run(io, command(redis, std::move(args)));
        if (r->error) {
            ADD_FAILURE() << "redis command failed";
            return {};
        }
        return *r->value;
    }
    // XADD of an event as the outbox relay writes it; returns the entry id.
    std::string publish(const std::string& stream, const std::string& event_id, const std::string& payload = "{}") {
        return cmd(om::redis::args("XADD", stream, "*", "eventId", event_id, "type", "TestHappened", "aggregateId",
                                   "agg-1", "payload", payload))
            .str;
    }
    long long xlen(const std::string& stream) { return cmd(om::redis::args("XLEN", stream)).integer; }
    long long pending(const std::string& stream, const std::string& group) {
        auto r = cmd(om::redis::args("XPENDING", stream, group));  // [count, min, max, consumers]
        return r.elements.empty() ? -1 : r.elements[0].integer;
    }
    void idle(std::chrono::milliseconds d) { run_until(io, [] { return false; }, d); }
};

std::map<std::string, std::string> fields_of(const om::redis::Reply& entry) {
    std::map<std::string, std::string> out;
    const auto& kv = entry.elements.at(1).elements;
    for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
        out[kv[i].str] = kv[i + 1].str;
    }
    return out;
}

om::events::ConsumerOptions fast_options(const std::string& stream, const std::string& group,
                                         const std::string& consumer) {
    om::events::ConsumerOptions o;
    o.stream = stream;
    o.group = group;
    o.consumer = consumer;
    o.batch = 4;
    o.poll_ms = 10;
    o.claim_idle_ms = 150;
    o.claim_interval_ms = 50;
    o.max_deliveries = 3;
    return o;
}

TEST(StreamConsumer, EachEntryGoesToOneConsumerOfTheGroupOnce) {
    Fixture f;
    const auto stream = unique_stream("once");
    std::multiset<std::string> seen_a;
    std::multiset<std::string> seen_b;
    om::events::StreamConsumer a(f.io, f.redis, fast_options(stream, "g", "a"),
                                 [&](const StreamEntry& e) -> om::Task<HandlerResult> {
                                     seen_a.insert(e.event_id());
                                     co_return HandlerResult::success();
                                 });
    om::events::StreamConsumer b(f.io, f.redis, fast_options(stream, "g", "b"),
                                 [&](const StreamEntry& e) -> om::Task<HandlerResult> {
                                     seen_b.insert(e.event_id());
                                     co_return HandlerResult::success();
                                 });
    auto created = run(f.io, as_task_unit(a.ensure_group()));
    ASSERT_FALSE(created->error);
    auto again = run(f.io, as_task_unit(b.ensure_group()));  // BUSYGROUP is fine
    ASSERT_FALSE(again->error);

    auto la = start(a);
    auto lb = start(b);
    std::set<std::string> published;
    for (int i = 0; i < 40; ++i) {
        const auto id = om::new_uuid_v7();
        published.insert(id);
        f.publish(stream, id);
    }
    EXPECT_TRUE(run_until(f.io, [&] { return seen_a.size() + seen_b.size() >= 40; }));
    f.idle(300ms);  // time for any duplicate (a claim) to show up
    a.stop();
    b.stop();
    EXPECT_TRUE(run_until(f.io, [&] { return la->done && lb->done; }, 2s));
    EXPECT_FALSE(la->error);

    std::multiset<std::string> all = seen_a;
    all.insert(seen_b.begin(), seen_b.end());
    EXPECT_EQ(all.size(), 40U);
    EXPECT_EQ(std::set<std::string>(all.begin(), all.end()), published);
    EXPECT_EQ(f.pending(stream, "g"), 0);
}

// A consumer for some event types: the others are acknowledged without reaching the handler, in a batch
// consumer and a one-by-one one alike, and nothing stays pending.
TEST(StreamConsumer, EntriesOfOtherTypesAreAcknowledgedUnseen) {
    Fixture f;
    const auto stream = unique_stream("types");
    auto o = fast_options(stream, "g", "a");
    o.types = {"Wanted"};
    std::vector<std::string> seen;
    om::events::StreamConsumer a(f.io, f.redis, o, [&](const StreamEntry& e) -> om::Task<HandlerResult> {
        seen.push_back(e.type() + ":" + e.event_id());
        co_return HandlerResult::success();
    });
    auto ob = fast_options(stream, "h", "b");
    ob.types = {"Wanted", "AlsoWanted"};
    ob.concurrent = true;
    std::vector<std::string> batches;
    om::events::StreamConsumer b(f.io, f.redis, ob,
                                 om::events::BatchHandler([&](std::vector<StreamEntry> entries)
                                                              -> om::Task<std::vector<HandlerResult>> {
                                     for (const auto& e : entries) {
                                         batches.push_back(e.type() + ":" + e.event_id());
                                     }
                                     co_return std::vector<HandlerResult>(entries.size(), HandlerResult::success());
                                 }));
    ASSERT_FALSE(run(f.io, as_task_unit(a.ensure_group()))->error);
    ASSERT_FALSE(run(f.io, as_task_unit(b.ensure_group()))->error);
    auto la = start(a);
    auto lb = start(b);
    const char* types[] = {"Other", "Wanted", "Other", "AlsoWanted", "Other", "Other", "Wanted"};
    for (int i = 0; i < 7; ++i) {
        f.cmd(om::redis::args("XADD", stream, "*", "eventId", "e" + std::to_string(i), "type", types[i],
                              "aggregateId", "agg", "payload", "{}"));
    }
    EXPECT_TRUE(run_until(f.io, [&] { return seen.size() >= 2 && batches.size() >= 3; }));
    f.idle(200ms);
    a.stop();
    b.stop();
    EXPECT_TRUE(run_until(f.io, [&] { return la->done && lb->done; }, 2s));
    EXPECT_EQ(seen, (std::vector<std::string>{"Wanted:e1", "Wanted:e6"}));
    EXPECT_EQ(batches, (std::vector<std::string>{"Wanted:e1", "AlsoWanted:e3", "Wanted:e6"}));
    EXPECT_EQ(f.pending(stream, "g"), 0) << "the other types were acknowledged";
    EXPECT_EQ(f.pending(stream, "h"), 0);
}

TEST(StreamConsumer, FailingEntryIsRetriedThenDeadLetteredAndReplayed) {
    Fixture f;
    const auto stream = unique_stream("dead");
    bool healthy = false;
    int attempts = 0;
    int processed = 0;
    std::vector<long long> deliveries;
    auto opts = fast_options(stream, "g", "c1");
    om::events::StreamConsumer c(f.io, f.redis, opts, [&](const StreamEntry& e) -> om::Task<HandlerResult> {
        if (e.event_id() == "boom") {
            throw std::runtime_error("handler threw on purpose");
        }
        if (!healthy) {
            ++attempts;
            deliveries.push_back(e.deliveries);
            co_return HandlerResult::failure("inventory unavailable (attempt " + std::to_string(attempts) + ")");
        }
        ++processed;
        co_return HandlerResult::success();
    });
    ASSERT_FALSE(run(f.io, as_task_unit(c.ensure_group()))->error);
    EXPECT_EQ(c.options().dead_letter_stream, stream + ":dead");
    auto loop = start(c);
    const auto event_id = om::new_uuid_v7();
    const auto original_id = f.publish(stream, event_id, R"({"n":1})");

    EXPECT_TRUE(run_until(f.io, [&] { return f.xlen(stream + ":dead") == 1; }, 10s));
    EXPECT_EQ(attempts, 3);
    EXPECT_EQ(deliveries, (std::vector<long long>{1, 2, 3}));
    EXPECT_EQ(f.pending(stream, "g"), 0) << "a dead-lettered entry is acknowledged";

    auto dead = f.cmd(om::redis::args("XRANGE", stream + ":dead", "-", "+"));
    ASSERT_EQ(dead.elements.size(), 1U);
    const auto dead_id = dead.elements[0].elements.at(0).str;
    auto fields = fields_of(dead.elements[0]);
    EXPECT_EQ(fields["eventId"], event_id);
    EXPECT_EQ(fields["type"], "TestHappened");
    EXPECT_EQ(fields["aggregateId"], "agg-1");
    EXPECT_EQ(fields["payload"], R"({"n":1})");
    EXPECT_EQ(fields["dead.originalId"], original_id);
    EXPECT_EQ(fields["dead.stream"], stream);
    EXPECT_EQ(fields["dead.group"], "g");
    EXPECT_EQ(fields["dead.deliveries"], "3");
    EXPECT_EQ(fields["dead.error"], "inventory unavailable (attempt 3)");

    // list_dead sees it; replay puts it back and the (now healthy) handler processes it once.
    auto listed = run(f.io, om::events::list_dead(f.redis, stream, 10));
    ASSERT_FALSE(listed->error);
    ASSERT_EQ(listed->value->size(), 1U);
    EXPECT_EQ(listed->value->at(0).id, dead_id);
    healthy = true;
    auto replayed = run(f.io, om::events::replay_dead(f.redis, stream, dead_id));
    ASSERT_FALSE(replayed->error);
    ASSERT_TRUE(replayed->value->has_value());
    EXPECT_TRUE(run_until(f.io, [&] { return processed == 1; }));
    EXPECT_EQ(f.xlen(stream + ":dead"), 0);
    auto back = f.cmd(om::redis::args("XRANGE", stream, **replayed->value, **replayed->value));
    ASSERT_EQ(back.elements.size(), 1U);
    auto back_fields = fields_of(back.elements[0]);
    EXPECT_EQ(back_fields.size(), 4U) << "the dead.* fields do not go back";
    EXPECT_EQ(back_fields["eventId"], event_id);
    auto unknown = run(f.io, om::events::replay_dead(f.redis, stream, "1-1"));
    ASSERT_FALSE(unknown->error);
    EXPECT_FALSE(unknown->value->has_value());

    // A handler that throws counts as a failure, with the exception's message.
    f.publish(stream, "boom");
    EXPECT_TRUE(run_until(f.io, [&] { return f.xlen(stream + ":dead") == 1; }, 10s));
    auto boom = f.cmd(om::redis::args("XRANGE", stream + ":dead", "-", "+"));
    ASSERT_EQ(boom.elements.size(), 1U);
    EXPECT_EQ(fields_of(boom.elements[0])["dead.error"], "handler threw on purpose");

    c.stop();
    EXPECT_TRUE(run_until(f.io, [&] { return loop->done; }, 2s));
    EXPECT_EQ(processed, 1);
    EXPECT_EQ(f.pending(stream, "g"), 0);
}

TEST(StreamConsumer, BatchHandlerGetsEachReadTogetherAndFailuresAreRetriedAlone) {
    Fixture f;
    const auto stream = unique_stream("batch");
    std::vector<std::size_t> batch_sizes;
    std::map<std::string, int> calls;  // event id → how many times the handler saw it
    bool healthy = false;
    auto opts = fast_options(stream, "g", "c1");
    opts.batch = 8;
    const om::events::BatchHandler handler =
        [&](std::vector<StreamEntry> entries) -> om::Task<std::vector<HandlerResult>> {
        batch_sizes.push_back(entries.size());
        std::vector<HandlerResult> out;
        for (const auto& e : entries) {
            ++calls[e.event_id()];
            out.push_back(e.event_id() == "flaky" && !healthy ? HandlerResult::failure("not yet")
                                                              : HandlerResult::success());
        }
        co_return out;
    };
    om::events::StreamConsumer c(f.io, f.redis, opts, handler);
    ASSERT_FALSE(run(f.io, as_task_unit(c.ensure_group()))->error);
    for (int i = 0; i < 7; ++i) {
        f.publish(stream, "e" + std::to_string(i));
    }
    f.publish(stream, "flaky");
    auto loop = start(c);
    EXPECT_TRUE(run_until(f.io, [&] { return calls["flaky"] >= 2; }, 5s));
    ASSERT_FALSE(batch_sizes.empty());
    EXPECT_EQ(batch_sizes[0], 8U) << "the eight entries of one read go to the handler together";
    EXPECT_EQ(f.pending(stream, "g"), 1) << "the seven that succeeded were acknowledged; the failure is pending";
    for (int i = 0; i < 7; ++i) {
        EXPECT_EQ(calls["e" + std::to_string(i)], 1);
    }
    healthy = true;  // the claim retries the failed entry alone, and it succeeds now
    EXPECT_TRUE(run_until(f.io, [&] { return f.pending(stream, "g") == 0; }, 5s));
    EXPECT_EQ(batch_sizes.back(), 1U);
    c.stop();
    EXPECT_TRUE(run_until(f.io, [&] { return loop->done; }, 2s));
    EXPECT_EQ(f.xlen(stream + ":dead"), 0);
}

TEST(StreamConsumer, PendingEntriesOfADeadConsumerAreClaimed) {
    Fixture f;
    const auto stream = unique_stream("claim");
    std::vector<std::string> handled;
    std::vector<long long> deliveries;
    auto survivor_opts = fast_options(stream, "g", "survivor");
    survivor_opts.claim_idle_ms = 300;
    om::events::StreamConsumer survivor(f.io, f.redis, survivor_opts,
                                        [&](const StreamEntry& e) -> om::Task<HandlerResult> {
                                            handled.push_back(e.event_id());
                                            deliveries.push_back(e.deliveries);
                                            co_return HandlerResult::success();
                                        });
    ASSERT_FALSE(run(f.io, as_task_unit(survivor.ensure_group()))->error);

    // The doomed consumer reads three entries and stops (dies) before acknowledging any.
    bool hang = true;
    int doomed_calls = 0;
    om::events::StreamConsumer doomed(f.io, f.redis, fast_options(stream, "g", "doomed"),
                                      [&](const StreamEntry&) -> om::Task<HandlerResult> {
                                          ++doomed_calls;
                                          while (hang) {
                                              co_await om::net::sleep_for(f.io, 10);
                                          }
                                          co_return HandlerResult::failure("died");
                                      });
    for (int i = 0; i < 3; ++i) {
        f.publish(stream, "evt-" + std::to_string(i));
    }
    auto doomed_read = std::make_shared<Outcome<int>>();
    om::start_detached(doomed.read_once(), [doomed_read](std::exception_ptr e, std::optional<int> v) {
        doomed_read->done = true;
        doomed_read->error = e;
        doomed_read->value = v;
    });
    EXPECT_TRUE(run_until(f.io, [&] { return doomed_calls == 1; }, 2s));
    doomed.stop();  // the rest of its batch stays pending, unacknowledged
    EXPECT_EQ(f.pending(stream, "g"), 3);

    const auto started = Clock::now();
    auto loop = start(survivor);
    EXPECT_TRUE(run_until(f.io, [&] { return handled.size() == 3; }, 5s));
    EXPECT_GE(Clock::now() - started, 250ms) << "claimed only once idle for claim_idle_ms";
    EXPECT_EQ(std::set<std::string>(handled.begin(), handled.end()),
              (std::set<std::string>{"evt-0", "evt-1", "evt-2"}));
    EXPECT_EQ(deliveries, (std::vector<long long>{2, 2, 2}));
    EXPECT_EQ(f.pending(stream, "g"), 0);
    hang = false;  // let the doomed handler return: its entry was acknowledged by the survivor meanwhile
    EXPECT_TRUE(run_until(f.io, [&] { return doomed_read->done; }, 2s));
    survivor.stop();
    EXPECT_TRUE(run_until(f.io, [&] { return loop->done; }, 2s));
    EXPECT_EQ(handled.size(), 3U);
}

// An entry whose consumers kept dying (delivered max_deliveries times, never acknowledged) is dead-lettered when
// claimed, without running the handler again.
TEST(StreamConsumer, EntryWhoseConsumersKeptDyingIsDeadLetteredOnClaim) {
    Fixture f;
    const auto stream = unique_stream("crashy");
    int calls = 0;
    om::events::StreamConsumer c(f.io, f.redis, fast_options(stream, "g", "c"),
                                 [&](const StreamEntry&) -> om::Task<HandlerResult> {
                                     ++calls;
                                     co_return HandlerResult::success();
                                 });
    ASSERT_FALSE(run(f.io, as_task_unit(c.ensure_group()))->error);
    const auto id = f.publish(stream, "poison");
    // Consumer "x" read it and died; two more consumers took it over (XCLAIM) and died too: 3 deliveries.
    f.cmd(om::redis::args("XREADGROUP", "GROUP", "g", "x", "COUNT", "1", "STREAMS", stream, ">"));
    f.cmd(om::redis::args("XCLAIM", stream, "g", "y", "0", id, "IDLE", "1000", "RETRYCOUNT", "3"));
    auto loop = start(c);
    EXPECT_TRUE(run_until(f.io, [&] { return f.xlen(stream + ":dead") == 1; }, 5s));
    c.stop();
    EXPECT_TRUE(run_until(f.io, [&] { return loop->done; }, 2s));
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(f.pending(stream, "g"), 0);
    auto dead = f.cmd(om::redis::args("XRANGE", stream + ":dead", "-", "+"));
    ASSERT_EQ(dead.elements.size(), 1U);
    auto fields = fields_of(dead.elements[0]);
    EXPECT_EQ(fields["eventId"], "poison");
    EXPECT_EQ(fields["dead.originalId"], id);
    EXPECT_EQ(fields["dead.deliveries"], "3");
    EXPECT_NE(fields["dead.error"].find("without acknowledgement"), std::string::npos) << fields["dead.error"];
}

// With Redis unreachable, the steps throw om::Unavailable and run() backs off until stop().
TEST(StreamConsumer, WaitsOutRedisOutagesAndStops) {
    boost::asio::io_context io;
    om::redis::Options dead;
    dead.port = om::test::free_port();
    dead.connect_timeout = 200ms;
    om::redis::Client down(io, dead);
    down.start();
    int calls = 0;
    auto opts = fast_options(unique_stream("down"), "g", "c");
    om::events::StreamConsumer c(io, down, opts, [&](const StreamEntry&) -> om::Task<HandlerResult> {
        ++calls;
        co_return HandlerResult::success();
    });
    auto once = run(io, c.read_once());
    ASSERT_TRUE(once->error);
    try {
        std::rethrow_exception(once->error);
    } catch (const om::Unavailable&) {
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected om::Unavailable, got " << e.what();
    }
    auto loop = start(c);
    run_until(io, [] { return false; }, 400ms);
    EXPECT_FALSE(loop->done);
    c.stop();
    EXPECT_TRUE(run_until(io, [&] { return loop->done; }, 2s));
    EXPECT_FALSE(loop->error);
    EXPECT_EQ(calls, 0);
    down.stop();
    io.restart();
    io.run_for(50ms);
}

om::Task<int> apply_once(om::pg::Pool& pool, std::string event_id) {
    auto tx = co_await pool.acquire();
    co_await tx.exec("BEGIN");
    const bool first = co_await om::events::mark_processed(tx, "consumer_test.processed_events", event_id);
    if (!first) {
        co_await tx.exec("ROLLBACK");
        co_return 0;
    }
    co_await tx.exec("UPDATE consumer_test.counter SET n = n + 1");
    co_await tx.exec("COMMIT");
    co_return 1;
}

TEST(StreamConsumer, MarkProcessedMakesDuplicateDeliveriesNoOps) {
    const auto url = om::test::fresh_database("om_consumer");
    om::test::sql_value(url,
                        "CREATE SCHEMA consumer_test; "
                        "CREATE TABLE consumer_test.processed_events (event_id uuid PRIMARY KEY, "
                        "processed_at timestamptz NOT NULL DEFAULT now()); "
                        "CREATE TABLE consumer_test.counter (n int NOT NULL); INSERT INTO consumer_test.counter VALUES (0)");
    Fixture f;
    om::pg::PoolOptions po;
    po.url = url;
    om::pg::Pool pool(f.io, po);
    const auto stream = unique_stream("idem");
    int calls = 0;
    int applied = 0;
    om::events::StreamConsumer c(f.io, f.redis, fast_options(stream, "g", "c"),
                                 [&](const StreamEntry& e) -> om::Task<HandlerResult> {
                                     ++calls;
                                     applied += co_await apply_once(pool, e.event_id());
                                     co_return HandlerResult::success();
                                 });
    ASSERT_FALSE(run(f.io, as_task_unit(c.ensure_group()))->error);
    const auto event_id = om::new_uuid_v7();
    f.publish(stream, event_id);  // the relay sent it twice (crash between XADD and its COMMIT)
    f.publish(stream, event_id);
    f.publish(stream, om::new_uuid_v7());
    auto loop = start(c);
    EXPECT_TRUE(run_until(f.io, [&] { return calls == 3; }));
    c.stop();
    EXPECT_TRUE(run_until(f.io, [&] { return loop->done; }, 2s));
    EXPECT_EQ(applied, 2);
    EXPECT_EQ(om::test::sql_value(url, "SELECT n FROM consumer_test.counter"), "2");
    EXPECT_EQ(om::test::sql_value(url, "SELECT count(*) FROM consumer_test.processed_events"), "2");
    EXPECT_EQ(f.pending(stream, "g"), 0);

    auto direct = run(f.io, apply_once(pool, event_id));
    ASSERT_FALSE(direct->error);
    EXPECT_EQ(direct->value.value_or(-1), 0);
    pool.close();
}

std::pair<int, std::string> run_cli(const std::string& args) {
    const std::string cmd = std::string(OM_SERVER_BINARY) + " events " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) {
        return {-1, ""};
    }
    std::string out;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
        out.append(buf, n);
    }
    const int rc = ::pclose(p);
    return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

TEST(StreamConsumer, CommandLineListsAndReplaysDeadLetters) {
    Fixture f;
    const auto stream = unique_stream("cli");
    const auto url = om::test::redis_url_for_test();
    const auto event_id = om::new_uuid_v7();
    const auto dead_id =
        f.cmd(om::redis::args("XADD", stream + ":dead", "*", "eventId", event_id, "type", "TestHappened", "aggregateId",
                              "agg-9", "payload", "{}", "dead.originalId", "1-0", "dead.stream", stream, "dead.group",
                              "g", "dead.deliveries", "5", "dead.error", "boom"))
            .str;
    f.cmd(om::redis::args("XADD", stream + ":dead", "*", "eventId", om::new_uuid_v7(), "dead.stream", stream));

    auto [rc, out] = run_cli("dead-letters --stream '" + stream + "' --redis-url '" + url + "'");
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find(dead_id), std::string::npos) << out;
    EXPECT_NE(out.find(event_id), std::string::npos) << out;
    EXPECT_NE(out.find("\"dead.error\":\"boom\""), std::string::npos) << out;
    EXPECT_NE(out.find("2 dead letter(s)"), std::string::npos) << out;
    auto [rc1, out1] = run_cli("dead-letters --stream '" + stream + ":dead' --limit 1 --redis-url '" + url + "'");
    EXPECT_EQ(rc1, 0) << out1;
    EXPECT_NE(out1.find("1 dead letter(s)"), std::string::npos) << out1;

    auto [rc2, out2] = run_cli("replay --stream '" + stream + "' --id " + dead_id + " --redis-url '" + url + "'");
    EXPECT_EQ(rc2, 0) << out2;
    EXPECT_NE(out2.find("replayed " + dead_id), std::string::npos) << out2;
    EXPECT_EQ(f.xlen(stream + ":dead"), 1);
    auto back = f.cmd(om::redis::args("XRANGE", stream, "-", "+"));
    ASSERT_EQ(back.elements.size(), 1U);
    auto fields = fields_of(back.elements[0]);
    EXPECT_EQ(fields["eventId"], event_id);
    EXPECT_EQ(fields["aggregateId"], "agg-9");
    EXPECT_EQ(fields.count("dead.error"), 0U);

    auto [rc3, out3] = run_cli("replay --stream '" + stream + "' --id " + dead_id + " --redis-url '" + url + "'");
    EXPECT_EQ(rc3, 3) << out3;
    auto [rc4, out4] = run_cli("replay --stream '" + stream + "' --redis-url '" + url + "'");
    EXPECT_EQ(rc4, 2) << out4;
    auto [rc5, out5] = run_cli("bogus --stream s");
    EXPECT_EQ(rc5, 2) << out5;
}

}  // namespace
