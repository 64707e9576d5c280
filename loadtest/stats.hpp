#pragma once
// Latency histogram and run statistics for openmarket-load. No Asio here.
//
// Histogram: log-linear buckets over microseconds (exact below 128 µs, then 64 buckets per power of two, so any
// recorded value is reported within 1.6 %), constant memory, O(1) record, mergeable.
#include <array>
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace om::load {

class Histogram {
public:
    void record(std::int64_t micros);
    [[nodiscard]] std::int64_t count() const noexcept { return count_; }
    [[nodiscard]] std::int64_t max() const noexcept { return max_; }
    // The value (µs) at or below which `p` percent of the recorded values lie; 0 when empty.
    [[nodiscard]] std::int64_t percentile(double p) const;
    void merge(const Histogram& other);
    void clear();
    // {p50, p90, p99, p999, max} in milliseconds.
    [[nodiscard]] nlohmann::json summary_ms() const;
    // "p50 1.23 ms  p90 …" for the console.
    [[nodiscard]] std::string summary_line() const;

private:
    static constexpr int kSub = 64;
    static constexpr int kBuckets = 2 * kSub + 40 * kSub;
    static int index_of(std::int64_t v);
    static std::int64_t upper_of(int index);
    std::array<std::int64_t, kBuckets> buckets_{};
    std::int64_t count_ = 0;
    std::int64_t max_ = 0;
};

// What one run measured (after the warm-up).
struct RunStats {
    Histogram latency;                        // the scenario's main request, from its intended send time
    std::map<std::string, Histogram> steps;   // every request kind, from its own send time
    Histogram settle;                         // order scenario: intended send → order settled
    Histogram start_lag;                      // intended send → the flow's first request written: the generator's
                                              // own delay (a busy thread, no idle connection), part of `latency`
    std::map<std::string, std::int64_t> by_status;  // "201", "409 OUT_OF_STOCK", "transport", …
    std::map<std::string, std::int64_t> settled_by_status;  // CONFIRMED, CANCELLED, …
    std::int64_t started = 0;    // flows due (open loop) or started (closed loop)
    std::int64_t succeeded = 0;  // flows whose main request answered 2xx
    std::int64_t refused = 0;    // answered 409 OUT_OF_STOCK: correct, counted apart from errors
    std::int64_t errors = 0;     // anything else: 5xx, unexpected 4xx, transport failures, timeouts
};

}  // namespace om::load
