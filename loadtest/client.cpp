#include "client.hpp"

#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace om::load {

namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

Target parse_target(const std::string& url) {
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0) {
        throw std::invalid_argument("--target must be an http:// URL: " + url);
    }
    std::string rest = url.substr(scheme.size());
    rest = rest.substr(0, rest.find('/'));
    Target t;
    if (auto colon = rest.rfind(':'); colon != std::string::npos) {
        t.host = rest.substr(0, colon);
        t.port = rest.substr(colon + 1);
    } else {
        t.host = rest;
        t.port = "80";
    }
    if (t.host.empty() || t.port.empty()) {
        throw std::invalid_argument("--target has no host or port: " + url);
    }
    return t;
}

struct Pool::Conn {
    explicit Conn(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    boost::beast::flat_buffer buffer;
    Clock::time_point due{Clock::time_point::max()};  // while an exchange is in flight: its deadline
    bool open = false;
    bool timed_out = false;
};

struct Pool::Waiter {
    explicit Waiter(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    Conn* conn = nullptr;
};

Pool::Pool(asio::io_context& io, Target target, int connections, std::chrono::milliseconds timeout)
    : io_(io), target_(std::move(target)), timeout_(timeout), sweep_timer_(io) {
    tcp::resolver resolver(io_);
    for (const auto& e : resolver.resolve(target_.host, target_.port)) {
        endpoints_.push_back(e.endpoint());
    }
    if (endpoints_.empty()) {
        throw std::runtime_error("cannot resolve " + target_.host);
    }
    for (int i = 0; i < connections; ++i) {
        conns_.push_back(std::make_unique<Conn>(io_));
        idle_.push_back(conns_.back().get());
    }
}

Pool::~Pool() { close(); }

void Pool::close() {
    sweep_timer_.cancel();
    for (auto& c : conns_) {
        boost::system::error_code ignored;
        c->socket.close(ignored);
        c->open = false;
    }
}

asio::awaitable<Pool::Conn*> Pool::acquire() {
    if (!idle_.empty()) {
        Conn* c = idle_.back();
        idle_.pop_back();
        co_return c;
    }
    Waiter w(io_);
    w.timer.expires_at(Clock::time_point::max());
    waiters_.push_back(&w);
    boost::system::error_code ec;
    co_await w.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return w.conn;  // set by release() before it cancelled the timer
}

void Pool::release(Conn* c) {
    if (!waiters_.empty()) {
        Waiter* w = waiters_.front();
        waiters_.pop_front();
        w->conn = c;
        w->timer.cancel();
        return;
    }
    idle_.push_back(c);
}

namespace {
std::string wire_of(const HttpRequest& r, const Target& t) {
    std::string w;
    w.reserve(256 + r.body.size() + r.target.size() + r.token.size());
    w.append(r.method).append(" ").append(r.target).append(" HTTP/1.1\r\nHost: ").append(t.host);
    w.append(":").append(t.port).append("\r\nUser-Agent: openmarket-load\r\nAccept: application/json\r\n");
    if (!r.token.empty()) {
        w.append("Authorization: Bearer ").append(r.token).append("\r\n");
    }
    if (!r.idempotency_key.empty()) {
        w.append("Idempotency-Key: ").append(r.idempotency_key).append("\r\n");
    }
    if (!r.prefer.empty()) {
        w.append("Prefer: ").append(r.prefer).append("\r\n");
    }
    const std::string_view m = r.method;
    if (!r.body.empty() || m == "POST" || m == "PUT") {
        w.append("Content-Type: application/json\r\nContent-Length: ").append(std::to_string(r.body.size()));
        w.append("\r\n");
    }
    w.append("\r\n").append(r.body);
    return w;
}
}  // namespace

asio::awaitable<void> Pool::sweep() {
    // The deadlines are seconds long: a tenth of a second late is close enough.
    constexpr auto kTick = std::chrono::milliseconds(100);
    while (in_exchange_ > 0) {
        sweep_timer_.expires_after(kTick);
        boost::system::error_code ec;
        co_await sweep_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            break;  // the pool was closed
        }
        const auto now = Clock::now();
        for (auto& c : conns_) {
            if (now >= c->due && !c->timed_out) {
                c->timed_out = true;
                boost::system::error_code ignored;
                c->socket.close(ignored);
            }
        }
    }
    sweeping_ = false;
}

asio::awaitable<HttpResult> Pool::exchange(Conn& c, const std::string& wire) {
    HttpResult out;
    boost::system::error_code ec;
    c.timed_out = false;
    c.due = Clock::now() + timeout_;
    ++in_exchange_;
    if (!sweeping_) {
        sweeping_ = true;
        asio::co_spawn(io_, sweep(), asio::detached);
    }
    if (!c.open) {
        c.buffer.clear();
        // Room for a whole answer: Beast reads min(capacity, 64 KiB) but at least 512 bytes, and the parser
        // consumes what it reads, so a buffer that never grew read most answers (520-920 bytes) in two calls.
        c.buffer.reserve(4096);
        co_await asio::async_connect(c.socket, endpoints_, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            c.due = Clock::time_point::max();
            --in_exchange_;
            boost::system::error_code ignored;
            c.socket.close(ignored);
            out.error = c.timed_out ? "timeout" : "connect: " + ec.message();
            co_return out;
        }
        c.socket.set_option(tcp::no_delay(true), ec);
        c.open = true;
    }
    out.sent = Clock::now();
    co_await asio::async_write(c.socket, asio::buffer(wire), asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 * 1024 * 1024);
        co_await http::async_read(c.socket, c.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) {
            auto& res = parser.get();
            out.status = res.result_int();
            if (auto it = res.find(http::field::location); it != res.end()) {
                out.location = std::string(it->value());
            }
            out.body = std::move(res.body());
            if (!res.keep_alive()) {
                boost::system::error_code ignored;
                c.socket.close(ignored);
                c.open = false;
            }
        }
    }
    c.due = Clock::time_point::max();
    --in_exchange_;
    out.answered = Clock::now();
    if (ec) {
        boost::system::error_code ignored;
        c.socket.close(ignored);
        c.open = false;
        out.error = c.timed_out ? "timeout" : ec.message();
    }
    co_return out;
}

asio::awaitable<HttpResult> Pool::send(HttpRequest request) {
    const std::string wire = wire_of(request, target_);
    Conn* c = co_await acquire();
    const bool reused = c->open;
    HttpResult out = co_await exchange(*c, wire);
    if (out.status == 0 && reused && out.error != "timeout") {
        out = co_await exchange(*c, wire);  // the server closed an idle keep-alive connection: once more
    }
    release(c);
    co_return out;
}

}  // namespace om::load
