// openmarket-load run: open-loop (fixed arrival rate) or closed-loop load of one scenario.
//
// Open loop: flow i is due at start + i/rate whatever happened to earlier flows; its main request's latency is
// measured from that intended time, so time spent waiting for a free connection or behind a slow server counts
// (no coordinated omission). Every request is also recorded from its own send time, by kind ("steps").
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <stdexcept>

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "client.hpp"
#include "load.hpp"
#include "stats.hpp"

namespace om::load {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t micros(Clock::duration d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); }

bool settled(const std::string& status) {
    return status == "CONFIRMED" || status == "SHIPPED" || status == "DELIVERED" || status == "CANCELLED";
}

// The string value of a top-level `key` of an order's JSON, found by scanning (ids and statuses hold no escapes);
// the document is parsed only when the scan does not find it. The generator reads two fields of every answer
// and shares the cores with the server: a whole parse per answer was a measurable part of its CPU.
std::string string_field(const std::string& body, std::string_view key) {
    const std::string quoted = "\"" + std::string(key) + "\"";
    auto at = body.find(quoted);
    if (at != std::string::npos) {
        at += quoted.size();
        while (at < body.size() && (body[at] == ' ' || body[at] == ':')) {
            ++at;
        }
        if (at < body.size() && body[at] == '"') {
            const auto end = body.find_first_of("\"\\", at + 1);
            if (end != std::string::npos && body[end] == '"') {
                return body.substr(at + 1, end - at - 1);
            }
        }
    }
    const json doc = json::parse(body, nullptr, false);
    return doc.is_object() ? doc.value(std::string(key), "") : "";
}

// "201", "409 OUT_OF_STOCK" (the problem's code when there is one), "transport: …", "timeout".
std::string status_key(const HttpResult& r) {
    if (r.status == 0) {
        return r.error == "timeout" ? "timeout" : "transport: " + r.error;
    }
    std::string key = std::to_string(r.status);
    if (r.status >= 400) {
        json p = json::parse(r.body, nullptr, false);
        if (p.is_object() && p.contains("code") && p["code"].is_string()) {
            key += " " + p["code"].get<std::string>();
        }
    }
    return key;
}

struct Runner {
    asio::io_context& io;
    Pool& pool;
    const RunOptions& opt;
    const Fixture& fx;
    Clock::time_point start{};
    Clock::time_point measure_from{};
    Clock::time_point end{};
    RunStats stats;
    std::int64_t in_flight = 0;
    std::int64_t done_total = 0;
    std::int64_t done_last = 0;
    std::int64_t window_max = 0;  // the slowest main request of the current second
    bool arrivals_done = false;
    std::uint64_t seq = 0;
    std::string key_prefix;
    std::mt19937_64 rng{std::random_device{}()};

    std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }

    const Product& pick_product() {
        const auto n = fx.products.size();
        if (opt.hot > 0 && static_cast<std::size_t>(opt.hot) < n && pick(100) < 90) {
            return fx.products[pick(static_cast<std::size_t>(opt.hot))];
        }
        if (opt.hot > 0 && static_cast<std::size_t>(opt.hot) >= n) {
            return fx.products[pick(std::min(n, static_cast<std::size_t>(opt.hot)))];
        }
        return fx.products[pick(n)];
    }

    void step(bool rec, const char* kind, const HttpResult& r) {
        if (rec && r.status != 0) {
            stats.steps[kind].record(micros(r.answered - r.sent));
        }
    }

    // The flow's first request was written at r.sent.
    void started_at(bool rec, Clock::time_point intended, const HttpResult& r) {
        if (rec && r.status != 0) {
            stats.start_lag.record(micros(r.sent - intended));
        }
    }

    // The flow's outcome from its main request.
    void outcome(bool rec, Clock::time_point intended, const HttpResult& r, bool ok) {
        if (!rec) {
            return;
        }
        ++stats.by_status[status_key(r)];
        if (r.status != 0) {
            const auto us = micros(r.answered - intended);
            stats.latency.record(us);
            window_max = std::max(window_max, us);
        }
        if (ok) {
            ++stats.succeeded;
        } else if (r.status == 409 && status_key(r) == "409 OUT_OF_STOCK") {
            ++stats.refused;
        } else {
            ++stats.errors;
        }
    }

    asio::awaitable<void> browse(Clock::time_point intended, bool rec) {
        HttpRequest req{.method = "GET", .target = "/products/" + fx.products[pick(fx.products.size())].id};
        HttpResult r = co_await pool.send(std::move(req));
        started_at(rec, intended, r);
        step(rec, "GET /products/{id}", r);
        outcome(rec, intended, r, r.status == 200);
    }

    asio::awaitable<void> search(Clock::time_point intended, bool rec) {
        HttpRequest req{.method = "POST", .target = "/products/search", .body = fx.queries[pick(fx.queries.size())]};
        HttpResult r = co_await pool.send(std::move(req));
        started_at(rec, intended, r);
        step(rec, "POST /products/search", r);
        outcome(rec, intended, r, r.status == 200);
    }

    // The buyer's flow: look at the product, buy one, wait until the order has settled.
    asio::awaitable<void> order(Clock::time_point intended, bool rec) {
        const Buyer& b = fx.buyers[pick(fx.buyers.size())];
        const Product& p = pick_product();
        HttpRequest look{.method = "GET", .target = "/products/" + p.id};
        HttpResult seen = co_await pool.send(std::move(look));
        started_at(rec, intended, seen);
        step(rec, "GET /products/{id}", seen);
        if (seen.status != 200) {
            outcome(rec, intended, seen, false);
            co_return;
        }
        // Ids are UUIDs: nothing to escape.
        std::string body = R"({"items":[{"productId":")" + p.id + R"(","quantity":1}],"paymentMethodId":")" +
                           b.method_id + R"(","addressId":")" + b.address_id + R"("})";
        HttpRequest buy{.method = "POST",
                        .target = "/order/process-order",
                        .body = std::move(body),
                        .token = b.access_token,
                        .idempotency_key = key_prefix + std::to_string(++seq),
                        .prefer = opt.prefer_wait_s >= 0 ? "wait=" + std::to_string(opt.prefer_wait_s) : ""};
        HttpResult placed = co_await pool.send(std::move(buy));
        step(rec, "POST /order/process-order", placed);
        const bool accepted = placed.status == 201 || placed.status == 202;
        if (!accepted) {
            outcome(rec, intended, placed, false);
            co_return;
        }
        std::string id = string_field(placed.body, "orderId");
        std::string status = string_field(placed.body, "status");
        if (id.empty()) {
            placed.status = 0;
            placed.error = "order response without orderId";
            outcome(rec, intended, placed, false);
            co_return;
        }
        outcome(rec, intended, placed, true);
        Clock::time_point settled_at = placed.answered;
        const auto give_up = placed.answered + std::chrono::milliseconds(opt.timeout_ms);
        asio::steady_timer timer(io);
        // A long poll is sent at once; a plain GET, and a long poll answered still pending, after a pause.
        bool pause = opt.long_poll_s <= 0;
        while (!settled(status)) {
            const auto now = Clock::now();
            if (now >= give_up) {
                if (rec) {
                    ++stats.by_status["settle timeout"];
                    --stats.succeeded;
                    ++stats.errors;
                }
                co_return;
            }
            if (pause) {
                timer.expires_after(std::chrono::milliseconds(opt.poll_ms));
                co_await timer.async_wait(asio::use_awaitable);
            }
            pause = true;
            HttpRequest poll{.method = "GET", .target = "/order/orders/" + id, .token = b.access_token};
            if (opt.long_poll_s > 0) {
                const auto left = std::chrono::duration_cast<std::chrono::seconds>(give_up - now).count();
                poll.prefer = "wait=" + std::to_string(std::max<long long>(1, std::min<long long>(opt.long_poll_s, left)));
            }
            HttpResult r = co_await pool.send(std::move(poll));
            step(rec, opt.long_poll_s > 0 ? "GET /order/orders/{id} (long poll)" : "GET /order/orders/{id}", r);
            if (r.status == 200) {
                status = string_field(r.body, "status");
                settled_at = r.answered;
            }
        }
        if (rec) {
            stats.settle.record(micros(settled_at - intended));
            ++stats.settled_by_status[status];
        }
    }

    asio::awaitable<void> flow(Clock::time_point intended) {
        const bool rec = intended >= measure_from;
        if (rec) {
            ++stats.started;
        }
        ++in_flight;
        try {
            const std::string& s = opt.scenario;
            std::size_t dice = s == "mixed" ? pick(100) : 0;
            if (s == "browse" || (s == "mixed" && dice < 60)) {
                co_await browse(intended, rec);
            } else if (s == "search" || (s == "mixed" && dice < 85)) {
                co_await search(intended, rec);
            } else {
                co_await order(intended, rec);
            }
        } catch (const std::exception& e) {
            if (rec) {
                ++stats.errors;
                ++stats.by_status[std::string("client: ") + e.what()];
            }
        }
        --in_flight;
        ++done_total;
    }

    asio::awaitable<void> open_loop() {
        asio::steady_timer timer(io);
        const double period_ns = 1e9 / opt.rate;
        std::uint64_t i = 0;
        for (;;) {
            const auto now = Clock::now();
            for (;;) {
                const auto due = start + std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(i) * period_ns));
                if (due >= end) {
                    arrivals_done = true;
                    co_return;
                }
                if (due > now) {
                    timer.expires_at(due);
                    break;
                }
                ++i;
                if (in_flight >= opt.max_in_flight) {
                    if (due >= measure_from) {
                        ++stats.started;
                        ++stats.errors;
                        ++stats.by_status["dropped: client over --max-in-flight"];
                    }
                    continue;
                }
                asio::co_spawn(io, flow(due), asio::detached);
            }
            co_await timer.async_wait(asio::use_awaitable);
        }
    }

    asio::awaitable<void> closed_loop_worker() {
        while (Clock::now() < end) {
            co_await flow(Clock::now());
        }
    }

    asio::awaitable<void> closed_loop() {
        asio::steady_timer timer(io);
        for (int c = 0; c < opt.connections; ++c) {
            asio::co_spawn(io, closed_loop_worker(), asio::detached);
        }
        timer.expires_at(end);
        co_await timer.async_wait(asio::use_awaitable);
        arrivals_done = true;
    }

    asio::awaitable<void> progress() {
        asio::steady_timer timer(io);
        auto tick = start;
        const auto drain_deadline = end + std::chrono::milliseconds(opt.timeout_ms) * 2 + std::chrono::seconds(5);
        for (;;) {
            tick += std::chrono::seconds(1);
            timer.expires_at(tick);
            co_await timer.async_wait(asio::use_awaitable);
            const auto now = Clock::now();
            if (!opt.quiet) {
                const double t = std::chrono::duration<double>(now - start).count();
                std::printf("[%5.0fs] %s done %" PRId64 "/s  in flight %" PRId64 "  waiting for a connection %zu  "
                            "errors %" PRId64 "  refused %" PRId64 "  p50 %.2f ms  p99 %.2f ms  (max this second %.1f ms)\n",
                            t, now < measure_from ? "warm-up" : "", done_total - done_last, in_flight,
                            pool.waiting(), stats.errors, stats.refused,
                            static_cast<double>(stats.latency.percentile(50)) / 1000.0,
                            static_cast<double>(stats.latency.percentile(99)) / 1000.0,
                            static_cast<double>(window_max) / 1000.0);
                std::fflush(stdout);
            }
            done_last = done_total;
            window_max = 0;
            if ((arrivals_done && in_flight == 0) || now > drain_deadline) {
                if (in_flight > 0) {
                    stats.errors += in_flight;
                    stats.by_status["unfinished at the end"] += in_flight;
                }
                pool.close();
                io.stop();
                co_return;
            }
        }
    }
};

// Access tokens live an hour: older fixtures get fresh ones (and the file is rewritten with them).
void refresh_tokens(asio::io_context& io, Pool& pool, Fixture& fx, const std::string& path) {
    std::string error;
    std::size_t next = 0;
    for (int w = 0; w < 16; ++w) {
        auto worker = [&]() -> asio::awaitable<void> {
            while (error.empty() && next < fx.buyers.size()) {
                Buyer& b = fx.buyers[next++];
                HttpRequest r{.method = "POST",
                              .target = "/member/token/refresh",
                              .body = json{{"refreshToken", b.refresh_token}}.dump()};
                HttpResult res = co_await pool.send(std::move(r));
                if (res.status != 200) {
                    error = "token refresh for " + b.email + ": " + status_key(res);
                    co_return;
                }
                json j = json::parse(res.body);
                b.access_token = j.at("accessToken").get<std::string>();
                b.refresh_token = j.at("refreshToken").get<std::string>();
            }
        };
        asio::co_spawn(io, worker, asio::detached);
    }
    io.run();
    io.restart();
    if (!error.empty()) {
        throw std::runtime_error(error + " (seed again)");
    }
    fx.created_at_s = std::time(nullptr);
    fx.save(path);
    std::printf("run: refreshed %zu access tokens\n", fx.buyers.size());
}

}  // namespace

int run_load(const RunOptions& opt) {
    const std::string& s = opt.scenario;
    if (s != "order" && s != "browse" && s != "search" && s != "mixed") {
        std::fprintf(stderr, "run: --scenario must be order, browse, search or mixed\n");
        return 2;
    }
    if ((!opt.max && !(opt.rate > 0)) || !(opt.duration_s > 0) || opt.warmup_s < 0 || opt.connections < 1 ||
        opt.poll_ms < 1 || opt.timeout_ms < 1 || opt.prefer_wait_s < -1 || opt.long_poll_s < 0) {
        std::fprintf(stderr, "run: --rate and --duration must be > 0, --connections >= 1, --poll-ms and "
                             "--timeout-ms >= 1, --prefer-wait and --long-poll >= 0\n");
        return 2;
    }
    Fixture fx = Fixture::load(opt.fixture);
    asio::io_context io(1);
    Pool pool(io, parse_target(opt.target), opt.connections, std::chrono::milliseconds(opt.timeout_ms));
    if (std::time(nullptr) - fx.created_at_s > 45 * 60) {
        refresh_tokens(io, pool, fx, opt.fixture);
    }
    Runner r{io, pool, opt, fx};
    r.key_prefix = "load-" + std::to_string(getpid()) + "-" + std::to_string(std::time(nullptr)) + "-";
    std::printf("run: scenario %s, %s, %.0f s (+ %.0f s warm-up), %d connections%s, target %s\n", s.c_str(),
                opt.max ? "closed loop (--max)" : ("open loop at " + std::to_string(opt.rate) + "/s").c_str(),
                opt.duration_s, opt.warmup_s, opt.connections,
                opt.hot > 0 ? (", --hot " + std::to_string(opt.hot)).c_str() : "", opt.target.c_str());
    std::fflush(stdout);
    r.start = Clock::now();
    r.measure_from = r.start + std::chrono::milliseconds(static_cast<std::int64_t>(opt.warmup_s * 1000));
    r.end = r.measure_from + std::chrono::milliseconds(static_cast<std::int64_t>(opt.duration_s * 1000));
    if (opt.max) {
        asio::co_spawn(io, r.closed_loop(), asio::detached);
    } else {
        asio::co_spawn(io, r.open_loop(), asio::detached);
    }
    asio::co_spawn(io, r.progress(), asio::detached);
    io.run();

    const RunStats& st = r.stats;
    const double throughput = static_cast<double>(st.succeeded) / opt.duration_s;
    const char* main_request = s == "order"    ? "POST /order/process-order"
                               : s == "browse" ? "GET /products/{id}"
                               : s == "search" ? "POST /products/search"
                                               : "the flow's request";
    std::printf("\n%s: %" PRId64 " flows, %" PRId64 " succeeded, %" PRId64 " refused (409 OUT_OF_STOCK), %" PRId64
                " errors\n",
                s.c_str(), st.started, st.succeeded, st.refused, st.errors);
    std::printf("throughput  %.1f/s (succeeded ÷ %.0f s)\n", throughput, opt.duration_s);
    std::printf("latency     %s  [%s, from the intended send time]\n", st.latency.summary_line().c_str(), main_request);
    if (st.settle.count() > 0) {
        std::printf("settled     %s  [intended send time → order settled]\n", st.settle.summary_line().c_str());
    }
    if (st.start_lag.count() > 0) {
        std::printf("start lag   %s  [intended send time → first request written: the generator's own delay]\n",
                    st.start_lag.summary_line().c_str());
    }
    for (const auto& [kind, h] : st.steps) {
        std::printf("  %-28s %s\n", kind.c_str(), h.summary_line().c_str());
    }
    std::printf("by status  ");
    for (const auto& [k, v] : st.by_status) {
        std::printf(" %s: %" PRId64 ";", k.c_str(), v);
    }
    std::printf("\n");
    if (!st.settled_by_status.empty()) {
        std::printf("settled as ");
        for (const auto& [k, v] : st.settled_by_status) {
            std::printf(" %s: %" PRId64 ";", k.c_str(), v);
        }
        std::printf("\n");
    }
    if (!opt.json.empty()) {
        json j{{"scenario", s},
               {"target_rate", opt.max ? json(nullptr) : json(opt.rate)},
               {"closed_loop", opt.max},
               {"duration_s", opt.duration_s},
               {"warmup_s", opt.warmup_s},
               {"connections", opt.connections},
               {"hot", opt.hot},
               {"requests", st.started},
               {"succeeded", st.succeeded},
               {"refused", st.refused},
               {"throughput_per_s", std::round(throughput * 10) / 10},
               {"errors", st.errors},
               {"latency_ms", st.latency.summary_ms()},
               {"by_status", st.by_status}};
        if (st.start_lag.count() > 0) {
            j["start_lag_ms"] = st.start_lag.summary_ms();
        }
        if (st.settle.count() > 0) {
            j["settle_ms"] = st.settle.summary_ms();
            j["settled_by_status"] = st.settled_by_status;
        }
        for (const auto& [kind, h] : st.steps) {
            j["steps"][kind] = h.summary_ms();
        }
        std::ofstream out(opt.json, std::ios::trunc);
        out << j.dump(2) << '\n';
        if (!out) {
            std::fprintf(stderr, "run: cannot write %s\n", opt.json.c_str());
            return 1;
        }
    }
    return 0;
}

}  // namespace om::load
