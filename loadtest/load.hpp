#pragma once
// openmarket-load's subcommands (loadtest/load_main.cpp parses the command line).
#include <string>
#include <vector>

namespace om::load {

struct Buyer {
    std::string email;
    std::string access_token;
    std::string refresh_token;
    std::string method_id;
    std::string address_id;
};

struct Product {
    std::string id;
    std::string name;
    long long stock = 0;
};

// What `seed` writes and `run` reads: everything a run needs, no database access.
struct Fixture {
    std::string target;
    long long created_at_s = 0;  // Unix time of the tokens (access tokens live an hour; `run` refreshes older ones)
    std::string password;        // of every seeded account
    std::vector<Buyer> buyers;
    std::vector<Product> products;
    std::vector<std::string> queries;  // search bodies matching the seeded names

    static Fixture load(const std::string& path);  // throws std::runtime_error with the reason
    void save(const std::string& path) const;
};

struct SeedOptions {
    std::string target = "http://127.0.0.1:8080";
    int buyers = 200;
    int products = 100;
    long long stock = 1'000'000;
    int sellers = 0;        // 0: one per 50 products
    int concurrency = 32;
    std::string out = "fixture.json";
};
int run_seed(const SeedOptions& options);

struct RunOptions {
    std::string target = "http://127.0.0.1:8080";
    std::string fixture = "fixture.json";
    std::string scenario = "order";  // order | browse | search | mixed
    double rate = 100;               // arrivals per second (open loop)
    bool max = false;                // closed loop instead: every connection sends its next flow at once
    double duration_s = 10;
    double warmup_s = 0;
    int connections = 256;
    int hot = 0;                     // > 0: 90 % of orders go to the first `hot` products
    int prefer_wait_s = -1;          // order scenario: the POST's Prefer: wait=S (-1: none, the server's bound)
    int long_poll_s = 10;            // order scenario: a pending order is read with Prefer: wait=S (0: plain GETs)
    int poll_ms = 20;                // order scenario: pause before reading a pending order again
    int timeout_ms = 30'000;         // per request; also the longest wait for an order to settle
    long long max_in_flight = 100'000;  // flows waiting beyond this are dropped and counted as errors
    std::string json;                // write the report here
    bool quiet = false;              // no progress lines
};
int run_load(const RunOptions& options);

struct HoldOptions {
    std::string target = "http://127.0.0.1:8080";
    int connections = 1000;
    double hold_s = 10;
    int processes = 1;               // each child opens connections / processes (the descriptor limit is per process)
    int concurrency = 500;           // connects (with their first GET) in flight, over all processes
    int timeout_ms = 10'000;         // per connect + GET
    std::string json;                // write the report here
};
// Exit 0 when every connection was opened and still answered at the end, 1 otherwise, 2 on bad options.
int run_hold(const HoldOptions& options);

struct CpuSpeedOptions {
    double duration_s = 10;
    int interval_ms = 500;           // one sample on every CPU this often
    std::string json;                // write the report (with every sample) here
};
// Exit 0, or 2 on bad options or an unwritable report.
int run_cpu_speed(const CpuSpeedOptions& options);

}  // namespace om::load
