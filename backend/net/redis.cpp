// Asynchronous Redis client: hiredis' async API driven by the shard's io_context.
//
// Lifetime design
//  - Client owns a shared_ptr<Impl>. Every Asio handler of Impl holds a weak_ptr (or, for a command in
//    flight, the coroutine frame holds a shared_ptr), so nothing outlives what it refers to.
//  - Impl owns at most one redisAsyncContext (ac_). ac->data points back at Impl; before Impl frees a
//    context itself it clears ac->data, so hiredis' connect/disconnect callbacks of that context become
//    no-ops. hiredis frees a context by itself on a connection error (inside redisAsyncHandleRead/Write);
//    it then calls our disconnect (or failed-connect) callback, and Impl forgets the pointer.
//  - The event adapter (AsioEvents) is a separate object, owned by a self-reference that the context's
//    ev.cleanup hook drops, and by the pending async_wait handlers. ev.cleanup marks it dead, cancels the
//    waits and release()s the descriptor (hiredis closes the fd itself), so a handler that outlives the
//    context never touches it.
//  - Each command has a CommandState shared by the hiredis callback (privdata owns one shared_ptr) and
//    the coroutine; its timeout timer holds only a weak_ptr. `done` makes completion happen exactly once:
//    whichever of reply / timeout / connection loss comes first wins, the others are ignored.
//  - Replies are delivered by posting to the io_context, so user code (which may stop() or destroy the
//    Client, or issue more commands) never runs inside a hiredis callback.

#include "net/redis.hpp"

#include "common/ids.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

// Exported by hiredis (async.c) though not declared in its headers: hands the replies already fed to the
// context's reader to their callbacks (what redisAsyncHandleRead does after its read).
extern "C" void redisProcessCallbacks(redisAsyncContext* ac);

// Boost 1.81 + GCC 12 at -O2: -Wnull-dereference fires inside Asio's executor comparison (a false
// positive in a system header that affects every Asio user); silenced for the Asio headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <cstddef>
#include <deque>
#include <expected>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "core/error.hpp"

namespace om::redis {

namespace asio = boost::asio;

namespace {

constexpr std::chrono::milliseconds k_initial_backoff{50};
constexpr std::chrono::milliseconds k_max_backoff{1000};

// ---------------------------------------------------------------------------------------------------
// URL parsing

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out.push_back(s[i]);
            continue;
        }
        if (i + 2 >= s.size()) {
            throw std::invalid_argument("redis url: truncated percent escape");
        }
        const int hi = hex_digit_value(s[i + 1]);
        const int lo = hex_digit_value(s[i + 2]);
        if (hi < 0 || lo < 0) {
            throw std::invalid_argument("redis url: bad percent escape");
        }
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int parse_int(std::string_view s, int min, int max, const char* what) {
    if (!all_digits(s)) {
        throw std::invalid_argument(std::string("redis url: bad ") + what);
    }
    int value = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || ptr != s.data() + s.size() || value < min || value > max) {
        throw std::invalid_argument(std::string("redis url: bad ") + what);
    }
    return value;
}

// Commands after which hiredis calls a reply callback more than once (or never): not supported here.
bool is_push_mode_command(std::string_view name) {
    constexpr std::string_view names[] = {"subscribe", "psubscribe", "ssubscribe", "unsubscribe",
                                          "punsubscribe", "sunsubscribe", "monitor"};
    return std::any_of(std::begin(names), std::end(names), [&](std::string_view n) {
        return n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
                   return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
               });
    });
}

// ---------------------------------------------------------------------------------------------------
// Replies: hiredis' reader builds our Reply directly (its redisReplyObjectFunctions), instead of a tree of
// redisReply objects that was then copied into a Reply and freed (issue 6: the copy, hiredis' allocations and
// their release were ~9 % of the server's instructions; a stream entry was about twenty allocations and frees).
//
// A root (the reply of a command) is a RootReply: hiredis reads the head of a reply that has no callback (the
// error a server sends before closing: type and str) as a redisReply, and frees roots only (freeObject). An
// array's elements are sized when it is created, and each element is built in its place: the pointer given
// to hiredis for an inner array stays valid until the root is freed.

struct RootReply {
    redisReply head{};  // first: what hiredis itself may read
    Reply value;
};

Reply& value_of(const redisReadTask* task) {
    // The parent of `task`'s object: a RootReply when that parent is the root, else an element.
    const redisReadTask* parent = task->parent;
    return parent->parent == nullptr ? static_cast<RootReply*>(parent->obj)->value : *static_cast<Reply*>(parent->obj);
}

template <class Fill>
void* build(const redisReadTask* task, Reply::Type type, int hiredis_type, Fill&& fill) noexcept {
    try {
        if (task->parent == nullptr) {
            auto root = std::make_unique<RootReply>();
            root->value.type = type;
            fill(root->value);
            root->head.type = hiredis_type;
            root->head.str = root->value.str.data();
            root->head.len = root->value.str.size();
            return root.release();
        }
        Reply& parent = value_of(task);
        const auto idx = static_cast<std::size_t>(task->idx);
        if (parent.type != Reply::Type::array || idx >= parent.elements.size()) {
            return nullptr;  // not as the protocol nests: hiredis reports it as out of memory and disconnects
        }
        Reply& r = parent.elements[idx];
        r.type = type;
        fill(r);
        return &r;
    } catch (...) {
        return nullptr;  // out of memory: hiredis sets the reader's error and the connection is dropped
    }
}

void* create_string(const redisReadTask* task, char* str, std::size_t len) {
    const Reply::Type type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::error
                             : task->type == REDIS_REPLY_STATUS ? Reply::Type::status
                                                                : Reply::Type::string;
    return build(task, type, task->type, [&](Reply& r) { r.str.assign(str, len); });
}

void* create_array(const redisReadTask* task, int elements) {
    return build(task, Reply::Type::array, REDIS_REPLY_ARRAY,
                 [&](Reply& r) { r.elements.resize(static_cast<std::size_t>(std::max(elements, 0))); });
}

void* create_integer(const redisReadTask* task, long long value) {
    return build(task, Reply::Type::integer, REDIS_REPLY_INTEGER, [&](Reply& r) { r.integer = value; });
}

void* create_nil(const redisReadTask* task) {
    return build(task, Reply::Type::nil, REDIS_REPLY_NIL, [](Reply&) {});
}

void free_root(void* reply) { delete static_cast<RootReply*>(reply); }

redisReplyObjectFunctions k_reply_functions{create_string, create_array, create_integer, create_nil, free_root};

// ---------------------------------------------------------------------------------------------------
// Event adapter: hiredis' ev hooks on top of an Asio stream_descriptor.
//
// Once connected, the adapter does the socket I/O the cheap way (issue 6: two epoll_ctl system calls per
// command were the most frequent system call of the server). An Asio async_wait re-registers the descriptor
// with epoll on every call; a speculative read does not (the descriptor stays registered, edge-triggered):
//  - reads: async_read_some into the adapter's buffer, fed to hiredis' reader, then redisProcessCallbacks (what
//    redisAsyncHandleRead does around its own read). Asio tries the read before waiting, so some reads find
//    nothing (cheaper than the epoll_ctl). An error, the end of the stream or a reader in error is left to
//    redisAsyncHandleRead, which meets it again and disconnects as usual.
//  - writes: a connected socket almost always takes the bytes, so a write is tried at the end of the current
//    handler (every command issued by then goes out with it); only a write that did not drain waits.
// While connecting, both wait for the socket as hiredis expects.

class AsioEvents : public std::enable_shared_from_this<AsioEvents> {
public:
    AsioEvents(asio::io_context& io, redisAsyncContext* ac) : ac_(ac), sd_(io) {}

    // Attaches to `ac`. Throws (boost::system::system_error) if the descriptor cannot be registered.
    static void attach(asio::io_context& io, redisAsyncContext* ac) {
        auto events = std::make_shared<AsioEvents>(io, ac);
        events->sd_.assign(ac->c.fd);
        events->self_ = events;
        ac->ev.data = events.get();
        ac->ev.addRead = &AsioEvents::add_read;
        ac->ev.delRead = &AsioEvents::del_read;
        ac->ev.addWrite = &AsioEvents::add_write;
        ac->ev.delWrite = &AsioEvents::del_write;
        ac->ev.cleanup = &AsioEvents::cleanup;
    }

private:
    static AsioEvents* self(void* privdata) { return static_cast<AsioEvents*>(privdata); }

    static void add_read(void* privdata) {
        AsioEvents* e = self(privdata);
        e->reading_ = true;
        e->arm_read();
    }
    static void del_read(void* privdata) { self(privdata)->reading_ = false; }
    static void add_write(void* privdata) {
        AsioEvents* e = self(privdata);
        e->writing_ = true;
        e->arm_write();
    }
    static void del_write(void* privdata) { self(privdata)->writing_ = false; }

    // Called by hiredis while it frees the context (possibly from inside redisAsyncHandleRead/Write).
    static void cleanup(void* privdata) {
        AsioEvents* e = self(privdata);
        // Keeps the object alive to the end of this function even if no wait is pending.
        const std::shared_ptr<AsioEvents> keep = std::move(e->self_);
        e->alive_ = false;
        e->ac_ = nullptr;
        e->reading_ = false;
        e->writing_ = false;
        boost::system::error_code ignored;
        e->sd_.cancel(ignored);
        (void)e->sd_.release();  // hiredis closes the fd itself
    }

    [[nodiscard]] bool connected() const { return ac_ != nullptr && (ac_->c.flags & REDIS_CONNECTED) != 0; }

    void arm_read() {
        if (!alive_ || read_pending_) {
            return;
        }
        read_pending_ = true;
        if (connected()) {
            sd_.async_read_some(asio::buffer(buffer_),
                                [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                                    self->on_read(ec, n);
                                });
            return;
        }
        sd_.async_wait(asio::posix::stream_descriptor::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) { self->on_readable(ec); });
    }

    void arm_write() {
        if (!alive_ || write_pending_) {
            return;
        }
        write_pending_ = true;
        if (connected() && !in_write_) {
            asio::post(sd_.get_executor(), [self = shared_from_this()] { self->on_writable({}); });
            return;
        }
        // Connecting, or the last write did not drain (hiredis asks again from inside redisAsyncHandleWrite).
        sd_.async_wait(asio::posix::stream_descriptor::wait_write,
                       [self = shared_from_this()](const boost::system::error_code& ec) { self->on_writable(ec); });
    }

    void on_read(const boost::system::error_code& ec, std::size_t n) {
        read_pending_ = false;
        if (ec == asio::error::operation_aborted || !alive_) {
            return;
        }
        if (ec || n == 0 || redisReaderFeed(ac_->c.reader, buffer_.data(), n) != REDIS_OK) {
            redisAsyncHandleRead(ac_);  // meets the error, the end or the reader's error itself and disconnects
        } else {
            redisProcessCallbacks(ac_);  // may free the context: cleanup() then clears alive_
        }
        if (alive_ && reading_) {
            arm_read();
        }
    }

    void on_readable(const boost::system::error_code& ec) {
        read_pending_ = false;
        if (ec == asio::error::operation_aborted || !alive_ || !reading_) {
            return;
        }
        redisAsyncHandleRead(ac_);  // may free the context: cleanup() then clears alive_
        if (alive_ && reading_) {
            arm_read();
        }
    }

    void on_writable(const boost::system::error_code& ec) {
        write_pending_ = false;
        if (ec == asio::error::operation_aborted || !alive_ || !writing_) {
            return;
        }
        in_write_ = true;
        redisAsyncHandleWrite(ac_);  // may free the context: cleanup() then clears alive_
        in_write_ = false;
        if (alive_ && writing_) {
            arm_write();
        }
    }

    redisAsyncContext* ac_;
    asio::posix::stream_descriptor sd_;
    std::shared_ptr<AsioEvents> self_;  // the context's reference, dropped by cleanup()
    bool alive_ = true;
    bool reading_ = false;
    bool writing_ = false;
    bool read_pending_ = false;
    bool write_pending_ = false;
    bool in_write_ = false;  // inside redisAsyncHandleWrite: a write that did not drain waits for the socket
    std::array<char, 16384> buffer_{};
};

// ---------------------------------------------------------------------------------------------------
// Commands in flight

using Outcome = std::expected<Reply, std::string>;

struct CommandState {
    CommandState(asio::io_context& io, std::function<void(Outcome)> complete)
        : io_(io), complete_(std::move(complete)) {}

    asio::io_context& io_;
    std::function<void(Outcome)> complete_;
    bool done_ = false;
};

// hiredis reply callback. privdata owns one shared_ptr<CommandState>. reply is null when the context is
// being freed (connection lost, stop(), connect timeout). Must not throw: it is called from C.
void on_reply(redisAsyncContext* /*ac*/, void* reply, void* privdata) noexcept {
    std::unique_ptr<std::shared_ptr<CommandState>> holder(static_cast<std::shared_ptr<CommandState>*>(privdata));
    std::shared_ptr<CommandState> state = std::move(*holder);
    if (state->done_) {
        return;  // timed out earlier: the late reply is dropped
    }
    state->done_ = true;  // its deadline is dropped lazily (Client::Impl::deadlines_)
    try {
        // hiredis frees the emptied root after this callback.
        Outcome outcome = reply != nullptr ? Outcome(std::move(static_cast<RootReply*>(reply)->value))
                                           : Outcome(std::unexpected(std::string("redis: connection lost")));
        asio::post(state->io_, [state, outcome = std::move(outcome)]() mutable {
            state->complete_(std::move(outcome));
        });
    } catch (...) {
        // Out of memory while posting: fail the command from a fresh handler if possible.
        try {
            asio::post(state->io_, [state]() {
                state->complete_(std::unexpected(std::string("redis: failed to deliver reply")));
            });
        } catch (...) {
            std::terminate();
        }
    }
}

}  // namespace

// -------------------------------------------------------------------------------------------------------

std::string resp_command(const std::vector<std::string>& args) {
    // Sized once, then filled through a pointer: "*N\r\n", and "$LEN\r\nDATA\r\n" for each argument.
    const auto digits = [](std::size_t n) {
        std::size_t d = 1;
        for (; n >= 10; n /= 10) {
            ++d;
        }
        return d;
    };
    std::size_t size = 3 + digits(args.size());
    for (const auto& a : args) {
        size += 5 + digits(a.size()) + a.size();
    }
    std::string out(size, '\0');
    char* p = out.data();
    const auto header = [&p](char kind, std::size_t n) {
        *p++ = kind;
        p = std::to_chars(p, p + 20, n).ptr;
        *p++ = '\r';
        *p++ = '\n';
    };
    header('*', args.size());
    for (const auto& a : args) {
        header('$', a.size());
        if (!a.empty()) {
            std::memcpy(p, a.data(), a.size());
            p += a.size();
        }
        *p++ = '\r';
        *p++ = '\n';
    }
    return out;
}

namespace {

// userinfo: everything up to the last '@' of `rest` (a db path never contains '@'), taken off `rest`.
void take_password(std::string_view& rest, Options& o) {
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        const std::string_view userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        const auto colon = userinfo.find(':');
        if (colon == std::string_view::npos) {
            throw std::invalid_argument("redis url: expected :password@");
        }
        if (colon != 0) {
            throw std::invalid_argument("redis url: user names are not supported");
        }
        o.password = percent_decode(userinfo.substr(colon + 1));
    }
}

// unix://[:password@]/path/to/redis.sock[?db=N]
Options parse_unix_url(std::string_view rest) {
    Options o;
    o.host.clear();
    o.port = 0;
    take_password(rest, o);
    std::string_view query;
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    if (rest.empty() || rest.front() != '/') {
        throw std::invalid_argument("redis url: unix:// needs an absolute socket path");
    }
    o.unix_socket = percent_decode(rest);
    if (!query.empty()) {
        constexpr std::string_view db = "db=";
        if (!query.starts_with(db)) {
            throw std::invalid_argument("redis url: the only query parameter of unix:// is db=N");
        }
        o.db = parse_int(query.substr(db.size()), 0, std::numeric_limits<int>::max(), "database number");
    }
    return o;
}

}  // namespace

Options parse_url(std::string_view url) {
    if (constexpr std::string_view unix_scheme = "unix://"; url.starts_with(unix_scheme)) {
        return parse_unix_url(url.substr(unix_scheme.size()));
    }
    constexpr std::string_view scheme = "redis://";
    if (url.size() < scheme.size() || url.substr(0, scheme.size()) != scheme) {
        throw std::invalid_argument("redis url: expected redis:// or unix://");
    }
    std::string_view rest = url.substr(scheme.size());
    Options o;
    take_password(rest, o);

    // host[:port]
    const auto slash = rest.find('/');
    std::string_view hostport = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    std::string_view port;
    bool has_port = false;
    if (!hostport.empty() && hostport.front() == '[') {
        const auto close = hostport.find(']');
        if (close == std::string_view::npos) {
            throw std::invalid_argument("redis url: unterminated IPv6 address");
        }
        o.host = std::string(hostport.substr(1, close - 1));
        const std::string_view after = hostport.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                throw std::invalid_argument("redis url: garbage after IPv6 address");
            }
            port = after.substr(1);
            has_port = true;
        }
    } else {
        const auto colon = hostport.find(':');
        o.host = std::string(hostport.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = hostport.substr(colon + 1);
            has_port = true;
        }
    }
    if (o.host.empty()) {
        throw std::invalid_argument("redis url: missing host");
    }
    if (std::any_of(o.host.begin(), o.host.end(), [](char c) {
            return c == '@' || c == '?' || c == '#' || c == ' ' || c == '[' || c == ']';
        })) {
        throw std::invalid_argument("redis url: bad host");
    }
    if (has_port) {
        o.port = parse_int(port, 1, 65535, "port");
    }

    // [/db]
    if (!path.empty()) {
        o.db = parse_int(path, 0, std::numeric_limits<int>::max(), "database number");
    }
    return o;
}

// -------------------------------------------------------------------------------------------------------

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
    Impl(asio::io_context& io, Options options)
        : io_(io), options_(std::move(options)), reconnect_timer_(io), connect_timer_(io), deadline_timer_(io) {}

    ~Impl() {
        stopped_ = true;
        drop_connection();
    }

    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    [[nodiscard]] bool connected() const noexcept { return ac_ != nullptr && ready_; }

    void start() {
        if (started_ || stopped_) {
            return;
        }
        started_ = true;
        connect();
    }

    void stop() {
        stopped_ = true;
        reconnect_timer_.cancel();
        connect_timer_.cancel();
        drop_connection();  // every command in flight fails ("connection lost")
        deadline_timer_.cancel();
        armed_.reset();
    }

    // Sends one command on the current connection; `complete` is called exactly once, never from inside
    // this function nor from inside a hiredis callback.
    void submit(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                std::function<void(Outcome)> complete) {
        auto state = std::make_shared<CommandState>(io_, std::move(complete));
        auto fail = [&](std::string why) {
            state->done_ = true;
            asio::post(io_, [state, why = std::move(why)]() { state->complete_(std::unexpected(why)); });
        };
        if (ac_ == nullptr) {
            fail("redis: not connected");
            return;
        }
        const std::string wire = resp_command(args);
        auto holder = std::make_unique<std::shared_ptr<CommandState>>(state);
        const int rc = redisAsyncFormattedCommand(ac_, &on_reply, holder.get(), wire.data(), wire.size());
        if (rc != REDIS_OK) {
            fail("redis: command rejected by the connection");
            return;
        }
        (void)holder.release();  // owned by hiredis until on_reply

        const auto at = std::chrono::steady_clock::now() + timeout;
        while (!deadlines_.empty() && deadlines_.front().state->done_) {
            deadlines_.pop_front();  // answered (replies come in the order of the commands)
        }
        deadlines_.push_back({at, std::move(state)});
        if (!armed_ || at < *armed_) {
            arm_deadline(at);
        }
    }

    // Command timeouts: one timer per connection, at the earliest deadline of the commands in flight, instead
    // of a timer per command (issue 6: creating, arming and cancelling it, and the cancelled wait's handler,
    // took a mutex four times and an extra turn of the event loop for each command).
    void arm_deadline(std::chrono::steady_clock::time_point at) {
        armed_ = at;
        deadline_timer_.expires_at(at);
        deadline_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
            if (ec) {
                return;  // re-armed earlier, or stopped
            }
            if (const auto self = weak.lock()) {
                self->expire_deadlines();
            }
        });
    }

    void expire_deadlines() {
        armed_.reset();
        const auto now = std::chrono::steady_clock::now();
        std::vector<std::shared_ptr<CommandState>> expired;
        std::deque<Deadline> pending;
        std::optional<std::chrono::steady_clock::time_point> next;
        for (auto& d : deadlines_) {
            if (d.state->done_) {
                continue;
            }
            if (d.at <= now) {
                d.state->done_ = true;
                expired.push_back(std::move(d.state));
                continue;
            }
            next = next ? std::min(*next, d.at) : d.at;
            pending.push_back(std::move(d));
        }
        deadlines_ = std::move(pending);
        if (next) {
            arm_deadline(*next);
        }
        for (const auto& state : expired) {  // last: a completion may send the next command
            state->complete_(std::unexpected(std::string("redis: command timed out")));
        }
    }

    void connect() {
        ++generation_;
        redisAsyncContext* ac = options_.unix_socket.empty()
                                    ? redisAsyncConnect(options_.host.c_str(), options_.port)
                                    : redisAsyncConnectUnix(options_.unix_socket.c_str());
        if (ac == nullptr) {
            schedule_reconnect();
            return;
        }
        if (ac->err != 0) {
            redisAsyncFree(ac);
            schedule_reconnect();
            return;
        }
        try {
            AsioEvents::attach(io_, ac);
        } catch (const std::exception&) {
            redisAsyncFree(ac);
            schedule_reconnect();
            return;
        }
        ac->c.reader->fn = &k_reply_functions;  // before anything is read
        ac->data = this;
        ac_ = ac;
        ready_ = false;
        redisAsyncSetDisconnectCallback(ac, &Impl::on_disconnect_cb);
        redisAsyncSetConnectCallback(ac, &Impl::on_connect_cb);  // arms the first write wait

        connect_timer_.expires_after(options_.connect_timeout);
        connect_timer_.async_wait([weak = weak_from_this(), gen = generation_](const boost::system::error_code& ec) {
            if (ec) {
                return;
            }
            if (const auto self = weak.lock(); self && self->generation_ == gen && !self->ready_) {
                self->drop_connection();
            }
        });
    }

    // Frees the current context ourselves (never from inside hiredis' connect/disconnect callbacks).
    // Pending commands fail with "connection lost". Reconnects unless stopped.
    void drop_connection() {
        redisAsyncContext* ac = std::exchange(ac_, nullptr);
        ready_ = false;
        if (ac == nullptr) {
            return;
        }
        ac->data = nullptr;  // our connect/disconnect callbacks ignore this context from now on
        redisAsyncFree(ac);
        schedule_reconnect();
    }

    // The context is being freed by hiredis itself; forget it.
    void connection_gone() {
        ac_ = nullptr;
        ready_ = false;
        connect_timer_.cancel();
        schedule_reconnect();
    }

    void schedule_reconnect() {
        if (stopped_ || !started_) {
            return;
        }
        const auto delay = backoff_;
        backoff_ = std::min(backoff_ * 2, k_max_backoff);
        reconnect_timer_.expires_after(delay);
        reconnect_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
            if (ec) {
                return;
            }
            if (const auto self = weak.lock(); self && !self->stopped_ && self->ac_ == nullptr) {
                self->connect();
            }
        });
    }

    static void on_connect_cb(const redisAsyncContext* ac, int status) {
        auto* self = static_cast<Impl*>(ac->data);
        if (self == nullptr) {
            return;
        }
        if (status != REDIS_OK) {
            self->connection_gone();  // hiredis frees the context right after this callback
            return;
        }
        self->handshake();
    }

    static void on_disconnect_cb(const redisAsyncContext* ac, int /*status*/) {
        auto* self = static_cast<Impl*>(ac->data);
        if (self == nullptr) {
            return;
        }
        self->connection_gone();
    }

    // TCP is up: AUTH and SELECT (pipelined) before reporting connected().
    void handshake() {
        std::vector<std::vector<std::string>> steps;
        if (!options_.password.empty()) {
            steps.push_back({"AUTH", options_.password});
        }
        if (options_.db != 0) {
            steps.push_back({"SELECT", std::to_string(options_.db)});
        }
        if (steps.empty()) {
            mark_ready();
            return;
        }
        for (std::size_t i = 0; i < steps.size(); ++i) {
            const bool last = i + 1 == steps.size();
            submit(steps[i], options_.connect_timeout,
                   [weak = weak_from_this(), gen = generation_, last](Outcome outcome) {
                       const auto self = weak.lock();
                       if (!self || self->generation_ != gen || self->ac_ == nullptr || self->ready_) {
                           return;
                       }
                       if (!outcome || outcome->is_error()) {
                           self->drop_connection();  // wrong password or bad db: retry with backoff
                           return;
                       }
                       if (last) {
                           self->mark_ready();
                       }
                   });
        }
    }

    void mark_ready() {
        ready_ = true;
        backoff_ = k_initial_backoff;
        connect_timer_.cancel();
    }

    asio::io_context& io_;
    Options options_;
    redisAsyncContext* ac_ = nullptr;
    bool ready_ = false;
    bool started_ = false;
    bool stopped_ = false;
    // Script text → its SHA-1 as Redis reported it (SCRIPT LOAD); used only from the client's thread.
    std::unordered_map<std::string, std::string> script_digests_;
    std::uint64_t generation_ = 0;
    std::chrono::milliseconds backoff_ = k_initial_backoff;
    asio::steady_timer reconnect_timer_;
    asio::steady_timer connect_timer_;
    struct Deadline {
        std::chrono::steady_clock::time_point at;
        std::shared_ptr<CommandState> state;
    };
    std::deque<Deadline> deadlines_;  // in the order of the commands; answered ones are dropped lazily
    asio::steady_timer deadline_timer_;
    std::optional<std::chrono::steady_clock::time_point> armed_;  // when deadline_timer_ fires
};

// -------------------------------------------------------------------------------------------------------

Client::Client(asio::io_context& io, Options options) : impl_(std::make_shared<Impl>(io, std::move(options))) {}

Client::~Client() {
    if (impl_) {
        impl_->stop();
    }
}

void Client::start() { impl_->start(); }

void Client::stop() { impl_->stop(); }

bool Client::connected() const noexcept { return impl_->connected(); }

// Not a coroutine itself: a plain command costs one coroutine frame (send's), as before EVALSHA.
Task<Reply> Client::command(std::vector<std::string> args) {
    if (args.size() >= 3 && args.front() == "EVAL") {
        return eval(std::move(args));
    }
    return send(std::move(args));
}

// The order's reservation script is ~1 KB and runs once an order: as EVAL, the client formatted and wrote it and
// Redis read and hashed it every time (Redis' net input at 1,200 orders/s: 100.8 MB, as EVALSHA 79.4 MB; the time
// Redis counts for the script itself stays ~35 us a call: that is Lua's, not the text's).
Task<Reply> Client::eval(std::vector<std::string> cmd) {
    const std::shared_ptr<Impl> impl = impl_;
    std::string sha;
    if (const auto it = impl->script_digests_.find(cmd[1]); it != impl->script_digests_.end()) {
        sha = it->second;
    } else {
        Reply loaded = co_await send(args("SCRIPT", "LOAD", cmd[1]));
        if (loaded.type != Reply::Type::string) {
            co_return loaded;  // a script that does not compile: the error EVAL would give
        }
        sha = loaded.str;
        impl->script_digests_.emplace(cmd[1], sha);
    }
    std::string body = std::exchange(cmd[1], std::move(sha));
    cmd[0] = "EVALSHA";
    Reply r = co_await send(cmd);
    if (r.is_error() && r.str.starts_with("NOSCRIPT")) {
        cmd[0] = "EVAL";
        cmd[1] = std::move(body);
        r = co_await send(std::move(cmd));
    }
    co_return r;
}

Task<Reply> Client::send(std::vector<std::string> args) {
    if (args.empty()) {
        throw std::invalid_argument("redis: empty command");
    }
    if (is_push_mode_command(args.front())) {
        throw std::invalid_argument("redis: pub/sub and MONITOR are not supported by this client");
    }
    const std::shared_ptr<Impl> impl = impl_;  // keeps Impl alive while this command is in flight
    if (!impl->connected()) {
        throw Unavailable("redis: not connected");
    }
    Outcome outcome = co_await CallbackAwaiter<Outcome>([&](std::function<void(Outcome)> complete) {
        impl->submit(args, impl->options_.command_timeout, std::move(complete));
    });
    if (!outcome) {
        throw Unavailable(outcome.error());
    }
    co_return std::move(*outcome);
}

Task<void> release_if_held(Client& redis, std::string key, std::string value) {
    try {
        co_await redis.command(args("EVAL", "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1",
                                    "1", std::move(key), std::move(value)));
    } catch (const std::exception&) {
        // the key expires by itself
    }
}

}  // namespace om::redis
