#pragma once
// How long a batch waits for company (issue 6): in proportion to the rate of items this instance took over the
// last second, up to `max_ms` at `full_rate` items a second and above. At a low rate latency is what counts and
// the cores have room for small batches; as the rate grows, batches wait longer and cost less per item.
// Measured on the 2-core machine (docs/performance.md): a fixed 10 ms linger cost 40 ms of p50 at 300 orders/s,
// where 3 ms kept p99 at 35 ms; at 1,000/s, 5 ms cost more CPU than 10 ms and lost latency to queueing (the
// fifth session's costs). Since the group commit is one per process and its statements cheaper, the group commit's
// 5 ms (the default) against 10 at 1,666/s: p99 34.8 / 37.9 ms against 53.3 / 74.8 ms, no more CPU (twentieth).
// `full_rate` 0: always `max_ms`. Single-threaded: one instance per batching loop.
#include <array>
#include <chrono>
#include <cstddef>

namespace om {

class Linger {
public:
    using Clock = std::chrono::steady_clock;

    explicit Linger(long max_ms = 0, double full_rate = 0) : max_ms_(max_ms), full_rate_(full_rate) {}

    // `items` were taken in one batch.
    void count(std::size_t items, Clock::time_point now = Clock::now()) { slot(now).items += items; }

    // Items a second over the last second (three full quarters and the current one).
    [[nodiscard]] double rate(Clock::time_point now = Clock::now()) const {
        const long long at = ms_of(now);
        const long long current = at / kSlotMs;
        std::size_t items = 0;
        for (const Slot& s : slots_) {
            if (s.index > current - kSlots && s.index <= current) {
                items += s.items;
            }
        }
        const double window_ms = static_cast<double>((kSlots - 1) * kSlotMs + at % kSlotMs + 1);
        return static_cast<double>(items) * 1000.0 / window_ms;
    }

    // How long the next batch waits (0: not at all).
    [[nodiscard]] long ms(Clock::time_point now = Clock::now()) const {
        if (max_ms_ <= 0) {
            return 0;
        }
        if (full_rate_ <= 0) {
            return max_ms_;
        }
        const double r = rate(now);
        return r >= full_rate_ ? max_ms_ : static_cast<long>(static_cast<double>(max_ms_) * r / full_rate_);
    }

private:
    static constexpr long long kSlotMs = 250;
    static constexpr long long kSlots = 4;
    struct Slot {
        long long index = -1;
        std::size_t items = 0;
    };

    static long long ms_of(Clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    }
    Slot& slot(Clock::time_point now) {
        const long long index = ms_of(now) / kSlotMs;
        Slot& s = slots_[static_cast<std::size_t>(index % kSlots)];
        if (s.index != index) {
            s.index = index;
            s.items = 0;
        }
        return s;
    }

    long max_ms_;
    double full_rate_;
    std::array<Slot, kSlots> slots_{};
};

}  // namespace om
