// openmarket-load hold: how many idle keep-alive connections the server holds (design §6: ≥ 50,000 on one
// machine, < 4 KB of server memory each).
//
// The parent forks --processes children (a process may hold at most 20,000 descriptors here), each opening its
// share of the connections on its own io_context: connect, one GET /healthz (the server accepted and served it),
// then the connection stays idle. Opening runs at a bounded concurrency (--concurrency connects in flight in
// all, so that the server's accept backlog does not overflow). When every child has opened its share, the parent
// prints "hold: holding …", waits --hold seconds and releases the children (it closes a pipe they all wait on);
// each sends one more GET /healthz on every connection it holds (still alive?) and reports to the parent, as one
// JSON line on its own pipe. The parent sums the reports.
//
// Source addresses: connect() picks an ephemeral port per (source address, target): 28,232 ports here, and Linux
// tries the even half first, so the search grows slow long before they run out (15,000 connections from one
// address opened at ~1,000/s, 6,000 at ~6,000/s). On IPv4 loopback with more than kPerSource connections, every
// kPerSource consecutive connections (counted over all processes) therefore bind their own source address:
// 127.0.0.2, 127.0.0.3, … (IP_BIND_ADDRESS_NO_PORT: the port is still chosen at connect).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "client.hpp"
#include "load.hpp"

namespace om::load {

namespace {

namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double round3(double v) { return static_cast<double>(static_cast<long long>(v * 1000 + 0.5)) / 1000; }

// Soft RLIMIT_NOFILE up to the hard limit; returns the limit in force.
rlim_t raise_nofile() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) {
        return 0;
    }
    if (r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
        getrlimit(RLIMIT_NOFILE, &r);
    }
    return r.rlim_cur;
}

bool write_all(int fd, const std::string& s) {
    std::size_t done = 0;
    while (done < s.size()) {
        const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// One line from a pipe (without the '\n'); nullopt at end of file before a whole line.
std::optional<std::string> read_line(int fd, std::string& pending) {
    for (;;) {
        if (auto nl = pending.find('\n'); nl != std::string::npos) {
            std::string line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            return line;
        }
        char buf[4096];
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return std::nullopt;
        }
        pending.append(buf, static_cast<std::size_t>(n));
    }
}

// ---- one child: its share of the connections -----------------------------------------------------------------

constexpr int kPerSource = 5'000;

struct Share {
    int index = 0;
    int first = 0;       // global index of its first connection
    int connections = 0;
    int concurrency = 1;
    bool bind_sources = false;  // else the kernel chooses the source address
};

// The source address of global connection i: 127.0.0.2 + i / kPerSource.
asio::ip::address_v4 source_of(int i) {
    return asio::ip::address_v4(0x7F000002U + static_cast<std::uint32_t>(i / kPerSource));
}

std::string sources_of(const Share& s) {
    if (!s.bind_sources || s.connections == 0) {
        return "";
    }
    const auto a = source_of(s.first).to_string();
    const auto b = source_of(s.first + s.connections - 1).to_string();
    return a == b ? a : a + "-" + b;
}

class Holder {
public:
    Holder(const HoldOptions& opt, const Share& share, tcp::endpoint target)
        : opt_(opt), share_(share), target_(target),
          request_("GET /healthz HTTP/1.1\r\nHost: " + parse_target(opt.target).host + ":" +
                   std::to_string(target.port()) + "\r\nUser-Agent: openmarket-load hold\r\n\r\n") {
        sockets_.reserve(static_cast<std::size_t>(share.connections));
    }

    // Opens the share; returns the "opened" report.
    json open_all() {
        const auto t0 = Clock::now();
        next_ = 0;
        const int workers = std::max(1, std::min(share_.concurrency, share_.connections));
        for (int w = 0; w < workers; ++w) {
            auto worker = [this]() -> asio::awaitable<void> { co_await open_worker(); };
            asio::co_spawn(io_, worker, asio::detached);
        }
        io_.run();
        io_.restart();
        open_s_ = seconds_since(t0);
        json j{{"phase", "opened"},
               {"index", share_.index},
               {"sources", sources_of(share_)},
               {"attempted", share_.connections},
               {"opened", static_cast<long long>(sockets_.size())},
               {"open_s", round3(open_s_)},
               {"open_failures", open_failures_}};
        return j;
    }

    // One more GET /healthz on every held connection; returns the final report.
    json check_all() {
        const auto t0 = Clock::now();
        next_ = 0;
        const int held = static_cast<int>(sockets_.size());
        const int workers = std::max(1, std::min(share_.concurrency, held));
        for (int w = 0; w < workers && held > 0; ++w) {
            auto worker = [this]() -> asio::awaitable<void> { co_await check_worker(); };
            asio::co_spawn(io_, worker, asio::detached);
        }
        io_.run();
        io_.restart();
        const double check_s = seconds_since(t0);
        for (auto& s : sockets_) {
            boost::system::error_code ignored;
            s->close(ignored);
        }
        json j{{"phase", "done"},
               {"index", share_.index},
               {"sources", sources_of(share_)},
               {"attempted", share_.connections},
               {"opened", held},
               {"alive", alive_},
               {"open_s", round3(open_s_)},
               {"check_s", round3(check_s)},
               {"open_failures", open_failures_},
               {"check_failures", check_failures_}};
        return j;
    }

private:
    // A deadline for one step of one worker: closes the socket when it expires, unless the step ended first.
    struct Deadline {
        explicit Deadline(asio::io_context& io) : timer(io) {}
        asio::steady_timer timer;
        std::uint64_t generation = 0;
        bool fired = false;

        void arm(tcp::socket& s, std::chrono::milliseconds after) {
            const std::uint64_t g = ++generation;
            fired = false;
            timer.expires_after(after);
            timer.async_wait([this, g, &s](boost::system::error_code ec) {
                if (!ec && g == generation) {
                    fired = true;
                    boost::system::error_code ignored;
                    s.close(ignored);
                }
            });
        }
        void disarm() {
            ++generation;
            timer.cancel();
        }
    };

    // GET /healthz on an open socket; "" when it answered 200, else the error.
    asio::awaitable<std::string> healthz(tcp::socket& s, Deadline& d) {
        boost::system::error_code ec;
        co_await asio::async_write(s, asio::buffer(request_), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            co_return d.fired ? std::string("timeout") : "write: " + ec.message();
        }
        boost::beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        co_await http::async_read(s, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            co_return d.fired ? std::string("timeout") : "read: " + ec.message();
        }
        if (parser.get().result_int() != 200) {
            co_return "HTTP " + std::to_string(parser.get().result_int());
        }
        if (!parser.get().keep_alive()) {
            co_return std::string("Connection: close");
        }
        co_return std::string();
    }

    asio::awaitable<void> open_worker() {
        Deadline d(io_);
        while (next_ < share_.connections) {
            const int i = share_.first + next_++;
            auto s = std::make_unique<tcp::socket>(io_);
            std::string error = open_socket(*s, i);
            if (error.empty()) {
                boost::system::error_code ec;
                d.arm(*s, std::chrono::milliseconds(opt_.timeout_ms));
                co_await s->async_connect(target_, asio::redirect_error(asio::use_awaitable, ec));
                if (ec) {
                    error = d.fired ? std::string("connect timeout") : "connect: " + ec.message();
                } else {
                    error = co_await healthz(*s, d);
                }
                d.disarm();
            }
            if (error.empty()) {
                sockets_.push_back(std::move(s));
            } else {
                ++open_failures_[error];
                boost::system::error_code ignored;
                s->close(ignored);
            }
        }
    }

    asio::awaitable<void> check_worker() {
        Deadline d(io_);
        while (next_ < static_cast<int>(sockets_.size())) {
            tcp::socket& s = *sockets_[static_cast<std::size_t>(next_++)];
            std::string error = "closed";
            if (s.is_open()) {
                d.arm(s, std::chrono::milliseconds(opt_.timeout_ms));
                error = co_await healthz(s, d);
                d.disarm();
            }
            if (error.empty()) {
                ++alive_;
            } else {
                ++check_failures_[error];
            }
        }
    }

    // Opens (and binds, with a source address) a socket; "" or the error.
    std::string open_socket(tcp::socket& s, int i) {
        boost::system::error_code ec;
        s.open(target_.protocol(), ec);
        if (ec) {
            return "socket: " + ec.message();
        }
        s.set_option(tcp::no_delay(true), ec);
        if (share_.bind_sources) {
            const int one = 1;
            // The port is picked at connect, per (source, target): bind(port 0) alone would reserve it per source.
            ::setsockopt(s.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            s.bind(tcp::endpoint(source_of(i), 0), ec);
            if (ec) {
                return "bind " + source_of(i).to_string() + ": " + ec.message();
            }
        }
        return {};
    }

    const HoldOptions& opt_;
    const Share& share_;
    tcp::endpoint target_;
    const std::string request_;
    asio::io_context io_{1};
    std::vector<std::unique_ptr<tcp::socket>> sockets_;
    int next_ = 0;
    long long alive_ = 0;
    double open_s_ = 0;
    std::map<std::string, long long> open_failures_;
    std::map<std::string, long long> check_failures_;
};

// The child's life: open, report, wait for the release (end of file on `release_fd`), check, report, exit.
[[noreturn]] void child(const HoldOptions& opt, const Share& share, tcp::endpoint target, int report_fd,
                        int release_fd) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    std::signal(SIGPIPE, SIG_IGN);
    int rc = 0;
    try {
        Holder h(opt, share, target);
        write_all(report_fd, h.open_all().dump() + "\n");
        char c = 0;
        while (::read(release_fd, &c, 1) < 0 && errno == EINTR) {
        }
        write_all(report_fd, h.check_all().dump() + "\n");
    } catch (const std::exception& e) {
        write_all(report_fd, json{{"phase", "error"}, {"index", share.index}, {"error", e.what()}}.dump() + "\n");
        rc = 1;
    }
    ::close(report_fd);
    std::fflush(stdout);
    ::_exit(rc);
}

void add_failures(std::map<std::string, long long>& into, const json& from) {
    if (from.is_object()) {
        for (const auto& [k, v] : from.items()) {
            into[k] += v.get<long long>();
        }
    }
}

std::string failures_line(const std::map<std::string, long long>& f) {
    if (f.empty()) {
        return "none";
    }
    std::string s;
    for (const auto& [k, v] : f) {
        s += (s.empty() ? "" : "; ") + k + ": " + std::to_string(v);
    }
    return s;
}

}  // namespace

int run_hold(const HoldOptions& opt) {
    if (opt.connections < 1 || opt.processes < 1 || opt.processes > 200 || opt.hold_s < 0 || opt.concurrency < 1 ||
        opt.timeout_ms < 1) {
        std::fprintf(stderr, "hold: --connections >= 1, --processes 1..200, --hold >= 0, --concurrency >= 1\n");
        return 2;
    }
    const rlim_t nofile = raise_nofile();
    const Target t = parse_target(opt.target);
    tcp::endpoint target;
    {
        asio::io_context io;  // resolved before any fork; destroyed before it
        tcp::resolver resolver(io);
        auto results = resolver.resolve(t.host, t.port);
        if (results.empty()) {
            throw std::runtime_error("cannot resolve " + t.host);
        }
        target = results.begin()->endpoint();
    }
    const bool loopback = target.address().is_v4() && target.address().to_v4().to_bytes()[0] == 127;
    const bool bind_sources = loopback && opt.connections > kPerSource;
    std::vector<Share> shares(static_cast<std::size_t>(opt.processes));
    for (int k = 0; k < opt.processes; ++k) {
        Share& s = shares[static_cast<std::size_t>(k)];
        s.index = k;
        if (k > 0) {
            const Share& before = shares[static_cast<std::size_t>(k - 1)];
            s.first = before.first + before.connections;
        }
        s.connections = opt.connections / opt.processes + (k < opt.connections % opt.processes ? 1 : 0);
        s.concurrency = std::max(1, opt.concurrency / opt.processes);
        s.bind_sources = bind_sources;
        if (nofile != 0 && static_cast<rlim_t>(s.connections) + 64 > nofile) {
            std::fprintf(stderr,
                         "hold: %d connections per process exceed the descriptor limit (%llu): use more --processes\n",
                         s.connections, static_cast<unsigned long long>(nofile));
            return 2;
        }
    }
    const std::string sources =
        bind_sources ? source_of(0).to_string() + "-" + source_of(opt.connections - 1).to_string() : "";
    std::printf("hold: %d connections to %s in %d process(es)%s, concurrency %d, hold %.0f s, descriptor limit %llu\n",
                opt.connections, opt.target.c_str(), opt.processes,
                bind_sources ? (", source addresses " + sources).c_str() : "", opt.concurrency, opt.hold_s,
                static_cast<unsigned long long>(nofile));
    std::fflush(stdout);

    const auto t0 = Clock::now();
    int release[2];
    if (::pipe(release) != 0) {
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    struct Child {
        pid_t pid = -1;
        int fd = -1;
        std::string pending;
        json opened;
        json done;
    };
    std::vector<Child> children(shares.size());
    for (std::size_t k = 0; k < shares.size(); ++k) {
        int report[2];
        if (::pipe(report) != 0) {
            throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
        }
        std::fflush(nullptr);
        const pid_t pid = ::fork();
        if (pid < 0) {
            throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
        }
        if (pid == 0) {
            ::close(report[0]);
            ::close(release[1]);
            for (std::size_t j = 0; j < k; ++j) {
                ::close(children[j].fd);
            }
            child(opt, shares[k], target, report[1], release[0]);
        }
        ::close(report[1]);
        children[k].pid = pid;
        children[k].fd = report[0];
    }
    ::close(release[0]);

    // Phase 1: every child has opened its share.
    long long opened = 0;
    for (auto& c : children) {
        auto line = read_line(c.fd, c.pending);
        c.opened = line ? json::parse(*line, nullptr, false) : json();
        if (c.opened.is_object() && c.opened.value("phase", "") == "opened") {
            opened += c.opened.value("opened", 0LL);
        }
    }
    const double open_s = seconds_since(t0);
    std::printf("hold: holding %lld of %d connections (opened in %.2f s); releasing in %.0f s\n", opened,
                opt.connections, open_s, opt.hold_s);
    std::fflush(stdout);
    {
        const auto until = Clock::now() + std::chrono::milliseconds(static_cast<long long>(opt.hold_s * 1000));
        while (Clock::now() < until) {
            const auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - Clock::now()).count();
            ::usleep(static_cast<useconds_t>(std::min<long long>(left, 200'000)));
        }
    }
    ::close(release[1]);  // every child sees the end of file at once

    // Phase 2: the final reports.
    long long alive = 0;
    const long long attempted = opt.connections;
    std::map<std::string, long long> open_failures;
    std::map<std::string, long long> check_failures;
    json per_process = json::array();
    double max_open_s = 0;
    double max_check_s = 0;
    for (auto& c : children) {
        if (c.opened.is_object() && c.opened.value("phase", "") == "opened") {
            auto line = read_line(c.fd, c.pending);
            c.done = line ? json::parse(*line, nullptr, false) : json();
        } else {
            c.done = c.opened;
        }
        ::close(c.fd);
        int status = 0;
        ::waitpid(c.pid, &status, 0);
        if (c.done.is_object() && c.done.value("phase", "") == "done") {
            alive += c.done.value("alive", 0LL);
            max_open_s = std::max(max_open_s, c.done.value("open_s", 0.0));
            max_check_s = std::max(max_check_s, c.done.value("check_s", 0.0));
            add_failures(open_failures, c.done["open_failures"]);
            add_failures(check_failures, c.done["check_failures"]);
            c.done.erase("phase");
            per_process.push_back(c.done);
        } else {
            const std::string why = c.done.is_object() && c.done.contains("error")
                                        ? c.done["error"].get<std::string>()
                                        : "child exited with status " + std::to_string(status);
            ++open_failures["process failed: " + why];
            per_process.push_back(json{{"error", why}});
        }
    }
    const double check_s = max_check_s;  // the slowest child's (the parent's clock also counts closing and exit)
    long long failed = 0;
    for (const auto& [k, v] : open_failures) {
        failed += v;
    }
    std::printf("\nhold: %lld connections attempted, %lld opened (GET /healthz 200) in %.2f s, %lld alive after %.0f s"
                " (checked in %.2f s)\n",
                attempted, opened, open_s, alive, opt.hold_s, check_s);
    std::printf("failures while opening: %s\n", failures_line(open_failures).c_str());
    std::printf("failures at the end:    %s\n", failures_line(check_failures).c_str());
    if (!opt.json.empty()) {
        json j{{"target", opt.target},
               {"connections", opt.connections},
               {"processes", opt.processes},
               {"concurrency", opt.concurrency},
               {"hold_s", opt.hold_s},
               {"descriptor_limit", static_cast<unsigned long long>(nofile)},
               {"source_addresses", sources},
               {"opened", opened},
               {"alive", alive},
               {"failed_to_open", failed},
               {"open_s", round3(open_s)},
               {"slowest_process_open_s", max_open_s},
               {"check_s", round3(check_s)},
               {"open_failures", open_failures},
               {"check_failures", check_failures},
               {"per_process", per_process}};
        std::ofstream out(opt.json, std::ios::trunc);
        out << j.dump(2) << '\n';
        if (!out) {
            std::fprintf(stderr, "hold: cannot write %s\n", opt.json.c_str());
            return 1;
        }
    }
    return alive == opt.connections ? 0 : 1;
}

}  // namespace om::load
