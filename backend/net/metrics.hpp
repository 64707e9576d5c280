#pragma once
// Prometheus metrics. One registry per process; each shard records into its own cached series so that
// the request path takes no lock after the first request of a route/status pair.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace om::net {

class Metrics {
public:
    explicit Metrics(int shards);
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // Called only from shard `shard`'s thread.
    void observe_request(int shard, std::string_view route, std::string_view method, int status, double seconds);
    void set_pool(int shard, int open, int busy, int waiting);
    void set_connections(int shard, int open);
    void set_redis_connected(int shard, bool connected);
    void count_accept_error(int shard);
    // Payment gateway: the shard's circuit breaker (0 closed, 1 open, 2 half-open) and calls by outcome.
    void set_payment_breaker(int shard, int state);
    void count_payment_gateway_call(int shard, std::string_view outcome);
    // One group commit of new orders (orders.place_orders) written by shard `shard`: how many orders it held and
    // how long its statement took (called only from that shard's thread).
    void observe_group_commit(int shard, std::size_t orders, double seconds);
    // Seconds since the resumer's scan of quiet orders last moved (one value per process; any thread).
    void set_resumer_scan_age(double seconds);

    // Prometheus text exposition format (thread-safe).
    [[nodiscard]] std::string scrape() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace om::net
