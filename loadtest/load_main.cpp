// openmarket-load: seed a server through its API, drive it at a fixed arrival rate, hold idle connections, audit
// the invariants.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include "audit.hpp"
#include "load.hpp"

namespace {

constexpr const char* kUsage = R"(openmarket-load: the OpenMarket load harness

  openmarket-load seed  --target URL [--buyers N (200)] [--products N (100)] [--stock N (1000000)]
                        [--sellers N (one per 50 products)] [--concurrency N (32)] [--out FIXTURE.json]
      Creates sellers, products, buyers with an approving card and an address through the API and writes the
      fixture a run needs (tokens, ids, search queries).

  openmarket-load run   --target URL --fixture FIXTURE.json --scenario order|browse|search|mixed
                        --rate R --duration SECONDS [--connections C (256)] [--warmup SECONDS (0)]
                        [--max] [--hot K] [--prefer-wait S] [--long-poll S (10)] [--poll-ms MS (20)]
                        [--timeout-ms MS (30000)]
                        [--max-in-flight N (100000)] [--json REPORT.json] [--quiet]
      Open loop at a fixed arrival rate: latency from each flow's intended send time. --max: closed loop,
      every connection sends its next flow as soon as the last one ended (a maximum, not a latency figure).
      Scenarios: order (GET the product, POST /order/process-order with a fresh Idempotency-Key, read the
      order until it settles), browse (GET /products/{id}), search (POST /products/search), mixed (60 %
      browse, 25 % search, 15 % order). --hot K sends 90 % of the orders to the first K products.
      --prefer-wait S: the POST says Prefer: wait=S (the buyer waits at most S seconds for the outcome; 0:
      answer once the order is durable, 202 while its saga runs); without it the server's bound applies.
      A pending order is read with Prefer: wait=S of --long-poll (the server answers when it settles, or after
      S seconds); --long-poll 0 polls with plain GETs. --poll-ms: the pause before reading it again.

  openmarket-load hold  --target URL --connections N [--hold SECONDS (10)] [--processes P (1)]
                        [--concurrency N (500)] [--timeout-ms MS (10000)] [--json REPORT.json]
      Opens N keep-alive connections (each sends one GET /healthz, then stays idle), holds them for --hold
      seconds, sends one more GET /healthz on each and reports how many were opened and are still alive, the
      failures by error and the time to open them. P child processes take N/P connections each (at most ~20,000
      descriptors per process here). On loopback, above 5,000 connections every 5,000 bind their own source
      address (127.0.0.2, 127.0.0.3, ...): the ephemeral ports of one address run short. --concurrency: connects
      in flight over all processes. Prints "hold: holding ..." once all are open. Exit 1 unless all N were
      opened and are alive at the end.

  openmarket-load cpu-speed [--duration SECONDS (10)] [--interval-ms MS (500)] [--json REPORT.json]
      How fast each CPU runs: every MS, a thread pinned to each CPU in turn times a fixed loop by its own CPU
      clock (the machine's other load does not lengthen it; a virtual CPU that its host shares does). Prints
      per CPU the median sample against the fastest seen and the share of samples slower than 1.5x the fastest.
      Run it beside a load run to tell a slower machine from a slower build.

  openmarket-load audit --database-url URL --redis-url URL [--wait SECONDS (30)] [--quiet]
      Checks the order path's invariants after a run (no oversell, ledger balanced, stock equal in PostgreSQL
      and Redis, every order settled, one payment per order, every ledger row with its parent row, no orphaned
      reservation); exit 1 on a violation.
)";

using Args = std::map<std::string, std::string>;

// --name value pairs and bare flags (--max, --quiet); anything else is an error.
bool parse(int argc, char** argv, Args& out, const std::map<std::string, bool>& known) {
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto it = known.find(a);
        if (it == known.end()) {
            std::fprintf(stderr, "unknown option %s\n\n%s", a.c_str(), kUsage);
            return false;
        }
        if (!it->second) {
            out[a] = "1";
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "%s needs a value\n", a.c_str());
            return false;
        }
        out[a] = argv[++i];
    }
    return true;
}

long long integer(const Args& a, const std::string& k, long long fallback) {
    auto it = a.find(k);
    if (it == a.end()) {
        return fallback;
    }
    std::size_t used = 0;
    long long v = std::stoll(it->second, &used);
    if (used != it->second.size()) {
        throw std::invalid_argument(k + " must be an integer");
    }
    return v;
}

double number(const Args& a, const std::string& k, double fallback) {
    auto it = a.find(k);
    if (it == a.end()) {
        return fallback;
    }
    std::size_t used = 0;
    double v = std::stod(it->second, &used);
    if (used != it->second.size()) {
        throw std::invalid_argument(k + " must be a number");
    }
    return v;
}

std::string text(const Args& a, const std::string& k, std::string fallback) {
    auto it = a.find(k);
    return it == a.end() ? fallback : it->second;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const std::string cmd = argv[1];
    Args a;
    try {
        if (cmd == "seed") {
            if (!parse(argc, argv, a,
                       {{"--target", true}, {"--buyers", true}, {"--products", true}, {"--stock", true},
                        {"--sellers", true}, {"--concurrency", true}, {"--out", true}})) {
                return 2;
            }
            om::load::SeedOptions o;
            o.target = text(a, "--target", o.target);
            o.buyers = static_cast<int>(integer(a, "--buyers", o.buyers));
            o.products = static_cast<int>(integer(a, "--products", o.products));
            o.stock = integer(a, "--stock", o.stock);
            o.sellers = static_cast<int>(integer(a, "--sellers", o.sellers));
            o.concurrency = static_cast<int>(integer(a, "--concurrency", o.concurrency));
            o.out = text(a, "--out", o.out);
            return om::load::run_seed(o);
        }
        if (cmd == "run") {
            if (!parse(argc, argv, a,
                       {{"--target", true}, {"--fixture", true}, {"--scenario", true}, {"--rate", true},
                        {"--duration", true}, {"--connections", true}, {"--warmup", true}, {"--max", false},
                        {"--hot", true}, {"--prefer-wait", true}, {"--long-poll", true}, {"--poll-ms", true}, {"--timeout-ms", true}, {"--max-in-flight", true},
                        {"--json", true}, {"--quiet", false}})) {
                return 2;
            }
            om::load::RunOptions o;
            o.target = text(a, "--target", o.target);
            o.fixture = text(a, "--fixture", o.fixture);
            o.scenario = text(a, "--scenario", o.scenario);
            o.max = a.contains("--max");
            if (!o.max && !a.contains("--rate")) {
                std::fprintf(stderr, "run: --rate R (or --max) is required\n");
                return 2;
            }
            o.rate = number(a, "--rate", o.rate);
            o.duration_s = number(a, "--duration", o.duration_s);
            o.connections = static_cast<int>(integer(a, "--connections", o.connections));
            o.warmup_s = number(a, "--warmup", o.warmup_s);
            o.hot = static_cast<int>(integer(a, "--hot", o.hot));
            o.prefer_wait_s = static_cast<int>(integer(a, "--prefer-wait", o.prefer_wait_s));
            o.long_poll_s = static_cast<int>(integer(a, "--long-poll", o.long_poll_s));
            o.poll_ms = static_cast<int>(integer(a, "--poll-ms", o.poll_ms));
            o.timeout_ms = static_cast<int>(integer(a, "--timeout-ms", o.timeout_ms));
            o.max_in_flight = integer(a, "--max-in-flight", o.max_in_flight);
            o.json = text(a, "--json", o.json);
            o.quiet = a.contains("--quiet");
            return om::load::run_load(o);
        }
        if (cmd == "hold") {
            if (!parse(argc, argv, a,
                       {{"--target", true}, {"--connections", true}, {"--hold", true}, {"--processes", true},
                        {"--concurrency", true}, {"--timeout-ms", true}, {"--json", true}})) {
                return 2;
            }
            om::load::HoldOptions o;
            o.target = text(a, "--target", o.target);
            if (!a.contains("--connections")) {
                std::fprintf(stderr, "hold: --connections N is required\n");
                return 2;
            }
            o.connections = static_cast<int>(integer(a, "--connections", o.connections));
            o.hold_s = number(a, "--hold", o.hold_s);
            o.processes = static_cast<int>(integer(a, "--processes", o.processes));
            o.concurrency = static_cast<int>(integer(a, "--concurrency", o.concurrency));
            o.timeout_ms = static_cast<int>(integer(a, "--timeout-ms", o.timeout_ms));
            o.json = text(a, "--json", o.json);
            return om::load::run_hold(o);
        }
        if (cmd == "cpu-speed") {
            if (!parse(argc, argv, a, {{"--duration", true}, {"--interval-ms", true}, {"--json", true}})) {
                return 2;
            }
            om::load::CpuSpeedOptions o;
            o.duration_s = number(a, "--duration", o.duration_s);
            o.interval_ms = static_cast<int>(integer(a, "--interval-ms", o.interval_ms));
            o.json = text(a, "--json", o.json);
            return om::load::run_cpu_speed(o);
        }
        if (cmd == "audit") {
            if (!parse(argc, argv, a,
                       {{"--database-url", true}, {"--redis-url", true}, {"--wait", true}, {"--quiet", false}})) {
                return 2;
            }
            om::load::AuditOptions o;
            o.database_url = text(a, "--database-url", "");
            o.redis_url = text(a, "--redis-url", "");
            if (o.database_url.empty() || o.redis_url.empty()) {
                std::fprintf(stderr, "audit: --database-url and --redis-url are required\n");
                return 2;
            }
            o.settle_wait_s = static_cast<int>(integer(a, "--wait", o.settle_wait_s));
            o.quiet = a.contains("--quiet");
            return om::load::run_audit(o);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "openmarket-load %s: %s\n", cmd.c_str(), e.what());
        return 2;
    }
    std::fprintf(stderr, "unknown command %s\n\n%s", cmd.c_str(), kUsage);
    return 2;
}
