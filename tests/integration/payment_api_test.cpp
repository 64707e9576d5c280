// Payment service end to end against a real openmarket-server, PostgreSQL and Redis, with the built-in test
// gateway: payment methods, every endpoint and error, the test cards, idempotency, one payment per order under
// concurrency, refunds, and card data that is never stored, logged or returned.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <latch>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "common/ids.hpp"
#include "support/api_test.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/test_env.hpp"

using nlohmann::json;
using om::test::Account;
using om::test::HttpClient;
using om::test::HttpResponse;
using om::test::ServerOptions;
using om::test::ServerProcess;

namespace {

constexpr const char* kVisa = "4242424242424242";
constexpr const char* kDeclined = "4000000000000002";
constexpr const char* kNoFunds = "4000000000009995";
constexpr const char* kProcessingError = "4000000000000119";
constexpr const char* kNeverAnswers = "4000000000000341";

int next_year() {
    const auto ymd = std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
    return static_cast<int>(ymd.year()) + 1;
}

std::string uuid4() { return om::new_uuid_v7(); }

class PaymentApi : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ServerOptions o;
        // Short gateway timeouts so that the card that never answers settles quickly.
        o.extra_args = {"--payment-gateway-timeout-ms", "300", "--payment-gateway-retries", "1"};
        server_ = std::make_unique<ServerProcess>(o);
    }
    static void TearDownTestSuite() { server_.reset(); }
    void SetUp() override { client_ = std::make_unique<HttpClient>(server_->port()); }

    static inline std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<HttpClient> client_;

    Account buyer() { return om::test::sign_up(*client_, "BUYER"); }
    Account seller() { return om::test::sign_up(*client_, "SELLER"); }

    static HttpResponse send(HttpClient& c, const std::string& method, const std::string& target, const json& body,
                             const std::string& token, std::map<std::string, std::string> headers = {}) {
        if (!token.empty()) {
            headers["Authorization"] = "Bearer " + token;
        }
        return c.request(method, target, body.is_null() ? std::string() : body.dump(), headers);
    }
    HttpResponse send(const std::string& method, const std::string& target, const json& body, const std::string& token,
                      std::map<std::string, std::string> headers = {}) {
        return send(*client_, method, target, body, token, std::move(headers));
    }

    static json card(const std::string& number, const std::string& cvc = "123") {
        return {{"type", "CARD"},       {"cardNumber", number},        {"expiryMonth", 12},
                {"expiryYear", next_year()}, {"holderName", "Hong Gildong"}, {"cvc", cvc}};
    }
    json add_method(const std::string& token, const json& body) {
        auto r = send("POST", "/payments/method", body, token);
        EXPECT_EQ(r.status, 201) << r.body;
        return r.json();
    }
    std::string method_id(const std::string& token, const std::string& number = kVisa) {
        return add_method(token, card(number)).value("methodId", "");
    }
    static json pay_body(const std::string& order, const std::string& method, long long amount = 15000) {
        return {{"orderId", order}, {"methodId", method}, {"amount", amount}, {"currency", "KRW"}};
    }
    HttpResponse pay(const std::string& token, const json& body, const std::string& key = {}) {
        std::map<std::string, std::string> h;
        if (!key.empty()) {
            h["Idempotency-Key"] = key;
        }
        return send("POST", "/payments/process-payment", body, token, h);
    }

    static std::string sql(const std::string& q) { return om::test::sql_value(server_->database_url(), q); }
    static int charge_attempts(const std::string& payment_id) {
        return std::stoi(sql("SELECT count(*) FROM payment.payment_attempts WHERE kind = 'CHARGE' AND payment_id = '" +
                             payment_id + "'"));
    }

    static void expect_problem(const HttpResponse& r, int status, const std::string& code) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << r.body;
        auto j = json::parse(r.body, nullptr, false);
        ASSERT_TRUE(j.is_object()) << r.body;
        EXPECT_EQ(j.value("code", ""), code) << r.body;
    }
    static bool has_field_error(const HttpResponse& r, const std::string& field) {
        auto j = json::parse(r.body, nullptr, false);
        for (const auto& e : j.value("errors", json::array())) {
            if (e.value("field", "") == field) {
                return true;
            }
        }
        return false;
    }
    static void expect_field_error(const HttpResponse& r, const std::string& field) {
        expect_problem(r, 400, "VALIDATION_FAILED");
        EXPECT_TRUE(has_field_error(r, field)) << "no error on '" << field << "': " << r.body;
    }
    static void expect_method_shape(const json& m) {
        for (const char* f : {"methodId", "type", "brand", "last4", "expiryMonth", "expiryYear", "holderName", "nickname",
                              "isDefault", "createdAt"}) {
            EXPECT_TRUE(m.contains(f)) << f << " missing in " << m.dump();
        }
        EXPECT_EQ(m.size(), 10U) << m.dump();
        EXPECT_FALSE(m.contains("cardNumber"));
        EXPECT_FALSE(m.contains("cvc"));
    }
};

// ---- payment methods ------------------------------------------------------------------------------------

TEST_F(PaymentApi, AddMethodReturnsTheCardWithoutItsNumberAndTheFirstIsDefault) {
    auto b = buyer();
    auto body = card("4242 4242 4242 4242");
    body["nickname"] = "생활비 카드";
    auto r = send("POST", "/payments/method", body, b.token);
    ASSERT_EQ(r.status, 201) << r.body;
    auto m = r.json();
    expect_method_shape(m);
    EXPECT_EQ(m["type"], "CARD");
    EXPECT_EQ(m["brand"], "visa");
    EXPECT_EQ(m["last4"], "4242");
    EXPECT_EQ(m["expiryMonth"], 12);
    EXPECT_EQ(m["expiryYear"], next_year());
    EXPECT_EQ(m["holderName"], "Hong Gildong");
    EXPECT_EQ(m["nickname"], "생활비 카드");
    EXPECT_EQ(m["isDefault"], true);
    EXPECT_EQ(r.header("Location"), "/payments/method/" + m.value("methodId", ""));
    EXPECT_EQ(r.body.find("4242424242424242"), std::string::npos);

    auto second = add_method(b.token, card("5555555555554444", "321"));
    EXPECT_EQ(second["brand"], "mastercard");
    EXPECT_EQ(second["isDefault"], false);
    EXPECT_TRUE(second["nickname"].is_null());
    auto amex = add_method(b.token, card("378282246310005", "1234"));
    EXPECT_EQ(amex["brand"], "amex");
}

TEST_F(PaymentApi, ExactlyOneDefaultAcrossAddUpdateAndDelete) {
    auto b = buyer();
    const auto first = method_id(b.token);
    auto body = card("5555555555554444");
    body["isDefault"] = true;
    const auto second = add_method(b.token, body).value("methodId", "");
    auto defaults = [&] {
        auto l = send("GET", "/payments/method", nullptr, b.token);
        EXPECT_EQ(l.status, 200) << l.body;
        std::vector<std::string> ids;
        const auto list = l.json();
        for (const auto& m : list["items"]) {
            if (m["isDefault"] == true) {
                ids.push_back(m["methodId"]);
            }
        }
        return ids;
    };
    EXPECT_EQ(defaults(), std::vector<std::string>{second});
    auto u = send("PUT", "/payments/method/" + first, {{"isDefault", true}}, b.token);
    ASSERT_EQ(u.status, 200) << u.body;
    EXPECT_EQ(u.json()["isDefault"], true);
    EXPECT_EQ(defaults(), std::vector<std::string>{first});
    // The default cannot be switched off directly: another method must become the default.
    expect_problem(send("PUT", "/payments/method/" + first, {{"isDefault", false}}, b.token), 409, "CONFLICT");
    // Deleting the default promotes the newest remaining method.
    auto d = send("DELETE", "/payments/method/" + first, nullptr, b.token);
    EXPECT_EQ(d.status, 204) << d.body;
    EXPECT_EQ(defaults(), std::vector<std::string>{second});
    // In the database, too: one live default per member.
    EXPECT_EQ(sql("SELECT count(*) FROM payment.methods WHERE member_id = '" + b.id +
                  "' AND is_default AND deleted_at IS NULL"),
              "1");
}

TEST_F(PaymentApi, ConcurrentFirstMethodsLeaveOneDefault) {
    auto b = buyer();
    std::latch go(8);
    std::vector<std::thread> threads;
    std::atomic<int> created{0};
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
            HttpClient c(server_->port());
            go.arrive_and_wait();
            if (send(c, "POST", "/payments/method", card(kVisa), b.token).status == 201) {
                ++created;
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(created.load(), 8);
    EXPECT_EQ(sql("SELECT count(*) FROM payment.methods WHERE member_id = '" + b.id +
                  "' AND is_default AND deleted_at IS NULL"),
              "1");
}

TEST_F(PaymentApi, ListUpdateAndDeleteOwnMethods) {
    auto b = buyer();
    const auto id = method_id(b.token);
    const auto other = method_id(b.token, "5555555555554444");
    auto l = send("GET", "/payments/method", nullptr, b.token);
    ASSERT_EQ(l.status, 200) << l.body;
    ASSERT_EQ(l.json()["items"].size(), 2U);
    EXPECT_TRUE(l.json()["nextCursor"].is_null());
    const auto list = l.json();
    for (const auto& m : list["items"]) {
        expect_method_shape(m);
    }
    EXPECT_EQ(l.json()["items"][0]["methodId"], other);  // newest first

    auto u = send("PUT", "/payments/method/" + id,
                  {{"nickname", "여행용"}, {"expiryMonth", 1}, {"expiryYear", next_year() + 2}}, b.token);
    ASSERT_EQ(u.status, 200) << u.body;
    expect_method_shape(u.json());
    EXPECT_EQ(u.json()["nickname"], "여행용");
    EXPECT_EQ(u.json()["expiryMonth"], 1);
    EXPECT_EQ(u.json()["expiryYear"], next_year() + 2);

    EXPECT_EQ(send("DELETE", "/payments/method/" + other, nullptr, b.token).status, 204);
    expect_problem(send("DELETE", "/payments/method/" + other, nullptr, b.token), 404, "NOT_FOUND");
    expect_problem(send("PUT", "/payments/method/" + other, {{"nickname", "x"}}, b.token), 404, "NOT_FOUND");
    EXPECT_EQ(send("GET", "/payments/method", nullptr, b.token).json()["items"].size(), 1U);
    // Soft delete: the row stays for the payments that refer to it.
    EXPECT_EQ(sql("SELECT count(*) FROM payment.methods WHERE id = '" + other + "' AND deleted_at IS NOT NULL"), "1");
    // A deleted method cannot pay.
    expect_problem(pay(b.token, pay_body(uuid4(), other)), 404, "NOT_FOUND");
}

TEST_F(PaymentApi, AddMethodValidation) {
    auto b = buyer();
    auto with = [](json body, const std::string& field, json value) {
        body[field] = std::move(value);
        return body;
    };
    const auto base = card(kVisa);
    expect_field_error(send("POST", "/payments/method", with(base, "cardNumber", "4242424242424241"), b.token), "cardNumber");
    expect_field_error(send("POST", "/payments/method", with(base, "cardNumber", "4242-abcd"), b.token), "cardNumber");
    expect_field_error(send("POST", "/payments/method", with(base, "cardNumber", 4242424242424242LL), b.token), "cardNumber");
    expect_field_error(send("POST", "/payments/method", with(base, "expiryYear", 2020), b.token), "expiryYear");
    expect_field_error(send("POST", "/payments/method", with(base, "expiryMonth", 13), b.token), "expiryMonth");
    expect_field_error(send("POST", "/payments/method", with(base, "expiryMonth", "12"), b.token), "expiryMonth");
    expect_field_error(send("POST", "/payments/method", with(base, "cvc", "12"), b.token), "cvc");
    expect_field_error(send("POST", "/payments/method", with(base, "cvc", 123), b.token), "cvc");
    expect_field_error(send("POST", "/payments/method", with(card("378282246310005"), "cvc", "123"), b.token), "cvc");
    expect_field_error(send("POST", "/payments/method", with(base, "type", "BANK"), b.token), "type");
    expect_field_error(send("POST", "/payments/method", with(base, "isDefault", "yes"), b.token), "isDefault");
    expect_field_error(send("POST", "/payments/method", with(base, "holderName", ""), b.token), "holderName");
    json missing = base;
    missing.erase("cardNumber");
    expect_field_error(send("POST", "/payments/method", missing, b.token), "cardNumber");
    expect_problem(client_->request("POST", "/payments/method", "{not json",
                                    {{"Authorization", "Bearer " + b.token}}),
                   400, "MALFORMED_JSON");
    expect_problem(send("POST", "/payments/method", json::array(), b.token), 400, "VALIDATION_FAILED");
    // An error message never repeats the number.
    auto r = send("POST", "/payments/method", with(base, "cardNumber", "4242424242424241"), b.token);
    EXPECT_EQ(r.body.find("4242424242424241"), std::string::npos) << r.body;
    EXPECT_EQ(send("GET", "/payments/method", nullptr, b.token).json()["items"].size(), 0U);
}

TEST_F(PaymentApi, UpdateMethodValidation) {
    auto b = buyer();
    const auto id = method_id(b.token);
    expect_field_error(send("PUT", "/payments/method/" + id, json::object(), b.token), "");
    expect_field_error(send("PUT", "/payments/method/" + id, {{"expiryYear", 2020}}, b.token), "expiryYear");
    expect_field_error(send("PUT", "/payments/method/" + id, {{"expiryMonth", 1}, {"expiryYear", 2021}}, b.token),
                       "expiryYear");
    expect_field_error(send("PUT", "/payments/method/" + id, {{"nickname", 5}}, b.token), "nickname");
    expect_field_error(send("PUT", "/payments/method/" + id, {{"cardNumber", kVisa}}, b.token), "cardNumber");
    expect_problem(send("PUT", "/payments/method/not-a-uuid", {{"nickname", "x"}}, b.token), 404, "NOT_FOUND");
}

TEST_F(PaymentApi, AuthenticationAndRoles) {
    auto s = seller();
    const auto unknown = uuid4();
    for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"POST", "/payments/method"},
             {"GET", "/payments/method"},
             {"PUT", "/payments/method/" + unknown},
             {"DELETE", "/payments/method/" + unknown},
             {"POST", "/payments/process-payment"},
             {"GET", "/payments/payments/" + unknown},
             {"POST", "/payments/payments/" + unknown + "/refund"}}) {
        auto r = send(method, path, method == "GET" || method == "DELETE" ? json(nullptr) : json::object(), "");
        expect_problem(r, 401, "UNAUTHORIZED");
    }
    expect_problem(send("POST", "/payments/method", card(kVisa), s.token), 403, "FORBIDDEN");
    expect_problem(send("GET", "/payments/method", nullptr, s.token), 403, "FORBIDDEN");
    expect_problem(send("PUT", "/payments/method/" + unknown, {{"nickname", "x"}}, s.token), 403, "FORBIDDEN");
    expect_problem(send("DELETE", "/payments/method/" + unknown, nullptr, s.token), 403, "FORBIDDEN");
}

TEST_F(PaymentApi, AnotherMembersMethodAndPaymentAreNotFound) {
    auto alice = buyer();
    auto mallory = buyer();
    const auto method = method_id(alice.token);
    const auto mine = method_id(mallory.token);
    expect_problem(send("PUT", "/payments/method/" + method, {{"nickname", "mine"}}, mallory.token), 404, "NOT_FOUND");
    expect_problem(send("DELETE", "/payments/method/" + method, nullptr, mallory.token), 404, "NOT_FOUND");
    expect_problem(pay(mallory.token, pay_body(uuid4(), method)), 404, "NOT_FOUND");
    EXPECT_EQ(send("GET", "/payments/method", nullptr, mallory.token).json()["items"].size(), 1U);

    auto p = pay(alice.token, pay_body(uuid4(), method));
    ASSERT_EQ(p.status, 201) << p.body;
    const std::string pid = p.json()["paymentId"];
    expect_problem(send("GET", "/payments/payments/" + pid, nullptr, mallory.token), 404, "NOT_FOUND");
    expect_problem(send("POST", "/payments/payments/" + pid + "/refund", nullptr, mallory.token), 404, "NOT_FOUND");
    expect_problem(send("GET", "/payments/payments/not-a-uuid", nullptr, alice.token), 404, "NOT_FOUND");
    expect_problem(send("GET", "/payments/payments/" + uuid4(), nullptr, alice.token), 404, "NOT_FOUND");
    // Another member cannot pay an order someone else has paid.
    expect_problem(pay(mallory.token, pay_body(p.json()["orderId"], mine)), 409, "CONFLICT");
    EXPECT_EQ(send("GET", "/payments/payments/" + pid, nullptr, alice.token).status, 200);
}

// ---- payments -------------------------------------------------------------------------------------------

TEST_F(PaymentApi, ApprovedPaymentShapeAndRead) {
    auto b = buyer();
    const auto method = method_id(b.token);
    const auto order = uuid4();
    auto r = pay(b.token, pay_body(order, method, 129000));
    ASSERT_EQ(r.status, 201) << r.body;
    auto p = r.json();
    EXPECT_EQ(p["status"], "APPROVED");
    EXPECT_EQ(p["orderId"], order);
    EXPECT_EQ(p["methodId"], method);
    EXPECT_EQ(p["amount"], 129000);
    EXPECT_EQ(p["currency"], "KRW");
    EXPECT_TRUE(p.contains("approvedAt"));
    EXPECT_FALSE(p.contains("declineCode"));
    EXPECT_EQ(r.header("Location"), "/payments/payments/" + p.value("paymentId", ""));
    auto g = send("GET", "/payments/payments/" + p.value("paymentId", ""), nullptr, b.token);
    ASSERT_EQ(g.status, 200) << g.body;
    EXPECT_EQ(g.json(), p);
    EXPECT_EQ(charge_attempts(p["paymentId"]), 1);
    EXPECT_EQ(sql("SELECT string_agg(coalesce(from_status, '-') || '>' || to_status, ',' ORDER BY id) "
                  "FROM payment.payment_events WHERE payment_id = '" + p.value("paymentId", "") + "'"),
              "->PENDING,PENDING>APPROVED");
    // Currency defaults to KRW.
    auto d = pay(b.token, {{"orderId", uuid4()}, {"methodId", method}, {"amount", 1}});
    ASSERT_EQ(d.status, 201) << d.body;
    EXPECT_EQ(d.json()["currency"], "KRW");
}

TEST_F(PaymentApi, EachTestCardBehavesAsDocumented) {
    auto b = buyer();
    struct Case {
        const char* number;
        const char* status;
        const char* code;
        int attempts;
    };
    for (const Case& c : {Case{kVisa, "APPROVED", "", 1}, Case{"5555555555554444", "APPROVED", "", 1},
                          Case{kDeclined, "DECLINED", "card_declined", 1},
                          Case{kNoFunds, "DECLINED", "insufficient_funds", 1},
                          Case{kProcessingError, "FAILED", "processing_error", 1},
                          Case{kNeverAnswers, "FAILED", "gateway_timeout", 2}}) {
        const auto method = method_id(b.token, c.number);
        const auto started = std::chrono::steady_clock::now();
        auto r = pay(b.token, pay_body(uuid4(), method));
        const auto took = std::chrono::steady_clock::now() - started;
        ASSERT_EQ(r.status, 201) << c.number << ": " << r.body;
        auto p = r.json();
        EXPECT_EQ(p["status"], c.status) << c.number << ": " << r.body;
        if (*c.code) {
            EXPECT_EQ(p.value("declineCode", ""), c.code) << r.body;
            EXPECT_FALSE(p.contains("approvedAt")) << r.body;
        } else {
            EXPECT_FALSE(p.contains("declineCode")) << r.body;
            EXPECT_TRUE(p.contains("approvedAt")) << r.body;
        }
        // Timeouts are retried (1 retry configured) with the same gateway key; definitive answers are not.
        EXPECT_EQ(charge_attempts(p["paymentId"]), c.attempts) << c.number;
        if (c.attempts == 2) {
            EXPECT_GE(took, std::chrono::milliseconds(600));
            EXPECT_LT(took, std::chrono::milliseconds(5000));
            EXPECT_EQ(sql("SELECT count(DISTINCT gateway_key) FROM payment.payment_attempts WHERE payment_id = '" +
                          p.value("paymentId", "") + "'"),
                      "1");
        }
    }
}

TEST_F(PaymentApi, ProcessPaymentValidation) {
    auto b = buyer();
    const auto method = method_id(b.token);
    auto with = [&](const std::string& field, json value) {
        auto body = pay_body(uuid4(), method);
        body[field] = std::move(value);
        return body;
    };
    expect_field_error(pay(b.token, with("orderId", "order-1")), "orderId");
    expect_field_error(pay(b.token, with("orderId", 12)), "orderId");
    expect_field_error(pay(b.token, with("amount", 0)), "amount");
    expect_field_error(pay(b.token, with("amount", -5)), "amount");
    expect_field_error(pay(b.token, with("amount", "15000")), "amount");
    expect_field_error(pay(b.token, with("amount", 15.5)), "amount");
    expect_field_error(pay(b.token, with("currency", "krw")), "currency");
    expect_field_error(pay(b.token, with("methodId", nullptr)), "methodId");
    expect_field_error(pay(b.token, pay_body(uuid4(), method), std::string(201, 'k')), "Idempotency-Key");
    expect_problem(client_->request("POST", "/payments/process-payment", "[",
                                    {{"Authorization", "Bearer " + b.token}}),
                   400, "MALFORMED_JSON");
    expect_problem(pay(b.token, pay_body(uuid4(), "not-a-uuid")), 404, "NOT_FOUND");
    expect_problem(pay(b.token, pay_body(uuid4(), uuid4())), 404, "NOT_FOUND");
    EXPECT_EQ(sql("SELECT count(*) FROM payment.payments WHERE member_id = '" + b.id + "'"), "0");
}

TEST_F(PaymentApi, OnePaymentPerOrderAndIdempotencyKeys) {
    auto b = buyer();
    const auto method = method_id(b.token);
    const auto order = uuid4();
    auto first = pay(b.token, pay_body(order, method), "key-1");
    ASSERT_EQ(first.status, 201) << first.body;
    // The same key and request: the same payment.
    auto again = pay(b.token, pay_body(order, method), "key-1");
    ASSERT_EQ(again.status, 201) << again.body;
    EXPECT_EQ(again.json(), first.json());
    // The same key for another request: 422.
    expect_problem(pay(b.token, pay_body(order, method, 999), "key-1"), 422, "IDEMPOTENCY_KEY_REUSED");
    expect_problem(pay(b.token, pay_body(uuid4(), method), "key-1"), 422, "IDEMPOTENCY_KEY_REUSED");
    // The same order without a key, or with another key: still the one payment, never a second charge.
    auto no_key = pay(b.token, pay_body(order, method));
    ASSERT_EQ(no_key.status, 201) << no_key.body;
    EXPECT_EQ(no_key.json()["paymentId"], first.json()["paymentId"]);
    auto other_key = pay(b.token, pay_body(order, method, 777), "key-2");
    ASSERT_EQ(other_key.status, 201) << other_key.body;
    EXPECT_EQ(other_key.json()["paymentId"], first.json()["paymentId"]);
    EXPECT_EQ(other_key.json()["amount"], 15000);
    EXPECT_EQ(charge_attempts(first.json()["paymentId"]), 1);
    EXPECT_EQ(sql("SELECT count(*) FROM payment.payments WHERE order_id = '" + order + "'"), "1");
    // The same key text of another member is unrelated.
    auto c = buyer();
    auto theirs = pay(c.token, pay_body(uuid4(), method_id(c.token)), "key-1");
    EXPECT_EQ(theirs.status, 201) << theirs.body;
}

TEST_F(PaymentApi, FiftyConcurrentIdenticalRequestsChargeOnce) {
    auto b = buyer();
    const auto method = method_id(b.token);
    for (const bool with_key : {true, false}) {
        const auto order = uuid4();
        const auto body = pay_body(order, method);
        constexpr int n = 50;
        std::latch go(n);
        std::vector<std::thread> threads;
        std::vector<int> statuses(n);
        std::vector<std::string> ids(n);
        for (int i = 0; i < n; ++i) {
            threads.emplace_back([&, i] {
                HttpClient c(server_->port());
                std::map<std::string, std::string> h{{"Authorization", "Bearer " + b.token}};
                if (with_key) {
                    h["Idempotency-Key"] = "flash-" + order;
                }
                go.arrive_and_wait();
                auto r = c.request("POST", "/payments/process-payment", body.dump(), h);
                statuses[i] = r.status;
                if (r.status == 201) {
                    ids[i] = r.json().value("paymentId", "");
                    EXPECT_EQ(r.json().value("status", ""), "APPROVED");
                }
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        std::set<std::string> distinct(ids.begin(), ids.end());
        for (int s : statuses) {
            EXPECT_EQ(s, 201);
        }
        EXPECT_EQ(distinct.size(), 1U);
        EXPECT_EQ(sql("SELECT count(*) FROM payment.payments WHERE order_id = '" + order + "'"), "1");
        EXPECT_EQ(charge_attempts(*distinct.begin()), 1) << "the gateway was charged more than once";
    }
}

TEST_F(PaymentApi, RefundIsIdempotentAndOnlyForApprovedPayments) {
    auto b = buyer();
    const auto method = method_id(b.token);
    auto p = pay(b.token, pay_body(uuid4(), method)).json();
    const std::string pid = p["paymentId"];
    auto r1 = send("POST", "/payments/payments/" + pid + "/refund", nullptr, b.token);
    ASSERT_EQ(r1.status, 200) << r1.body;
    EXPECT_EQ(r1.json()["status"], "REFUNDED");
    EXPECT_TRUE(r1.json().contains("refundedAt"));
    auto r2 = send("POST", "/payments/payments/" + pid + "/refund", nullptr, b.token);
    ASSERT_EQ(r2.status, 200) << r2.body;
    EXPECT_EQ(r2.json(), r1.json());
    EXPECT_EQ(send("GET", "/payments/payments/" + pid, nullptr, b.token).json()["status"], "REFUNDED");
    EXPECT_EQ(sql("SELECT count(*) FROM payment.payment_attempts WHERE kind = 'REFUND' AND payment_id = '" + pid + "'"),
              "1");
    // Concurrent refunds of another payment: one refund at the gateway.
    const std::string pid2 = pay(b.token, pay_body(uuid4(), method)).json()["paymentId"];
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 10; ++i) {
        threads.emplace_back([&] {
            HttpClient c(server_->port());
            auto r = send(c, "POST", "/payments/payments/" + pid2 + "/refund", nullptr, b.token);
            if (r.status == 200 && r.json().value("status", "") == "REFUNDED") {
                ++ok;
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(ok.load(), 10);
    EXPECT_EQ(sql("SELECT count(DISTINCT gateway_ref) FROM payment.payment_attempts WHERE kind = 'REFUND' AND "
                  "outcome = 'REFUNDED' AND payment_id = '" + pid2 + "'"),
              "1");
    EXPECT_EQ(sql("SELECT count(*) FROM payment.payment_events WHERE to_status = 'REFUNDED' AND payment_id = '" + pid2 +
                  "'"),
              "1");
    // Only APPROVED payments can be refunded.
    auto declined = pay(b.token, pay_body(uuid4(), method_id(b.token, kDeclined))).json();
    ASSERT_EQ(declined["status"], "DECLINED");
    expect_problem(send("POST", "/payments/payments/" + declined.value("paymentId", "") + "/refund", nullptr, b.token),
                   409, "CONFLICT");
    expect_problem(send("POST", "/payments/payments/" + uuid4() + "/refund", nullptr, b.token), 404, "NOT_FOUND");
}

TEST_F(PaymentApi, RetryAfterTheMethodWasDeletedStillReturnsThePayment) {
    auto b = buyer();
    const auto method = method_id(b.token);
    const auto order = uuid4();
    auto first = pay(b.token, pay_body(order, method), "k");
    ASSERT_EQ(first.status, 201) << first.body;
    ASSERT_EQ(send("DELETE", "/payments/method/" + method, nullptr, b.token).status, 204);
    auto again = pay(b.token, pay_body(order, method), "k");
    ASSERT_EQ(again.status, 201) << again.body;
    EXPECT_EQ(again.json(), first.json());
    expect_problem(pay(b.token, pay_body(uuid4(), method)), 404, "NOT_FOUND");
}

// A payment left PENDING by a process that died (its lease expired) is taken over by the next call for the order
// and charged with the same gateway idempotency key; one that is still being charged makes the caller wait,
// then answers 409 with Retry-After.
TEST_F(PaymentApi, AbandonedPendingPaymentIsTakenOverAndLiveOneIsWaitedFor) {
    auto b = buyer();
    const auto method = method_id(b.token);
    auto insert_pending = [&](const std::string& order, const std::string& lease) {
        const auto id = uuid4();
        sql("INSERT INTO payment.payments (id, order_id, member_id, method_id, amount, currency, status, lease_until) "
            "VALUES ('" + id + "', '" + order + "', '" + b.id + "', '" + method + "', 15000, 'KRW', 'PENDING', " + lease +
            ")");
        return id;
    };
    const auto order = uuid4();
    const auto abandoned = insert_pending(order, "now() - interval '1 second'");
    auto r = pay(b.token, pay_body(order, method));
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.json()["paymentId"], abandoned);
    EXPECT_EQ(r.json()["status"], "APPROVED");
    EXPECT_EQ(charge_attempts(abandoned), 1);
    EXPECT_EQ(sql("SELECT count(*) FROM payment.payment_events WHERE payment_id = '" + abandoned +
                  "' AND detail LIKE 'taken over%'"),
              "1");

    const auto live_order = uuid4();
    const auto live = insert_pending(live_order, "now() + interval '1 hour'");
    auto g = send("GET", "/payments/payments/" + live, nullptr, b.token);
    ASSERT_EQ(g.status, 200) << g.body;
    EXPECT_EQ(g.json()["status"], "PENDING");
    auto busy = pay(b.token, pay_body(live_order, method));
    expect_problem(busy, 409, "CONFLICT");
    EXPECT_EQ(busy.header("Retry-After"), "1");
    EXPECT_EQ(charge_attempts(live), 0);
    expect_problem(send("POST", "/payments/payments/" + live + "/refund", nullptr, b.token), 409, "CONFLICT");
}

// ---- card data is never kept ------------------------------------------------------------------------------

TEST_F(PaymentApi, CardNumberAndCvcAreNeverStoredLoggedOrReturned) {
    auto b = buyer();
    // Distinctive values: a Luhn-valid Visa number and an Amex number with a 4-digit CVC.
    const std::string number = "4111111111111111";
    const std::string amex = "371449635398431";
    const std::string cvc = "8642";
    auto m1 = send("POST", "/payments/method", card(number, "975"), b.token);
    ASSERT_EQ(m1.status, 201) << m1.body;
    auto spaced = card("3714 496353 98431", cvc);
    auto m2 = send("POST", "/payments/method", spaced, b.token);
    ASSERT_EQ(m2.status, 201) << m2.body;
    auto bad = send("POST", "/payments/method", card("4111111111111112", "975"), b.token);  // fails Luhn
    EXPECT_EQ(bad.status, 400);
    auto p = pay(b.token, pay_body(uuid4(), m2.json()["methodId"]));
    ASSERT_EQ(p.status, 201) << p.body;
    for (const auto* r : {&m1, &m2, &bad, &p}) {
        EXPECT_EQ(r->body.find(number), std::string::npos);
        EXPECT_EQ(r->body.find(amex), std::string::npos);
        EXPECT_EQ(r->body.find(cvc), std::string::npos);
    }
    EXPECT_EQ(send("GET", "/payments/method", nullptr, b.token).body.find(number), std::string::npos);

    // The whole database, as pg_dump sees it.
    const std::string dump_path = om::test::env("OM_TEST_STATE_DIR") + "/payment-dump-" + std::to_string(::getpid()) + ".sql";
    const std::string cmd = om::test::env("OM_TEST_PG_BIN") + "/pg_dump --data-only --no-owner '" +
                            server_->database_url() + "' > '" + dump_path + "'";
    ASSERT_EQ(om::test::sh(cmd), 0) << cmd;
    std::ifstream in(dump_path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string dump = ss.str();
    std::remove(dump_path.c_str());
    ASSERT_NE(dump.find("payment.methods"), std::string::npos) << "the dump does not contain the payment tables";
    ASSERT_NE(dump.find("1111"), std::string::npos) << "last4 should be there";
    for (const auto& secret : {number, amex, std::string("4111111111111112"), std::string("3714 496353 98431")}) {
        EXPECT_EQ(dump.find(secret), std::string::npos) << "card number in the database dump";
    }
    // A CVC could only be stored as a column value (a whole field in COPY's tab-separated text).
    const std::regex cvc_field("(^|\\t)(" + cvc + "|975)(\\t|$)", std::regex::multiline);
    EXPECT_FALSE(std::regex_search(dump, cvc_field)) << "CVC in the database dump";

    const std::string log = server_->log();
    ASSERT_FALSE(log.empty());
    for (const auto& secret : {number, amex, std::string("4111111111111112"), std::string("3714 496353 98431")}) {
        EXPECT_EQ(log.find(secret), std::string::npos) << "card number in the server log";
    }
    EXPECT_EQ(log.find("\"" + cvc + "\""), std::string::npos) << "CVC in the server log";
    EXPECT_EQ(log.find("cvc"), std::string::npos);
    EXPECT_EQ(log.find("cardNumber"), std::string::npos);
}

}  // namespace
