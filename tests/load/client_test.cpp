// The load generator's HTTP client (loadtest/client.cpp) against a scripted server on a local port: answers
// larger than Beast's first read, keep-alive reuse, and the pool's deadline sweep (a silent server times out;
// a run's io_context still ends once nothing is in flight).
#include <chrono>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "client.hpp"

namespace om::load {
namespace {

using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Accepts connections; answers every request with `body` (200), or never answers when `silent`.
struct ScriptedServer {
    asio::io_context& io;
    tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    std::string body;
    bool silent = false;
    int requests = 0;
    int connections = 0;

    [[nodiscard]] std::string port() const { return std::to_string(acceptor.local_endpoint().port()); }

    asio::awaitable<void> serve(tcp::socket s) {
        ++connections;
        asio::streambuf in;
        for (;;) {
            boost::system::error_code ec;
            const std::size_t n =
                co_await asio::async_read_until(s, in, "\r\n\r\n", asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                co_return;
            }
            in.consume(n);  // the test's requests carry no body
            ++requests;
            if (silent) {
                continue;
            }
            const std::string wire = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                     std::to_string(body.size()) + "\r\n\r\n" + body;
            co_await asio::async_write(s, asio::buffer(wire), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                co_return;
            }
        }
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            boost::system::error_code ec;
            tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                co_return;
            }
            asio::co_spawn(io, serve(std::move(s)), asio::detached);
        }
    }
};

TEST(LoadClient, ReadsAnswersLargerThanOneReadAndReusesTheConnection) {
    asio::io_context io;
    ScriptedServer server{io};
    server.body = "{\"pad\":\"" + std::string(6000, 'x') + "\"}";
    asio::co_spawn(io, server.accept_loop(), asio::detached);
    Pool pool(io, Target{"127.0.0.1", server.port()}, 1, std::chrono::milliseconds(5000));
    std::vector<HttpResult> results;
    // A named lambda: the coroutine refers to its captures, which must outlive io.run.
    auto client = [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            // Named, then moved: GCC 12 frees a prvalue aggregate argument of a coroutine twice.
            HttpRequest req{.method = "GET", .target = "/products/1"};
            results.push_back(co_await pool.send(std::move(req)));
        }
        server.acceptor.close();
        pool.close();
    };
    asio::co_spawn(io, client(), asio::detached);
    io.run_for(std::chrono::seconds(10));
    ASSERT_EQ(results.size(), 3U);
    for (const auto& r : results) {
        EXPECT_EQ(r.status, 200) << r.error;
        EXPECT_EQ(r.body, server.body);
        EXPECT_LE(r.sent, r.answered);
    }
    EXPECT_EQ(server.requests, 3);
    EXPECT_EQ(server.connections, 1);  // keep-alive
}

TEST(LoadClient, ASilentServerTimesOutAndTheRunEndsWithoutAnythingInFlight) {
    asio::io_context io;
    ScriptedServer server{io};
    server.silent = true;
    asio::co_spawn(io, server.accept_loop(), asio::detached);
    Pool pool(io, Target{"127.0.0.1", server.port()}, 2, std::chrono::milliseconds(300));
    HttpResult r;
    Clock::duration took{};
    auto client = [&]() -> asio::awaitable<void> {
        const auto t0 = Clock::now();
        HttpRequest req{.method = "GET", .target = "/slow"};
        r = co_await pool.send(std::move(req));
        took = Clock::now() - t0;
        server.acceptor.close();
    };
    asio::co_spawn(io, client(), asio::detached);
    // Nothing stops the io_context: it must run out of work once the request has timed out (the pool's deadline
    // sweep ends when nothing is in flight; the server's silent session ends when the client closed its socket).
    const auto t0 = Clock::now();
    io.run_for(std::chrono::seconds(10));
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.error, "timeout");
    EXPECT_GE(took, std::chrono::milliseconds(300));
    EXPECT_LT(took, std::chrono::milliseconds(2000));
}

}  // namespace
}  // namespace om::load
