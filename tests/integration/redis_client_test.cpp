// om::redis::Client against real Redis servers: the fixture's (OM_TEST_REDIS_URL) and, for reconnect and
// AUTH tests, private redis-server processes started here on free ports.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

// Boost 1.81 + GCC 12 at -O2: -Wnull-dereference fires inside Asio's executor comparison (a false
// positive in a system header that affects every Asio user); silenced for the Asio headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#pragma GCC diagnostic pop

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "core/task.hpp"
#include "net/redis.hpp"
#include "support/test_env.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using om::redis::Client;
using om::redis::Options;
using om::redis::Reply;
using Clock = std::chrono::steady_clock;

std::string key(const std::string& name) {
    return "om:test:redis_client:" + std::to_string(::getpid()) + ":" + name;
}

// Runs the io_context until pred() holds or `timeout` passes. Returns pred().
bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred,
               std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    while (!pred() && Clock::now() < deadline) {
        io.restart();
        io.run_for(5ms);
        if (io.stopped() && !pred()) {
            std::this_thread::sleep_for(1ms);  // no work at all: do not spin
        }
    }
    return pred();
}

void run_for(boost::asio::io_context& io, std::chrono::milliseconds d) {
    const auto deadline = Clock::now() + d;
    run_until(io, [&] { return Clock::now() >= deadline; }, d + 1s);
}

// The outcome of a detached Task<Reply>; shared so that a task outliving a failed test stays harmless.
struct Pending {
    bool done = false;
    std::optional<Reply> reply;
    std::exception_ptr error;
};

std::shared_ptr<Pending> launch(Client& client, std::vector<std::string> args) {
    auto p = std::make_shared<Pending>();
    om::start_detached(client.command(std::move(args)), [p](std::exception_ptr e, std::optional<Reply> r) {
        p->done = true;
        p->error = e;
        p->reply = std::move(r);
    });
    return p;
}

// Runs one command to completion; rethrows its exception.
Reply run(boost::asio::io_context& io, Client& client, std::vector<std::string> args,
          std::chrono::milliseconds timeout = 10s) {
    auto p = launch(client, std::move(args));
    if (!run_until(io, [&] { return p->done; }, timeout)) {
        throw std::runtime_error("test: command did not complete");
    }
    if (p->error) {
        std::rethrow_exception(p->error);
    }
    return std::move(*p->reply);
}

bool is_unavailable(const std::exception_ptr& e) {
    if (!e) {
        return false;
    }
    try {
        std::rethrow_exception(e);
    } catch (const om::Unavailable&) {
        return true;
    } catch (...) {
        return false;
    }
}

Options fixture_options() { return om::redis::parse_url(om::test::env("OM_TEST_REDIS_URL")); }

// A client on the fixture's Redis, connected.
struct Connected {
    boost::asio::io_context io;
    Client client;
    explicit Connected(Options o = fixture_options()) : client(io, std::move(o)) {
        client.start();
        if (!run_until(io, [&] { return client.connected(); })) {
            throw std::runtime_error("test: redis client did not connect");
        }
    }
};

int free_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return acceptor.local_endpoint().port();
}

bool port_accepts(int port) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    boost::system::error_code ec;
    s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
    return !ec;
}

// A private redis-server child process.
class RedisServer {
public:
    explicit RedisServer(int port, std::vector<std::string> extra = {}) : port_(port), extra_(std::move(extra)) {
        start();
    }
    ~RedisServer() { kill(); }
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    void start() {
        std::vector<std::string> args = {"redis-server", "--port",       std::to_string(port_), "--bind",
                                         "127.0.0.1",    "--save",       "",                    "--appendonly",
                                         "no",           "--daemonize",  "no",                  "--loglevel",
                                         "warning",      "--dir",        "/tmp"};
        args.insert(args.end(), extra_.begin(), extra_.end());
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        const int rc = posix_spawnp(&pid_, "redis-server", &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) {
            throw std::runtime_error("test: cannot spawn redis-server");
        }
        const auto deadline = Clock::now() + 10s;
        while (!port_accepts(port_)) {
            if (Clock::now() > deadline) {
                throw std::runtime_error("test: redis-server did not start");
            }
            std::this_thread::sleep_for(10ms);
        }
    }

    void kill() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
            pid_ = -1;
        }
    }

    [[nodiscard]] int port() const { return port_; }

private:
    int port_;
    std::vector<std::string> extra_;
    pid_t pid_ = -1;
};

Options local_options(int port) {
    Options o;
    o.host = "127.0.0.1";
    o.port = port;
    return o;
}

// ---------------------------------------------------------------------------------------------------

TEST(RedisClient, FixtureUrlParses) {
    EXPECT_NO_THROW((void)fixture_options());
    EXPECT_EQ(std::to_string(fixture_options().port), om::test::env("OM_TEST_REDIS_PORT"));
}

// The fixture's Redis also listens on a Unix socket (tests/fixtures/services.sh): the same client over it.
TEST(RedisClient, WorksOverTheUnixSocket) {
    const Options o = om::redis::parse_url(om::test::env("OM_TEST_REDIS_SOCKET_URL"));
    ASSERT_FALSE(o.unix_socket.empty());
    Connected local(o);
    EXPECT_EQ(run(local.io, local.client, {"SET", key("unix"), "over the socket"}).str, "OK");
    // The same key read over TCP: one server.
    Connected tcp;
    EXPECT_EQ(run(tcp.io, tcp.client, {"GET", key("unix")}).str, "over the socket");
    const Reply info = run(local.io, local.client, {"CLIENT", "INFO"});
    EXPECT_NE(info.str.find("addr=" + o.unix_socket), std::string::npos) << info.str;
    (void)run(local.io, local.client, {"DEL", key("unix")});
}

TEST(RedisClient, SetGet) {
    Connected c;
    const Reply set = run(c.io, c.client, {"SET", key("setget"), "hello"});
    EXPECT_EQ(set.type, Reply::Type::status);
    EXPECT_EQ(set.str, "OK");
    const Reply get = run(c.io, c.client, {"GET", key("setget")});
    EXPECT_EQ(get.type, Reply::Type::string);
    EXPECT_EQ(get.str, "hello");
    (void)run(c.io, c.client, {"DEL", key("setget")});
}

TEST(RedisClient, BinarySafeValues) {
    Connected c;
    const std::string with_nul("a\0b\0\r\n$3\r\n", 11);
    const std::string korean = "안녕하세요, 오픈마켓";
    std::string all_bytes;
    for (int i = 0; i < 256; ++i) {
        all_bytes.push_back(static_cast<char>(i));
    }
    const std::string nul_key = key(std::string("bin\0key", 7));
    for (const auto& value : {with_nul, korean, all_bytes, std::string()}) {
        ASSERT_EQ(run(c.io, c.client, {"SET", nul_key, value}).str, "OK");
        const Reply got = run(c.io, c.client, {"GET", nul_key});
        ASSERT_EQ(got.type, Reply::Type::string);
        EXPECT_EQ(got.str, value);
        EXPECT_EQ(run(c.io, c.client, {"STRLEN", nul_key}).integer, static_cast<long long>(value.size()));
    }
    // Keys containing NUL are distinct from their prefix.
    EXPECT_TRUE(run(c.io, c.client, {"GET", key("bin")}).is_nil());
    (void)run(c.io, c.client, {"DEL", nul_key});
}

// Values much larger than the socket buffers: the write does not drain at once (the adapter then waits for
// the socket) and the reply arrives in many reads of the adapter's 16 KiB buffer.
TEST(RedisClient, ValuesLargerThanTheSocketBuffers) {
    Connected c;
    const std::string big_key = key("big");
    std::string value(8 << 20, '\0');
    for (std::size_t i = 0; i < value.size(); ++i) {
        value[i] = static_cast<char>((i * 131) % 251);
    }
    ASSERT_EQ(run(c.io, c.client, {"SET", big_key, value}).str, "OK");
    const Reply got = run(c.io, c.client, {"GET", big_key});
    ASSERT_EQ(got.type, Reply::Type::string);
    EXPECT_TRUE(got.str == value);
    EXPECT_EQ(run(c.io, c.client, {"STRLEN", big_key}).integer, static_cast<long long>(value.size()));
    (void)run(c.io, c.client, {"DEL", big_key});
    EXPECT_EQ(run(c.io, c.client, {"PING"}).str, "PONG");  // the connection is still in step
}

TEST(RedisClient, ReplyTypes) {
    Connected c;
    const std::string counter = key("types:counter");
    const std::string list = key("types:list");
    (void)run(c.io, c.client, {"DEL", counter, list});

    const Reply one = run(c.io, c.client, {"INCR", counter});
    EXPECT_EQ(one.type, Reply::Type::integer);
    EXPECT_EQ(one.integer, 1);
    EXPECT_EQ(run(c.io, c.client, {"INCRBY", counter, "-10"}).integer, -9);

    const Reply nil = run(c.io, c.client, {"GET", key("types:missing")});
    EXPECT_TRUE(nil.is_nil());
    EXPECT_EQ(nil.type, Reply::Type::nil);

    EXPECT_EQ(run(c.io, c.client, {"RPUSH", list, "x", "", "z"}).integer, 3);
    const Reply range = run(c.io, c.client, {"LRANGE", list, "0", "-1"});
    ASSERT_EQ(range.type, Reply::Type::array);
    ASSERT_EQ(range.elements.size(), 3U);
    EXPECT_EQ(range.elements[0].str, "x");
    EXPECT_EQ(range.elements[1].str, "");
    EXPECT_EQ(range.elements[1].type, Reply::Type::string);
    EXPECT_EQ(range.elements[2].str, "z");

    const Reply mget = run(c.io, c.client, {"MGET", counter, key("types:missing")});
    ASSERT_EQ(mget.type, Reply::Type::array);
    ASSERT_EQ(mget.elements.size(), 2U);
    EXPECT_EQ(mget.elements[0].str, "-9");
    EXPECT_TRUE(mget.elements[1].is_nil());

    const Reply empty = run(c.io, c.client, {"LRANGE", key("types:missing"), "0", "-1"});
    EXPECT_EQ(empty.type, Reply::Type::array);
    EXPECT_TRUE(empty.elements.empty());

    const Reply unknown = run(c.io, c.client, {"NO_SUCH_COMMAND", "x"});
    EXPECT_TRUE(unknown.is_error());
    EXPECT_NE(unknown.str.find("unknown command"), std::string::npos) << unknown.str;

    const Reply wrongtype = run(c.io, c.client, {"INCR", list});
    EXPECT_TRUE(wrongtype.is_error());
    EXPECT_EQ(wrongtype.str.rfind("WRONGTYPE", 0), 0U) << wrongtype.str;

    EXPECT_EQ(run(c.io, c.client, {"PING"}).str, "PONG");
    // An error reply does not break the connection.
    EXPECT_TRUE(c.client.connected());
    (void)run(c.io, c.client, {"DEL", counter, list});
}

// Replies are built by hiredis' reader straight into Reply (nested arrays in place): every level keeps its
// types, order and sizes, and a reply after it is unaffected.
TEST(RedisClient, NestedRepliesKeepTheirShape) {
    Connected c;
    const Reply r = run(c.io, c.client,
                        {"EVAL", "return {1, {'a', {2, 'b'}, {}}, 'c', redis.status_reply('FINE'), {false, 7}}", "0"});
    ASSERT_EQ(r.type, Reply::Type::array);
    ASSERT_EQ(r.elements.size(), 5U);
    EXPECT_EQ(r.elements[0].type, Reply::Type::integer);
    EXPECT_EQ(r.elements[0].integer, 1);
    const Reply& inner = r.elements[1];
    ASSERT_EQ(inner.type, Reply::Type::array);
    ASSERT_EQ(inner.elements.size(), 3U);
    EXPECT_EQ(inner.elements[0].str, "a");
    ASSERT_EQ(inner.elements[1].elements.size(), 2U);
    EXPECT_EQ(inner.elements[1].elements[0].integer, 2);
    EXPECT_EQ(inner.elements[1].elements[1].str, "b");
    EXPECT_EQ(inner.elements[2].type, Reply::Type::array);
    EXPECT_TRUE(inner.elements[2].elements.empty());
    EXPECT_EQ(r.elements[2].type, Reply::Type::string);
    EXPECT_EQ(r.elements[2].str, "c");
    EXPECT_EQ(r.elements[3].type, Reply::Type::status);
    EXPECT_EQ(r.elements[3].str, "FINE");
    ASSERT_EQ(r.elements[4].elements.size(), 2U);
    EXPECT_TRUE(r.elements[4].elements[0].is_nil());
    EXPECT_EQ(r.elements[4].elements[1].integer, 7);

    // A nil array (*-1) and an error inside a script's reply.
    const Reply nil_array = run(c.io, c.client, {"BLPOP", key("nested:missing"), "0.01"});
    EXPECT_TRUE(nil_array.is_nil());
    const Reply error = run(c.io, c.client, {"EVAL", "return redis.error_reply('BAD thing')", "0"});
    EXPECT_TRUE(error.is_error());
    EXPECT_EQ(error.str, "BAD thing");
    EXPECT_EQ(run(c.io, c.client, {"PING"}).str, "PONG");
}

TEST(RedisClient, ThousandPipelinedCommands) {
    Connected c;
    const std::string counter = key("pipeline");
    (void)run(c.io, c.client, {"DEL", counter});

    constexpr int n = 1000;
    std::vector<std::shared_ptr<Pending>> pending;
    pending.reserve(n);
    for (int i = 0; i < n; ++i) {
        pending.push_back(launch(c.client, {"INCR", counter}));
    }
    // Nothing can have completed yet: all 1000 are in flight on the one connection.
    for (const auto& p : pending) {
        ASSERT_FALSE(p->done);
    }
    ASSERT_TRUE(run_until(c.io, [&] { return pending.back()->done; }, 10s));
    for (int i = 0; i < n; ++i) {
        ASSERT_TRUE(pending[static_cast<std::size_t>(i)]->done);
        ASSERT_FALSE(pending[static_cast<std::size_t>(i)]->error);
        // Replies come back in submission order.
        EXPECT_EQ(pending[static_cast<std::size_t>(i)]->reply->integer, i + 1);
    }
    (void)run(c.io, c.client, {"DEL", counter});
}

TEST(RedisClient, EvalLuaScript) {
    Connected c;
    const std::string k = key("eval");
    const Reply r = run(c.io, c.client,
                        {"EVAL",
                         "redis.call('SET', KEYS[1], ARGV[1]) "
                         "return {KEYS[1], redis.call('GET', KEYS[1]), tonumber(ARGV[2]) * 2, false}",
                         "1", k, "값", "21"});
    ASSERT_EQ(r.type, Reply::Type::array);
    ASSERT_EQ(r.elements.size(), 4U);
    EXPECT_EQ(r.elements[0].str, k);
    EXPECT_EQ(r.elements[1].str, "값");
    EXPECT_EQ(r.elements[2].type, Reply::Type::integer);
    EXPECT_EQ(r.elements[2].integer, 42);
    EXPECT_TRUE(r.elements[3].is_nil());  // Lua false → nil bulk

    const Reply err = run(c.io, c.client, {"EVAL", "return redis.error_reply('OMFAIL boom')", "0"});
    EXPECT_TRUE(err.is_error());
    EXPECT_EQ(err.str, "OMFAIL boom");
    (void)run(c.io, c.client, {"DEL", k});
}

// EVAL goes out as EVALSHA once the script is known (SCRIPT LOAD), and a Redis that lost its scripts (SCRIPT
// FLUSH here; a restart alike) gets the text again. A private server: its command statistics are this test's.
TEST(RedisClient, EvalRunsAsEvalshaAndSurvivesLostScripts) {
    const int port = free_port();
    RedisServer server(port);
    boost::asio::io_context io;
    Client client(io, local_options(port));
    client.start();
    ASSERT_TRUE(run_until(io, [&] { return client.connected(); }));
    const std::string script = "return {ARGV[1], redis.call('INCR', KEYS[1])}";
    auto calls = [&](const std::string& command) -> long long {
        const Reply info = run(io, client, {"INFO", "commandstats"});
        const std::string tag = "cmdstat_" + command + ":calls=";
        const auto at = info.str.find(tag);
        return at == std::string::npos ? 0 : std::stoll(info.str.substr(at + tag.size()));
    };
    for (int i = 1; i <= 5; ++i) {
        const Reply r = run(io, client, {"EVAL", script, "1", "n", "x" + std::to_string(i)});
        ASSERT_EQ(r.type, Reply::Type::array) << r.str;
        EXPECT_EQ(r.elements.at(0).str, "x" + std::to_string(i));
        EXPECT_EQ(r.elements.at(1).integer, i);
    }
    EXPECT_EQ(calls("evalsha"), 5);
    EXPECT_EQ(calls("eval"), 0);  // the text went once, with SCRIPT LOAD
    EXPECT_EQ(calls("script|load"), 1);

    EXPECT_EQ(run(io, client, {"SCRIPT", "FLUSH"}).str, "OK");
    const Reply again = run(io, client, {"EVAL", script, "1", "n", "y"});
    ASSERT_EQ(again.type, Reply::Type::array) << again.str;
    EXPECT_EQ(again.elements.at(1).integer, 6);
    EXPECT_EQ(calls("eval"), 1);  // NOSCRIPT, then the text once more
    (void)run(io, client, {"EVAL", script, "1", "n", "z"});
    EXPECT_EQ(calls("evalsha"), 7);  // cached again by that EVAL: back to the digest

    // A script that does not compile answers as EVAL would, and leaves nothing cached.
    const Reply bad = run(io, client, {"EVAL", "return {", "0"});
    EXPECT_TRUE(bad.is_error());
    EXPECT_NE(bad.str.find("compil"), std::string::npos) << bad.str;
}

TEST(RedisClient, CommandTimeoutThenStillWorks) {
    Options o = fixture_options();
    o.command_timeout = 200ms;
    Connected c(o);
    const auto start = Clock::now();
    auto blocked = launch(c.client, {"BLPOP", key("timeout:empty"), "2"});
    ASSERT_TRUE(run_until(c.io, [&] { return blocked->done; }, 5s));
    const auto elapsed = Clock::now() - start;
    EXPECT_TRUE(is_unavailable(blocked->error));
    EXPECT_GE(elapsed, 150ms);
    EXPECT_LT(elapsed, 1500ms);
    EXPECT_TRUE(c.client.connected());

    // The connection is kept: the late BLPOP reply (after 2 s) arrives and must be ignored safely.
    run_for(c.io, 2200ms);
    EXPECT_TRUE(c.client.connected());
    EXPECT_EQ(run(c.io, c.client, {"SET", key("timeout:after"), "ok"}).str, "OK");
    EXPECT_EQ(run(c.io, c.client, {"GET", key("timeout:after")}).str, "ok");
    (void)run(c.io, c.client, {"DEL", key("timeout:after")});
}

// One timer serves every command of a connection: commands queued behind a stuck one each time out at their own
// deadline (sent 150 ms apart here), not all at the first one's, and answered commands leave no timeout behind.
TEST(RedisClient, CommandsBehindAStuckOneTimeOutEachAtItsOwnDeadline) {
    Options o = fixture_options();
    o.command_timeout = 300ms;
    Connected c(o);
    for (int i = 0; i < 50; ++i) {  // answered commands before: their deadlines must not fire anything
        EXPECT_EQ(run(c.io, c.client, {"PING"}).str, "PONG");
    }
    const auto start = Clock::now();
    auto first = launch(c.client, {"BLPOP", key("deadline:empty"), "2"});
    run_for(c.io, 150ms);
    auto second = launch(c.client, {"GET", key("deadline:x")});  // pipelined behind the BLPOP
    std::optional<Clock::duration> first_at;
    std::optional<Clock::duration> second_at;
    ASSERT_TRUE(run_until(c.io, [&] {
        if (first->done && !first_at) {
            first_at = Clock::now() - start;
        }
        if (second->done && !second_at) {
            second_at = Clock::now() - start;
        }
        return first->done && second->done;
    }, 5s));
    EXPECT_TRUE(is_unavailable(first->error));
    EXPECT_TRUE(is_unavailable(second->error));
    // Lower bounds only where a busy machine cannot break them (it makes timers late, never early); the upper
    // ones stay below the BLPOP's own answer (2 s).
    EXPECT_GE(*first_at, 250ms);
    EXPECT_GE(*second_at, 400ms) << "expired with the first";  // 150 ms + 300 ms, give or take the timer's resolution
    EXPECT_LT(*first_at, 1900ms);
    EXPECT_LT(*second_at, 1900ms);
    run_for(c.io, 2200ms);  // the late replies are ignored
    EXPECT_EQ(run(c.io, c.client, {"PING"}).str, "PONG");
}

TEST(RedisClient, NotConnectedThrowsAtOnce) {
    boost::asio::io_context io;
    {
        Client never_started(io, fixture_options());
        EXPECT_FALSE(never_started.connected());
        auto p = launch(never_started, {"PING"});
        EXPECT_TRUE(p->done);  // without running the io_context
        EXPECT_TRUE(is_unavailable(p->error));
    }
    {
        const int port = free_port();  // nothing listens here
        Options o = local_options(port);
        o.connect_timeout = 200ms;
        Client nobody(io, o);
        nobody.start();
        run_for(io, 300ms);
        EXPECT_FALSE(nobody.connected());
        auto p = launch(nobody, {"PING"});
        EXPECT_TRUE(p->done);
        EXPECT_TRUE(is_unavailable(p->error));
    }
    // The Clients are gone: their pending timers must not touch freed memory.
    run_for(io, 200ms);
}

TEST(RedisClient, RejectsPubSubAndEmptyCommands) {
    Connected c;
    for (const char* name : {"SUBSCRIBE", "psubscribe", "Monitor"}) {
        EXPECT_THROW((void)run(c.io, c.client, {name, "x"}), std::invalid_argument) << name;
    }
    EXPECT_THROW((void)run(c.io, c.client, {}), std::invalid_argument);
    EXPECT_EQ(run(c.io, c.client, {"PING"}).str, "PONG");
}

TEST(RedisClient, ReconnectsAfterServerRestart) {
    const int port = free_port();
    RedisServer server(port);
    boost::asio::io_context io;
    Options o = local_options(port);
    o.command_timeout = 5s;
    Client client(io, o);
    client.start();
    ASSERT_TRUE(run_until(io, [&] { return client.connected(); }));
    EXPECT_EQ(run(io, client, {"SET", "k", "before"}).str, "OK");

    // A graceful close by the server (QUIT) is noticed and repaired quickly (first backoff step: 50 ms).
    EXPECT_EQ(run(io, client, {"QUIT"}).str, "OK");
    ASSERT_TRUE(run_until(io, [&] { return !client.connected(); }, 2s));
    ASSERT_TRUE(run_until(io, [&] { return client.connected(); }, 2s));
    EXPECT_EQ(run(io, client, {"GET", "k"}).str, "before");

    // An in-flight command fails with Unavailable as soon as the connection drops (not at its timeout).
    auto in_flight = launch(client, {"BLPOP", "empty", "30"});
    run_for(io, 50ms);
    ASSERT_FALSE(in_flight->done);
    const auto killed_at = Clock::now();
    server.kill();
    ASSERT_TRUE(run_until(io, [&] { return in_flight->done; }, 3s));
    EXPECT_TRUE(is_unavailable(in_flight->error));
    EXPECT_LT(Clock::now() - killed_at, 2s);

    // While the server is down: not connected, commands fail at once, reconnect attempts keep going.
    run_for(io, 1500ms);
    EXPECT_FALSE(client.connected());
    EXPECT_THROW((void)run(io, client, {"PING"}), om::Unavailable);

    server.start();
    const auto restarted_at = Clock::now();
    ASSERT_TRUE(run_until(io, [&] { return client.connected(); }, 5s));
    EXPECT_LT(Clock::now() - restarted_at, 1500ms);  // backoff is capped at 1 s
    EXPECT_EQ(run(io, client, {"PING"}).str, "PONG");
    EXPECT_TRUE(run(io, client, {"GET", "k"}).is_nil());  // a fresh server without persistence
    EXPECT_EQ(run(io, client, {"SET", "k", "after"}).str, "OK");
}

TEST(RedisClient, AuthAndSelectBeforeConnected) {
    const int port = free_port();
    RedisServer server(port, {"--requirepass", "p@ss word"});
    boost::asio::io_context io;

    Options o = om::redis::parse_url("redis://:p%40ss%20word@127.0.0.1:" + std::to_string(port) + "/5");
    Client db5(io, o);
    db5.start();
    ASSERT_TRUE(run_until(io, [&] { return db5.connected(); }));
    EXPECT_EQ(run(io, db5, {"SET", "where", "five"}).str, "OK");
    EXPECT_EQ(run(io, db5, {"CLIENT", "INFO"}).str.find("db=5") != std::string::npos, true);

    o.db = 0;
    Client db0(io, o);
    db0.start();
    ASSERT_TRUE(run_until(io, [&] { return db0.connected(); }));
    EXPECT_TRUE(run(io, db0, {"GET", "where"}).is_nil());

    o.password = "wrong";
    o.connect_timeout = 300ms;
    Client bad(io, o);
    bad.start();
    run_for(io, 500ms);
    EXPECT_FALSE(bad.connected());
    EXPECT_THROW((void)run(io, bad, {"PING"}), om::Unavailable);
}

TEST(RedisClient, ConnectTimeoutWhenServerIsSilent) {
    // Accepts TCP connections but never answers: the AUTH handshake cannot finish.
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> accepted;
    std::function<void()> accept_next = [&] {
        accepted.push_back(std::make_unique<boost::asio::ip::tcp::socket>(io));
        acceptor.async_accept(*accepted.back(), [&](const boost::system::error_code& ec) {
            if (!ec) {
                accept_next();
            }
        });
    };
    accept_next();

    Options o = local_options(acceptor.local_endpoint().port());
    o.password = "secret";
    o.connect_timeout = 150ms;
    {
        Client client(io, o);
        client.start();
        run_for(io, 800ms);
        EXPECT_FALSE(client.connected());
        EXPECT_THROW((void)run(io, client, {"PING"}), om::Unavailable);
        // Timed-out attempts are abandoned and retried: 150 ms + 50 ms, + 100 ms, + 200 ms ...
        EXPECT_GE(accepted.size() - 1, 2U);
    }
    acceptor.close();
    run_for(io, 50ms);
}

TEST(RedisClient, StopFailsInFlightAndDoesNotReconnect) {
    boost::asio::io_context io;
    Options o = fixture_options();
    o.command_timeout = 10s;
    auto client = std::make_unique<Client>(io, o);
    client->start();
    ASSERT_TRUE(run_until(io, [&] { return client->connected(); }));

    auto a = launch(*client, {"BLPOP", key("stop:empty"), "5"});
    run_for(io, 20ms);
    client->stop();
    EXPECT_FALSE(client->connected());
    ASSERT_TRUE(run_until(io, [&] { return a->done; }, 1s));
    EXPECT_TRUE(is_unavailable(a->error));
    run_for(io, 300ms);
    EXPECT_FALSE(client->connected());

    // Destroying a Client with commands in flight: they fail with Unavailable, nothing dangles.
    auto other = std::make_unique<Client>(io, o);
    other->start();
    ASSERT_TRUE(run_until(io, [&] { return other->connected(); }));
    std::vector<std::shared_ptr<Pending>> pending;
    for (int i = 0; i < 50; ++i) {
        pending.push_back(launch(*other, {"BLPOP", key("stop:empty2"), "5"}));
    }
    run_for(io, 20ms);
    other.reset();
    ASSERT_TRUE(run_until(io, [&] { return pending.back()->done; }, 1s));
    for (const auto& p : pending) {
        EXPECT_TRUE(p->done);
        EXPECT_TRUE(is_unavailable(p->error));
    }
    client.reset();
    run_for(io, 100ms);
}

}  // namespace
