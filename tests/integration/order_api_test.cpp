// The order path end to end (issue 5, design §4): a real openmarket-server against real PostgreSQL and Redis.
// The invariants: no oversell under any concurrency (the last unit, multi-line orders), exactly one charge per
// Idempotency-Key, compensation of declined and failed payments, durability across kill -9, a stock gate
// rebuilt after Redis loses its data, buyer cancellation, delivery events driving the order, and isolation.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

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
using namespace std::chrono_literals;

namespace {

constexpr const char* kVisa = "4242424242424242";
constexpr const char* kDeclined = "4000000000000002";
constexpr const char* kNeverAnswers = "4000000000000341";

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) {
        return "<popen failed>";
    }
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
        out.append(buf, n);
    }
    ::pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
        out.pop_back();
    }
    return out;
}

struct Buyer {
    Account account;
    std::string method_id;
    std::string address_id;
};

// Runs `n` jobs on `n` threads released together.
template <class F>
void all_at_once(int n, F job) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            ++ready;
            while (!go.load()) {
                std::this_thread::yield();
            }
            job(i);
        });
    }
    while (ready.load() < n) {
        std::this_thread::sleep_for(1ms);
    }
    go = true;
    for (auto& t : threads) {
        t.join();
    }
}

// Runs `n` jobs on at most `width` threads.
template <class F>
void in_parallel(int n, int width, F job) {
    std::atomic<int> next{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < width; ++w) {
        threads.emplace_back([&] {
            for (int i = next++; i < n; i = next++) {
                job(i);
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
}

class OrderTest : public ::testing::Test {
protected:
    static void start(std::vector<std::string> extra = {}) {
        ServerOptions o;
        o.extra_args = {"--order-reservation-ttl-ms", "3000", "--order-resume-after-ms", "3000",
                        "--payment-gateway-timeout-ms", "300", "--payment-gateway-retries", "1"};
        o.extra_args.insert(o.extra_args.end(), extra.begin(), extra.end());
        server_ = std::make_unique<ServerProcess>(o);
    }
    static void TearDownTestSuite() { server_.reset(); }
    void SetUp() override {
        if (!server_) {
            start();
        }
        client_ = std::make_unique<HttpClient>(server_->port());
        client_->set_timeout(30s);
    }

    // ---- setup through the API ----
    Account seller() { return om::test::sign_up(*client_, "SELLER"); }

    Buyer buyer(HttpClient& c, const std::string& card = kVisa) {
        Buyer b;
        b.account = om::test::sign_up(c, "BUYER");
        auto m = c.post("/payments/method",
                        {{"type", "CARD"}, {"cardNumber", card}, {"expiryMonth", 12}, {"expiryYear", 2035},
                         {"holderName", "Kim Minji"}, {"cvc", "123"}},
                        b.account.token);
        EXPECT_EQ(m.status, 201) << m.body;
        b.method_id = m.json().value("methodId", "");
        auto a = c.post("/delivery/addresses",
                        {{"recipientName", "김민지"}, {"phone", "010-1234-5678"}, {"postalCode", "06236"},
                         {"address1", "서울특별시 강남구 테헤란로 123"}},
                        b.account.token);
        EXPECT_EQ(a.status, 201) << a.body;
        b.address_id = a.json().value("addressId", "");
        return b;
    }
    Buyer buyer(const std::string& card = kVisa) { return buyer(*client_, card); }

    std::vector<Buyer> buyers(int n) {
        std::vector<Buyer> out(static_cast<std::size_t>(n));
        in_parallel(n, 8, [&](int i) {
            HttpClient c(server_->port());
            c.set_timeout(30s);
            out[static_cast<std::size_t>(i)] = buyer(c);
        });
        return out;
    }

    std::string product(const Account& s, long long stock, long long price = 15000, const std::string& name = "한정판 운동화") {
        auto r = client_->post("/products", {{"name", name}, {"price", price}, {"category", "패션"}, {"stock", stock}},
                               s.token);
        EXPECT_EQ(r.status, 201) << r.body;
        return r.json().value("productId", "");
    }

    static json order_body(const Buyer& b, const std::vector<std::pair<std::string, int>>& lines) {
        json items = json::array();
        for (const auto& [pid, q] : lines) {
            items.push_back({{"productId", pid}, {"quantity", q}});
        }
        return {{"items", items}, {"paymentMethodId", b.method_id}, {"addressId", b.address_id}};
    }

    static HttpResponse place(HttpClient& c, const std::string& token, const json& body, const std::string& key) {
        std::map<std::string, std::string> h{{"Authorization", "Bearer " + token},
                                             {"Content-Type", "application/json"}};
        if (!key.empty()) {
            h["Idempotency-Key"] = key;
        }
        return c.request("POST", "/order/process-order", body.dump(), h);
    }
    HttpResponse place(const Buyer& b, const std::vector<std::pair<std::string, int>>& lines,
                       const std::string& key = om::new_uuid_v7()) {
        return place(*client_, b.account.token, order_body(b, lines), key);
    }

    // Polls GET /order/orders/{id} until `done` holds (or 40 s pass); returns the last representation.
    json wait_order(const std::string& token, const std::string& id, const std::function<bool(const json&)>& done) {
        json last;
        const auto deadline = std::chrono::steady_clock::now() + 40s;
        while (std::chrono::steady_clock::now() < deadline) {
            auto r = client_->get("/order/orders/" + id, token);
            if (r.status == 200) {
                last = r.json();
                if (done(last)) {
                    return last;
                }
            }
            std::this_thread::sleep_for(50ms);
        }
        ADD_FAILURE() << "order " << id << " did not get there: " << last.dump();
        return last;
    }
    static bool settled(const json& o) {
        const auto s = o.value("status", "");
        return s == "CONFIRMED" || s == "CANCELLED" || s == "SHIPPED" || s == "DELIVERED";
    }

    // ---- the truth in PostgreSQL and Redis ----
    static std::string sql(const std::string& q) { return om::test::sql_value(server_->database_url(), q); }
    // One order as the order service hands it to orders.place_orders (a batch is a JSON array of them), for tests
    // that call the group commit directly. A line's version is the product row's it was priced from (none: the
    // group commit does not check it).
    struct BatchLine {
        BatchLine(std::string p, int q, std::optional<int> v = std::nullopt)
            : product(std::move(p)), quantity(q), version(v) {}
        std::string product;
        int quantity;
        std::optional<int> version;
    };
    static json batch_order(const Account& s, const Buyer& b, const std::string& id, const std::vector<BatchLine>& lines,
                            const std::string& gate_epoch, long long reserved_at_ms) {
        json items = json::array();
        json ls = json::array();
        long long total = 0;
        for (const auto& l : lines) {
            items.push_back({{"productId", l.product}, {"sellerId", s.id}, {"name", "x"}, {"unitPrice", 100},
                             {"quantity", l.quantity}, {"lineTotal", 100 * l.quantity}});
            json line = {{"productId", l.product}, {"quantity", l.quantity}};
            if (l.version) {
                line["version"] = *l.version;
            }
            ls.push_back(std::move(line));
            total += 100LL * l.quantity;
        }
        return json{{"id", id}, {"buyerId", b.account.id}, {"key", om::new_uuid_v7()}, {"hash", "h"},
                    {"items", items}, {"lines", ls}, {"total", total}, {"currency", "KRW"},
                    {"methodId", b.method_id}, {"addressId", b.address_id}, {"epoch", gate_epoch},
                    {"reservedAtMs", reserved_at_ms}, {"sellers", json::array({s.id})},
                    {"event", {{"eventId", om::new_uuid_v7()}}}, {"at", "2026-12-07T00:00:00Z"}};
    }
    static long long now_ms() {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
    static long long stock(const std::string& pid) {
        return std::stoll(sql("SELECT stock FROM product.products WHERE id = '" + pid + "'"));
    }
    static std::string redis(const std::string& args) {
        const std::string& url = server_->redis_url();  // redis://127.0.0.1:PORT/DB
        const auto colon = url.rfind(':');
        const auto slash = url.rfind('/');
        const std::string port = url.substr(colon + 1, slash - colon - 1);
        const std::string db = url.substr(slash + 1);
        return run("redis-cli -p " + port + " -n " + db + " " + args + " 2>&1");
    }
    static std::string gate(const std::string& pid) { return redis("GET om:gate:" + pid); }
    // Every product's stock equals its ledger, and no stock is negative.
    static void expect_ledger_balanced() {
        EXPECT_EQ(sql("SELECT count(*) FROM product.products p WHERE p.stock <> "
                      "(SELECT coalesce(sum(delta), 0) FROM product.stock_movements m WHERE m.product_id = p.id)"),
                  "0");
        EXPECT_EQ(sql("SELECT count(*) FROM product.products WHERE stock < 0"), "0");
    }
    // Units of `pid` held by orders that are not cancelled.
    static long long sold(const std::string& pid) {
        return std::stoll(sql("SELECT coalesce(sum((i ->> 'quantity')::bigint), 0) FROM orders.orders o, "
                              "jsonb_array_elements(o.items) i WHERE o.status <> 'CANCELLED' AND i ->> 'productId' = '" +
                              pid + "'"));
    }
    // Waits until the gate of `pid` equals its PostgreSQL stock (reservations of orders that died are released
    // by the sweeper; stock given back reaches the gate).
    static void expect_gate_settles(const std::string& pid) {
        const auto deadline = std::chrono::steady_clock::now() + 40s;
        while (std::chrono::steady_clock::now() < deadline && gate(pid) != std::to_string(stock(pid))) {
            std::this_thread::sleep_for(100ms);
        }
        EXPECT_EQ(gate(pid), std::to_string(stock(pid))) << "the Redis gate of " << pid << " equals PostgreSQL";
    }

    // Waits until no order is PENDING or PAID any more (60 s at most) and checks that it got there.
    static void expect_every_order_settles() {
        const std::string unsettled = "SELECT count(*) FROM orders.orders WHERE status IN ('PENDING', 'PAID')";
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        while (std::chrono::steady_clock::now() < deadline && sql(unsettled) != "0") {
            std::this_thread::sleep_for(200ms);
        }
        EXPECT_EQ(sql(unsettled), "0") << "every order settled";
    }

    // The resumer can find every order still PENDING or PAID: it is above the end of the resumer's scan, or
    // listed (migration 0021). Holds at any moment.
    static void expect_resumer_can_find_every_unsettled_order() {
        EXPECT_EQ(sql("SELECT count(*) FROM orders.orders o, orders.unsettled_scan s "
                      "WHERE o.status IN ('PENDING', 'PAID') AND o.id < s.scanned_to "
                      "AND NOT EXISTS (SELECT 1 FROM orders.unsettled u WHERE u.order_id = o.id)"),
                  "0");
    }

    // Places an order that must be accepted (201/202) and waits until it settles; returns it as it is then.
    json place_settled(const Buyer& b, const std::vector<std::pair<std::string, int>>& lines) {
        auto r = place(b, lines);
        EXPECT_TRUE(r.status == 201 || r.status == 202) << r.body;
        if (r.status != 201 && r.status != 202) {
            return json::object();
        }
        return wait_order(b.account.token, r.json().value("orderId", ""), settled);
    }

    static void expect_problem(const HttpResponse& r, int status, const std::string& code) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << r.body;
        if (r.status == status) {
            EXPECT_EQ(r.json().value("code", ""), code) << r.body;
        }
    }

    static inline std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<HttpClient> client_;
};

class OrderApi : public OrderTest {};

// ---- placing an order ------------------------------------------------------------------------------------

TEST_F(OrderApi, AnOrderIsChargedShippedAndConfirmed) {
    auto s = seller();
    const auto p1 = product(s, 10, 15000, "무선 이어폰");
    const auto p2 = product(s, 5, 2500, "충전 케이블");
    auto b = buyer();
    auto r = place(b, {{p1, 2}, {p2, 1}});
    ASSERT_TRUE(r.status == 201 || r.status == 202) << r.body;
    auto o = r.json();
    const std::string id = o.value("orderId", "");
    if (r.status == 202) {
        EXPECT_EQ(r.header("Location"), "/order/orders/" + id);
        o = wait_order(b.account.token, id, settled);
    }
    EXPECT_EQ(o.value("status", ""), "CONFIRMED") << o.dump();
    EXPECT_EQ(o.value("totalAmount", 0LL), 2 * 15000 + 2500) << "prices come from the product service";
    EXPECT_EQ(o.value("currency", ""), "KRW");
    ASSERT_EQ(o["items"].size(), 2U);
    EXPECT_EQ(o["items"][0].value("name", ""), "무선 이어폰");
    EXPECT_EQ(o["items"][0].value("unitPrice", 0LL), 15000);
    EXPECT_EQ(o["items"][0].value("lineTotal", 0LL), 30000);
    EXPECT_EQ(o.value("paymentStatus", ""), "APPROVED");
    EXPECT_FALSE(o.value("paymentId", "").empty());
    EXPECT_EQ(o.value("deliveryStatus", ""), "READY");
    std::vector<std::string> history;
    for (const auto& h : o["history"]) {
        history.push_back(h.value("status", ""));
    }
    EXPECT_EQ(history, (std::vector<std::string>{"PENDING", "PAID", "CONFIRMED"}));
    EXPECT_EQ(stock(p1), 8);
    EXPECT_EQ(stock(p2), 4);
    EXPECT_EQ(gate(p1), "8");
    EXPECT_EQ(gate(p2), "4");
    EXPECT_EQ(sql("SELECT count(*) FROM product.stock_movements WHERE reason = 'ORDER' AND order_id = '" + id + "'"), "2");
    expect_ledger_balanced();

    // The payment and the delivery exist in their services, for this order.
    auto pay = client_->get("/payments/payments/" + o.value("paymentId", ""), b.account.token);
    EXPECT_EQ(pay.status, 200) << pay.body;
    EXPECT_EQ(pay.json().value("amount", 0LL), 32500);
    EXPECT_EQ(pay.json().value("orderId", ""), id);
    // The order is the saga's key (payments_one_per_order): no Idempotency-Key row beside it (issue 6).
    EXPECT_EQ(sql("SELECT count(*) FROM payment.payments WHERE order_id = '" + id + "'"), "1");
    EXPECT_EQ(sql("SELECT count(*) FROM payment.idempotency_keys WHERE order_id = '" + id + "'"), "0");
    auto del = client_->get("/delivery/deliveries/" + o.value("deliveryId", ""), b.account.token);
    EXPECT_EQ(del.status, 200) << del.body;
    EXPECT_EQ(del.json().value("orderId", ""), id);

    // The order as GET and as the history show it.
    auto got = client_->get("/order/orders/" + id, b.account.token);
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.json().value("status", ""), "CONFIRMED");
    auto list = client_->get("/order/orders", b.account.token);
    ASSERT_EQ(list.status, 200) << list.body;
    ASSERT_EQ(list.json()["items"].size(), 1U);
    EXPECT_EQ(list.json()["items"][0].value("orderId", ""), id);
    EXPECT_TRUE(list.json()["nextCursor"].is_null());
}

namespace {
// Whether every object's keys, in the order the text has them, are in jsonb's order (shorter first, then bytes).
bool keys_in_jsonb_order(const nlohmann::ordered_json& j, std::string& why) {
    if (j.is_object()) {
        const std::string* prev = nullptr;
        for (auto it = j.begin(); it != j.end(); ++it) {
            const std::string& k = it.key();
            if (prev != nullptr && (k.size() < prev->size() || (k.size() == prev->size() && k < *prev))) {
                why = "\"" + k + "\" after \"" + *prev + "\"";
                return false;
            }
            prev = &k;
            if (!keys_in_jsonb_order(it.value(), why)) {
                return false;
            }
        }
    } else if (j.is_array()) {
        for (const auto& e : j) {
            if (!keys_in_jsonb_order(e, why)) {
                return false;
            }
        }
    }
    return true;
}
}  // namespace

// The group commit's batches are in /metrics: how many orders each held and how long each took.
TEST_F(OrderApi, TheGroupCommitsBatchesAreInTheMetrics) {
    // Sum of a series over the shards (the server may have written batches for other tests already).
    const auto total = [this](const std::string& series) {
        auto m = client_->get("/metrics");
        EXPECT_EQ(m.status, 200);
        double sum = 0;
        for (std::size_t at = m.body.find("\n" + series + "{"); at != std::string::npos;
             at = m.body.find("\n" + series + "{", at + 1)) {
            const auto space = m.body.find(' ', at + 1);
            sum += std::stod(m.body.substr(space + 1));
        }
        return sum;
    };
    const double orders_before = total("openmarket_order_group_commit_orders_sum");
    const double batches_before = total("openmarket_order_group_commit_seconds_count");
    auto s = seller();
    const auto p = product(s, 10);
    auto b = buyer();
    ASSERT_EQ(place_settled(b, {{p, 1}}).value("status", ""), "CONFIRMED");
    ASSERT_EQ(place_settled(b, {{p, 2}}).value("status", ""), "CONFIRMED");
    EXPECT_GE(total("openmarket_order_group_commit_orders_sum") - orders_before, 2.0);
    EXPECT_GE(total("openmarket_order_group_commit_seconds_count") - batches_before, 1.0);
    EXPECT_GT(total("openmarket_order_group_commit_seconds_sum"), 0.0);
}

// The saga's events are written with their keys in jsonb's order (om::JsonOut, json_out.hpp: jsonb_in then checks
// the order instead of sorting, in the batches that carry them to the outboxes). What the publisher put on the
// streams is that text as written: every payload of this order's OrderPlaced, PaymentApproved and DeliveryCreated.
TEST_F(OrderApi, TheSagasEventsAreWrittenWithTheirKeysInJsonbOrder) {
    auto s = seller();
    const auto p1 = product(s, 10, 1000, "keys");
    auto b = buyer();
    auto r = place(b, {{p1, 1}});
    ASSERT_TRUE(r.status == 201 || r.status == 202) << r.body;
    const std::string id = r.json().value("orderId", "");
    ASSERT_EQ(wait_order(b.account.token, id, settled).value("status", ""), "CONFIRMED");
    std::set<std::string> types;
    for (const char* stream : {"om:events:order", "om:events:payment", "om:events:delivery"}) {
        std::string out = redis(std::string("XREVRANGE ") + stream + " + - COUNT 200");
        std::size_t at = 0;
        while (at < out.size()) {
            const auto end = out.find('\n', at);
            const std::string line = out.substr(at, end == std::string::npos ? std::string::npos : end - at);
            at = end == std::string::npos ? out.size() : end + 1;
            if (line.empty() || line.front() != '{' || line.find(id) == std::string::npos) {
                continue;
            }
            const auto payload = nlohmann::ordered_json::parse(line, nullptr, false);
            ASSERT_TRUE(payload.is_object()) << line;
            std::string why;
            EXPECT_TRUE(keys_in_jsonb_order(payload, why)) << why << " in " << line;
            types.insert(payload.value("type", ""));
        }
    }
    EXPECT_TRUE(types.contains("OrderPlaced"));
    EXPECT_TRUE(types.contains("PaymentApproved"));
    EXPECT_TRUE(types.contains("DeliveryCreated"));

    // The order's items as the answer and PostgreSQL show them: the same text either way.
    auto got = client_->get("/order/orders/" + id, b.account.token);
    ASSERT_EQ(got.status, 200);
    std::string why;
    EXPECT_TRUE(keys_in_jsonb_order(nlohmann::ordered_json::parse(got.body)["items"], why)) << why;
}

// Prefer: wait=0 (RFC 7240) answers as soon as the order is durable: 202 + Location, the order as written. The
// buyer then reads it with Prefer: wait=N, which the server holds until the saga settles it.
TEST_F(OrderApi, AnOrderAnsweredWhenDurableIsFollowedByALongPoll) {
    auto s = seller();
    const auto p = product(s, 10, 12000, "블루투스 스피커");
    auto b = buyer();
    auto h = std::map<std::string, std::string>{{"Authorization", "Bearer " + b.account.token},
                                                {"Content-Type", "application/json"},
                                                {"Idempotency-Key", om::new_uuid_v7()},
                                                {"Prefer", "wait=0"}};
    auto r = client_->request("POST", "/order/process-order", order_body(b, {{p, 2}}).dump(), h);
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(r.header("Preference-Applied"), "wait=0");
    const json o = r.json();
    const std::string id = o.value("orderId", "");
    EXPECT_EQ(r.header("Location"), "/order/orders/" + id);
    EXPECT_EQ(o.value("status", ""), "PENDING");
    EXPECT_EQ(o.value("totalAmount", 0LL), 24000);
    EXPECT_EQ(o.value("buyerId", ""), b.account.id);
    ASSERT_EQ(o["items"].size(), 1U);
    EXPECT_EQ(o["items"][0].value("name", ""), "블루투스 스피커");
    ASSERT_EQ(o["history"].size(), 1U);
    EXPECT_EQ(o["history"][0].value("status", ""), "PENDING");
    EXPECT_EQ(o["history"][0].value("at", ""), o.value("createdAt", ""));
    EXPECT_EQ(sql("SELECT count(*) FROM orders.orders WHERE id = '" + id + "'"), "1") << "durable when answered";
    EXPECT_EQ(stock(p), 8);

    // Another member's long poll is refused at once, not held.
    auto stranger = buyer();
    const auto asked = std::chrono::steady_clock::now();
    auto refused = client_->request("GET", r.header("Location"), "",
                                    {{"Authorization", "Bearer " + stranger.account.token}, {"Prefer", "wait=5"}});
    EXPECT_EQ(refused.status, 404) << refused.body;
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 2s);

    // The buyer's long poll answers when the order has settled.
    auto polled = client_->request("GET", r.header("Location"), "",
                                   {{"Authorization", "Bearer " + b.account.token}, {"Prefer", "wait=20"}});
    ASSERT_EQ(polled.status, 200) << polled.body;
    EXPECT_EQ(polled.header("Preference-Applied"), "wait=20");
    const json settled_o = polled.json();
    EXPECT_EQ(settled_o.value("status", ""), "CONFIRMED") << polled.body;
    EXPECT_EQ(settled_o.value("paymentStatus", ""), "APPROVED");
    EXPECT_EQ(settled_o.value("createdAt", ""), o.value("createdAt", ""));
    // As PostgreSQL has it.
    auto plain = client_->get("/order/orders/" + id, b.account.token);
    ASSERT_EQ(plain.status, 200);
    EXPECT_EQ(plain.json().value("status", ""), "CONFIRMED");
    EXPECT_EQ(plain.json()["history"], settled_o["history"]);
    EXPECT_EQ(plain.header("Preference-Applied"), "") << "no preference, none applied";
    // A long poll of a settled order answers at once.
    const auto again_at = std::chrono::steady_clock::now();
    auto again = client_->request("GET", "/order/orders/" + id, "",
                                  {{"Authorization", "Bearer " + b.account.token}, {"Prefer", "wait=20"}});
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.json().value("status", ""), "CONFIRMED");
    EXPECT_LT(std::chrono::steady_clock::now() - again_at, 2s);

    // A wait beyond the server's bound (2 s here) is cut to it and not said applied; one within it is.
    h["Idempotency-Key"] = om::new_uuid_v7();
    h["Prefer"] = "wait=30";
    auto longer = client_->request("POST", "/order/process-order", order_body(b, {{p, 1}}).dump(), h);
    EXPECT_TRUE(longer.status == 201 || longer.status == 202) << longer.body;
    EXPECT_EQ(longer.header("Preference-Applied"), "");
    h["Idempotency-Key"] = om::new_uuid_v7();
    h["Prefer"] = "wait=1";
    auto within = client_->request("POST", "/order/process-order", order_body(b, {{p, 1}}).dump(), h);
    EXPECT_TRUE(within.status == 201 || within.status == 202) << within.body;
    EXPECT_EQ(within.header("Preference-Applied"), "wait=1");
}

// A long poll is bounded by its wait: an order whose payment gateway never answers is still open after 1 s
// (two 300 ms gateway timeouts and a back-off), and the poll answers it as it stands then.
TEST_F(OrderApi, ALongPollAnswersWhenItsWaitRunsOut) {
    auto s = seller();
    const auto p = product(s, 5);
    auto b = buyer(kNeverAnswers);
    auto r = client_->request("POST", "/order/process-order", order_body(b, {{p, 1}}).dump(),
                              {{"Authorization", "Bearer " + b.account.token}, {"Content-Type", "application/json"},
                               {"Idempotency-Key", om::new_uuid_v7()}, {"Prefer", "wait=0"}});
    ASSERT_EQ(r.status, 202) << r.body;
    const std::string id = r.json().value("orderId", "");
    const auto asked = std::chrono::steady_clock::now();
    auto polled = client_->request("GET", "/order/orders/" + id, "",
                                   {{"Authorization", "Bearer " + b.account.token}, {"Prefer", "wait=1"}});
    const auto took = std::chrono::steady_clock::now() - asked;
    ASSERT_EQ(polled.status, 200) << polled.body;
    const std::string status = polled.json().value("status", "");
    EXPECT_TRUE(status == "PENDING" || status == "CANCELLED") << polled.body;
    EXPECT_LT(took, 2500ms) << "held about a second, not until the order settled";
    if (status == "PENDING") {
        EXPECT_GE(took, 900ms) << "held for its wait";
    }
    // It settles (cancelled, the stock back), and a later long poll sees it.
    auto later = client_->request("GET", "/order/orders/" + id, "",
                                  {{"Authorization", "Bearer " + b.account.token}, {"Prefer", "wait=20"}});
    ASSERT_EQ(later.status, 200);
    EXPECT_EQ(later.json().value("status", ""), "CANCELLED") << later.body;
    expect_gate_settles(p);
}

TEST_F(OrderApi, BadRequestsAreRefusedAndReserveNothing) {
    auto s = seller();
    const auto p = product(s, 3);
    auto b = buyer();
    auto other = buyer();
    const auto body = order_body(b, {{p, 1}});

    expect_problem(place(*client_, b.account.token, body, ""), 400, "VALIDATION_FAILED");  // no Idempotency-Key
    auto bad = [&](json changed) {
        expect_problem(place(*client_, b.account.token, changed, om::new_uuid_v7()), 400, "VALIDATION_FAILED");
    };
    bad(order_body(b, {}));
    bad(order_body(b, {{p, 0}}));
    bad(order_body(b, {{p, 1001}}));
    bad(order_body(b, {{p, 1}, {p, 1}}));
    bad(order_body(b, {{"not-a-uuid", 1}}));
    {
        std::vector<std::pair<std::string, int>> many;
        for (int i = 0; i < 51; ++i) {
            many.emplace_back(om::new_uuid_v7(), 1);
        }
        bad(order_body(b, many));
    }
    auto wrong = body;
    wrong["items"][0]["quantity"] = "2";
    bad(wrong);
    wrong = body;
    wrong.erase("addressId");
    bad(wrong);
    expect_problem(client_->request("POST", "/order/process-order", "{\"items\": [",
                                    {{"Authorization", "Bearer " + b.account.token}, {"Idempotency-Key", "x1"}}),
                   400, "MALFORMED_JSON");

    // Well-formed but impossible: unknown product, someone else's method or address.
    expect_problem(place(b, {{om::new_uuid_v7(), 1}}), 422, "UNPROCESSABLE");
    auto theirs = body;
    theirs["paymentMethodId"] = other.method_id;
    auto r = place(*client_, b.account.token, theirs, om::new_uuid_v7());
    expect_problem(r, 422, "UNPROCESSABLE");
    EXPECT_NE(r.body.find("paymentMethodId"), std::string::npos) << r.body;
    theirs = body;
    theirs["addressId"] = other.address_id;
    r = place(*client_, b.account.token, theirs, om::new_uuid_v7());
    expect_problem(r, 422, "UNPROCESSABLE");
    EXPECT_NE(r.body.find("addressId"), std::string::npos) << r.body;
    // The buyer's own method, deleted: refused by the group commit (payment.methods_usable), which writes nothing.
    auto gone = buyer();
    auto del = client_->request("DELETE", "/payments/method/" + gone.method_id, {},
                                {{"Authorization", "Bearer " + gone.account.token}});
    ASSERT_EQ(del.status, 204) << del.body;
    r = place(*client_, gone.account.token, order_body(gone, {{p, 1}}), om::new_uuid_v7());
    expect_problem(r, 422, "UNPROCESSABLE");
    EXPECT_NE(r.body.find("paymentMethodId"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("addressId"), std::string::npos) << r.body;
    EXPECT_EQ(sql("SELECT count(*) FROM orders.orders WHERE buyer_id = '" + gone.account.id + "'"), "0");

    // A seller does not buy; nobody without a session does.
    expect_problem(place(*client_, s.token, body, om::new_uuid_v7()), 403, "FORBIDDEN");
    expect_problem(place(*client_, "nope", body, om::new_uuid_v7()), 401, "UNAUTHORIZED");

    // An INACTIVE product is not for sale.
    const auto hidden = product(s, 3);
    auto put = client_->put("/products/" + hidden, {{"status", "INACTIVE"}}, s.token);
    ASSERT_EQ(put.status, 200) << put.body;
    expect_problem(place(b, {{hidden, 1}}), 422, "UNPROCESSABLE");

    EXPECT_EQ(stock(p), 3);
    EXPECT_EQ(gate(p), "3");
    EXPECT_EQ(sql("SELECT count(*) FROM orders.orders WHERE buyer_id = '" + b.account.id + "'"), "0");
}

TEST_F(OrderApi, ShortStockIsA409NamingTheLinesAndReservesNothing) {
    auto s = seller();
    const auto plenty = product(s, 100);
    const auto scarce = product(s, 2);
    auto b = buyer();
    auto r = place(b, {{plenty, 5}, {scarce, 3}});
    expect_problem(r, 409, "OUT_OF_STOCK");
    const auto errors = r.json()["errors"];
    ASSERT_EQ(errors.size(), 1U) << r.body;
    EXPECT_EQ(errors[0].value("field", ""), "items[1].quantity");
    EXPECT_NE(errors[0].value("message", "").find("2"), std::string::npos) << "says how many are left";
    EXPECT_EQ(gate(plenty), "100") << "all or nothing: the line that fitted was not reserved";
    EXPECT_EQ(stock(plenty), 100);
    EXPECT_EQ(gate(scarce), "2");
}

// The Idempotency-Key is taken in Redis by the stock reservation's own script (issue 6: one round trip per order
// less), so a request that reserves nothing holds nothing, and a key held for another request reserves nothing.
TEST_F(OrderApi, TheIdempotencyKeyIsTakenOnlyWithTheReservation) {
    auto s = seller();
    const auto p = product(s, 2);
    auto b = buyer();
    const std::string key = "retry-" + om::new_uuid_v7();
    const std::string held = "om:oidem:" + b.account.id + ":" + key;
    const auto body = order_body(b, {{p, 3}});

    expect_problem(place(*client_, b.account.token, body, key), 409, "OUT_OF_STOCK");
    EXPECT_EQ(redis("EXISTS " + held), "0") << "a refused request holds no key";
    EXPECT_EQ(gate(p), "2");

    // The seller restocks; the same request with the same key now succeeds, and the key names its order.
    ASSERT_EQ(client_->put("/products/" + p + "/inventory", {{"delta", 3}}, s.token).status, 200);
    auto r = place(*client_, b.account.token, body, key);
    ASSERT_TRUE(r.status == 201 || r.status == 202) << r.body;
    const std::string id = r.json().value("orderId", "");
    EXPECT_EQ(redis("GET " + held).rfind(id + "|", 0), 0U) << redis("GET " + held);
    EXPECT_EQ(gate(p), "2");
    wait_order(b.account.token, id, settled);

    // A key another request holds (here: with another request's hash, and no order yet) reserves nothing.
    const std::string other_key = "other-" + om::new_uuid_v7();
    EXPECT_EQ(redis("SET om:oidem:" + b.account.id + ":" + other_key + " '" + om::new_uuid_v7() + "|0000' EX 60"), "OK");
    expect_problem(place(*client_, b.account.token, order_body(b, {{p, 1}}), other_key), 422, "IDEMPOTENCY_KEY_REUSED");
    EXPECT_EQ(gate(p), "2") << "nothing was reserved for the refused request";
    EXPECT_EQ(sql("SELECT count(*) FROM orders.orders WHERE buyer_id = '" + b.account.id + "'"), "1");
    expect_gate_settles(p);
    expect_ledger_balanced();
}

// Orders are priced from each shard's copies of the product rows; the group commit checks the version of each
// copy under the product's lock. An edit made elsewhere (another server process: here straight in PostgreSQL)
// is never missed: the order is priced again from the database.
TEST_F(OrderApi, AnOrderIsPricedFromTheProductAsItIsWhenItCommits) {
    auto s = seller();
    const auto p = product(s, 10, 15000, "무선 이어폰");
    auto b = buyer();
    auto first = place_settled(b, {{p, 1}});
    ASSERT_EQ(first.value("status", ""), "CONFIRMED") << first.dump();
    EXPECT_EQ(first.value("totalAmount", 0LL), 15000);

    // An edit through the API: the shard that made it prices from the new row at once; any other finds out below.
    ASSERT_EQ(client_->put("/products/" + p, {{"price", 16000}}, s.token).status, 200);
    auto second = place_settled(b, {{p, 1}});
    EXPECT_EQ(second.value("totalAmount", 0LL), 16000) << second.dump();

    // Edits no shard of this process has seen.
    sql("UPDATE product.products SET price = 17000, name = '무선 이어폰 2', version = version + 1 WHERE id = '" + p + "'");
    for (int i = 0; i < 3; ++i) {  // whichever shard answers, each has the old copy at most
        auto o = place_settled(b, {{p, 1}});
        EXPECT_EQ(o.value("status", ""), "CONFIRMED") << o.dump();
        EXPECT_EQ(o.value("totalAmount", 0LL), 17000) << o.dump();
        ASSERT_EQ(o["items"].size(), 1U);
        EXPECT_EQ(o["items"][0].value("name", ""), "무선 이어폰 2");
        auto pay = client_->get("/payments/payments/" + o.value("paymentId", ""), b.account.token);
        EXPECT_EQ(pay.json().value("amount", 0LL), 17000) << "charged the price it committed with";
    }
    EXPECT_EQ(stock(p), 5);

    sql("UPDATE product.products SET status = 'INACTIVE', version = version + 1 WHERE id = '" + p + "'");
    auto r = place(b, {{p, 1}});
    expect_problem(r, 422, "UNPROCESSABLE");
    EXPECT_NE(r.body.find("not on sale"), std::string::npos) << r.body;
    EXPECT_EQ(stock(p), 5) << "nothing taken";
    expect_gate_settles(p);
    EXPECT_EQ(gate(p), "5") << "the reservation was released";
    EXPECT_EQ(sql("SELECT count(*) FROM orders.orders WHERE buyer_id = '" + b.account.id + "'"), "5");

    // Back on sale, elsewhere: a copy that says otherwise does not refuse the order.
    sql("UPDATE product.products SET status = 'ACTIVE', version = version + 1 WHERE id = '" + p + "'");
    auto back = place_settled(b, {{p, 1}});
    EXPECT_EQ(back.value("status", ""), "CONFIRMED") << back.dump();
    EXPECT_EQ(back.value("totalAmount", 0LL), 17000);
    EXPECT_EQ(stock(p), 4);
    expect_ledger_balanced();
}

TEST_F(OrderApi, SameKeyTwentyTimesInParallelIsOneOrderOneChargeOneUnit) {
    auto s = seller();
    const auto p = product(s, 50);
    auto b = buyer();
    const std::string key = "checkout-" + om::new_uuid_v7();
    const auto body = order_body(b, {{p, 1}});
    std::vector<HttpResponse> answers(20);
    all_at_once(20, [&](int i) {
        HttpClient c(server_->port());
        c.set_timeout(30s);
        answers[static_cast<std::size_t>(i)] = place(c, b.account.token, body, key);
    });
    std::set<std::string> ids;
    for (const auto& a : answers) {
        EXPECT_TRUE(a.status == 201 || a.status == 202) << a.status << " " << a.body;
        if (a.status == 201 || a.status == 202) {
            ids.insert(a.json().value("orderId", ""));
        }
    }
    ASSERT_EQ(ids.size(), 1U) << "every answer names the same order";
    const std::string id = *ids.begin();
    wait_order(b.account.token, id, settled);
    EXPECT_EQ(sql("SELECT count(*) FROM orders.orders WHERE buyer_id = '" + b.account.id + "'"), "1");
    EXPECT_EQ(sql("SELECT count(*) FROM payment.payments WHERE order_id = '" + id + "'"), "1");
    EXPECT_EQ(sql("SELECT count(*) FROM payment.payment_attempts a JOIN payment.payments p ON p.id = a.payment_id "
                  "WHERE p.order_id = '" + id + "' AND a.kind = 'CHARGE'"),
              "1")
        << "the card was charged once";
    EXPECT_EQ(stock(p), 49);
    expect_gate_settles(p);

    // A retry later gets the same order; the same key with another body is refused.
    auto again = place(*client_, b.account.token, body, key);
    EXPECT_EQ(again.status, 201) << again.body;
    EXPECT_EQ(again.json().value("orderId", ""), id);
    expect_problem(place(*client_, b.account.token, order_body(b, {{p, 2}}), key), 422, "IDEMPOTENCY_KEY_REUSED");
    EXPECT_EQ(stock(p), 49);
    expect_ledger_balanced();
}

// ---- no oversell ------------------------------------------------------------------------------------------

TEST_F(OrderApi, TwoHundredBuyersForTheLastTenUnits) {
    auto s = seller();
    const auto p = product(s, 10);
    auto crowd = buyers(200);
    std::vector<HttpResponse> answers(200);
    all_at_once(200, [&](int i) {
        HttpClient c(server_->port());
        c.set_timeout(60s);
        const auto& b = crowd[static_cast<std::size_t>(i)];
        answers[static_cast<std::size_t>(i)] = place(c, b.account.token, order_body(b, {{p, 1}}), om::new_uuid_v7());
    });
    int won = 0;
    int refused = 0;
    for (const auto& a : answers) {
        if (a.status == 201 || a.status == 202) {
            ++won;
        } else if (a.status == 409 && a.json().value("code", "") == "OUT_OF_STOCK") {
            ++refused;
        } else {
            ADD_FAILURE() << "unexpected answer " << a.status << " " << a.body;
        }
    }
    EXPECT_EQ(won, 10);
    EXPECT_EQ(refused, 190);
    // The group commit drops its batch's reservation records once the orders are durable (one script per batch,
    // after the answers): none of the winners' is left for the sweeper, which would take it only once the
    // reservation is older than its time to live (3 s here) and 5 s more.
    for (const auto& a : answers) {
        if (a.status != 201 && a.status != 202) {
            continue;
        }
        const std::string id = a.json().value("orderId", "");
        const auto deadline = std::chrono::steady_clock::now() + 2s;
        // EXISTS answers 0 and ZSCORE nothing once both are gone.
        auto left = [&] { return redis("EXISTS om:resv:" + id) + "|" + redis("ZSCORE om:resv " + id); };
        while (std::chrono::steady_clock::now() < deadline && left() != "0|") {
            std::this_thread::sleep_for(50ms);
        }
        EXPECT_EQ(left(), "0|") << "the reservation record of order " << id;
    }
    EXPECT_EQ(stock(p), 0);
    EXPECT_EQ(gate(p), "0");
    EXPECT_EQ(sold(p), 10);
    EXPECT_EQ(sql("SELECT count(*) FROM orders.orders o, jsonb_array_elements(o.items) i WHERE i ->> 'productId' = '" + p + "'"), "10");
    expect_ledger_balanced();
}

TEST_F(OrderApi, MultiLineOrdersAreAllOrNothingUnderContention) {
    auto s = seller();
    const auto a = product(s, 6, 1000, "A");
    const auto b = product(s, 4, 1000, "B");
    const auto c = product(s, 100, 1000, "C");
    auto crowd = buyers(30);
    std::vector<HttpResponse> answers(30);
    all_at_once(30, [&](int i) {
        HttpClient http(server_->port());
        http.set_timeout(60s);
        const auto& buyer_i = crowd[static_cast<std::size_t>(i)];
        // Every order wants one A, one B and one C; half also want a second A.
        std::vector<std::pair<std::string, int>> lines{{a, i % 2 == 0 ? 2 : 1}, {b, 1}, {c, 1}};
        answers[static_cast<std::size_t>(i)] =
            place(http, buyer_i.account.token, order_body(buyer_i, lines), om::new_uuid_v7());
    });
    int won = 0;
    for (const auto& r : answers) {
        if (r.status == 201 || r.status == 202) {
            ++won;
        } else {
            EXPECT_EQ(r.status, 409) << r.body;
        }
    }
    EXPECT_GE(won, 3);
    EXPECT_LE(won, 4);
    // Every line of every order that won was sold, and nothing of the orders that lost.
    EXPECT_EQ(sold(b), won);
    EXPECT_EQ(sold(c), won) << "C never ran out: only orders that got A and B took C";
    EXPECT_EQ(stock(c), 100 - won);
    EXPECT_EQ(stock(b), 4 - won);
    EXPECT_EQ(stock(a), 6 - sold(a));
    EXPECT_GE(stock(a), 0);
    for (const auto& pid : {a, b, c}) {
        EXPECT_EQ(gate(pid), std::to_string(stock(pid)));
    }
    expect_ledger_balanced();
}

// ---- compensation -----------------------------------------------------------------------------------------

TEST_F(OrderApi, ADeclinedCardCancelsTheOrderAndReturnsTheStock) {
    auto s = seller();
    const auto p = product(s, 5);
    auto b = buyer(kDeclined);
    auto o = place_settled(b, {{p, 2}});
    const std::string id = o.value("orderId", "");
    EXPECT_EQ(o.value("status", ""), "CANCELLED");
    EXPECT_EQ(o.value("cancelReason", ""), "PAYMENT_DECLINED");
    EXPECT_EQ(o.value("paymentStatus", ""), "DECLINED");
    EXPECT_EQ(o.value("declineCode", ""), "card_declined");
    EXPECT_TRUE(o["deliveryId"].is_null());
    EXPECT_EQ(stock(p), 5) << "the stock came back in PostgreSQL";
    expect_gate_settles(p);
    EXPECT_EQ(gate(p), "5");
    EXPECT_EQ(sql("SELECT count(*) FROM product.stock_movements WHERE reason = 'ORDER_RELEASE' AND order_id = '" + id + "'"),
              "1");
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(sql("SELECT count(*) FROM delivery.deliveries WHERE order_id = '" + id + "'"), "0") << "no delivery";
    expect_ledger_balanced();
}

TEST_F(OrderApi, AGatewayThatNeverAnswersIsRetriedThenCompensated) {
    auto s = seller();
    const auto p = product(s, 5);
    auto b = buyer(kNeverAnswers);
    auto o = place_settled(b, {{p, 1}});
    const std::string id = o.value("orderId", "");
    EXPECT_EQ(o.value("status", ""), "CANCELLED");
    EXPECT_EQ(o.value("cancelReason", ""), "PAYMENT_FAILED");
    EXPECT_EQ(o.value("paymentStatus", ""), "FAILED");
    EXPECT_EQ(o.value("declineCode", ""), "gateway_timeout");
    EXPECT_EQ(sql("SELECT count(*) FROM payment.payment_attempts a JOIN payment.payments p ON p.id = a.payment_id "
                  "WHERE p.order_id = '" + id + "'"),
              "2")
        << "one attempt and one retry, with the same gateway key";
    EXPECT_EQ(stock(p), 5);
    expect_gate_settles(p);
    expect_ledger_balanced();
}

TEST_F(OrderApi, TheBuyerCancelsRefundedAndRestocked) {
    auto s = seller();
    const auto p = product(s, 5);
    auto b = buyer();
    auto o = place_settled(b, {{p, 3}});
    const std::string id = o.value("orderId", "");
    ASSERT_EQ(o.value("status", ""), "CONFIRMED");
    EXPECT_EQ(stock(p), 2);

    auto stranger = buyer();
    expect_problem(client_->post("/order/orders/" + id + "/cancel", json::object(), stranger.account.token), 404,
                   "NOT_FOUND");
    auto c = client_->post("/order/orders/" + id + "/cancel", json::object(), b.account.token);
    ASSERT_EQ(c.status, 200) << c.body;
    EXPECT_EQ(c.json().value("status", ""), "CANCELLED");
    EXPECT_EQ(c.json().value("cancelReason", ""), "BUYER_CANCELLED");
    EXPECT_EQ(stock(p), 5);
    expect_gate_settles(p);
    auto again = client_->post("/order/orders/" + id + "/cancel", json::object(), b.account.token);
    EXPECT_EQ(again.status, 200) << "cancelling twice changes nothing";
    EXPECT_EQ(stock(p), 5);

    o = wait_order(b.account.token, id, [](const json& x) {
        return x.value("paymentStatus", "") == "REFUNDED" && x.value("deliveryStatus", "") == "CANCELLED";
    });
    EXPECT_EQ(o.value("paymentStatus", ""), "REFUNDED");
    EXPECT_EQ(o.value("deliveryStatus", ""), "CANCELLED");
    EXPECT_EQ(sql("SELECT status FROM payment.payments WHERE order_id = '" + id + "'"), "REFUNDED");
    EXPECT_EQ(sql("SELECT count(*) FROM product.stock_movements WHERE reason = 'ORDER_RELEASE' AND order_id = '" + id + "'"),
              "1");
    expect_ledger_balanced();
}

TEST_F(OrderApi, TheProductPageShowsTheStockOrdersLeftWithoutANewVersion) {
    auto s = seller();
    const auto p = product(s, 5);
    const std::string path = "/products/" + p;
    auto g = client_->get(path);
    ASSERT_EQ(g.status, 200) << g.body;
    const auto version = g.json()["version"].get<long long>();
    const std::string before = "\"" + std::to_string(version) + "-5\"";
    EXPECT_EQ(g.header("ETag"), before);

    auto b = buyer();
    auto o = place_settled(b, {{p, 3}});
    ASSERT_EQ(o.value("status", ""), "CONFIRMED");
    // The cached representation answers with the gate's stock: the same version, another ETag.
    g = client_->request("GET", path, {}, {{"If-None-Match", before}});
    ASSERT_EQ(g.status, 200) << g.body;
    EXPECT_EQ(g.json()["stock"], 2);
    EXPECT_EQ(g.json()["version"], version);
    EXPECT_EQ(g.header("ETag"), "\"" + std::to_string(version) + "-2\"");
    EXPECT_EQ(sql("SELECT stock || '/' || version FROM product.products WHERE id = '" + p + "'"),
              "2/" + std::to_string(version));

    // A seller's edit against the version from before the sale still applies (the stock part is not compared).
    auto u = client_->request("PUT", path, json{{"price", 16000}}.dump(),
                              {{"Authorization", "Bearer " + s.token}, {"If-Match", before}});
    ASSERT_EQ(u.status, 200) << u.body;
    EXPECT_EQ(u.json()["version"], version + 1);
    EXPECT_EQ(u.json()["stock"], 2);

    // Cancelling gives the units back to the page too.
    ASSERT_EQ(client_->post("/order/orders/" + o.value("orderId", "") + "/cancel", json::object(), b.account.token).status,
              200);
    expect_gate_settles(p);
    g = client_->get(path);
    EXPECT_EQ(g.json()["stock"], 5);
    EXPECT_EQ(g.json()["version"], version + 1);
}

TEST_F(OrderApi, DeliveryEventsDriveTheOrderToDelivered) {
    auto s = seller();
    const auto p = product(s, 5);
    auto b = buyer();
    auto o = place_settled(b, {{p, 1}});
    const std::string id = o.value("orderId", "");
    ASSERT_EQ(o.value("status", ""), "CONFIRMED");
    const std::string delivery = o.value("deliveryId", "");

    // The seller sees the order in their console and ships it.
    auto mine = client_->get("/order/orders?role=seller", s.token);
    ASSERT_EQ(mine.status, 200) << mine.body;
    ASSERT_EQ(mine.json()["items"].size(), 1U);
    EXPECT_EQ(mine.json()["items"][0].value("orderId", ""), id);
    auto shipped = client_->post("/delivery/deliveries/" + delivery + "/status",
                                 {{"status", "SHIPPED"}, {"carrier", "CJ대한통운"}, {"trackingNumber", "6543-2100-0001"}},
                                 s.token);
    ASSERT_EQ(shipped.status, 200) << shipped.body;
    o = wait_order(b.account.token, id, [](const json& x) { return x.value("status", "") == "SHIPPED"; });
    EXPECT_EQ(o.value("deliveryStatus", ""), "SHIPPED");
    expect_problem(client_->post("/order/orders/" + id + "/cancel", json::object(), b.account.token), 409,
                   "ILLEGAL_TRANSITION");

    auto delivered = client_->post("/delivery/deliveries/" + delivery + "/status", {{"status", "DELIVERED"}}, s.token);
    ASSERT_EQ(delivered.status, 200) << delivered.body;
    o = wait_order(b.account.token, id, [](const json& x) { return x.value("status", "") == "DELIVERED"; });
    std::vector<std::string> history;
    for (const auto& h : o["history"]) {
        history.push_back(h.value("status", ""));
    }
    EXPECT_EQ(history, (std::vector<std::string>{"PENDING", "PAID", "CONFIRMED", "SHIPPED", "DELIVERED"}));
    EXPECT_EQ(stock(p), 4);
}

TEST_F(OrderApi, OrdersAreIsolatedBetweenMembers) {
    auto s = seller();
    auto other_seller = seller();
    const auto p = product(s, 5);
    auto b = buyer();
    auto stranger = buyer();
    auto r = place(b, {{p, 1}});
    ASSERT_TRUE(r.status == 201 || r.status == 202) << r.body;
    const std::string id = r.json().value("orderId", "");
    expect_problem(client_->get("/order/orders/" + id, stranger.account.token), 404, "NOT_FOUND");
    expect_problem(client_->get("/order/orders/" + id, other_seller.token), 404, "NOT_FOUND");
    expect_problem(client_->get("/order/orders/" + om::new_uuid_v7(), b.account.token), 404, "NOT_FOUND");
    expect_problem(client_->get("/order/orders/not-an-id", b.account.token), 404, "NOT_FOUND");
    EXPECT_EQ(client_->get("/order/orders/" + id, s.token).status, 200) << "the seller of its product reads it";
    auto theirs = client_->get("/order/orders", stranger.account.token);
    ASSERT_EQ(theirs.status, 200);
    EXPECT_TRUE(theirs.json()["items"].empty());
    auto other = client_->get("/order/orders?role=seller", other_seller.token);
    ASSERT_EQ(other.status, 200);
    EXPECT_TRUE(other.json()["items"].empty());
    expect_problem(client_->get("/order/orders?status=LOST", b.account.token), 400, "VALIDATION_FAILED");
    expect_problem(client_->get("/order/orders?cursor=zzz", b.account.token), 400, "VALIDATION_FAILED");
}

TEST_F(OrderApi, HistoryPagesNewestFirstAndFiltersByStatus) {
    auto s = seller();
    const auto p = product(s, 50);
    auto b = buyer();
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        auto r = place(b, {{p, 1}});
        ASSERT_TRUE(r.status == 201 || r.status == 202) << r.body;
        ids.push_back(r.json().value("orderId", ""));
        wait_order(b.account.token, ids.back(), settled);
    }
    ASSERT_EQ(client_->post("/order/orders/" + ids[1] + "/cancel", json::object(), b.account.token).status, 200);
    std::vector<std::string> seen;
    std::string cursor;
    for (int page = 0; page < 5; ++page) {
        auto r = client_->get("/order/orders?limit=2" + (cursor.empty() ? std::string() : "&cursor=" + cursor),
                              b.account.token);
        ASSERT_EQ(r.status, 200) << r.body;
        const auto body = r.json();
        for (const auto& o : body["items"]) {
            seen.push_back(o.value("orderId", ""));
        }
        if (body["nextCursor"].is_null()) {
            break;
        }
        cursor = body["nextCursor"].get<std::string>();
    }
    EXPECT_EQ(seen, (std::vector<std::string>{ids[4], ids[3], ids[2], ids[1], ids[0]}));
    auto cancelled = client_->get("/order/orders?status=CANCELLED", b.account.token);
    ASSERT_EQ(cancelled.status, 200);
    ASSERT_EQ(cancelled.json()["items"].size(), 1U);
    EXPECT_EQ(cancelled.json()["items"][0].value("orderId", ""), ids[1]);
}

// ---- durability and Redis loss ----------------------------------------------------------------------------

// The group commit itself (orders.place_orders, called as the order service calls it), in transactions that are
// never committed: its ledger rows follow the batch's lines, and a batch whose reservation is too old, whose gate
// epoch is not the current one, or that names a product that does not exist writes nothing.
TEST_F(OrderApi, TheGroupCommitLedgersEachLineInOrderAndRefusesABadBatch) {
    auto s = seller();
    const auto p = product(s, 10);
    const auto q = product(s, 7);
    auto b = buyer();
    const std::string epoch = sql("SELECT epoch FROM product.gate_state");
    const auto now = now_ms();
    auto order = [&](const std::string& id, const std::vector<BatchLine>& lines, const std::string& gate_epoch,
                     long long reserved_at_ms) { return batch_order(s, b, id, lines, gate_epoch, reserved_at_ms); };
    const std::string o1 = om::new_uuid_v7();
    const std::string o2 = om::new_uuid_v7();
    const std::string o3 = om::new_uuid_v7();
    const json batch = json::array({order(o1, {{p, 2}}, epoch, now), order(o2, {{q, 1}, {p, 3}}, epoch, now),
                                    order(o3, {{p, 1}}, epoch, now)});
    auto place = [&](const json& orders, const std::string& then) {
        return sql("BEGIN; SELECT string_agg(outcome, ',') FROM orders.place_orders('" + orders.dump() +
                   "'::jsonb, 10000); " + then);
    };
    // p: 10 - 2 - 3 - 1 = 4, each ledger row with the stock after it, in the batch's order; q: 7 - 1.
    EXPECT_EQ(place(batch, "SELECT string_agg(CASE product_id WHEN '" + p + "' THEN 'p' ELSE 'q' END || delta || '=' || "
                           "resulting_stock, ' ' ORDER BY id) FROM product.stock_movements WHERE order_id IN ('" + o1 + "', '" + o2 +
                           "', '" + o3 + "')"),
              "p-2=8 q-1=6 p-3=5 p-1=4");
    EXPECT_EQ(place(batch, "SELECT string_agg(stock::text, ' ' ORDER BY stock DESC) FROM product.products "
                           "WHERE id IN ('" + p + "', '" + q + "')"),
              "6 4");

    auto refused = [&](const json& orders) {
        try {
            place(orders, "SELECT 1");
        } catch (const std::runtime_error& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    const auto says = [](const std::string& message, const std::string& part) {
        return message.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                                       : ::testing::AssertionFailure() << message;
    };
    EXPECT_TRUE(says(refused(json::array({order(o1, {{p, 1}}, epoch, now),
                                          order(o2, {{p, 1}}, epoch, now - 60000)})),
                     "the reservation of order " + o2 + " is older than 10000 ms"));
    EXPECT_TRUE(says(refused(json::array({order(o1, {{p, 1}}, epoch, now),
                                          order(o2, {{p, 1}}, om::new_uuid_v7(), now)})),
                     "a reservation of this batch was made in another"));
    EXPECT_TRUE(says(refused(json::array({order(o1, {{om::new_uuid_v7(), 1}}, epoch, now)})),
                     "a batch names a product that does not exist"));
    EXPECT_EQ(sql("SELECT count(*) FROM orders.orders WHERE id IN ('" + o1 + "', '" + o2 + "', '" + o3 + "')"), "0");
    EXPECT_EQ(stock(p), 10);
    EXPECT_EQ(stock(q), 7);
}

class OrderDurability : public OrderTest {};

TEST_F(OrderDurability, KillNineWithOrdersInFlightLosesNoAcknowledgedOrder) {
    auto s = seller();
    const auto p = product(s, 1000);
    auto crowd = buyers(25);
    std::mutex mu;
    std::vector<std::pair<std::string, std::string>> acknowledged;  // (order id, buyer token)
    std::atomic<int> answered{0};
    std::thread killer([&] {
        while (answered.load() < 30) {
            std::this_thread::sleep_for(1ms);
        }
        server_->kill9();
    });
    in_parallel(100, 25, [&](int i) {
        HttpClient c(server_->port());
        c.set_timeout(10s);
        const auto& b = crowd[static_cast<std::size_t>(i % 25)];
        HttpResponse r;
        try {
            r = place(c, b.account.token, order_body(b, {{p, 1}}), om::new_uuid_v7());
        } catch (const std::exception&) {
            return;  // the server died under the request
        }
        ++answered;
        if (r.status == 201 || r.status == 202) {
            std::lock_guard lock(mu);
            acknowledged.emplace_back(r.json().value("orderId", ""), b.account.token);
        }
    });
    killer.join();
    ASSERT_GE(acknowledged.size(), 20U);
    expect_resumer_can_find_every_unsettled_order();
    server_->start();
    ASSERT_TRUE(server_->wait_ready(30s));
    for (const auto& [id, token] : acknowledged) {
        auto o = wait_order(token, id, settled);
        EXPECT_TRUE(settled(o)) << o.dump();
    }
    // Every order that exists settles (also those whose answer the kill swallowed), nothing is doubled.
    expect_every_order_settles();
    EXPECT_EQ(sql("SELECT count(*) FROM (SELECT order_id FROM payment.payments GROUP BY 1 HAVING count(*) > 1) d"), "0");
    EXPECT_EQ(sql("SELECT count(*) FROM (SELECT order_id FROM delivery.deliveries GROUP BY 1 HAVING count(*) > 1) d"),
              "0");
    EXPECT_EQ(sql("SELECT count(*) FROM orders.orders o WHERE o.status <> 'CANCELLED' AND NOT EXISTS "
                  "(SELECT 1 FROM payment.payments p WHERE p.order_id = o.id AND p.status = 'APPROVED')"),
              "0")
        << "every order that stands is paid";
    EXPECT_EQ(stock(p), 1000 - sold(p));
    expect_ledger_balanced();
    expect_gate_settles(p);
}

// The resumer finds quiet orders without an index on updated_at (migration 0021): a scan of the primary key
// moves a mark up to the orders created resume-after ago and lists those still unsettled in orders.unsettled.
// Approvals are applied at once here (not deferred), so that no late event of the saga touches the order after
// it settled.
class OrderResume : public OrderTest {
protected:
    static void SetUpTestSuite() { start({"--order-approval-defer-ms", "0", "--order-resume-after-ms", "5000"}); }
};

TEST_F(OrderResume, AQuietOrderIsFoundByTheScanAndResumedWithoutASecondCharge) {
    auto s = seller();
    const auto p = product(s, 10);
    auto b = buyer();
    auto o = place_settled(b, {{p, 1}});
    const std::string id = o.value("orderId", "");
    ASSERT_EQ(o.value("status", ""), "CONFIRMED") << o.dump();
    // Back to PENDING, unchanged for an hour, as if its events had been lost: only while the mark (5 s behind the
    // clock here) is below it, so that the scan that finds it comes after this update.
    ASSERT_EQ(sql("WITH u AS (UPDATE orders.orders SET status = 'PENDING', updated_at = now() - interval '1 hour' "
                  "WHERE id = '" + id + "' AND id >= (SELECT below FROM orders.unsettled_scan) RETURNING 1) "
                  "SELECT count(*) FROM u"),
              "1")
        << "the order settled more than resume-after after its id was made";
    o = wait_order(b.account.token, id, settled);
    EXPECT_EQ(o.value("status", ""), "CONFIRMED") << o.dump();
    EXPECT_EQ(sql("SELECT resumed FROM orders.orders WHERE id = '" + id + "'"), "1") << o.dump();
    EXPECT_EQ(sql("SELECT count(*) FROM payment.payments WHERE order_id = '" + id + "'"), "1") << "charged once";
    EXPECT_EQ(stock(p), 9);
    // Listed while unsettled, forgotten once settled.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline && sql("SELECT count(*) FROM orders.unsettled") != "0") {
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(sql("SELECT count(*) FROM orders.unsettled"), "0");
    EXPECT_EQ(sql("SELECT scanned_to > '" + id + "' FROM orders.unsettled_scan"), "t") << "the scan passed the order";
    // The scan's age is in /metrics (it moves every sweep: at most a few sweep intervals of ~0.8 s here).
    auto m = client_->get("/metrics");
    ASSERT_EQ(m.status, 200);
    const std::string name = "\nopenmarket_resumer_scan_age_seconds ";
    const auto at = m.body.find(name);
    ASSERT_NE(at, std::string::npos) << m.body.substr(0, 2000);
    const double age = std::stod(m.body.substr(at + name.size()));
    EXPECT_GE(age, 0.0);
    EXPECT_LT(age, 10.0);
}

// An order placed below the mark (its id made by a clock behind the database's) is listed by the group commit
// itself; the sweep moves the mark in steps of at most p_scan_limit orders. Both inside transactions that are
// never committed (sql_value closes the connection).
TEST_F(OrderResume, AnOrderPlacedBelowTheMarkIsListedAndTheMarkMovesInSteps) {
    auto s = seller();
    const auto p = product(s, 10);
    auto b = buyer();
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(place_settled(b, {{p, 1}}).value("status", ""), "CONFIRMED");
    }

    const std::string id = om::new_uuid_v7();
    const json batch = json::array(
        {batch_order(s, b, id, {{p, 1, std::stoi(sql("SELECT version FROM product.products WHERE id = '" + p + "'"))}},
                     sql("SELECT epoch FROM product.gate_state"), now_ms())});
    auto place_below = [&](const std::string& mark) {
        return sql("BEGIN; UPDATE orders.unsettled_scan SET below = '" + mark + "'; "
                   "SELECT outcome FROM orders.place_orders('" + batch.dump() + "'::jsonb, 10000); "
                   "SELECT count(*) FROM orders.unsettled WHERE order_id = '" + id + "'");
    };
    EXPECT_EQ(place_below("ffffffff-ffff-ffff-ffff-ffffffffffff"), "1") << "placed below the mark: listed";
    EXPECT_EQ(place_below("00000000-0000-0000-0000-000000000000"), "0") << "above it: left to the scan";
    EXPECT_EQ(sql("SELECT count(*) FROM orders.orders WHERE id = '" + id + "'"), "0") << "nothing was committed";

    // A scan from the bottom, one order a call: after two calls it is at the third order. (Raised before
    // transaction 1: no transaction that may have read the old mark is left.)
    EXPECT_EQ(sql("BEGIN; UPDATE orders.unsettled_scan SET scanned_to = '00000000-0000-0000-0000-000000000000', "
                  "below = 'ffffffff-ffff-ffff-ffff-ffffffffffff', raised_xid = '1'; "
                  "SELECT count(*) FROM orders.sweep_unsettled(0, 1, 10); "
                  "SELECT count(*) FROM orders.sweep_unsettled(0, 1, 10); "
                  "SELECT scanned_to = (SELECT id FROM orders.orders ORDER BY id OFFSET 2 LIMIT 1) "
                  "FROM orders.unsettled_scan"),
              "t");
    // While a transaction that was running after the raise is still open (it may have read the old mark and not
    // committed yet), the scan does not move.
    PGconn* other = PQconnectdb(server_->database_url().c_str());
    ASSERT_EQ(PQstatus(other), CONNECTION_OK);
    PQclear(PQexec(other, "BEGIN"));
    PQclear(PQexec(other, "SELECT pg_current_xact_id()"));
    const std::string after = sql("SELECT pg_current_xact_id()");  // a transaction begun after it, ended
    EXPECT_EQ(sql("BEGIN; UPDATE orders.unsettled_scan SET scanned_to = '00000000-0000-0000-0000-000000000000', "
                  "below = 'ffffffff-ffff-ffff-ffff-ffffffffffff', raised_xid = '" + after + "'; "
                  "SELECT count(*) FROM orders.sweep_unsettled(0, 1, 10); "
                  "SELECT scanned_to = '00000000-0000-0000-0000-000000000000' FROM orders.unsettled_scan"),
              "t");
    PQclear(PQexec(other, "COMMIT"));
    PQfinish(other);
}

// Orders placed while the resumer's mark moves as fast as it can, a second ahead of the clock (so that every order
// committed is below it): at every moment each order still PENDING (their gateway never answers, so they stay so
// for a while) is above the scan's end or listed.
TEST_F(OrderResume, OrdersPlacedWhileTheMarkMovesAreAlwaysFindable) {
    auto s = seller();
    const auto p = product(s, 1000);
    std::vector<Buyer> crowd(6);
    for (auto& b : crowd) {
        b = buyer(kNeverAnswers);
    }
    std::atomic<bool> done{false};
    std::atomic<int> checks{0};
    std::atomic<int> violations{0};
    std::atomic<int> seen_listed{0};
    std::thread mover([&] {
        while (!done) {
            sql("SELECT orders.raise_unsettled_mark(-1000)");
            sql("SELECT count(*) FROM orders.sweep_unsettled(3600000, 50000, 100)");
        }
    });
    std::thread checker([&] {
        while (!done) {
            if (sql("SELECT count(*) FROM orders.orders o, orders.unsettled_scan s "
                    "WHERE o.status IN ('PENDING', 'PAID') AND o.id < s.scanned_to "
                    "AND NOT EXISTS (SELECT 1 FROM orders.unsettled u WHERE u.order_id = o.id)") != "0") {
                ++violations;
            }
            if (sql("SELECT count(*) FROM orders.unsettled") != "0") {
                ++seen_listed;
            }
            ++checks;
        }
    });
    in_parallel(200, 6, [&](int i) {
        HttpClient c(server_->port());
        c.set_timeout(30s);
        const auto& b = crowd[static_cast<std::size_t>(i % 6)];
        auto r = place(c, b.account.token, order_body(b, {{p, 1}}), om::new_uuid_v7());
        EXPECT_TRUE(r.status == 201 || r.status == 202) << r.body;
    });
    std::this_thread::sleep_for(1500ms);  // the last orders are still PENDING for a while
    done = true;
    mover.join();
    checker.join();
    EXPECT_EQ(violations.load(), 0) << "of " << checks.load() << " checks";
    EXPECT_GT(checks.load(), 10);
    EXPECT_GT(seen_listed.load(), 0) << "the mark passed orders still PENDING";
    expect_every_order_settles();
}

TEST_F(OrderDurability, RedisLosesEverythingMidSaleAndNothingIsOversold) {
    auto s = seller();
    const auto p = product(s, 30);
    auto crowd = buyers(40);
    std::atomic<int> answered{0};
    std::atomic<int> after_flush_won{0};
    std::atomic<bool> flushed{false};
    std::thread flusher([&] {
        while (answered.load() < 5) {
            std::this_thread::sleep_for(1ms);
        }
        // FLUSHDB: everything of this server's Redis database, as a FLUSHALL would for a server of its own
        // (FLUSHALL here would also wipe the databases of the tests running beside this one).
        EXPECT_EQ(redis("FLUSHDB"), "OK");
        flushed = true;
    });
    auto shop = [&](int i) {
        HttpClient c(server_->port());
        c.set_timeout(30s);
        const auto& b = crowd[static_cast<std::size_t>(i % 40)];
        std::string token = b.account.token;
        for (int attempt = 0; attempt < 40; ++attempt) {
            const bool after = flushed.load();
            auto r = place(c, token, order_body(b, {{p, 1}}), om::new_uuid_v7());
            if (r.status == 401) {  // the sessions were in Redis: log in again
                auto l = c.post("/member/login", {{"email", b.account.email}, {"password", "correct-horse-1"}});
                if (l.status == 200) {
                    token = l.json().value("accessToken", "");
                }
                continue;
            }
            if (r.status == 503) {  // the gate is being rebuilt
                std::this_thread::sleep_for(100ms);
                continue;
            }
            ++answered;
            EXPECT_TRUE(r.status == 201 || r.status == 202 || r.status == 409) << r.status << " " << r.body;
            if (after && (r.status == 201 || r.status == 202)) {
                ++after_flush_won;
            }
            return;
        }
    };
    // The sale's first wave (15 orders) is in flight when Redis loses everything; the second wave (65 orders for
    // the remaining units) comes after.
    in_parallel(15, 15, shop);
    flusher.join();
    in_parallel(65, 20, [&](int i) { shop(15 + i); });
    EXPECT_GT(after_flush_won.load(), 0) << "orders are taken again after the gate was rebuilt; sold " << sold(p)
                                         << ", stock " << stock(p) << ", gate " << gate(p);
    EXPECT_NE(redis("GET om:gate:ready"), "") << "the gate is ready again";
    expect_every_order_settles();
    EXPECT_LE(sold(p), 30) << "nothing oversold";
    EXPECT_EQ(stock(p), 30 - sold(p));
    expect_ledger_balanced();
    expect_gate_settles(p);
}

// The group commit's queue has a bound (--order-queue-max; docs/architecture.md, "Limits and timeouts"): with one
// order waiting for it (its batch held on a product row locked here), the next is refused at once with 503 and
// Retry-After, before anything is reserved, and its Idempotency-Key stays free for the retry that succeeds later.
class OrderQueue : public OrderTest {
protected:
    static void SetUpTestSuite() { start({"--order-queue-max", "1"}); }
};

TEST_F(OrderQueue, AFullGroupCommitAnswers503AndReservesNothing) {
    auto s = seller();
    const auto p = product(s, 10);
    auto first = buyer();
    auto second = buyer();
    ASSERT_EQ(place_settled(first, {{p, 1}}).value("status", ""), "CONFIRMED") << "one order at a time is taken";

    PGconn* locker = PQconnectdb(server_->database_url().c_str());
    ASSERT_EQ(PQstatus(locker), CONNECTION_OK);
    PQclear(PQexec(locker, "BEGIN"));
    PQclear(PQexec(locker, ("SELECT 1 FROM product.products WHERE id = '" + p + "' FOR UPDATE").c_str()));
    HttpResponse held;
    std::thread waiting([&] {
        HttpClient c(server_->port());
        c.set_timeout(30s);
        held = place(c, first.account.token, order_body(first, {{p, 1}}), om::new_uuid_v7());
    });
    // The first order's batch waits for the row lock.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline &&
           sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
               "AND query LIKE '%place_orders%'") != "1") {
        std::this_thread::sleep_for(20ms);
    }
    const long long gate_before = std::stoll(gate(p));
    const std::string key = om::new_uuid_v7();
    const auto refused = place(second, {{p, 2}}, key);
    const auto again = place(second, {{p, 2}}, key);
    const long long gate_after = std::stoll(gate(p));
    PQclear(PQexec(locker, "ROLLBACK"));
    PQfinish(locker);
    waiting.join();

    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_EQ(refused.header("Retry-After"), "1");
    EXPECT_EQ(refused.json().value("code", ""), "SERVICE_UNAVAILABLE") << refused.body;
    EXPECT_EQ(again.status, 503) << "the key is not held by the refused request: " << again.body;
    EXPECT_EQ(gate_after, gate_before) << "nothing reserved for the refused orders";
    EXPECT_TRUE(held.status == 201 || held.status == 202) << held.status << " " << held.body;

    // Once the group commit has room again, the same key places the order.
    const auto later = place(second, {{p, 2}}, key);
    ASSERT_TRUE(later.status == 201 || later.status == 202) << later.status << " " << later.body;
    EXPECT_EQ(wait_order(second.account.token, later.json().value("orderId", ""), settled).value("status", ""),
              "CONFIRMED");
    expect_every_order_settles();
    EXPECT_EQ(sql("SELECT count(*) FROM orders.orders WHERE buyer_id = '" + second.account.id + "'"), "1");
    EXPECT_EQ(stock(p), 6);
    expect_ledger_balanced();
    expect_gate_settles(p);
}

// Issue 6: the saga's consumers, the outbox relays and the maintenance loops run on a shard of their own by
// default, whose thread has the niceness --background-nice, so that requests are scheduled first when the CPUs
// are busy; with --background-shard 0 they run on the HTTP shards as before. Both settle orders.
std::vector<int> thread_nices(pid_t pid) {
    std::vector<int> out;
    const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& t : std::filesystem::directory_iterator(tasks)) {
        std::ifstream f(t.path() / "stat");
        std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        const auto close = stat.rfind(')');
        if (close == std::string::npos) {
            continue;
        }
        std::istringstream rest(stat.substr(close + 2));  // from field 3 (state) on; nice is field 19
        std::string field;
        for (int i = 3; i < 19 && rest >> field; ++i) {
        }
        int nice = 0;
        if (rest >> nice) {
            out.push_back(nice);
        }
    }
    return out;
}

// Where the saga runs, it settles an order: CONFIRMED, stock and ledger in step.
class SagaPlacement : public OrderTest {
protected:
    void expect_an_order_settles() {
        auto s = seller();
        const auto p = product(s, 5);
        auto b = buyer();
        EXPECT_EQ(place_settled(b, {{p, 2}}).value("status", ""), "CONFIRMED");
        expect_every_order_settles();
        EXPECT_EQ(stock(p), 3);
        expect_ledger_balanced();
        expect_gate_settles(p);
    }
};

class OrderBackgroundShard : public SagaPlacement {
protected:
    static void SetUpTestSuite() { start({"--background-nice", "7"}); }
};

TEST_F(OrderBackgroundShard, RunsTheSagaOnOneThreadAtTheBackgroundNiceness) {
    const auto nices = thread_nices(server_->pid());
    EXPECT_EQ(std::count(nices.begin(), nices.end(), 7), 1) << "one background thread among " << nices.size();
    EXPECT_EQ(std::count(nices.begin(), nices.end(), 0), static_cast<long>(nices.size()) - 1)
        << "the shards that serve requests keep the process's priority";
    expect_an_order_settles();
}

class OrderWithoutBackgroundShard : public SagaPlacement {
protected:
    static void SetUpTestSuite() { start({"--background-shard", "0", "--background-nice", "7"}); }
};

TEST_F(OrderWithoutBackgroundShard, RunsTheSagaOnTheHttpShards) {
    const auto nices = thread_nices(server_->pid());
    EXPECT_EQ(std::count(nices.begin(), nices.end(), 7), 0) << "no background thread";
    expect_an_order_settles();
}

}  // namespace
