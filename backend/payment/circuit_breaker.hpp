#pragma once
// A circuit breaker for calls to the payment gateway, one per shard (not thread-safe; a shard is one thread).
//   closed    → calls pass; `failure_threshold` consecutive failures open it.
//   open      → calls fail fast until `cooldown` has passed, then it is half-open.
//   half-open → one trial call passes (others fail fast); success closes it, failure opens it again.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace om::payment {

class CircuitBreaker {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    enum class State : std::uint8_t { closed, open, half_open };

    CircuitBreaker(int failure_threshold, std::chrono::milliseconds cooldown,
                   Clock clock = [] { return std::chrono::steady_clock::now(); });

    // May a call go out now? In half-open, true for the single trial call only.
    bool allow();
    void on_success();
    void on_failure();

    [[nodiscard]] State state() const noexcept { return state_; }
    [[nodiscard]] int consecutive_failures() const noexcept { return failures_; }

private:
    int threshold_;
    std::chrono::milliseconds cooldown_;
    Clock clock_;
    State state_ = State::closed;
    int failures_ = 0;
    bool trial_in_flight_ = false;
    std::chrono::steady_clock::time_point opened_at_{};
};

std::string_view to_string(CircuitBreaker::State s) noexcept;

}  // namespace om::payment
