#include "payment/test_gateway.hpp"

#include <random>

#include "common/ids.hpp"
#include "payment/card.hpp"

namespace om::payment {

std::string_view to_string(Outcome o) noexcept {
    switch (o) {
        case Outcome::approved: return "APPROVED";
        case Outcome::declined: return "DECLINED";
        case Outcome::failed: return "FAILED";
        case Outcome::timeout: return "TIMEOUT";
        case Outcome::unavailable: return "UNAVAILABLE";
    }
    return "UNAVAILABLE";
}

namespace {

// The behaviour a token stands for (encoded in the token, like Stripe's test tokens).
std::string behaviour_of(const std::string& number) {
    if (number == "4000000000000002") {
        return "declined";
    }
    if (number == "4000000000009995") {
        return "nofunds";
    }
    if (number == "4000000000000119") {
        return "procerr";
    }
    if (number == "4000000000000341") {
        return "hang";
    }
    return "ok";
}

std::string behaviour_of_token(const std::string& token) {
    // tok_<behaviour>_<random>
    if (!token.starts_with("tok_")) {
        return {};
    }
    const auto end = token.find('_', 4);
    if (end == std::string::npos) {
        return {};
    }
    return token.substr(4, end - 4);
}

}  // namespace

bool TestGatewayEngine::inject_error() {
    if (options_.error_rate <= 0.0) {
        return false;
    }
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < options_.error_rate;
}

TestGatewayEngine::Reply TestGatewayEngine::tokenize(const CardDetails& card) {
    Reply r;
    r.latency_ms = options_.latency_ms;
    if (inject_error()) {
        r.token.outcome = Outcome::unavailable;
        return r;
    }
    if (!luhn_valid(card.number) || card.number.size() < 12) {
        r.token = {Outcome::declined, {}, "invalid_number"};
    } else if (!expiry_in_future(card.expiry_month, card.expiry_year, std::chrono::system_clock::now())) {
        r.token = {Outcome::declined, {}, "expired_card"};
    } else if (card.cvc.size() < 3 || card.cvc.size() > 4) {
        r.token = {Outcome::declined, {}, "invalid_cvc"};
    } else {
        r.token = {Outcome::approved, "tok_" + behaviour_of(card.number) + "_" + new_secret(18), {}};
    }
    return r;
}

TestGatewayEngine::Reply TestGatewayEngine::charge(const ChargeRequest& req) {
    Reply r;
    r.latency_ms = options_.latency_ms;
    if (inject_error()) {
        r.result.outcome = Outcome::unavailable;
        return r;
    }
    const std::string b = behaviour_of_token(req.token);
    if (b == "hang") {
        r.hang = true;
        return r;
    }
    std::lock_guard lock(mu_);
    if (auto it = charges_by_key_.find(req.idempotency_key); it != charges_by_key_.end()) {
        r.result = it->second;  // a retry: the first answer, no second charge
        return r;
    }
    GatewayResult g;
    g.reference = "ch_" + new_uuid_v7();  // unique, not secret: no getrandom call per charge
    if (b == "ok") {
        g.outcome = req.amount > 0 ? Outcome::approved : Outcome::failed;
        if (g.outcome == Outcome::approved) {
            approved_charges_[g.reference] = req.amount;
            ++executed_;
        } else {
            g.decline_code = "invalid_amount";
        }
    } else if (b == "declined") {
        g.outcome = Outcome::declined;
        g.decline_code = "card_declined";
    } else if (b == "nofunds") {
        g.outcome = Outcome::declined;
        g.decline_code = "insufficient_funds";
    } else if (b == "procerr") {
        g.outcome = Outcome::failed;
        g.decline_code = "processing_error";
    } else {
        g.outcome = Outcome::failed;
        g.decline_code = "invalid_token";
    }
    charges_by_key_[req.idempotency_key] = g;
    r.result = g;
    return r;
}

TestGatewayEngine::Reply TestGatewayEngine::refund(const RefundRequest& req) {
    Reply r;
    r.latency_ms = options_.latency_ms;
    if (inject_error()) {
        r.result.outcome = Outcome::unavailable;
        return r;
    }
    std::lock_guard lock(mu_);
    if (auto it = refunds_by_key_.find(req.idempotency_key); it != refunds_by_key_.end()) {
        r.result = it->second;
        return r;
    }
    GatewayResult g;
    auto ch = approved_charges_.find(req.charge_ref);
    if (ch == approved_charges_.end()) {
        g.outcome = Outcome::failed;
        g.decline_code = "no_such_charge";
    } else if (refunded_[req.charge_ref]) {
        g.outcome = Outcome::failed;
        g.decline_code = "charge_already_refunded";
    } else {
        refunded_[req.charge_ref] = true;
        g.outcome = Outcome::approved;
        g.reference = "re_" + new_uuid_v7();
    }
    refunds_by_key_[req.idempotency_key] = g;
    r.result = g;
    return r;
}

long TestGatewayEngine::charges_executed() const {
    std::lock_guard lock(mu_);
    return executed_;
}

Task<bool> TestGateway::deliver(const TestGatewayEngine::Reply& reply, std::chrono::milliseconds timeout) {
    const long limit = static_cast<long>(timeout.count());
    if (reply.hang || reply.latency_ms > limit) {
        co_await sleep_(limit);
        co_return false;
    }
    if (reply.latency_ms > 0) {
        co_await sleep_(reply.latency_ms);
    }
    co_return true;
}

Task<TokenResult> TestGateway::tokenize(CardDetails card, std::chrono::milliseconds timeout) {
    const auto reply = engine_->tokenize(card);
    if (!co_await deliver(reply, timeout)) {
        co_return TokenResult{Outcome::timeout, {}, {}};
    }
    co_return reply.token;
}

Task<GatewayResult> TestGateway::charge(ChargeRequest req, std::chrono::milliseconds timeout) {
    const auto reply = engine_->charge(req);
    if (!co_await deliver(reply, timeout)) {
        co_return GatewayResult{Outcome::timeout, {}, {}};
    }
    co_return reply.result;
}

Task<GatewayResult> TestGateway::refund(RefundRequest req, std::chrono::milliseconds timeout) {
    const auto reply = engine_->refund(req);
    if (!co_await deliver(reply, timeout)) {
        co_return GatewayResult{Outcome::timeout, {}, {}};
    }
    co_return reply.result;
}

}  // namespace om::payment
