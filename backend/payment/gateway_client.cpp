#include "payment/gateway_client.hpp"

#include <random>

#include "core/log.hpp"

namespace om::payment {

GatewayClient::GatewayClient(std::shared_ptr<PaymentGateway> gateway, GatewayClientOptions options, Sleep sleep,
                             CircuitBreaker::Clock clock)
    : gateway_(std::move(gateway)),
      options_(options),
      sleep_(std::move(sleep)),
      clock_(clock),
      breaker_(options.breaker_failures, options.breaker_cooldown, clock) {}

std::chrono::milliseconds GatewayClient::max_charge_duration() const noexcept {
    long total = options_.timeout.count() * (options_.retries + 1);
    for (int i = 1; i <= options_.retries; ++i) {
        total += options_.backoff_ms * (1L << std::min(i - 1, 10)) * 5 / 4;
    }
    return std::chrono::milliseconds(total);
}

void GatewayClient::report(Outcome outcome, bool failure) {
    if (hooks_.call_finished) {
        hooks_.call_finished(outcome);
    }
    const auto before = breaker_.state();
    if (failure) {
        breaker_.on_failure();
    } else {
        breaker_.on_success();
    }
    const auto after = breaker_.state();
    if (after != before) {
        // Transitions only: an open breaker is worth an alert, every failed call is not.
        log::warn("payment gateway circuit breaker",
                  {{"from", to_string(before)}, {"to", to_string(after)}, {"failures", breaker_.consecutive_failures()}});
        if (hooks_.breaker_changed) {
            hooks_.breaker_changed(after);
        }
    }
}

long GatewayClient::backoff(int retry) const {
    const long base = options_.backoff_ms * (1L << std::min(retry - 1, 10));
    if (base <= 0) {
        return 0;
    }
    thread_local std::mt19937 rng{std::random_device{}()};
    return std::uniform_int_distribution<long>(base * 3 / 4, base * 5 / 4)(rng);
}

Task<TokenResult> GatewayClient::tokenize(CardDetails card) {
    TokenResult last;
    for (int attempt = 1; attempt <= options_.retries + 1; ++attempt) {
        if (!breaker_.allow()) {
            co_return TokenResult{Outcome::unavailable, {}, kCircuitOpen};
        }
        std::exception_ptr error;
        try {
            last = co_await gateway_->tokenize(card, options_.timeout);
        } catch (...) {
            error = std::current_exception();
        }
        if (error) {
            report(Outcome::unavailable, true);
            std::rethrow_exception(error);
        }
        if (!transient(last.outcome)) {
            report(last.outcome, false);
            co_return last;
        }
        report(last.outcome, true);
        if (attempt <= options_.retries) {
            co_await sleep_(backoff(attempt));
        }
    }
    co_return last;
}

Task<GatewayResult> GatewayClient::once(Kind kind, const ChargeRequest& c, const RefundRequest& r) {
    if (kind == Kind::charge) {
        co_return co_await gateway_->charge(c, options_.timeout);
    }
    co_return co_await gateway_->refund(r, options_.timeout);
}

Task<GatewayResult> GatewayClient::call(Kind kind, ChargeRequest charge_req, RefundRequest refund_req,
                                        AttemptObserver observe) {
    GatewayResult last{Outcome::unavailable, {}, kCircuitOpen};
    for (int attempt = 1; attempt <= options_.retries + 1; ++attempt) {
        if (!breaker_.allow()) {
            co_return GatewayResult{Outcome::unavailable, {}, kCircuitOpen};
        }
        const auto started = clock_();
        std::exception_ptr error;
        try {
            last = co_await once(kind, charge_req, refund_req);
        } catch (...) {
            error = std::current_exception();
        }
        if (error) {
            report(Outcome::unavailable, true);  // never leave a half-open trial unreported
            std::rethrow_exception(error);
        }
        report(last.outcome, transient(last.outcome));
        Attempt a{attempt, last,
                  static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(clock_() - started).count())};
        if (observe) {
            co_await observe(std::move(a));
        }
        if (!transient(last.outcome)) {
            co_return last;
        }
        if (attempt <= options_.retries) {
            co_await sleep_(backoff(attempt));
        }
    }
    co_return last;
}

Task<GatewayResult> GatewayClient::charge(ChargeRequest req, AttemptObserver observe) {
    RefundRequest none;  // named: no temporaries in co_await expressions (GCC 12)
    co_return co_await call(Kind::charge, std::move(req), std::move(none), std::move(observe));
}

Task<GatewayResult> GatewayClient::refund(RefundRequest req, AttemptObserver observe) {
    ChargeRequest none;
    co_return co_await call(Kind::refund, std::move(none), std::move(req), std::move(observe));
}

}  // namespace om::payment
