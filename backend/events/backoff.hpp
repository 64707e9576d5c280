#pragma once
// Failure bookkeeping of a background loop (outbox relay, stream consumer, order maintenance): the pause after
// consecutive failures doubles from `initial_ms` up to `max_ms`; a success resets it. Not thread-safe (one loop
// owns it).
#include <algorithm>
#include <utility>

#include "core/task.hpp"

namespace om::events {

// A background loop's pause: sleeps `ms` in slices of at most 100 ms and returns early once `stopped` is set, so
// that stop() ends the loop (and lets the shard finish) within ~100 ms. `sleep(ms)` returns a Task<void>.
template <class Sleep>
Task<void> pause_unless_stopped(Sleep sleep, long ms, const bool& stopped) {
    while (ms > 0 && !stopped) {
        const long slice = std::min(ms, 100L);
        co_await sleep(slice);
        ms -= slice;
    }
}

class Backoff {
public:
    Backoff(long initial_ms, long max_ms) : initial_(initial_ms), max_(max_ms), current_(initial_ms) {}

    struct Pause {
        long ms;   // how long to wait before the next attempt
        bool log;  // the first failure, or the pause is still growing: worth a log line
    };
    Pause failed() {
        ++failures_;
        const Pause p{current_, failures_ == 1 || current_ < max_};
        current_ = std::min(current_ * 2, max_);
        return p;
    }
    // Returns how many failures this success ends (0: there was nothing to recover from).
    int succeeded() {
        current_ = initial_;
        return std::exchange(failures_, 0);
    }

private:
    long initial_;
    long max_;
    long current_;
    int failures_ = 0;
};

}  // namespace om::events
