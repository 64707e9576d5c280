#pragma once
// Server configuration. Precedence: command line > environment (OPENMARKET_*) > config file > defaults.
// Config file: one `key = value` per line, '#' comments; keys are the long option names without "--"
// (e.g. `listen = 0.0.0.0:8080`, `database-url = postgresql://...`).

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace om {

struct Config {
    std::string listen_host = "127.0.0.1";
    int listen_port = 8080;
    int shards = 0;  // 0: one per hardware thread
    // The saga's consumers, the outbox relays and the maintenance loops on a shard of their own (no HTTP), whose
    // thread runs at this niceness, so that under load requests are scheduled before background work (issue 6,
    // docs/architecture.md, "The background shard"). false: they run on the HTTP shards.
    bool background_shard = true;
    int background_nice = 10;
    std::string database_url = "postgresql://postgres@127.0.0.1:5432/openmarket";
    std::string redis_url = "redis://127.0.0.1:6379/0";
    std::size_t body_limit = 1024 * 1024;
    std::size_t header_limit = 16 * 1024;
    std::chrono::milliseconds read_timeout{15'000};    // a request must arrive within this
    std::chrono::milliseconds idle_timeout{60'000};    // keep-alive idle limit
    std::chrono::milliseconds shutdown_deadline{10'000};
    int max_connections_per_shard = 10'000;
    int pg_pool_size = 4;  // per shard
    int cpu_threads = 2;   // password hashing pool
    std::chrono::seconds access_token_ttl{3600};
    std::chrono::milliseconds session_cache{1000};  // 0: every request asks Redis for its session
    std::chrono::seconds refresh_token_ttl{30 * 24 * 3600};
    // Payment gateway (docs/payment-gateways.md). Empty URL: the built-in test gateway in this process.
    std::string payment_gateway_url;
    std::chrono::milliseconds payment_gateway_timeout{2000};  // per attempt
    int payment_gateway_retries = 2;
    int payment_breaker_failures = 5;
    std::chrono::milliseconds payment_breaker_cooldown{5000};
    // Behaviour of the built-in test gateway (in process, or `openmarket-server gateway`).
    long payment_gateway_latency_ms = 0;
    double payment_gateway_error_rate = 0.0;
    std::string log_level = "info";
    bool access_log = true;
    // Delivery service (issue 4).
    std::string carrier_webhook_secret;  // HMAC-SHA256 key of POST /delivery/carrier-events; empty: refused
    bool courier_simulator = false;      // moves SHIPPED deliveries along by themselves (demo)
    std::chrono::milliseconds courier_interval{10'000};  // time a delivery stays in a state under the simulator
    // Order service (issue 5).
    std::chrono::milliseconds order_settle_wait{2'000};      // how long POST /order/process-order waits for the saga
    std::chrono::milliseconds order_reservation_ttl{10'000}; // a reservation older than this can no longer commit
    std::chrono::milliseconds order_resume_after{30'000};    // an unsettled order this quiet has its saga restarted
    // Issue 6: batching under load (group commit and saga steps wait this long for more while busy), and how
    // long a payment approval waits for the delivery that confirms its order in the same write.
    std::chrono::milliseconds order_linger{5};
    // The saga's steps only (payment, delivery, order events): off the HTTP path of a POST answered when durable,
    // so they wait longer for company than the group commit (issue 6).
    std::chrono::milliseconds saga_linger{100};
    int order_linger_full_rate = 1'000;  // orders/s per process from which the whole linger applies (0: always)
    // New orders waiting for the group commit at a time (per process): the next ones answer 503 + Retry-After.
    int order_queue_max = 4'096;
    std::chrono::milliseconds order_approval_defer{500};
};

struct CliResult {
    Config config;
    std::string command = "serve";  // "serve", "migrate", "gateway" (the test payment gateway), "events", or "help"
    std::string migrations_dir;     // for migrate; empty: built-in default
    // `events <action> --stream S [--limit N] [--id ID]` (dead letters, backend/events/dead_letters.hpp).
    std::string events_action;      // "dead-letters" or "replay"
    std::string events_stream;
    std::string events_id;
    int events_limit = 20;
};

// Parses argv (argv[0] is the program). `env` gives the environment (name → value).
// Returns VALIDATION_FAILED-style Error with a human message in detail on bad input.
Result<CliResult> parse_cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);

std::map<std::string, std::string> environment_map();
std::string usage();

}  // namespace om
