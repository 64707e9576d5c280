#include "net/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <optional>
#include <thread>
#include <unordered_set>

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ids.hpp"
#include "core/log.hpp"
#include "net/metrics.hpp"
#include "net/offload.hpp"
#include "net/pg.hpp"
#include "net/redis.hpp"

namespace om::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Runs an om::Task on the current shard and resumes the Asio coroutine with its result.
// The completion is posted so that the awaitable machinery is never re-entered from inside initiation.
template <class T>
asio::awaitable<T> await_task(Task<T> task) {
    auto exec = co_await asio::this_coro::executor;
    auto [err, value] = co_await asio::async_initiate<decltype(use_tuple), void(std::exception_ptr, std::optional<T>)>(
        [&task, exec](auto handler) mutable {
            start_detached(std::move(task), [exec, h = std::move(handler)](std::exception_ptr e,
                                                                            std::optional<T> v) mutable {
                asio::post(exec, [h = std::move(h), e, v = std::move(v)]() mutable { std::move(h)(e, std::move(v)); });
            });
        },
        use_tuple);
    if (err) {
        std::rethrow_exception(err);
    }
    co_return std::move(*value);
}

// Splits the request target into path and decoded query parameters. false for a target we do not serve
// (absolute-form, '*', bad escapes).
bool parse_target(std::string_view target, Request& req) {
    if (target.empty() || target.front() != '/') {
        return false;
    }
    const auto q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q == std::string_view::npos) {
        return true;
    }
    std::string_view qs = target.substr(q + 1);
    while (!qs.empty()) {
        const auto amp = qs.find('&');
        std::string_view pair = qs.substr(0, amp);
        qs = amp == std::string_view::npos ? std::string_view{} : qs.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        const auto eq = pair.find('=');
        auto k = percent_decode(pair.substr(0, eq), true);
        auto v = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
        if (!k || !v) {
            return false;
        }
        req.query.emplace_back(std::move(*k), std::move(*v));
    }
    return true;
}

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 128) {
        return false;
    }
    for (char c : id) {
        if (c < 0x21 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
struct SessionState {
    beast::tcp_stream* stream = nullptr;
    bool busy = false;
    std::chrono::steady_clock::time_point idle_until{};  // while not busy: closed by the shard's sweep after this
};

struct Shard {
    Shard(int i, const Config& c, Metrics& m, CpuPool& cpu)
        : id(i), config(c), metrics(m), work(asio::make_work_guard(io)) {
        pg::PoolOptions po;
        po.url = c.database_url;
        po.max_connections = c.pg_pool_size;
        db = std::make_unique<pg::Pool>(io, po);
        auto ro = redis::parse_url(c.redis_url);
        redis = std::make_unique<redis::Client>(io, ro);
        offload = std::make_unique<Offload>(io, cpu);
    }

    int id;
    const Config& config;
    Metrics& metrics;
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::unique_ptr<pg::Pool> db;
    std::unique_ptr<redis::Client> redis;
    std::unique_ptr<Offload> offload;
    std::optional<ShardContext> context;  // outlives the app: handlers keep references to it
    std::optional<ShardApp> app;
    std::optional<tcp::acceptor> acceptor;
    std::optional<asio::steady_timer> stats_timer;
    std::optional<asio::steady_timer> sweep_timer;  // closes idle connections past their deadline
    std::unordered_set<SessionState*> sessions;
    int open_connections = 0;
    bool stopping = false;
    bool finished = false;
    std::thread thread;

    void maybe_finish() {
        if (stopping && open_connections == 0 && !finished) {
            finished = true;
            if (stats_timer) {
                stats_timer->cancel();
            }
            if (sweep_timer) {
                sweep_timer->cancel();
            }
            redis->stop();
            db->close();
            work.reset();
        }
    }

    void begin_shutdown() {
        if (stopping) {
            return;
        }
        stopping = true;
        if (app) {
            for (auto& f : app->stop) {
                f();
            }
        }
        boost::system::error_code ec;
        if (acceptor) {
            acceptor->close(ec);
        }
        // Idle keep-alive connections are closed now; busy ones close after their response is written.
        for (auto* s : sessions) {
            if (!s->busy) {
                s->stream->socket().shutdown(tcp::socket::shutdown_both, ec);
                s->stream->cancel();
            }
        }
        maybe_finish();
    }
};

namespace {

// The response on the wire, status line to body, in one buffer: one write and no per-field allocations
// (Beast's fields container and serializer cost a measurable share of a cached GET). Same framing rules as
// Beast's prepare_payload/keep_alive: Content-Length except on 204/304, the body's length on HEAD without the
// body, `Connection: close` to end an HTTP/1.1 connection and `Connection: keep-alive` to keep an HTTP/1.0 one.
std::string serialize(const Response& r, unsigned version, bool head, const std::string& request_id, bool keep_alive) {
    const auto reason = http::obsolete_reason(static_cast<http::status>(r.status));
    std::string out;
    out.reserve(160 + r.body.size() + r.headers.items().size() * 48);
    out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ").append(std::to_string(r.status)).append(" ");
    out.append(reason.data(), reason.size()).append("\r\n");
    auto field = [&out](std::string_view name, std::string_view value) {
        out.append(name).append(": ").append(value).append("\r\n");
    };
    if (!r.content_type.empty()) {
        field("Content-Type", r.content_type);
    }
    field("X-Request-Id", request_id);
    for (const auto& [n, v] : r.headers.items()) {
        field(n, v);
    }
    if (version >= 11 && !keep_alive) {
        field("Connection", "close");
    } else if (version == 10 && keep_alive) {
        field("Connection", "keep-alive");
    }
    const bool no_body = r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200);
    if (!no_body) {
        field("Content-Length", std::to_string(r.body.size()));
    }
    out.append("\r\n");
    if (!no_body && !head) {
        out.append(r.body);
    }
    return out;
}

// A response produced by the connection layer itself (parse errors, limits), before any handler ran.
Response early_problem(ErrorCode code, std::string detail) { return problem(Error{code, std::move(detail)}); }

// One request on a connection whose buffer holds its first bytes: read it, answer it. Returns whether the
// connection stays open. A coroutine of its own, so that an idle connection's frame holds none of this.
asio::awaitable<bool> serve_one(Shard& sh, beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                const std::string& remote) {
    const Config& cfg = sh.config;
    const auto started = std::chrono::steady_clock::now();

    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(cfg.header_limit));
    parser.body_limit(cfg.body_limit);
    stream.expires_after(cfg.read_timeout);
    auto [rec, rn] = co_await http::async_read(stream, buffer, parser, use_tuple);
    (void)rn;

    Request req;
    req.remote_address = remote;
    std::optional<Response> early;
    bool keep_alive = true;
    unsigned version = 11;
    if (rec) {
        keep_alive = false;
        if (rec == http::error::header_limit) {
            early = early_problem(ErrorCode::headers_too_large, "The request line and headers exceed " +
                                                                    std::to_string(cfg.header_limit) + " bytes");
        } else if (rec == http::error::body_limit) {
            early = early_problem(ErrorCode::payload_too_large,
                                  "The request body exceeds " + std::to_string(cfg.body_limit) + " bytes");
        } else if (rec.category() == http::make_error_code(http::error::bad_target).category() &&
                   rec != http::error::end_of_stream && rec != http::error::partial_message) {
            early = early_problem(ErrorCode::bad_request, "Malformed HTTP request: " + rec.message());
        } else {
            co_return false;  // connection closed, reset, or timed out mid-request: nothing to answer
        }
        req.request_id = new_request_id();
        req.route = "invalid";
    } else {
        auto& breq = parser.get();
        version = breq.version();
        keep_alive = breq.keep_alive();
        if (auto rid = breq.find("X-Request-Id"); rid != breq.end() && valid_request_id(rid->value())) {
            req.request_id = std::string(rid->value());
        } else {
            req.request_id = new_request_id();
        }
        req.method = method_from_string(breq.method_string());
        req.target = std::string(breq.target());
        for (const auto& f : breq) {
            req.headers.add(std::string(f.name_string()), std::string(f.value()));
        }
        req.body = std::move(breq.body());
        if (!parse_target(req.target, req)) {
            early = early_problem(ErrorCode::bad_request, "Unsupported request target");
            req.route = "invalid";
        }
    }

    Response res;
    std::string log_message;
    if (early) {
        res = std::move(*early);
    } else {
        res = co_await await_task(dispatch(*sh.app, req, log_message));
    }
    if (sh.stopping) {
        keep_alive = false;
    }
    const std::string wire = serialize(res, version, req.method == Method::head, req.request_id, keep_alive);
    stream.expires_after(cfg.read_timeout);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(wire), use_tuple);
    (void)wn;

    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    sh.metrics.observe_request(sh.id, req.route, to_string(req.method), res.status, secs);
    if (cfg.access_log) {
        log::info("request", {{"request_id", req.request_id},
                              {"method", to_string(req.method)},
                              {"path", req.path},
                              {"route", req.route},
                              {"status", res.status},
                              {"duration_ms", secs * 1000.0},
                              {"shard", sh.id},
                              {"remote", remote}});
    }
    if (!log_message.empty()) {
        log::error("handler failed", {{"request_id", req.request_id}, {"route", req.route}, {"error", log_message}});
    }
    co_return !wec && keep_alive;
}

// A connection whose client sent its last request within this time of the answer before is a busy one (the
// first request of a connection does not count: a client that connects, asks once and stays idle, as the
// benchmark's held connections do, keeps the idle path).
constexpr std::chrono::milliseconds kBusyClientGap{1000};

asio::awaitable<void> session(Shard& sh, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    SessionState state{&stream, false};
    sh.sessions.insert(&state);
    ++sh.open_connections;
    std::string remote;
    {
        boost::system::error_code ec;
        auto ep = stream.socket().remote_endpoint(ec);
        if (!ec) {
            remote = ep.address().to_string();
        }
    }
    const Config& cfg = sh.config;
    bool first = true;
    // How long the connection last waited for a request; a busy client's connection keeps its buffer.
    auto last_wait = std::chrono::steady_clock::duration::max();

    for (;;) {
        if (sh.stopping) {
            break;
        }
        if (buffer.size() == 0) {
            // Idle until the next request, without a timer of its own: the shard's sweep closes the connection
            // after the keep-alive idle timeout (the first request: the read timeout).
            state.busy = false;
            const auto waiting_since = std::chrono::steady_clock::now();
            state.idle_until = waiting_since + (first ? cfg.read_timeout : cfg.idle_timeout);
            if (last_wait >= kBusyClientGap) {
                // An idle connection holds no buffer (issue 6: the memory of 50,000 idle connections) until the
                // socket is readable.
                buffer.shrink_to_fit();
                auto [wec] = co_await stream.socket().async_wait(tcp::socket::wait_read, use_tuple);
                if (wec || sh.stopping) {
                    break;  // closed, idle timeout or shutdown
                }
            }
            // A busy client's connection reads straight away: Asio keeps the socket registered with epoll and
            // tries the read first, where a wait for readability re-registers it (one epoll_ctl system call per
            // request: issue 6). After a wait, the read finds the data (or the error) at once.
            auto [ec, n] = co_await stream.socket().async_read_some(buffer.prepare(2048), use_tuple);
            if (ec || sh.stopping) {
                break;  // closed by the peer, idle timeout or shutdown
            }
            buffer.commit(n);
            if (!first) {  // a new connection's wait for its first request says nothing of the client's pace
                last_wait = std::chrono::steady_clock::now() - waiting_since;
            }
        }
        first = false;
        state.busy = true;
        if (!co_await serve_one(sh, stream, buffer, remote)) {
            break;
        }
    }
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.socket().close(ec);
    sh.sessions.erase(&state);
    --sh.open_connections;
    sh.maybe_finish();
}

// Answers 503 to a connection over the shard's limit, then closes it.
asio::awaitable<void> refuse(tcp::socket socket) {
    static const std::string body =
        R"({"type":"https://openmarket.dev/problems/SERVICE_UNAVAILABLE","title":"Service temporarily unavailable","status":503,"code":"SERVICE_UNAVAILABLE","detail":"Too many connections; retry shortly"})";
    const std::string msg = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
                            "Retry-After: 1\r\nConnection: close\r\nX-Request-Id: " + new_request_id() +
                            "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(2s);
    co_await asio::async_write(stream, asio::buffer(msg), use_tuple);
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

asio::awaitable<void> accept_loop(Shard& sh) {
    asio::steady_timer backoff(sh.io);
    while (!sh.stopping) {
        auto [ec, socket] = co_await sh.acceptor->async_accept(use_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || sh.stopping) {
                break;
            }
            // EMFILE/ENFILE/ENOBUFS/ECONNABORTED...: log, back off briefly, keep listening.
            sh.metrics.count_accept_error(sh.id);
            log::warn("accept failed", {{"shard", sh.id}, {"error", ec.message()}, {"errno", ec.value()}});
            backoff.expires_after(ec == asio::error::connection_aborted ? 1ms : 50ms);
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        boost::system::error_code oec;
        socket.set_option(tcp::no_delay(true), oec);
        if (sh.open_connections >= sh.config.max_connections_per_shard) {
            asio::co_spawn(sh.io, refuse(std::move(socket)), asio::detached);
            continue;
        }
        asio::co_spawn(sh.io, session(sh, std::move(socket)), asio::detached);
    }
}

// Idle connections wait without a timer of their own (see session()); this sweep closes those past their
// deadline, a few times per timeout.
void schedule_sweep(Shard& sh) {
    const auto shortest = std::min(sh.config.read_timeout, sh.config.idle_timeout);
    sh.sweep_timer->expires_after(std::clamp<std::chrono::milliseconds>(shortest / 4, 10ms, 1000ms));
    sh.sweep_timer->async_wait([&sh](const boost::system::error_code& ec) {
        if (ec || sh.stopping) {
            return;
        }
        const auto now = std::chrono::steady_clock::now();
        boost::system::error_code ignored;
        for (auto* s : sh.sessions) {
            if (!s->busy && s->idle_until <= now) {
                s->stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
                s->stream->cancel();
            }
        }
        schedule_sweep(sh);
    });
}

// Raises the calling thread's niceness to `nice` (Linux keeps it per thread). Raising it needs no privilege; a
// failure is logged and the thread keeps the process's priority.
void lower_priority(int nice) {
    if (nice <= 0) {
        return;
    }
    errno = 0;
    const int now = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    if (errno == 0 && now >= nice) {
        return;
    }
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice) != 0) {
        log::warn("cannot lower the background shard's priority", {{"nice", nice}, {"error", std::strerror(errno)}});
    }
}

void schedule_stats(Shard& sh) {
    sh.stats_timer->expires_after(1s);
    sh.stats_timer->async_wait([&sh](const boost::system::error_code& ec) {
        if (ec || sh.stopping) {
            return;
        }
        const auto st = sh.db->stats();
        sh.metrics.set_pool(sh.id, st.open, st.busy, st.waiting);
        sh.metrics.set_connections(sh.id, sh.open_connections);
        sh.metrics.set_redis_connected(sh.id, sh.redis->connected());
        schedule_stats(sh);
    });
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
struct Server::Impl {
    Config config;
    AppFactory factory;
};

Server::Server(Config config, AppFactory factory) : impl_(std::make_unique<Impl>(Impl{std::move(config), std::move(factory)})) {}
Server::~Server() = default;

int Server::run() {
    Config& cfg = impl_->config;
    const int n = cfg.shards > 0 ? cfg.shards : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    cfg.shards = n;  // resolved: the shards' config says how many there are
    const int total = n + (cfg.background_shard ? 1 : 0);  // the background shard's id is n
    Metrics metrics(total);
    CpuPool cpu(cfg.cpu_threads, 4096);
    std::vector<std::unique_ptr<Shard>> shards;
    // A shard's context and application, then the shard among the others.
    const auto add = [&](std::unique_ptr<Shard> sh, bool background) {
        sh->context.emplace(ShardContext{sh->id, sh->io, *sh->db, *sh->redis, *sh->offload, metrics, cfg, background});
        sh->app.emplace(impl_->factory(*sh->context));
        shards.push_back(std::move(sh));
    };

    // Bind every shard's listener first (on the main thread), so that a bind error fails startup cleanly.
    tcp::endpoint endpoint;
    try {
        endpoint = tcp::endpoint(asio::ip::make_address(cfg.listen_host), static_cast<unsigned short>(cfg.listen_port));
    } catch (const std::exception& e) {
        log::error("invalid listen address", {{"host", cfg.listen_host}, {"error", e.what()}});
        return 2;
    }
    for (int i = 0; i < n; ++i) {
        auto sh = std::make_unique<Shard>(i, cfg, metrics, cpu);
        boost::system::error_code ec;
        sh->acceptor.emplace(sh->io);
        sh->acceptor->open(endpoint.protocol(), ec);
        if (!ec) {
            sh->acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
        }
        if (!ec) {
            sh->acceptor->set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
        }
        if (!ec) {
            sh->acceptor->bind(endpoint, ec);
        }
        if (!ec) {
            sh->acceptor->listen(asio::socket_base::max_listen_connections, ec);
        }
        if (ec) {
            log::error("cannot listen", {{"address", cfg.listen_host}, {"port", endpoint.port()}, {"error", ec.message()}});
            return 2;
        }
        if (endpoint.port() == 0) {
            endpoint.port(sh->acceptor->local_endpoint().port());  // other shards share the chosen port
        }
        add(std::move(sh), false);
    }
    if (total > n) {
        add(std::make_unique<Shard>(n, cfg, metrics, cpu), true);
    }
    log::info("listening", {{"address", cfg.listen_host}, {"port", static_cast<int>(endpoint.port())}, {"shards", n},
                            {"backgroundShard", total > n}});

    for (auto& shp : shards) {
        Shard& sh = *shp;
        sh.redis->start();
        sh.stats_timer.emplace(sh.io);
        schedule_stats(sh);
        sh.sweep_timer.emplace(sh.io);
        schedule_sweep(sh);
        if (sh.acceptor) {
            asio::co_spawn(sh.io, accept_loop(sh), asio::detached);
        }
        asio::post(sh.io, [&sh] {
            for (auto& job : sh.app->background) {
                start_detached(job(), [id = sh.id](std::exception_ptr e) {
                    if (!e) {
                        return;
                    }
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& ex) {
                        log::error("background job failed", {{"shard", id}, {"error", ex.what()}});
                    } catch (...) {
                        log::error("background job failed", {{"shard", id}});
                    }
                });
            }
        });
        sh.thread = std::thread([&sh] {
            if (sh.context->background) {
                lower_priority(sh.config.background_nice);
            }
            for (;;) {
                try {
                    sh.io.run();
                    break;
                } catch (const std::exception& e) {
                    // Handlers do not throw by design; if one does, log it and keep the shard alive.
                    log::error("shard event loop exception", {{"shard", sh.id}, {"error", e.what()}});
                }
            }
        });
    }

    // Signals are handled on the main thread.
    asio::io_context main_io{1};
    asio::signal_set signals(main_io, SIGINT, SIGTERM);
    std::atomic<bool> forced{false};
    asio::steady_timer deadline(main_io);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) {
            return;
        }
        log::info("shutting down", {{"signal", sig}, {"deadline_ms", static_cast<long long>(cfg.shutdown_deadline.count())}});
        for (auto& sh : shards) {
            asio::post(sh->io, [s = sh.get()] { s->begin_shutdown(); });
        }
        deadline.expires_after(cfg.shutdown_deadline);
        deadline.async_wait([&](const boost::system::error_code& dec) {
            if (dec) {
                return;
            }
            forced = true;
            log::warn("shutdown deadline passed; closing remaining connections");
            for (auto& sh : shards) {
                sh->io.stop();
            }
        });
        // A second signal forces immediate exit of the event loops.
        signals.async_wait([&](const boost::system::error_code& ec2, int) {
            if (!ec2) {
                for (auto& sh : shards) {
                    sh->io.stop();
                }
            }
        });
    });
    std::thread waiter([&] {
        for (auto& sh : shards) {
            sh->thread.join();
        }
        asio::post(main_io, [&] {
            deadline.cancel();
            signals.cancel();
        });
    });
    main_io.run();
    waiter.join();
    cpu.stop();
    for (auto& sh : shards) {
        sh->app.reset();
        sh->stats_timer.reset();
        sh->sweep_timer.reset();
        sh->acceptor.reset();
        sh->offload.reset();
        sh->redis.reset();
        sh->db.reset();
    }
    log::info("stopped", {{"forced", forced.load()}});
    return 0;
}

}  // namespace om::net
