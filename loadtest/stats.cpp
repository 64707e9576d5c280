#include "stats.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace om::load {

// Values below 2·kSub are their own bucket; above, a power of two 2^e (e ≥ 7) is split into kSub buckets.
int Histogram::index_of(std::int64_t v) {
    if (v < 0) {
        v = 0;
    }
    if (v < 2 * kSub) {
        return static_cast<int>(v);
    }
    const int e = std::bit_width(static_cast<std::uint64_t>(v)) - 1;  // 2^e <= v < 2^(e+1), e >= 7
    const int shift = e - 6;                                          // v >> shift in [64, 128)
    const int sub = static_cast<int>(v >> shift) - kSub;
    const int idx = 2 * kSub + (e - 7) * kSub + sub;
    return std::min(idx, kBuckets - 1);
}

std::int64_t Histogram::upper_of(int index) {
    if (index < 2 * kSub) {
        return index;
    }
    const int e = (index - 2 * kSub) / kSub + 7;
    const int sub = (index - 2 * kSub) % kSub;
    const int shift = e - 6;
    return ((static_cast<std::int64_t>(kSub + sub) + 1) << shift) - 1;
}

void Histogram::record(std::int64_t micros) {
    ++buckets_[static_cast<std::size_t>(index_of(micros))];
    ++count_;
    max_ = std::max(max_, micros);
}

std::int64_t Histogram::percentile(double p) const {
    if (count_ == 0) {
        return 0;
    }
    auto rank = static_cast<std::int64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::int64_t>(rank, 1, count_);
    std::int64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
        seen += buckets_[static_cast<std::size_t>(i)];
        if (seen >= rank) {
            return std::min(upper_of(i), max_);
        }
    }
    return max_;
}

void Histogram::merge(const Histogram& other) {
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        buckets_[i] += other.buckets_[i];
    }
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
}

void Histogram::clear() { *this = Histogram{}; }

namespace {
double ms(std::int64_t micros) { return std::round(static_cast<double>(micros) / 10.0) / 100.0; }
}  // namespace

nlohmann::json Histogram::summary_ms() const {
    return {{"count", count_},
            {"p50", ms(percentile(50))},
            {"p90", ms(percentile(90))},
            {"p99", ms(percentile(99))},
            {"p999", ms(percentile(99.9))},
            {"max", ms(max_)}};
}

std::string Histogram::summary_line() const {
    char buf[160];
    std::snprintf(buf, sizeof buf, "p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms  (%lld)",
                  ms(percentile(50)), ms(percentile(90)), ms(percentile(99)), ms(percentile(99.9)), ms(max_),
                  static_cast<long long>(count_));
    return buf;
}

}  // namespace om::load
