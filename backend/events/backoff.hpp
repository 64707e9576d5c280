#pragma once
// Failure bookkeeping of a background loop (outbox relay, stream consumer): the pause after consecutive
// failures doubles from `initial_ms` up to `max_ms`; a success resets it. Not thread-safe (one loop owns it).
#include <algorithm>
#include <utility>

namespace om::events {

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
