#pragma once
// The payment gateway seen by the payment service (docs/payment-gateways.md): tokenize a card once, charge a
// token with a gateway idempotency key, refund a charge. Implementations: TestGateway (in process, test cards),
// HttpGateway (the same test gateway run as its own process, or a real provider's adapter).
//
// Contract:
//  - Every call takes the time it may use (`timeout`) and answers within it: an implementation that gets no
//    answer in time returns Outcome::timeout. Transport failures (connection refused, reset, 5xx) are
//    Outcome::unavailable. Neither is ever an exception.
//  - charge() and refund() are idempotent per `idempotency_key`: a repeated call with the same key returns the
//    first call's result and moves no money again. The payment service relies on this for retries.
//  - Card data (number, CVC) is passed to tokenize() only, and implementations never log or keep it.
//  - Objects belong to one shard (one thread) unless stated otherwise.
#include <chrono>
#include <cstdint>
#include <string>

#include "core/task.hpp"

namespace om::payment {

enum class Outcome : std::uint8_t {
    approved,     // tokenize: token issued; charge: money taken; refund: money returned
    declined,     // the issuer said no (decline_code says why); definitive, not retried
    failed,       // the gateway processed the request and reports an error (e.g. processing_error); definitive
    timeout,      // no answer in time: unknown whether it happened; retried with the same idempotency key
    unavailable,  // could not reach the gateway, or it answered 5xx; retried
};

std::string_view to_string(Outcome o) noexcept;
// Timeouts and unavailability are the gateway's health problems: retried, and counted by the circuit breaker.
constexpr bool transient(Outcome o) noexcept { return o == Outcome::timeout || o == Outcome::unavailable; }

struct CardDetails {
    std::string number;  // digits only
    std::string cvc;
    int expiry_month = 0;
    int expiry_year = 0;
    std::string holder_name;
};

struct TokenResult {
    Outcome outcome = Outcome::unavailable;
    std::string token;         // when approved; never contains the card number
    std::string decline_code;  // when declined/failed
};

struct ChargeRequest {
    std::string token;
    std::int64_t amount = 0;  // minor unit
    std::string currency;
    std::string idempotency_key;  // the same for every retry of one payment
    std::string reference;        // our payment id, for the provider's dashboard
};

struct RefundRequest {
    std::string charge_ref;       // GatewayResult::reference of the charge
    std::int64_t amount = 0;
    std::string idempotency_key;
};

struct GatewayResult {
    Outcome outcome = Outcome::unavailable;
    std::string reference;     // the provider's id of the charge/refund
    std::string decline_code;  // declined: card_declined, insufficient_funds, ...; failed: processing_error, ...
};

class PaymentGateway {
public:
    virtual ~PaymentGateway() = default;
    // Parameters by value: GCC 12 coroutines mishandle references to temporaries.
    virtual Task<TokenResult> tokenize(CardDetails card, std::chrono::milliseconds timeout) = 0;
    virtual Task<GatewayResult> charge(ChargeRequest req, std::chrono::milliseconds timeout) = 0;
    virtual Task<GatewayResult> refund(RefundRequest req, std::chrono::milliseconds timeout) = 0;
};

}  // namespace om::payment
