#pragma once
// How the payment service calls a PaymentGateway: every call has a timeout, transient failures (timeout,
// unavailable) are retried a bounded number of times with backoff and the SAME gateway idempotency key, and a
// circuit breaker fails fast while the gateway is down. One GatewayClient per shard.
#include <chrono>
#include <functional>
#include <memory>

#include "payment/circuit_breaker.hpp"
#include "payment/gateway.hpp"
#include "payment/test_gateway.hpp"

namespace om::payment {

struct GatewayClientOptions {
    std::chrono::milliseconds timeout{2000};  // per attempt
    int retries = 2;                           // attempts = 1 + retries
    long backoff_ms = 50;                      // before retry n: backoff_ms * 2^(n-1), ±25 % jitter
    int breaker_failures = 5;
    std::chrono::milliseconds breaker_cooldown{5000};
};

// One call to the gateway, as recorded in payment.payment_attempts.
struct Attempt {
    int number = 0;  // 1, 2, ...
    GatewayResult result;
    long duration_ms = 0;
};
// Called after every attempt that reached the gateway (not for calls refused by the open breaker).
using AttemptObserver = std::function<Task<void>(Attempt)>;

// decline_code when the breaker refused the call without trying.
inline constexpr const char* kCircuitOpen = "gateway_circuit_open";

// Hooks for metrics (both optional; called on the shard's thread).
struct GatewayClientHooks {
    std::function<void(CircuitBreaker::State)> breaker_changed;
    std::function<void(Outcome)> call_finished;  // every call that reached the gateway
};

class GatewayClient {
public:
    GatewayClient(std::shared_ptr<PaymentGateway> gateway, GatewayClientOptions options, Sleep sleep,
                  CircuitBreaker::Clock clock = [] { return std::chrono::steady_clock::now(); });

    Task<TokenResult> tokenize(CardDetails card);
    Task<GatewayResult> charge(ChargeRequest req, AttemptObserver observe);
    Task<GatewayResult> refund(RefundRequest req, AttemptObserver observe);

    void set_hooks(GatewayClientHooks hooks) { hooks_ = std::move(hooks); }
    [[nodiscard]] const CircuitBreaker& breaker() const noexcept { return breaker_; }
    [[nodiscard]] const GatewayClientOptions& options() const noexcept { return options_; }
    // The longest a charge() can take (all attempts, timeouts and backoffs).
    [[nodiscard]] std::chrono::milliseconds max_charge_duration() const noexcept;

private:
    enum class Kind : std::uint8_t { charge, refund };
    Task<GatewayResult> call(Kind kind, ChargeRequest charge_req, RefundRequest refund_req, AttemptObserver observe);
    Task<GatewayResult> once(Kind kind, const ChargeRequest& c, const RefundRequest& r);
    long backoff(int retry) const;
    void report(Outcome outcome, bool failure);  // feeds the breaker, the hooks and the log

    std::shared_ptr<PaymentGateway> gateway_;
    GatewayClientOptions options_;
    Sleep sleep_;
    CircuitBreaker::Clock clock_;
    CircuitBreaker breaker_;
    GatewayClientHooks hooks_;
};

}  // namespace om::payment
