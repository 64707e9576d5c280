// The circuit breaker (fake clock) and the gateway client's timeouts, retries and breaker (fake gateway, fake
// sleep), driven without an event loop; the test gateway's card behaviours.
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "payment/circuit_breaker.hpp"
#include "payment/gateway_client.hpp"
#include "payment/test_gateway.hpp"

namespace {

using namespace om::payment;
using om::Task;
using namespace std::chrono_literals;
using State = CircuitBreaker::State;

struct FakeClock {
    std::chrono::steady_clock::time_point now{};
    CircuitBreaker::Clock fn() {
        return [this] { return now; };
    }
};

template <class T>
T run(Task<T> t) {
    std::optional<T> out;
    std::exception_ptr err;
    om::start_detached(std::move(t), [&](std::exception_ptr e, std::optional<T> v) {
        err = e;
        out = std::move(v);
    });
    if (err) {
        std::rethrow_exception(err);
    }
    EXPECT_TRUE(out.has_value()) << "the task did not finish synchronously";
    return std::move(*out);
}

TEST(CircuitBreaker, OpensAfterConsecutiveFailuresAndFailsFast) {
    FakeClock clock;
    CircuitBreaker b(3, 1000ms, clock.fn());
    EXPECT_TRUE(b.allow());
    b.on_failure();
    b.on_failure();
    b.on_success();  // a success resets the count
    b.on_failure();
    b.on_failure();
    EXPECT_EQ(b.state(), State::closed);
    b.on_failure();
    EXPECT_EQ(b.state(), State::open);
    EXPECT_FALSE(b.allow());
    clock.now += 999ms;
    EXPECT_FALSE(b.allow());
}

TEST(CircuitBreaker, HalfOpenAllowsOneTrialThenClosesOnSuccess) {
    FakeClock clock;
    CircuitBreaker b(2, 1000ms, clock.fn());
    b.on_failure();
    b.on_failure();
    ASSERT_EQ(b.state(), State::open);
    clock.now += 1000ms;
    EXPECT_TRUE(b.allow());  // the trial
    EXPECT_EQ(b.state(), State::half_open);
    EXPECT_FALSE(b.allow());  // only one trial at a time
    b.on_success();
    EXPECT_EQ(b.state(), State::closed);
    EXPECT_TRUE(b.allow());
    EXPECT_TRUE(b.allow());
}

TEST(CircuitBreaker, FailedTrialOpensAgainForAnotherCooldown) {
    FakeClock clock;
    CircuitBreaker b(2, 1000ms, clock.fn());
    b.on_failure();
    b.on_failure();
    clock.now += 1500ms;
    ASSERT_TRUE(b.allow());
    b.on_failure();
    EXPECT_EQ(b.state(), State::open);
    clock.now += 999ms;
    EXPECT_FALSE(b.allow());
    clock.now += 1ms;
    EXPECT_TRUE(b.allow());
}

// A gateway whose answers are scripted; records the calls it got.
class ScriptedGateway final : public PaymentGateway {
public:
    std::deque<Outcome> script;
    std::vector<std::string> keys;
    std::vector<std::chrono::milliseconds> timeouts;
    FakeClock* clock = nullptr;

    Outcome next() {
        if (script.empty()) {
            return Outcome::approved;
        }
        auto o = script.front();
        script.pop_front();
        return o;
    }
    Task<TokenResult> tokenize(CardDetails, std::chrono::milliseconds timeout) override {
        timeouts.push_back(timeout);
        co_return TokenResult{next(), "tok_x", {}};
    }
    Task<GatewayResult> charge(ChargeRequest req, std::chrono::milliseconds timeout) override {
        keys.push_back(req.idempotency_key);
        timeouts.push_back(timeout);
        const auto o = next();
        if (o == Outcome::timeout && clock) {
            clock->now += timeout;  // a timed-out call took the whole timeout
        }
        co_return GatewayResult{o, "ch_1", o == Outcome::declined ? "card_declined" : ""};
    }
    Task<GatewayResult> refund(RefundRequest req, std::chrono::milliseconds timeout) override {
        keys.push_back(req.idempotency_key);
        timeouts.push_back(timeout);
        co_return GatewayResult{next(), "re_1", {}};
    }
};

struct Harness {
    FakeClock clock;
    std::shared_ptr<ScriptedGateway> gw = std::make_shared<ScriptedGateway>();
    std::vector<long> sleeps;
    std::vector<Attempt> attempts;
    std::unique_ptr<GatewayClient> client;

    explicit Harness(GatewayClientOptions o) {
        gw->clock = &clock;
        Sleep sleep = [this](long ms) -> Task<void> {
            sleeps.push_back(ms);
            clock.now += std::chrono::milliseconds(ms);
            co_return;
        };
        client = std::make_unique<GatewayClient>(gw, o, sleep, clock.fn());
    }
    AttemptObserver observer() {
        return [this](Attempt a) -> Task<void> {
            attempts.push_back(a);
            co_return;
        };
    }
    GatewayResult charge(const std::string& key = "pay_1") {
        ChargeRequest r;
        r.token = "tok_ok_x";
        r.amount = 1000;
        r.currency = "KRW";
        r.idempotency_key = key;
        return run(client->charge(r, observer()));
    }
};

GatewayClientOptions opts(int retries, int failures, long cooldown_ms = 1000) {
    GatewayClientOptions o;
    o.timeout = 300ms;
    o.retries = retries;
    o.backoff_ms = 40;
    o.breaker_failures = failures;
    o.breaker_cooldown = std::chrono::milliseconds(cooldown_ms);
    return o;
}

TEST(GatewayClient, RetriesTransientFailuresWithTheSameKeyAndTimeout) {
    Harness h(opts(2, 10));
    h.gw->script = {Outcome::timeout, Outcome::unavailable, Outcome::approved};
    const auto r = h.charge("pay_abc");
    EXPECT_EQ(r.outcome, Outcome::approved);
    ASSERT_EQ(h.gw->keys.size(), 3U);
    for (const auto& k : h.gw->keys) {
        EXPECT_EQ(k, "pay_abc");
    }
    for (auto t : h.gw->timeouts) {
        EXPECT_EQ(t, 300ms);
    }
    ASSERT_EQ(h.attempts.size(), 3U);
    EXPECT_EQ(h.attempts[0].number, 1);
    EXPECT_EQ(h.attempts[0].result.outcome, Outcome::timeout);
    EXPECT_EQ(h.attempts[0].duration_ms, 300);
    EXPECT_EQ(h.attempts[2].result.outcome, Outcome::approved);
    ASSERT_EQ(h.sleeps.size(), 2U);  // backoff before each retry, growing
    EXPECT_GE(h.sleeps[0], 30);
    EXPECT_LE(h.sleeps[0], 50);
    EXPECT_GE(h.sleeps[1], 60);
    EXPECT_LE(h.sleeps[1], 100);
}

TEST(GatewayClient, DefinitiveAnswersAreNotRetried) {
    Harness h(opts(3, 10));
    h.gw->script = {Outcome::declined};
    EXPECT_EQ(h.charge().outcome, Outcome::declined);
    EXPECT_EQ(h.gw->keys.size(), 1U);
    h.gw->script = {Outcome::failed};
    EXPECT_EQ(h.charge("pay_2").outcome, Outcome::failed);
    EXPECT_EQ(h.gw->keys.size(), 2U);
    EXPECT_EQ(h.client->breaker().state(), State::closed);
}

TEST(GatewayClient, RetriesAreBounded) {
    Harness h(opts(2, 100));
    h.gw->script = {Outcome::timeout, Outcome::timeout, Outcome::timeout, Outcome::approved};
    EXPECT_EQ(h.charge().outcome, Outcome::timeout);
    EXPECT_EQ(h.gw->keys.size(), 3U);
    EXPECT_EQ(h.attempts.size(), 3U);
}

TEST(GatewayClient, BreakerOpensFailsFastAndRecoversAfterCooldown) {
    Harness h(opts(0, 3, 1000));
    h.gw->script = {Outcome::unavailable, Outcome::unavailable, Outcome::unavailable};
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(h.charge("pay_" + std::to_string(i)).outcome, Outcome::unavailable);
    }
    EXPECT_EQ(h.client->breaker().state(), State::open);
    // Open: fails fast without calling the gateway or recording an attempt.
    const auto calls = h.gw->keys.size();
    const auto attempts = h.attempts.size();
    auto fast = h.charge("pay_fast");
    EXPECT_EQ(fast.outcome, Outcome::unavailable);
    EXPECT_EQ(fast.decline_code, kCircuitOpen);
    EXPECT_EQ(h.gw->keys.size(), calls);
    EXPECT_EQ(h.attempts.size(), attempts);
    // After the cooldown one trial goes out; the gateway is back, so the breaker closes.
    h.clock.now += 1000ms;
    EXPECT_EQ(h.charge("pay_trial").outcome, Outcome::approved);
    EXPECT_EQ(h.client->breaker().state(), State::closed);
    EXPECT_EQ(h.charge("pay_after").outcome, Outcome::approved);
}

TEST(GatewayClient, TimeoutsCountTowardsTheBreakerAcrossRetries) {
    Harness h(opts(2, 3, 500));
    h.gw->script = {Outcome::timeout, Outcome::timeout, Outcome::timeout};
    EXPECT_EQ(h.charge().outcome, Outcome::timeout);
    EXPECT_EQ(h.client->breaker().state(), State::open);
    EXPECT_EQ(h.charge("pay_next").decline_code, kCircuitOpen);
}

TEST(GatewayClient, OpenBreakerStopsRetriesMidway) {
    Harness h(opts(5, 2, 10'000));
    h.gw->script = {Outcome::unavailable, Outcome::unavailable, Outcome::unavailable};
    const auto r = h.charge();
    EXPECT_EQ(r.outcome, Outcome::unavailable);
    EXPECT_EQ(h.gw->keys.size(), 2U);  // the third try met the open breaker
}

TEST(GatewayClient, MaxChargeDurationCoversAllAttempts) {
    Harness h(opts(2, 5));
    EXPECT_GE(h.client->max_charge_duration(), 900ms + 120ms);
}

// ---- the test gateway's behaviours ----

CardDetails card(const std::string& number) {
    const auto ymd = std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
    return CardDetails{number, "123", 12, static_cast<int>(ymd.year()) + 2, "Hong Gildong"};
}

TEST(TestGateway, TokensNeverContainTheNumberAndAreRandom) {
    TestGatewayEngine e({});
    const auto a = e.tokenize(card("4242424242424242")).token;
    const auto b = e.tokenize(card("4242424242424242")).token;
    ASSERT_EQ(a.outcome, Outcome::approved);
    EXPECT_NE(a.token, b.token);
    EXPECT_EQ(a.token.find("4242424242424242"), std::string::npos);
    EXPECT_EQ(a.token.find("424242"), std::string::npos);
    EXPECT_TRUE(a.token.starts_with("tok_"));
    EXPECT_EQ(e.tokenize(card("4242424242424241")).token.decline_code, "invalid_number");
    auto expired = card("4242424242424242");
    expired.expiry_year = 2020;
    EXPECT_EQ(e.tokenize(expired).token.decline_code, "expired_card");
}

TEST(TestGateway, TestCardsBehaveAsDocumented) {
    TestGatewayEngine e({});
    auto charge = [&](const std::string& number, const std::string& key) {
        ChargeRequest r;
        r.token = e.tokenize(card(number)).token.token;
        r.amount = 5000;
        r.currency = "KRW";
        r.idempotency_key = key;
        return e.charge(r);
    };
    auto ok = charge("4242424242424242", "k1");
    EXPECT_EQ(ok.result.outcome, Outcome::approved);
    EXPECT_EQ(charge("5555555555554444", "k2").result.outcome, Outcome::approved);
    auto declined = charge("4000000000000002", "k3");
    EXPECT_EQ(declined.result.outcome, Outcome::declined);
    EXPECT_EQ(declined.result.decline_code, "card_declined");
    auto nofunds = charge("4000000000009995", "k4");
    EXPECT_EQ(nofunds.result.outcome, Outcome::declined);
    EXPECT_EQ(nofunds.result.decline_code, "insufficient_funds");
    auto err = charge("4000000000000119", "k5");
    EXPECT_EQ(err.result.outcome, Outcome::failed);
    EXPECT_EQ(err.result.decline_code, "processing_error");
    EXPECT_TRUE(charge("4000000000000341", "k6").hang);
    EXPECT_EQ(e.charges_executed(), 2);
}

TEST(TestGateway, ChargesAndRefundsAreIdempotentPerKey) {
    TestGatewayEngine e({});
    ChargeRequest r;
    r.token = e.tokenize(card("4242424242424242")).token.token;
    r.amount = 5000;
    r.currency = "KRW";
    r.idempotency_key = "pay_1";
    const auto first = e.charge(r).result;
    const auto again = e.charge(r).result;
    EXPECT_EQ(first.reference, again.reference);
    EXPECT_EQ(e.charges_executed(), 1);
    RefundRequest f{first.reference, 5000, "refund_1"};
    const auto r1 = e.refund(f).result;
    const auto r2 = e.refund(f).result;
    EXPECT_EQ(r1.outcome, Outcome::approved);
    EXPECT_EQ(r1.reference, r2.reference);
    RefundRequest other{first.reference, 5000, "refund_other"};
    EXPECT_EQ(e.refund(other).result.decline_code, "charge_already_refunded");
}

TEST(TestGateway, InProcessGatewayTimesOutTheHangingCard) {
    auto engine = std::make_shared<TestGatewayEngine>(TestGatewayOptions{});
    std::vector<long> slept;
    TestGateway gw(engine, [&slept](long ms) -> Task<void> {
        slept.push_back(ms);
        co_return;
    });
    auto tok = run(gw.tokenize(card("4000000000000341"), 500ms));
    ASSERT_EQ(tok.outcome, Outcome::approved);
    ChargeRequest r;
    r.token = tok.token;
    r.amount = 100;
    r.currency = "KRW";
    r.idempotency_key = "pay_h";
    EXPECT_EQ(run(gw.charge(r, 500ms)).outcome, Outcome::timeout);
    ASSERT_FALSE(slept.empty());
    EXPECT_EQ(slept.back(), 500);
}

TEST(TestGateway, ErrorRateInjectsTransientFailures) {
    TestGatewayEngine always({0, 1.0});
    EXPECT_EQ(always.tokenize(card("4242424242424242")).token.outcome, Outcome::unavailable);
    TestGatewayEngine never({0, 0.0});
    EXPECT_EQ(never.tokenize(card("4242424242424242")).token.outcome, Outcome::approved);
}

}  // namespace
