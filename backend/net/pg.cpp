// Asynchronous PostgreSQL pool: libpq's non-blocking API driven by the shard's io_context.
//
// Design
//  - Pool owns Pool::Impl, which owns a shared_ptr<State>. Everything that may outlive the Pool (a Lease,
//    a rollback in progress, a queued waiter's timer handler) holds a shared_ptr or weak_ptr to State, so
//    a Lease dropped after the Pool is gone is harmless: State is marked closed and the connection is
//    simply closed.
//  - Slots: open_ counts connections that exist or are being opened and never exceeds max_connections;
//    busy_ counts leased ones. A released connection (or a freed slot) is handed directly to the first
//    waiter (FIFO, no barging). The hand-over is posted, so a waiter always resumes from an io_context
//    handler, never inside the Lease destructor that released the connection.
//  - Each Conn watches PQsocket() with a stream_descriptor (release()d before PQfinish, which closes the
//    fd) and owns a steady_timer that is the deadline of the operation in progress (connect or
//    statement). wait_ready() races the socket waits against that deadline; the first one wins.
//  - A timed-out statement, a lost connection, a protocol error or a server error of class 08 /
//    57P01-57P03 closes the connection at once and throws om::Unavailable; the slot is freed when the
//    Lease is released, and the next acquire opens a new connection. Other server errors throw SqlError
//    and keep the connection.
//  - A Lease released inside a transaction (PQTRANS_INTRANS / PQTRANS_INERROR, e.g. an exception between
//    BEGIN and COMMIT) is rolled back by a detached coroutine (ROLLBACK under query_timeout) and only then
//    returned to the pool; if the rollback fails the connection is discarded. A connection in any other
//    non-idle state is discarded.
//  - Idle connections are probed with PQconsumeInput() when leased, so connections killed while idle
//    (server restart, pg_terminate_backend) are dropped before use instead of failing the caller.
//  - Statements registered with Pool::prepare are prepared lazily per connection; if the server says the
//    statement does not exist (26000, e.g. after DEALLOCATE / DISCARD ALL) it is prepared again once.
//  - Server notices are discarded (libpq's default prints them on stderr).
//  - Limitation: PQconnectStart resolves host names with a blocking getaddrinfo(); configure an IP
//    address (or a Unix socket directory) for strictly non-blocking connects.

#include "net/pg.hpp"

#include <libpq-fe.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace om::pg {

namespace asio = boost::asio;
// Concrete executor types: no any_io_executor type erasure (cheaper, and it keeps GCC 12's
// -Wnull-dereference quiet about any_executor at -O3).
using Executor = asio::io_context::executor_type;
using Descriptor = asio::posix::basic_stream_descriptor<Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Executor>;

// ---------------------------------------------------------------------------------------------------
// Result

Result::Result(pg_result* r) noexcept : r_(r) {}

Result::Result(Result&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}

Result& Result::operator=(Result&& o) noexcept {
    if (this != &o) {
        if (r_ != nullptr) {
            PQclear(r_);
        }
        r_ = std::exchange(o.r_, nullptr);
    }
    return *this;
}

Result::~Result() {
    if (r_ != nullptr) {
        PQclear(r_);
    }
}

int Result::rows() const noexcept { return r_ != nullptr ? PQntuples(r_) : 0; }

int Result::columns() const noexcept { return r_ != nullptr ? PQnfields(r_) : 0; }

bool Result::is_null(int row, int col) const noexcept {
    return r_ == nullptr || PQgetisnull(r_, row, col) != 0;
}

std::string_view Result::get(int row, int col) const noexcept {
    if (r_ == nullptr || row < 0 || row >= PQntuples(r_) || col < 0 || col >= PQnfields(r_)) {
        return {};
    }
    const char* v = PQgetvalue(r_, row, col);
    if (v == nullptr) {
        return {};
    }
    return {v, static_cast<std::size_t>(PQgetlength(r_, row, col))};
}

std::optional<std::string> Result::get_opt(int row, int col) const {
    if (is_null(row, col)) {
        return std::nullopt;
    }
    return std::string(get(row, col));
}

int Result::column(std::string_view name) const {
    const std::string n(name);
    const int i = r_ != nullptr ? PQfnumber(r_, n.c_str()) : -1;
    if (i < 0) {
        throw std::out_of_range("postgres: no column named " + n);
    }
    return i;
}

std::int64_t Result::affected() const noexcept {
    if (r_ == nullptr) {
        return 0;
    }
    const char* s = PQcmdTuples(r_);
    if (s == nullptr) {
        return 0;
    }
    std::int64_t n = 0;
    const auto [ptr, ec] = std::from_chars(s, s + std::strlen(s), n);
    static_cast<void>(ptr);
    return ec == std::errc{} ? n : 0;
}

// ---------------------------------------------------------------------------------------------------
// Connections and pool state (not in an anonymous namespace: Lease::Impl refers to them).

namespace impl {

namespace {

void ignore_notice(void* /*arg*/, const char* /*message*/) {}

// A libpq message on one line, without the trailing newline.
std::string one_line(const char* s) {
    std::string out = s != nullptr ? s : "";
    std::replace(out.begin(), out.end(), '\n', ' ');
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) {
        out.pop_back();
    }
    return out;
}

}  // namespace

struct Conn {
    Conn(asio::io_context& io, PGconn* pg) : pg_(pg), sd_(io.get_executor()), timer_(io.get_executor()) {
        PQsetNoticeProcessor(pg_, &ignore_notice, nullptr);
    }
    ~Conn() { close(); }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    [[nodiscard]] bool usable() const noexcept { return pg_ != nullptr && PQstatus(pg_) == CONNECTION_OK; }

    // A cheap non-blocking health check for a connection taken from the idle list. A server that ends a
    // session (pg_terminate_backend, shutdown) sends an error then closes; PQconsumeInput() reads the
    // error as a notice without seeing the EOF behind it, so peek at the socket until nothing is left.
    [[nodiscard]] bool probe() noexcept {
        for (int i = 0; i < 8; ++i) {
            if (!usable() || PQconsumeInput(pg_) == 0 || PQstatus(pg_) != CONNECTION_OK) {
                return false;
            }
            char byte = 0;
            const ssize_t n = ::recv(PQsocket(pg_), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n == 0) {
                return false;  // EOF
            }
            if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    return false;
                }
                break;  // nothing pending
            }
        }
        return PQtransactionStatus(pg_) == PQTRANS_IDLE && PQisBusy(pg_) == 0;
    }

    // Points the descriptor at PQsocket(), which may change while connecting. Throws Unavailable.
    void sync_socket() {
        const int fd = PQsocket(pg_);
        if (sd_.is_open() && sd_.native_handle() == fd) {
            return;
        }
        release_socket();
        if (fd < 0) {
            throw Unavailable("postgres: connection has no socket");
        }
        boost::system::error_code ec;
        sd_.assign(fd, ec);
        if (ec) {
            throw Unavailable("postgres: cannot watch socket: " + ec.message());
        }
    }

    void release_socket() noexcept {
        if (sd_.is_open()) {
            static_cast<void>(sd_.release());  // libpq owns the fd
        }
    }

    void close() noexcept {
        try {
            timer_.cancel();
        } catch (...) {  // NOLINT(bugprone-empty-catch): nothing useful to do
        }
        release_socket();
        if (pg_ != nullptr) {
            PQfinish(pg_);
            pg_ = nullptr;
        }
    }

    // Message for an Unavailable caused by this connection.
    [[nodiscard]] std::string describe(std::string_view what) const {
        std::string msg = "postgres: ";
        msg += what;
        if (pg_ != nullptr) {
            const std::string detail = one_line(PQerrorMessage(pg_));
            if (!detail.empty()) {
                msg += ": ";
                msg += detail;
            }
        }
        return msg;
    }

    PGconn* pg_;
    Descriptor sd_;
    Timer timer_;
    std::unordered_set<std::string> prepared_;
};

// Closes the connection and throws Unavailable.
[[noreturn]] void lost(Conn& c, std::string_view what) {
    std::string msg = c.describe(what);
    c.close();
    throw Unavailable(msg);
}

// What a queued acquirer receives.
struct Grant {
    std::unique_ptr<Conn> conn;  // an idle connection, already counted in busy_
    bool slot = false;           // permission to open a connection, already counted in open_
    std::string error;           // non-empty: fail with Unavailable
};

struct Waiter {
    explicit Waiter(asio::io_context& io) : timer(io.get_executor()) {}
    Timer timer;
    std::function<void(Grant)> done;
    bool finished = false;
};

struct State : std::enable_shared_from_this<State> {
    State(asio::io_context& io, PoolOptions options) : io_(io), options_(std::move(options)) {}

    // A leased connection comes back (from ~Lease). `may_roll_back` is false for the rollback itself.
    void give_back(std::unique_ptr<Conn> c, bool may_roll_back);
    // Hands an idle, healthy connection to the first waiter or to the idle list. busy_ excludes it.
    void hand_over(std::unique_ptr<Conn> c);
    // A slot (counted in open_) is no longer used: let the first waiter open a connection in it.
    void slot_freed();
    void deliver(const std::shared_ptr<Waiter>& w, Grant g);
    void close();

    asio::io_context& io_;
    PoolOptions options_;
    std::unordered_map<std::string, std::string> statements_;
    std::vector<std::unique_ptr<Conn>> idle_;  // most recently used last
    std::deque<std::shared_ptr<Waiter>> waiters_;
    int open_ = 0;
    int busy_ = 0;
    bool closed_ = false;
};

}  // namespace impl

struct Lease::Impl {
    std::shared_ptr<impl::State> state;
    std::unique_ptr<impl::Conn> conn;
    bool may_roll_back = true;
};

struct Pool::Impl {
    std::shared_ptr<impl::State> state;
};

namespace impl {
namespace {

// ---------------------------------------------------------------------------------------------------
// Waiting for the socket, bounded by the connection's deadline timer.

struct Ready {
    bool timed_out = false;
    bool readable = false;
    boost::system::error_code ec;
};

CallbackAwaiter<Ready> wait_ready(Conn& c, bool want_read, bool want_write) {
    return CallbackAwaiter<Ready>([&c, want_read, want_write](std::function<void(Ready)> done) {
        struct Race {
            bool finished = false;
            std::function<void(Ready)> done;
        };
        auto race = std::make_shared<Race>();
        race->done = std::move(done);
        Conn* conn = &c;
        // The first completion wins; the others were cancelled and find `finished` set. While the race is
        // not finished the coroutine is suspended, so `conn` is alive.
        auto finish = [race, conn](Ready r) {
            if (race->finished) {
                return;
            }
            race->finished = true;
            boost::system::error_code ignored;
            conn->sd_.cancel(ignored);
            try {
                conn->timer_.cancel();
            } catch (...) {  // NOLINT(bugprone-empty-catch)
            }
            race->done(r);  // resumes the coroutine
        };
        if (want_read) {
            c.sd_.async_wait(Descriptor::wait_read, [finish](const boost::system::error_code& ec) {
                finish(Ready{false, true, ec});
            });
        }
        if (want_write) {
            c.sd_.async_wait(Descriptor::wait_write, [finish](const boost::system::error_code& ec) {
                finish(Ready{false, false, ec});
            });
        }
        c.timer_.async_wait([finish](const boost::system::error_code& ec) {
            if (!ec) {
                finish(Ready{true, false, {}});
            }
        });
    });
}

void check_ready(Conn& c, const Ready& r, std::string_view what) {
    if (r.timed_out) {
        c.close();
        throw Unavailable("postgres: " + std::string(what) + " timed out");
    }
    if (r.ec) {
        lost(c, "socket error (" + r.ec.message() + ")");
    }
}

// ---------------------------------------------------------------------------------------------------
// Connecting

constexpr const char* kSessionOptions = "-c max_parallel_workers_per_gather=0 -c jit=off";

Task<std::unique_ptr<Conn>> connect(std::shared_ptr<State> st) {
    // application_name and options come first so that the URL may override them (an `options` in the URL replaces
    // these). The server's statements are point lookups and batches of a few hundred rows on indexes, and parallel
    // query would fork two workers for a plan whose row estimates are defaults (the order path's tables are
    // analyzed rarely, migration 0013): a maintenance scan that finds nothing in 0.2 ms took 30-40 ms that way,
    // twice a second under load (docs/performance.md, twentieth session). JIT compiling is no gain for them either.
    const char* const keys[] = {"application_name", "options", "dbname", nullptr};
    const char* const values[] = {"openmarket", kSessionOptions, st->options_.url.c_str(), nullptr};
    PGconn* pg = PQconnectStartParams(keys, values, 1);
    if (pg == nullptr) {
        throw Unavailable("postgres: cannot allocate a connection");
    }
    auto c = std::make_unique<Conn>(st->io_, pg);
    if (PQstatus(pg) == CONNECTION_BAD) {
        lost(*c, "connect failed");
    }
    c->timer_.expires_after(st->options_.connect_timeout);
    PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
    while (poll != PGRES_POLLING_OK) {
        if (poll == PGRES_POLLING_FAILED) {
            lost(*c, "connect failed");
        }
        try {
            c->sync_socket();
        } catch (const Unavailable&) {
            c->close();
            throw;
        }
        const bool want_read = poll != PGRES_POLLING_WRITING;
        const bool want_write = poll != PGRES_POLLING_READING;
        const Ready r = co_await wait_ready(*c, want_read, want_write);
        check_ready(*c, r, "connect");
        poll = PQconnectPoll(c->pg_);
    }
    if (PQsetnonblocking(c->pg_, 1) != 0) {
        lost(*c, "cannot enter non-blocking mode");
    }
    try {
        c->sync_socket();
    } catch (const Unavailable&) {
        c->close();
        throw;
    }
    co_return c;
}

// ---------------------------------------------------------------------------------------------------
// Running statements

bool connection_error_state(std::string_view sqlstate) {
    return sqlstate.empty() || sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
           sqlstate == "57P03";
}

// Flushes the command just sent and reads all its results; returns the last one. The deadline must be
// set on c.timer_.
Task<Result> finish_command(Conn& c) {
    for (;;) {
        const int f = PQflush(c.pg_);
        if (f == 0) {
            break;
        }
        if (f < 0) {
            lost(c, "send failed");
        }
        // The server may be sending while we cannot write: read too, or both sides could block.
        const Ready r = co_await wait_ready(c, true, true);
        check_ready(c, r, "statement");
        if (r.readable && PQconsumeInput(c.pg_) == 0) {
            lost(c, "receive failed");
        }
    }
    Result last;
    std::optional<SqlError> sql_error;
    std::string fatal;
    for (;;) {
        while (PQisBusy(c.pg_) != 0) {
            const Ready r = co_await wait_ready(c, true, false);
            check_ready(c, r, "statement");
            if (PQconsumeInput(c.pg_) == 0) {
                lost(c, "receive failed");
            }
        }
        PGresult* raw = PQgetResult(c.pg_);
        if (raw == nullptr) {
            break;
        }
        Result res(raw);
        switch (PQresultStatus(raw)) {
            case PGRES_COMMAND_OK:
            case PGRES_TUPLES_OK:
            case PGRES_EMPTY_QUERY:
                last = std::move(res);
                break;
            case PGRES_FATAL_ERROR: {
                const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
                const std::string sqlstate = state != nullptr ? state : "";
                const std::string message = one_line(PQresultErrorMessage(raw));
                if (connection_error_state(sqlstate)) {
                    if (fatal.empty()) {
                        fatal = "postgres: " + (sqlstate.empty() ? std::string() : sqlstate + " ") + message;
                    }
                } else if (!sql_error) {
                    sql_error.emplace(sqlstate, message);
                }
                break;
            }
            case PGRES_COPY_IN:
            case PGRES_COPY_OUT:
            case PGRES_COPY_BOTH:
                lost(c, "COPY is not supported");
            default:
                lost(c, "unexpected result status");
        }
    }
    if (!fatal.empty()) {
        c.close();
        throw Unavailable(fatal);
    }
    if (PQstatus(c.pg_) != CONNECTION_OK) {
        lost(c, "connection lost");
    }
    if (sql_error) {
        throw *sql_error;
    }
    co_return last;
}

Task<Result> run(Lease::Impl* lease, std::string text, Params params, bool prepared) {
    if (lease == nullptr || !lease->conn) {
        throw std::logic_error("postgres: statement on an empty Lease");
    }
    const std::shared_ptr<State> st = lease->state;
    Conn& c = *lease->conn;
    if (!c.usable()) {
        throw Unavailable("postgres: connection lost");
    }
    if (PQisBusy(c.pg_) != 0) {
        throw std::logic_error("postgres: a statement is already running on this connection");
    }
    c.timer_.expires_after(st->options_.query_timeout);

    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) {
        values.push_back(p ? p->c_str() : nullptr);
    }
    const int n = static_cast<int>(params.size());

    if (!prepared) {
        const int sent = params.empty() ? PQsendQuery(c.pg_, text.c_str())
                                        : PQsendQueryParams(c.pg_, text.c_str(), n, nullptr, values.data(),
                                                            nullptr, nullptr, 0);
        if (sent == 0) {
            lost(c, "send failed");
        }
        co_return co_await finish_command(c);
    }

    for (int attempt = 0;; ++attempt) {
        if (!c.prepared_.contains(text)) {
            const auto it = st->statements_.find(text);
            if (it == st->statements_.end()) {
                throw std::invalid_argument("postgres: unknown prepared statement " + text);
            }
            if (PQsendPrepare(c.pg_, text.c_str(), it->second.c_str(), 0, nullptr) == 0) {
                lost(c, "send failed");
            }
            static_cast<void>(co_await finish_command(c));
            c.prepared_.insert(text);
        }
        if (PQsendQueryPrepared(c.pg_, text.c_str(), n, values.data(), nullptr, nullptr, 0) == 0) {
            lost(c, "send failed");
        }
        bool missing = false;
        try {
            co_return co_await finish_command(c);
        } catch (const SqlError& e) {
            // 26000 invalid_sql_statement_name: deallocated behind our back (DEALLOCATE, DISCARD ALL).
            if (e.sqlstate() != "26000" || attempt > 0) {
                throw;
            }
            missing = true;
        }
        if (missing) {
            c.prepared_.erase(text);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Acquiring

CallbackAwaiter<Grant> wait_for_grant(const std::shared_ptr<State>& st) {
    return CallbackAwaiter<Grant>([st](std::function<void(Grant)> done) {
        auto w = std::make_shared<Waiter>(st->io_);
        w->done = std::move(done);
        st->waiters_.push_back(w);
        w->timer.expires_after(st->options_.acquire_timeout);
        std::weak_ptr<State> weak = st;
        w->timer.async_wait([w, weak](const boost::system::error_code& ec) {
            if (ec || w->finished) {
                return;
            }
            w->finished = true;
            if (const auto s = weak.lock()) {
                const auto it = std::find(s->waiters_.begin(), s->waiters_.end(), w);
                if (it != s->waiters_.end()) {
                    s->waiters_.erase(it);
                }
            }
            w->done(Grant{nullptr, false, "postgres: timed out waiting for a connection"});
        });
    });
}

Lease make_lease(const std::shared_ptr<State>& st, std::unique_ptr<Conn> c) {
    return Lease(new Lease::Impl{st, std::move(c), true});
}

// Opens a connection in a slot already counted in open_ and leases it.
Task<Lease> open_in_slot(std::shared_ptr<State> st) {
    std::unique_ptr<Conn> c;
    try {
        c = co_await connect(st);
    } catch (...) {
        --st->open_;
        st->slot_freed();
        throw;
    }
    if (st->closed_) {
        c->close();
        --st->open_;
        throw Unavailable("postgres: pool closed");
    }
    ++st->busy_;
    co_return make_lease(st, std::move(c));
}

Task<Lease> acquire(std::shared_ptr<State> st) {
    if (st->closed_) {
        throw Unavailable("postgres: pool closed");
    }
    while (!st->idle_.empty()) {
        std::unique_ptr<Conn> c = std::move(st->idle_.back());
        st->idle_.pop_back();
        if (c->probe()) {
            ++st->busy_;
            co_return make_lease(st, std::move(c));
        }
        c->close();
        --st->open_;
    }
    if (st->open_ < st->options_.max_connections) {
        ++st->open_;
        co_return co_await open_in_slot(st);
    }
    if (std::cmp_greater_equal(st->waiters_.size(), st->options_.max_waiters)) {
        throw Unavailable("postgres: too many callers waiting for a connection");
    }
    Grant g = co_await wait_for_grant(st);
    if (!g.error.empty()) {
        throw Unavailable(g.error);
    }
    if (g.conn) {
        if (g.conn->probe()) {
            co_return make_lease(st, std::move(g.conn));
        }
        // Dead: reuse its slot for a new connection.
        g.conn->close();
        g.conn.reset();
        --st->busy_;
    }
    if (st->closed_) {
        --st->open_;
        throw Unavailable("postgres: pool closed");
    }
    co_return co_await open_in_slot(st);
}

Task<void> roll_back(std::shared_ptr<State> st, std::unique_ptr<Conn> c) {
    auto* raw = new Lease::Impl{st, std::move(c), false};
    Lease lease(raw);
    try {
        static_cast<void>(co_await lease.exec("ROLLBACK"));
    } catch (...) {
        if (raw->conn) {
            raw->conn->close();  // discarded when the lease goes back
        }
    }
}

Task<Result> query(std::shared_ptr<State> st, std::string sql, Params params, bool prepared) {
    Lease lease = co_await acquire(st);
    if (prepared) {
        co_return co_await lease.exec_prepared(std::move(sql), std::move(params));
    }
    co_return co_await lease.exec(std::move(sql), std::move(params));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// State

void State::give_back(std::unique_ptr<Conn> c, bool may_roll_back) {
    if (!closed_ && c && c->usable()) {
        const PGTransactionStatusType ts = PQtransactionStatus(c->pg_);
        if (ts == PQTRANS_IDLE) {
            --busy_;
            hand_over(std::move(c));
            return;
        }
        if (may_roll_back && (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)) {
            // Stays busy until the rollback is done; the rollback's Lease gives it back.
            start_detached(roll_back(shared_from_this(), std::move(c)), [](const std::exception_ptr&) {});
            return;
        }
    }
    --busy_;
    if (c) {
        c->close();
    }
    --open_;
    slot_freed();
}

void State::hand_over(std::unique_ptr<Conn> c) {
    if (!waiters_.empty()) {
        auto w = std::move(waiters_.front());
        waiters_.pop_front();
        ++busy_;
        deliver(w, Grant{std::move(c), false, {}});
        return;
    }
    idle_.push_back(std::move(c));
}

void State::slot_freed() {
    if (closed_ || waiters_.empty() || open_ >= options_.max_connections) {
        return;
    }
    auto w = std::move(waiters_.front());
    waiters_.pop_front();
    ++open_;
    deliver(w, Grant{nullptr, true, {}});
}

void State::deliver(const std::shared_ptr<Waiter>& w, Grant g) {
    w->finished = true;
    try {
        w->timer.cancel();
    } catch (...) {  // NOLINT(bugprone-empty-catch)
    }
    asio::post(io_, [w, grant = std::move(g)]() mutable { w->done(std::move(grant)); });
}

void State::close() {
    closed_ = true;
    for (auto& c : idle_) {
        c->close();
        --open_;
    }
    idle_.clear();
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (const auto& w : waiters) {
        deliver(w, Grant{nullptr, false, "postgres: pool closed"});
    }
}

}  // namespace impl

// ---------------------------------------------------------------------------------------------------
// Lease

Lease::Lease(Lease&& o) noexcept : impl_(std::exchange(o.impl_, nullptr)) {}

Lease& Lease::operator=(Lease&& o) noexcept {
    if (this != &o) {
        Lease old(std::move(*this));
        impl_ = std::exchange(o.impl_, nullptr);
    }
    return *this;
}

Lease::~Lease() {
    if (impl_ == nullptr) {
        return;
    }
    std::shared_ptr<impl::State> st = std::move(impl_->state);
    std::unique_ptr<impl::Conn> c = std::move(impl_->conn);
    const bool may_roll_back = impl_->may_roll_back;
    delete impl_;
    impl_ = nullptr;
    if (st) {
        st->give_back(std::move(c), may_roll_back);
    }
}

Task<Result> Lease::exec(std::string sql, Params params) {
    return impl::run(impl_, std::move(sql), std::move(params), false);
}

Task<Result> Lease::exec_prepared(std::string name, Params params) {
    return impl::run(impl_, std::move(name), std::move(params), true);
}

// ---------------------------------------------------------------------------------------------------
// Pool

Pool::Pool(boost::asio::io_context& io, PoolOptions options) : impl_(std::make_unique<Impl>()) {
    if (options.max_connections < 1) {
        throw std::invalid_argument("postgres: max_connections must be at least 1");
    }
    if (options.max_waiters < 0) {
        throw std::invalid_argument("postgres: max_waiters must not be negative");
    }
    impl_->state = std::make_shared<impl::State>(io, std::move(options));
}

Pool::~Pool() {
    if (impl_ && impl_->state) {
        impl_->state->close();
    }
}

void Pool::prepare(std::string name, std::string sql) {
    auto& statements = impl_->state->statements_;
    const auto it = statements.find(name);
    if (it != statements.end()) {
        if (it->second != sql) {
            throw std::invalid_argument("postgres: statement " + name + " already registered with other SQL");
        }
        return;
    }
    statements.emplace(std::move(name), std::move(sql));
}

Task<Lease> Pool::acquire() { return impl::acquire(impl_->state); }

Task<Result> Pool::query(std::string sql, Params params) {
    return impl::query(impl_->state, std::move(sql), std::move(params), false);
}

Task<Result> Pool::query_prepared(std::string name, Params params) {
    return impl::query(impl_->state, std::move(name), std::move(params), true);
}

Task<void> Pool::next_turn() {
    auto& io = impl_->state->io_;
    CallbackAwaiter<bool> turned([&io](std::function<void(bool)> done) {
        asio::post(io, [done = std::move(done)] { done(true); });
    });
    co_await turned;
}

PoolStats Pool::stats() const noexcept {
    const auto& st = *impl_->state;
    return PoolStats{st.open_, st.busy_, static_cast<int>(st.waiters_.size())};
}

void Pool::close() { impl_->state->close(); }


namespace {

struct ConnCloser {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct ResultCloser {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};

void exec_ok(PGconn* c, const std::string& sql, ExecStatusType want, std::string* first_value = nullptr) {
    std::unique_ptr<PGresult, ResultCloser> r(PQexec(c, sql.c_str()));
    if (PQresultStatus(r.get()) != want) {
        throw std::runtime_error("postgres: " + std::string(PQerrorMessage(c)));
    }
    if (first_value && PQntuples(r.get()) > 0) {
        *first_value = PQgetvalue(r.get(), 0, 0);
    }
}

// COPY text format: columns separated by tabs, backslash escapes (\\, \t, \n, \r, \b, \f, \v).
void split_copy_line(std::string_view line, std::string& scratch, std::vector<std::string_view>& cols) {
    scratch.clear();
    scratch.reserve(line.size());
    std::vector<std::size_t> ends;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char ch = line[i];
        if (ch == '\t') {
            ends.push_back(scratch.size());
            continue;
        }
        if (ch == '\\' && i + 1 < line.size()) {
            const char e = line[++i];
            switch (e) {
                case 't': scratch += '\t'; break;
                case 'n': scratch += '\n'; break;
                case 'r': scratch += '\r'; break;
                case 'b': scratch += '\b'; break;
                case 'f': scratch += '\f'; break;
                case 'v': scratch += '\v'; break;
                default: scratch += e;
            }
            continue;
        }
        scratch += ch;
    }
    ends.push_back(scratch.size());
    cols.clear();
    std::size_t start = 0;
    for (const auto end : ends) {
        cols.emplace_back(scratch.data() + start, end - start);
        start = end;
    }
}

}  // namespace

std::string copy_out(const std::string& url, const std::string& snapshot_sql, const std::string& copy_sql,
                     const std::function<void(const std::vector<std::string_view>&)>& on_row) {
    std::unique_ptr<PGconn, ConnCloser> conn(PQconnectdb(url.c_str()));
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        throw std::runtime_error("postgres: " + std::string(PQerrorMessage(conn.get())));
    }
    PGconn* c = conn.get();
    exec_ok(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", PGRES_COMMAND_OK);
    std::string first;
    exec_ok(c, snapshot_sql, PGRES_TUPLES_OK, &first);
    exec_ok(c, copy_sql, PGRES_COPY_OUT);
    std::string scratch;
    std::vector<std::string_view> cols;
    for (;;) {
        char* buf = nullptr;
        const int n = PQgetCopyData(c, &buf, 0);
        if (n == -1) {
            break;
        }
        if (n < 0) {
            throw std::runtime_error("postgres: COPY failed: " + std::string(PQerrorMessage(c)));
        }
        std::string_view line(buf, static_cast<std::size_t>(n));
        if (!line.empty() && line.back() == '\n') {
            line.remove_suffix(1);
        }
        try {
            split_copy_line(line, scratch, cols);
            on_row(cols);
        } catch (...) {
            PQfreemem(buf);
            throw;
        }
        PQfreemem(buf);
    }
    std::unique_ptr<PGresult, ResultCloser> done(PQgetResult(c));
    if (PQresultStatus(done.get()) != PGRES_COMMAND_OK) {
        throw std::runtime_error("postgres: COPY failed: " + std::string(PQerrorMessage(c)));
    }
    while (PGresult* extra = PQgetResult(c)) {
        PQclear(extra);
    }
    exec_ok(c, "COMMIT", PGRES_COMMAND_OK);
    return first;
}

std::string any_uuid(std::string_view param) {
    return "ANY (ARRAY(SELECT unnest(" + std::string(param) + "::uuid[])))";
}

std::string uuid_array(const std::vector<std::string>& ids) {
    std::string out = "{";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i > 0) {
            out += ',';
        }
        out += ids[i];
    }
    out += '}';
    return out;
}

}  // namespace om::pg
