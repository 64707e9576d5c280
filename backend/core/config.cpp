#include "core/config.hpp"

#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace om {

namespace {

struct Option {
    const char* name;  // long option / config key
    const char* env;   // environment variable
    const char* help;
};

constexpr Option options[] = {
    {"listen", "OPENMARKET_LISTEN", "HOST:PORT to listen on (default 127.0.0.1:8080)"},
    {"shards", "OPENMARKET_SHARDS", "number of shards (threads with their own event loop); 0 = one per core"},
    {"background-shard", "OPENMARKET_BACKGROUND_SHARD",
     "1: the saga's consumers, the outbox relays and the maintenance loops run on a shard of their own, which serves no "
     "HTTP; 0: on the HTTP shards (default 1)"},
    {"background-nice", "OPENMARKET_BACKGROUND_NICE",
     "niceness of the background shard's thread, 0-19: while the CPUs are busy, requests go first (default 10)"},
    {"database-url", "OPENMARKET_DATABASE_URL", "libpq URI, e.g. postgresql://user@127.0.0.1:5432/openmarket"},
    {"redis-url", "OPENMARKET_REDIS_URL", "redis://[:password@]host[:port][/db] or unix://[:password@]/path/to/redis.sock[?db=N]"},
    {"body-limit", "OPENMARKET_BODY_LIMIT", "maximum request body in bytes (default 1048576)"},
    {"read-timeout-ms", "OPENMARKET_READ_TIMEOUT_MS", "time allowed to receive one request (default 15000)"},
    {"idle-timeout-ms", "OPENMARKET_IDLE_TIMEOUT_MS", "keep-alive idle timeout (default 60000)"},
    {"shutdown-deadline-ms", "OPENMARKET_SHUTDOWN_DEADLINE_MS", "graceful shutdown deadline (default 10000)"},
    {"max-connections", "OPENMARKET_MAX_CONNECTIONS", "open connections per shard before new ones are refused (default 10000)"},
    {"pg-pool-size", "OPENMARKET_PG_POOL_SIZE", "PostgreSQL connections per shard (default 4)"},
    {"cpu-threads", "OPENMARKET_CPU_THREADS", "threads for password hashing (default 2)"},
    {"access-token-ttl", "OPENMARKET_ACCESS_TOKEN_TTL", "access token lifetime in seconds (default 3600)"},
    {"session-cache-ms", "OPENMARKET_SESSION_CACHE_MS",
     "how long a shard reuses a session it read from Redis (default 1000, 0: never); see docs/architecture.md (a)"},
    {"refresh-token-ttl", "OPENMARKET_REFRESH_TOKEN_TTL", "refresh token lifetime in seconds (default 2592000)"},
    {"payment-gateway-url", "OPENMARKET_PAYMENT_GATEWAY_URL",
     "http://HOST:PORT of the payment gateway; empty = the built-in test gateway (default empty)"},
    {"payment-gateway-timeout-ms", "OPENMARKET_PAYMENT_GATEWAY_TIMEOUT_MS", "timeout of one gateway call (default 2000)"},
    {"payment-gateway-retries", "OPENMARKET_PAYMENT_GATEWAY_RETRIES",
     "retries of a timed-out or unavailable gateway call, same idempotency key (default 2)"},
    {"payment-breaker-failures", "OPENMARKET_PAYMENT_BREAKER_FAILURES",
     "consecutive gateway failures that open the circuit breaker (default 5)"},
    {"payment-breaker-cooldown-ms", "OPENMARKET_PAYMENT_BREAKER_COOLDOWN_MS",
     "how long an open breaker fails fast before a trial call (default 5000)"},
    {"payment-gateway-latency-ms", "OPENMARKET_PAYMENT_GATEWAY_LATENCY_MS", "test gateway: delay of every answer (default 0)"},
    {"payment-gateway-error-rate", "OPENMARKET_PAYMENT_GATEWAY_ERROR_RATE",
     "test gateway: share of calls answered with a transient error, 0 to 1 (default 0)"},
    {"log-level", "OPENMARKET_LOG_LEVEL", "trace|debug|info|warn|error (default info)"},
    {"access-log", "OPENMARKET_ACCESS_LOG", "1 to write one JSON line per request (default 1)"},
    {"carrier-webhook-secret", "OPENMARKET_CARRIER_WEBHOOK_SECRET",
     "HMAC-SHA256 secret of POST /delivery/carrier-events (default: none, every event is refused)"},
    {"courier-simulator", "OPENMARKET_COURIER_SIMULATOR", "1 to move SHIPPED deliveries along by themselves (default 0)"},
    {"courier-interval-ms", "OPENMARKET_COURIER_INTERVAL_MS", "how long the courier simulator leaves a delivery in a state (default 10000)"},
    {"order-settle-wait-ms", "OPENMARKET_ORDER_SETTLE_WAIT_MS",
     "how long POST /order/process-order waits for the order to settle before answering 202 (default 2000)"},
    {"order-reservation-ttl-ms", "OPENMARKET_ORDER_RESERVATION_TTL_MS",
     "age after which a stock reservation can no longer become an order; the sweeper releases it (default 10000)"},
    {"order-resume-after-ms", "OPENMARKET_ORDER_RESUME_AFTER_MS",
     "an order that stayed this long unsettled has its saga restarted (default 30000)"},
    {"order-linger-ms", "OPENMARKET_ORDER_LINGER_MS",
     "while orders keep coming, how long a group commit waits at most for more to batch (default 5)"},
    {"saga-linger-ms", "OPENMARKET_SAGA_LINGER_MS",
     "the same for each of the saga's steps (payment, delivery, order events; default 100, 0-1000)"},
    {"order-linger-full-rate", "OPENMARKET_ORDER_LINGER_FULL_RATE",
     "orders a second (per process) from which the whole linger applies; below, in proportion (default 1000, 0: always)"},
    {"order-queue-max", "OPENMARKET_ORDER_QUEUE_MAX",
     "new orders that may wait for the group commit at a time, per process; more answer 503 (default 4096)"},
    {"order-approval-defer-ms", "OPENMARKET_ORDER_APPROVAL_DEFER_MS",
     "how long a payment approval waits for the delivery that confirms the order with it (default 500, 0: off)"},
    {"config", "OPENMARKET_CONFIG", "configuration file with key = value lines"},
    {"migrations-dir", "OPENMARKET_MIGRATIONS_DIR", "folder of NNNN_name.sql migrations (migrate command)"},
};

const Option* find_option(std::string_view name) {
    for (const auto& o : options) {
        if (name == o.name) {
            return &o;
        }
    }
    return nullptr;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

std::optional<long long> to_int(std::string_view s) {
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

Error bad(std::string msg) { return Error{ErrorCode::validation_failed, std::move(msg)}; }

std::optional<Error> apply(Config& c, CliResult& r, std::string_view key, std::string_view value) {
    auto int_in = [&](long long lo, long long hi) -> std::optional<long long> {
        auto v = to_int(value);
        if (!v || *v < lo || *v > hi) {
            return std::nullopt;
        }
        return v;
    };
    auto range_error = [&](long long lo, long long hi) {
        return bad(std::string(key) + ": expected an integer between " + std::to_string(lo) + " and " +
                   std::to_string(hi) + ", got '" + std::string(value) + "'");
    };
    if (key == "listen") {
        const auto colon = value.rfind(':');
        if (colon == std::string_view::npos) {
            return bad("listen: expected HOST:PORT, got '" + std::string(value) + "'");
        }
        auto port = to_int(value.substr(colon + 1));
        if (!port || *port < 0 || *port > 65535) {
            return bad("listen: invalid port in '" + std::string(value) + "'");
        }
        std::string host(value.substr(0, colon));
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
            host = host.substr(1, host.size() - 2);
        } else if (host.find(':') != std::string::npos) {
            return bad("listen: write an IPv6 address in brackets, e.g. [::1]:8080");
        }
        c.listen_host = host.empty() ? "0.0.0.0" : host;
        c.listen_port = static_cast<int>(*port);
    } else if (key == "background-shard") {
        if (value != "0" && value != "1" && value != "true" && value != "false") {
            return bad("background-shard: expected 0 or 1");
        }
        c.background_shard = value == "1" || value == "true";
    } else if (key == "background-nice") {
        auto v = int_in(0, 19);
        if (!v) { return range_error(0, 19); }
        c.background_nice = static_cast<int>(*v);
    } else if (key == "shards") {
        auto v = int_in(0, 256);
        if (!v) { return range_error(0, 256); }
        c.shards = static_cast<int>(*v);
    } else if (key == "database-url") {
        if (value.empty()) { return bad("database-url: must not be empty"); }
        c.database_url = value;
    } else if (key == "redis-url") {
        if (!value.starts_with("redis://") && !value.starts_with("unix://")) {
            return bad("redis-url: expected redis://host:port/db or unix:///path/to/redis.sock?db=N");
        }
        c.redis_url = value;
    } else if (key == "body-limit") {
        auto v = int_in(1024, 1LL << 30);
        if (!v) { return range_error(1024, 1LL << 30); }
        c.body_limit = static_cast<std::size_t>(*v);
    } else if (key == "read-timeout-ms") {
        auto v = int_in(10, 3'600'000);
        if (!v) { return range_error(10, 3'600'000); }
        c.read_timeout = std::chrono::milliseconds(*v);
    } else if (key == "idle-timeout-ms") {
        auto v = int_in(10, 3'600'000);
        if (!v) { return range_error(10, 3'600'000); }
        c.idle_timeout = std::chrono::milliseconds(*v);
    } else if (key == "shutdown-deadline-ms") {
        auto v = int_in(0, 600'000);
        if (!v) { return range_error(0, 600'000); }
        c.shutdown_deadline = std::chrono::milliseconds(*v);
    } else if (key == "max-connections") {
        auto v = int_in(1, 1'000'000);
        if (!v) { return range_error(1, 1'000'000); }
        c.max_connections_per_shard = static_cast<int>(*v);
    } else if (key == "pg-pool-size") {
        auto v = int_in(1, 100);
        if (!v) { return range_error(1, 100); }
        c.pg_pool_size = static_cast<int>(*v);
    } else if (key == "cpu-threads") {
        auto v = int_in(1, 64);
        if (!v) { return range_error(1, 64); }
        c.cpu_threads = static_cast<int>(*v);
    } else if (key == "access-token-ttl") {
        auto v = int_in(10, 7LL * 24 * 3600);
        if (!v) { return range_error(10, 7LL * 24 * 3600); }
        c.access_token_ttl = std::chrono::seconds(*v);
    } else if (key == "session-cache-ms") {
        auto v = int_in(0, 60000);
        if (!v) { return range_error(0, 60000); }
        c.session_cache = std::chrono::milliseconds(*v);
    } else if (key == "refresh-token-ttl") {
        auto v = int_in(60, 365LL * 24 * 3600);
        if (!v) { return range_error(60, 365LL * 24 * 3600); }
        c.refresh_token_ttl = std::chrono::seconds(*v);
    } else if (key == "payment-gateway-url") {
        if (!value.empty() && !value.starts_with("http://")) {
            return bad("payment-gateway-url: expected http://HOST:PORT or empty");
        }
        c.payment_gateway_url = value;
    } else if (key == "payment-gateway-timeout-ms") {
        auto v = int_in(1, 600'000);
        if (!v) { return range_error(1, 600'000); }
        c.payment_gateway_timeout = std::chrono::milliseconds(*v);
    } else if (key == "payment-gateway-retries") {
        auto v = int_in(0, 10);
        if (!v) { return range_error(0, 10); }
        c.payment_gateway_retries = static_cast<int>(*v);
    } else if (key == "payment-breaker-failures") {
        auto v = int_in(1, 1000);
        if (!v) { return range_error(1, 1000); }
        c.payment_breaker_failures = static_cast<int>(*v);
    } else if (key == "payment-breaker-cooldown-ms") {
        auto v = int_in(1, 3'600'000);
        if (!v) { return range_error(1, 3'600'000); }
        c.payment_breaker_cooldown = std::chrono::milliseconds(*v);
    } else if (key == "payment-gateway-latency-ms") {
        auto v = int_in(0, 600'000);
        if (!v) { return range_error(0, 600'000); }
        c.payment_gateway_latency_ms = static_cast<long>(*v);
    } else if (key == "payment-gateway-error-rate") {
        std::size_t used = 0;
        double rate = -1;
        try {
            rate = std::stod(std::string(value), &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != value.size() || value.empty() || !(rate >= 0.0 && rate <= 1.0)) {
            return bad("payment-gateway-error-rate: expected a number between 0 and 1, got '" + std::string(value) + "'");
        }
        c.payment_gateway_error_rate = rate;
    } else if (key == "log-level") {
        if (value != "trace" && value != "debug" && value != "info" && value != "warn" && value != "error") {
            return bad("log-level: expected trace|debug|info|warn|error");
        }
        c.log_level = value;
    } else if (key == "access-log") {
        if (value != "0" && value != "1" && value != "true" && value != "false") {
            return bad("access-log: expected 0 or 1");
        }
        c.access_log = value == "1" || value == "true";
    } else if (key == "carrier-webhook-secret") {
        if (!value.empty() && value.size() < 16) {
            return bad("carrier-webhook-secret: use at least 16 characters (or none to refuse carrier events)");
        }
        c.carrier_webhook_secret = value;
    } else if (key == "courier-simulator") {
        if (value != "0" && value != "1" && value != "true" && value != "false") {
            return bad("courier-simulator: expected 0 or 1");
        }
        c.courier_simulator = value == "1" || value == "true";
    } else if (key == "courier-interval-ms") {
        auto v = int_in(50, 86'400'000);
        if (!v) { return range_error(50, 86'400'000); }
        c.courier_interval = std::chrono::milliseconds(*v);
    } else if (key == "order-settle-wait-ms") {
        auto v = int_in(0, 60'000);
        if (!v) { return range_error(0, 60'000); }
        c.order_settle_wait = std::chrono::milliseconds(*v);
    } else if (key == "order-reservation-ttl-ms") {
        auto v = int_in(1'000, 600'000);
        if (!v) { return range_error(1'000, 600'000); }
        c.order_reservation_ttl = std::chrono::milliseconds(*v);
    } else if (key == "order-resume-after-ms") {
        auto v = int_in(1'000, 86'400'000);
        if (!v) { return range_error(1'000, 86'400'000); }
        c.order_resume_after = std::chrono::milliseconds(*v);
    } else if (key == "order-linger-ms") {
        auto v = int_in(0, 100);
        if (!v) { return range_error(0, 100); }
        c.order_linger = std::chrono::milliseconds(*v);
    } else if (key == "saga-linger-ms") {
        auto v = int_in(0, 1000);
        if (!v) { return range_error(0, 1000); }
        c.saga_linger = std::chrono::milliseconds(*v);
    } else if (key == "order-linger-full-rate") {
        auto v = int_in(0, 1'000'000);
        if (!v) { return range_error(0, 1'000'000); }
        c.order_linger_full_rate = static_cast<int>(*v);
    } else if (key == "order-queue-max") {
        auto v = int_in(1, 1'000'000);
        if (!v) { return range_error(1, 1'000'000); }
        c.order_queue_max = static_cast<int>(*v);
    } else if (key == "order-approval-defer-ms") {
        auto v = int_in(0, 10'000);
        if (!v) { return range_error(0, 10'000); }
        c.order_approval_defer = std::chrono::milliseconds(*v);
    } else if (key == "migrations-dir") {
        r.migrations_dir = value;
    } else {
        return bad("unknown option '" + std::string(key) + "'");
    }
    return std::nullopt;
}

}  // namespace

std::map<std::string, std::string> environment_map() {
    std::map<std::string, std::string> out;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv(*e);
        const auto eq = kv.find('=');
        if (eq != std::string_view::npos && kv.starts_with("OPENMARKET_")) {
            out.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
        }
    }
    return out;
}

std::string usage() {
    std::ostringstream os;
    os << "Usage: openmarket-server [serve] [options]\n"
          "       openmarket-server migrate --database-url URL [--migrations-dir DIR]\n"
          "       openmarket-server gateway --listen HOST:PORT [--payment-gateway-latency-ms MS]\n"
          "                                 [--payment-gateway-error-rate R]   (the test payment gateway)\n"
          "       openmarket-server events dead-letters --stream S [--limit N] [--redis-url URL]\n"
          "       openmarket-server events replay --stream S --id ID [--redis-url URL]\n"
          "       openmarket-server --help\n\n"
          "Runs the OpenMarket backend (member, product, payment, delivery and order services).\n"
          "Precedence: command line > environment > config file > defaults.\n\nOptions:\n";
    for (const auto& o : options) {
        std::string flag = std::string("  --") + o.name + " VALUE";
        os << flag << std::string(flag.size() < 32 ? 32 - flag.size() : 1, ' ') << o.help << "\n"
           << std::string(32, ' ') << "env " << o.env << "\n";
    }
    os << "  --help                        this text\n";
    return os.str();
}

Result<CliResult> parse_cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
    CliResult r;
    std::vector<std::pair<std::string, std::string>> cli;
    std::size_t i = 1;
    if (i < args.size() && (args[i] == "migrate" || args[i] == "serve" || args[i] == "gateway")) {
        r.command = args[i];
        ++i;
    } else if (i < args.size() && args[i] == "events") {
        r.command = "events";
        ++i;
        if (i < args.size() && (args[i] == "--help" || args[i] == "-h")) {
            r.command = "help";
            return r;
        }
        if (i >= args.size() || (args[i] != "dead-letters" && args[i] != "replay")) {
            return std::unexpected(bad("events: expected 'dead-letters' or 'replay' (see --help)"));
        }
        r.events_action = args[i];
        ++i;
    }
    for (; i < args.size(); ++i) {
        std::string_view a = args[i];
        if (r.command == "events" && (a == "--stream" || a == "--id" || a == "--limit" || a.starts_with("--stream=") ||
                                      a.starts_with("--id=") || a.starts_with("--limit="))) {
            std::string key;
            std::string value;
            if (const auto eq = a.find('='); eq != std::string_view::npos) {
                key = a.substr(2, eq - 2);
                value = a.substr(eq + 1);
            } else {
                key = a.substr(2);
                if (i + 1 >= args.size()) {
                    return std::unexpected(bad("--" + key + " needs a value"));
                }
                value = args[++i];
            }
            if (key == "stream") {
                r.events_stream = value;
            } else if (key == "id") {
                r.events_id = value;
            } else {
                int n = 0;
                const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
                if (ec != std::errc() || p != value.data() + value.size() || n < 1 || n > 100'000) {
                    return std::unexpected(bad("--limit: expected a number from 1 to 100000"));
                }
                r.events_limit = n;
            }
            continue;
        }
        if (a == "--help" || a == "-h") {
            r.command = "help";
            return r;
        }
        if (!a.starts_with("--")) {
            return std::unexpected(bad("unexpected argument '" + std::string(a) + "' (see --help)"));
        }
        a.remove_prefix(2);
        std::string key;
        std::string value;
        if (const auto eq = a.find('='); eq != std::string_view::npos) {
            key = a.substr(0, eq);
            value = a.substr(eq + 1);
        } else {
            key = a;
            if (i + 1 >= args.size()) {
                return std::unexpected(bad("--" + key + " needs a value"));
            }
            value = args[++i];
        }
        if (!find_option(key)) {
            return std::unexpected(bad("unknown option --" + key + " (see --help)"));
        }
        cli.emplace_back(std::move(key), std::move(value));
    }

    // Which config file? CLI beats environment.
    std::string config_file;
    if (auto it = env.find("OPENMARKET_CONFIG"); it != env.end()) {
        config_file = it->second;
    }
    for (const auto& [k, v] : cli) {
        if (k == "config") {
            config_file = v;
        }
    }
    if (!config_file.empty()) {
        std::ifstream in(config_file);
        if (!in) {
            return std::unexpected(bad("cannot read config file '" + config_file + "'"));
        }
        std::string line;
        int lineno = 0;
        while (std::getline(in, line)) {
            ++lineno;
            std::string_view l = trim(line);
            if (l.empty() || l.front() == '#') {
                continue;
            }
            const auto eq = l.find('=');
            if (eq == std::string_view::npos) {
                return std::unexpected(bad(config_file + ":" + std::to_string(lineno) + ": expected key = value"));
            }
            const auto key = trim(l.substr(0, eq));
            const auto value = trim(l.substr(eq + 1));
            if (key == "config" || !find_option(key)) {
                return std::unexpected(bad(config_file + ":" + std::to_string(lineno) + ": unknown key '" +
                                           std::string(key) + "'"));
            }
            if (auto err = apply(r.config, r, key, value)) {
                err->detail = config_file + ":" + std::to_string(lineno) + ": " + err->detail;
                return std::unexpected(*err);
            }
        }
    }
    for (const auto& o : options) {
        if (std::string_view(o.name) == "config") {
            continue;
        }
        if (auto it = env.find(o.env); it != env.end()) {
            if (auto err = apply(r.config, r, o.name, it->second)) {
                err->detail = std::string(o.env) + ": " + err->detail;
                return std::unexpected(*err);
            }
        }
    }
    for (const auto& [k, v] : cli) {
        if (k == "config") {
            continue;
        }
        if (auto err = apply(r.config, r, k, v)) {
            err->detail = "--" + err->detail;
            return std::unexpected(*err);
        }
    }
    return r;
}

}  // namespace om
