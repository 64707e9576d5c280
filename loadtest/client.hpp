#pragma once
// The load generator's HTTP/1.1 client: a fixed number of keep-alive connections to one server, shared by
// every flow of a run. A request waits for a free connection (that wait is part of its latency: the open loop
// measures from the intended send time), is written in one buffer and its response read with Beast's parser.
// Single-threaded: every coroutine runs on the one io_context.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace om::load {

namespace asio = boost::asio;

struct Target {
    std::string host = "127.0.0.1";
    std::string port = "8080";
};
// "http://host:port" (path ignored); throws std::invalid_argument when it is not an http URL.
Target parse_target(const std::string& url);

struct HttpRequest {
    const char* method = "GET";
    std::string target;
    std::string body;           // sent as application/json when not empty (or when method is POST/PUT)
    std::string token;          // Authorization: Bearer …
    std::string idempotency_key;
    std::string prefer;         // Prefer: … (RFC 7240), e.g. "wait=0"
};

struct HttpResult {
    int status = 0;             // 0: no response (transport failure or timeout; see error)
    std::string body;
    std::string location;
    std::string error;
    std::chrono::steady_clock::time_point sent;      // when the request was written (after any wait)
    std::chrono::steady_clock::time_point answered;  // when the whole response was read
};

class Pool {
public:
    Pool(asio::io_context& io, Target target, int connections, std::chrono::milliseconds timeout);
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // Never throws for network trouble: status 0 + error. A request that fails on a reused connection before
    // any response byte is retried once on a fresh connection (safe: GETs, and POSTs carry Idempotency-Keys).
    asio::awaitable<HttpResult> send(HttpRequest request);

    [[nodiscard]] std::size_t waiting() const noexcept { return waiters_.size(); }
    [[nodiscard]] int connections() const noexcept { return static_cast<int>(conns_.size()); }
    // Closes every connection (a run's end).
    void close();

private:
    struct Conn;
    struct Waiter;
    asio::awaitable<Conn*> acquire();
    void release(Conn* c);
    asio::awaitable<HttpResult> exchange(Conn& c, const std::string& wire);
    // Closes the connections whose exchange passed its deadline; runs while any exchange is in flight. One
    // timer for the pool instead of one armed and cancelled per request (a timer-queue insertion and removal
    // and a cancelled handler each time).
    asio::awaitable<void> sweep();

    asio::io_context& io_;
    Target target_;
    std::chrono::milliseconds timeout_;
    std::vector<asio::ip::tcp::endpoint> endpoints_;
    std::vector<std::unique_ptr<Conn>> conns_;
    std::vector<Conn*> idle_;
    std::deque<Waiter*> waiters_;
    asio::steady_timer sweep_timer_;
    bool sweeping_ = false;
    int in_exchange_ = 0;
};

}  // namespace om::load
