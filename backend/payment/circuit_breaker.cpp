#include "payment/circuit_breaker.hpp"

#include <algorithm>

namespace om::payment {

CircuitBreaker::CircuitBreaker(int failure_threshold, std::chrono::milliseconds cooldown, Clock clock)
    : threshold_(std::max(1, failure_threshold)), cooldown_(cooldown), clock_(std::move(clock)) {}

bool CircuitBreaker::allow() {
    switch (state_) {
        case State::closed:
            return true;
        case State::open:
            if (clock_() - opened_at_ < cooldown_) {
                return false;
            }
            state_ = State::half_open;
            trial_in_flight_ = true;
            return true;
        case State::half_open:
            if (trial_in_flight_) {
                return false;
            }
            trial_in_flight_ = true;
            return true;
    }
    return false;
}

void CircuitBreaker::on_success() {
    state_ = State::closed;
    failures_ = 0;
    trial_in_flight_ = false;
}

void CircuitBreaker::on_failure() {
    trial_in_flight_ = false;
    ++failures_;
    if (state_ == State::half_open || failures_ >= threshold_) {
        state_ = State::open;
        opened_at_ = clock_();
    }
}

std::string_view to_string(CircuitBreaker::State s) noexcept {
    switch (s) {
        case CircuitBreaker::State::closed: return "closed";
        case CircuitBreaker::State::open: return "open";
        case CircuitBreaker::State::half_open: return "half_open";
    }
    return "closed";
}

}  // namespace om::payment
