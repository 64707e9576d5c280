#pragma once
// The built-in test gateway: behaves like a real provider's test mode, driven by test card numbers
// (any future expiry, any CVC):
//   4242424242424242  approves             4000000000000002  declines: card_declined
//   4000000000009995  declines: insufficient_funds
//   4000000000000119  fails: processing_error (status FAILED)
//   4000000000000341  never answers (the caller times out)
//   any other Luhn-valid number approves.
// Tokens look like `tok_<behaviour>_<random>` and never contain the number. Charges and refunds are
// idempotent per idempotency key. `latency` delays every answer; `error_rate` (0..1) answers a share of calls
// with a transient 503-like failure before doing anything.
//
// TestGatewayEngine holds the state and is thread-safe (the gateway process shares one between shards).
// TestGateway is the in-process PaymentGateway for one shard.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "payment/gateway.hpp"

namespace om::payment {

// Suspends the calling coroutine for `ms` milliseconds (on the shard's event loop; fakes in unit tests).
using Sleep = std::function<Task<void>(long ms)>;

struct TestGatewayOptions {
    long latency_ms = 0;
    double error_rate = 0.0;
};

class TestGatewayEngine {
public:
    explicit TestGatewayEngine(TestGatewayOptions options) : options_(options) {}

    // What the gateway does with one call: answer `result` after `latency_ms`, or never answer (hang).
    struct Reply {
        bool hang = false;
        long latency_ms = 0;
        TokenResult token;    // tokenize
        GatewayResult result;  // charge, refund
    };
    Reply tokenize(const CardDetails& card);
    Reply charge(const ChargeRequest& req);
    Reply refund(const RefundRequest& req);

    // Charges that moved money (a replayed idempotency key does not count).
    [[nodiscard]] long charges_executed() const;
    [[nodiscard]] const TestGatewayOptions& options() const noexcept { return options_; }

private:
    bool inject_error();

    TestGatewayOptions options_;
    mutable std::mutex mu_;
    std::map<std::string, GatewayResult> charges_by_key_;
    std::map<std::string, GatewayResult> refunds_by_key_;
    std::map<std::string, std::int64_t> approved_charges_;  // reference → amount
    std::map<std::string, bool> refunded_;                  // charge reference → refunded
    long executed_ = 0;
};

class TestGateway final : public PaymentGateway {
public:
    TestGateway(std::shared_ptr<TestGatewayEngine> engine, Sleep sleep)
        : engine_(std::move(engine)), sleep_(std::move(sleep)) {}
    Task<TokenResult> tokenize(CardDetails card, std::chrono::milliseconds timeout) override;
    Task<GatewayResult> charge(ChargeRequest req, std::chrono::milliseconds timeout) override;
    Task<GatewayResult> refund(RefundRequest req, std::chrono::milliseconds timeout) override;

private:
    // Waits as the network would; true when the answer arrives within `timeout`.
    Task<bool> deliver(const TestGatewayEngine::Reply& reply, std::chrono::milliseconds timeout);

    std::shared_ptr<TestGatewayEngine> engine_;
    Sleep sleep_;
};

}  // namespace om::payment
