#include "net/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace om::net {

struct Metrics::Impl {
    std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
    prometheus::Family<prometheus::Counter>& requests =
        prometheus::BuildCounter().Name("openmarket_http_requests_total").Help("HTTP requests by route, method and status").Register(*registry);
    prometheus::Family<prometheus::Histogram>& latency =
        prometheus::BuildHistogram().Name("openmarket_http_request_duration_seconds").Help("HTTP request latency by route").Register(*registry);
    prometheus::Family<prometheus::Gauge>& pool =
        prometheus::BuildGauge().Name("openmarket_pg_pool_connections").Help("PostgreSQL pool connections by shard and state").Register(*registry);
    prometheus::Family<prometheus::Gauge>& conns =
        prometheus::BuildGauge().Name("openmarket_http_open_connections").Help("Open client connections by shard").Register(*registry);
    prometheus::Family<prometheus::Gauge>& redis =
        prometheus::BuildGauge().Name("openmarket_redis_connected").Help("1 when the shard's Redis connection is up").Register(*registry);
    prometheus::Family<prometheus::Counter>& accept_errors =
        prometheus::BuildCounter().Name("openmarket_accept_errors_total").Help("accept() failures (EMFILE, ENFILE, ...)").Register(*registry);

    prometheus::Family<prometheus::Gauge>& breaker =
        prometheus::BuildGauge().Name("openmarket_payment_gateway_breaker_state").Help("Payment gateway circuit breaker by shard: 0 closed, 1 open, 2 half-open").Register(*registry);
    prometheus::Family<prometheus::Counter>& gateway_calls =
        prometheus::BuildCounter().Name("openmarket_payment_gateway_calls_total").Help("Payment gateway calls by shard and outcome").Register(*registry);
    prometheus::Family<prometheus::Histogram>& commit_orders =
        prometheus::BuildHistogram().Name("openmarket_order_group_commit_orders").Help("New orders per group commit (one orders.place_orders statement and commit) by shard").Register(*registry);
    prometheus::Family<prometheus::Histogram>& commit_seconds =
        prometheus::BuildHistogram().Name("openmarket_order_group_commit_seconds").Help("Time of one group commit of new orders (statement and commit) by shard").Register(*registry);
    prometheus::Gauge& resumer_scan_age =
        prometheus::BuildGauge().Name("openmarket_resumer_scan_age_seconds").Help("Seconds since the resumer's scan of quiet orders last moved; grows while an open transaction holds it back").Register(*registry).Add({});

    struct Shard {
        std::unordered_map<std::string, prometheus::Counter*> counters;
        std::unordered_map<std::string, prometheus::Histogram*> histograms;
        prometheus::Gauge* pool_open = nullptr;
        prometheus::Gauge* pool_busy = nullptr;
        prometheus::Gauge* pool_waiting = nullptr;
        prometheus::Gauge* open_connections = nullptr;
        prometheus::Gauge* redis_up = nullptr;
        prometheus::Counter* accept_errors = nullptr;
        prometheus::Gauge* breaker = nullptr;
        prometheus::Histogram* commit_orders = nullptr;
        prometheus::Histogram* commit_seconds = nullptr;
        std::unordered_map<std::string, prometheus::Counter*> gateway_calls;
    };
    std::vector<Shard> shards;
};

namespace {
const prometheus::Histogram::BucketBoundaries& buckets() {
    static const prometheus::Histogram::BucketBoundaries b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    return b;
}
}  // namespace

Metrics::Metrics(int shards) : impl_(std::make_unique<Impl>()) {
    impl_->shards.resize(static_cast<std::size_t>(shards));
    for (int i = 0; i < shards; ++i) {
        auto& s = impl_->shards[static_cast<std::size_t>(i)];
        const std::string id = std::to_string(i);
        s.pool_open = &impl_->pool.Add({{"shard", id}, {"state", "open"}});
        s.pool_busy = &impl_->pool.Add({{"shard", id}, {"state", "busy"}});
        s.pool_waiting = &impl_->pool.Add({{"shard", id}, {"state", "waiting"}});
        s.open_connections = &impl_->conns.Add({{"shard", id}});
        s.redis_up = &impl_->redis.Add({{"shard", id}});
        s.accept_errors = &impl_->accept_errors.Add({{"shard", id}});
        s.breaker = &impl_->breaker.Add({{"shard", id}});
        s.commit_orders = &impl_->commit_orders.Add({{"shard", id}}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256});
        s.commit_seconds = &impl_->commit_seconds.Add({{"shard", id}}, buckets());
    }
}

Metrics::~Metrics() = default;

void Metrics::observe_request(int shard, std::string_view route, std::string_view method, int status, double seconds) {
    auto& s = impl_->shards[static_cast<std::size_t>(shard)];
    std::string key;
    key.reserve(route.size() + method.size() + 8);
    key.append(method).append(" ").append(route).append(" ").append(std::to_string(status));
    auto it = s.counters.find(key);
    if (it == s.counters.end()) {
        auto* c = &impl_->requests.Add({{"route", std::string(route)}, {"method", std::string(method)},
                                        {"status", std::to_string(status)}, {"shard", std::to_string(shard)}});
        it = s.counters.emplace(key, c).first;
    }
    it->second->Increment();
    std::string hkey(route);
    auto hit = s.histograms.find(hkey);
    if (hit == s.histograms.end()) {
        auto* h = &impl_->latency.Add({{"route", hkey}, {"shard", std::to_string(shard)}}, buckets());
        hit = s.histograms.emplace(hkey, h).first;
    }
    hit->second->Observe(seconds);
}

void Metrics::set_pool(int shard, int open, int busy, int waiting) {
    auto& s = impl_->shards[static_cast<std::size_t>(shard)];
    s.pool_open->Set(open);
    s.pool_busy->Set(busy);
    s.pool_waiting->Set(waiting);
}

void Metrics::set_connections(int shard, int open) {
    impl_->shards[static_cast<std::size_t>(shard)].open_connections->Set(open);
}

void Metrics::set_redis_connected(int shard, bool connected) {
    impl_->shards[static_cast<std::size_t>(shard)].redis_up->Set(connected ? 1 : 0);
}

void Metrics::count_accept_error(int shard) { impl_->shards[static_cast<std::size_t>(shard)].accept_errors->Increment(); }

std::string Metrics::scrape() const {
    prometheus::TextSerializer ser;
    return ser.Serialize(impl_->registry->Collect());
}

void Metrics::set_payment_breaker(int shard, int state) {
    impl_->shards[static_cast<std::size_t>(shard)].breaker->Set(state);
}

void Metrics::observe_group_commit(int shard, std::size_t orders, double seconds) {
    auto& s = impl_->shards[static_cast<std::size_t>(shard)];
    s.commit_orders->Observe(static_cast<double>(orders));
    s.commit_seconds->Observe(seconds);
}

void Metrics::set_resumer_scan_age(double seconds) { impl_->resumer_scan_age.Set(seconds); }

void Metrics::count_payment_gateway_call(int shard, std::string_view outcome) {
    auto& s = impl_->shards[static_cast<std::size_t>(shard)];
    const std::string key(outcome);
    auto it = s.gateway_calls.find(key);
    if (it == s.gateway_calls.end()) {
        it = s.gateway_calls.emplace(key, &impl_->gateway_calls.Add({{"shard", std::to_string(shard)}, {"outcome", key}})).first;
    }
    it->second->Increment();
}

}  // namespace om::net
