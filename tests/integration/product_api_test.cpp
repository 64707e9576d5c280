// Product service end to end: catalog endpoints, ownership, conditional requests (If-Match, ETag/304),
// inventory and its ledger, and the stock guarantees under concurrency. A real openmarket-server against
// real PostgreSQL and Redis.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <functional>
#include <future>
#include <latch>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

#include <unistd.h>

#include "support/http_client.hpp"
#include "support/api_test.hpp"
#include "support/server_process.hpp"
#include "support/test_env.hpp"

using nlohmann::json;
using om::test::HttpClient;
using om::test::HttpResponse;
using om::test::ServerProcess;

using om::test::Account;
using om::test::unique_email;

namespace {



const std::array<const char*, 12> kProductFields{"productId", "sellerId", "name",   "description", "price",   "currency",
                                                 "category",  "stock",    "status", "version",     "createdAt", "updatedAt"};

class ProductApi : public om::test::ServerSuite {
protected:

    Account member(const std::string& role) { return om::test::sign_up(*client_, role); }
    Account seller() { return member("SELLER"); }
    Account buyer() { return member("BUYER"); }

    // Any method with a JSON body (null: none), a bearer token (empty: none) and extra headers.
    static HttpResponse send(HttpClient& c, const std::string& method, const std::string& target, const json& body,
                             const std::string& token, std::map<std::string, std::string> headers = {}) {
        if (!token.empty()) {
            headers["Authorization"] = "Bearer " + token;
        }
        return c.request(method, target, body.is_null() ? std::string() : body.dump(), headers);
    }

    static json product_body(const std::string& name, long long price = 129000, long long stock = 10,
                             const std::string& category = "전자기기") {
        return {{"name", name}, {"price", price}, {"category", category}, {"stock", stock}};
    }

    json create(const std::string& token, const json& body) {
        auto r = client_->post("/products", body, token);
        EXPECT_EQ(r.status, 201) << body.dump() << " → " << r.body;
        return r.json();
    }
    static std::string pid(const json& p) { return p.value("productId", ""); }

    HttpResponse inventory(HttpClient& c, const std::string& id, const json& body, const std::string& token) {
        return c.put("/products/" + id + "/inventory", body, token);
    }

    static void expect_problem(const HttpResponse& r, int status, const std::string& code) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << r.body;
        auto j = json::parse(r.body, nullptr, false);
        ASSERT_TRUE(j.is_object()) << r.body;
        EXPECT_EQ(j.value("code", ""), code) << r.body;
        EXPECT_EQ(j.value("status", 0), status);
        EXPECT_TRUE(j.contains("title"));
        EXPECT_TRUE(j.contains("detail"));
        EXPECT_TRUE(j.contains("type"));
    }
    static bool has_field_error(const HttpResponse& r, const std::string& field) {
        auto j = json::parse(r.body, nullptr, false);
        if (!j.is_object()) {
            return false;
        }
        for (const auto& e : j.value("errors", json::array())) {
            if (e.value("field", "") == field) {
                return true;
            }
        }
        return false;
    }
    static void expect_field_error(const HttpResponse& r, const std::string& field) {
        expect_problem(r, 400, "VALIDATION_FAILED");
        EXPECT_TRUE(has_field_error(r, field)) << "no field error on '" << field << "': " << r.body;
    }

    static void expect_product_shape(const json& p) {
        ASSERT_TRUE(p.is_object()) << p.dump();
        EXPECT_EQ(p.size(), kProductFields.size()) << p.dump();
        for (const char* f : kProductFields) {
            EXPECT_TRUE(p.contains(f)) << "missing " << f << " in " << p.dump();
        }
        static const std::regex ts(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");
        EXPECT_TRUE(std::regex_match(p.value("createdAt", ""), ts)) << p.dump();
        EXPECT_TRUE(std::regex_match(p.value("updatedAt", ""), ts)) << p.dump();
        EXPECT_EQ(p.value("productId", "").size(), 36U) << p.dump();
        EXPECT_TRUE(p["price"].is_number_integer()) << p.dump();
        EXPECT_TRUE(p["stock"].is_number_integer()) << p.dump();
        EXPECT_TRUE(p["version"].is_number_integer()) << p.dump();
    }

    static std::string sql(const std::string& q) { return om::test::sql_value(server_->database_url(), q); }
    static std::string db_stock(const std::string& id) {
        return sql("SELECT stock FROM product.products WHERE id = '" + id + "'");
    }
    static std::string db_version(const std::string& id) {
        return sql("SELECT version FROM product.products WHERE id = '" + id + "'");
    }
    static std::string ledger_sum(const std::string& id) {
        return sql("SELECT coalesce(sum(delta), 0) FROM product.stock_movements WHERE product_id = '" + id + "'");
    }
    static std::string ledger_rows(const std::string& id, const std::string& reason = {}) {
        return sql("SELECT count(*) FROM product.stock_movements WHERE product_id = '" + id + "'" +
                   (reason.empty() ? std::string() : " AND reason = '" + reason + "'"));
    }
    // GET om:gate:<id> in the server's Redis database ("" when the key is absent).
    static std::string gate(const std::string& id) {
        const std::string cmd = "redis-cli -p " + om::test::env("OM_TEST_REDIS_PORT") + " -n " +
                                std::to_string(om::test::exclusive_redis_db()) + " GET om:gate:" + id + " 2>&1";
        FILE* p = ::popen(cmd.c_str(), "r");
        if (p == nullptr) {
            return "<popen failed>";
        }
        std::string out;
        std::array<char, 256> buf{};
        while (auto n = std::fread(buf.data(), 1, buf.size(), p)) {
            out.append(buf.data(), n);
        }
        ::pclose(p);
        while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
            out.pop_back();
        }
        return out;
    }
    // Ledger sums to the stock, and the Redis gate equals it.
    static void expect_stock_consistent(const std::string& id, long long expected) {
        EXPECT_EQ(db_stock(id), std::to_string(expected)) << id;
        EXPECT_EQ(ledger_sum(id), std::to_string(expected)) << "ledger of " << id;
        EXPECT_EQ(gate(id), std::to_string(expected)) << "Redis gate of " << id;
    }

    // Runs f(client, i) for i in [0, n) on n threads with one client each, started together.
    std::vector<HttpResponse> parallel(int n, const std::function<HttpResponse(HttpClient&, int)>& f) {
        std::latch start(n);
        std::vector<std::future<HttpResponse>> futures;
        futures.reserve(static_cast<std::size_t>(n));
        const int port = server_->port();
        for (int i = 0; i < n; ++i) {
            futures.push_back(std::async(std::launch::async, [&start, &f, port, i] {
                HttpClient c(port);
                start.arrive_and_wait();
                return f(c, i);
            }));
        }
        std::vector<HttpResponse> out;
        out.reserve(futures.size());
        for (auto& fu : futures) {
            out.push_back(fu.get());
        }
        return out;
    }

};


// ---- POST /products ----------------------------------------------------------------------------

TEST_F(ProductApi, CreateReturnsTheProductWithLocationEtagAndDefaults) {
    const auto s = seller();
    auto r = client_->post("/products", product_body("LG 그램 노트북 16인치", 1899000, 7, "노트북"), s.token);
    ASSERT_EQ(r.status, 201) << r.body;
    const auto p = r.json();
    expect_product_shape(p);
    EXPECT_EQ(p["sellerId"], s.id);
    EXPECT_EQ(p["name"], "LG 그램 노트북 16인치");
    EXPECT_EQ(p["description"], "");
    EXPECT_EQ(p["price"], 1899000);
    EXPECT_EQ(p["currency"], "KRW");
    EXPECT_EQ(p["category"], "노트북");
    EXPECT_EQ(p["stock"], 7);
    EXPECT_EQ(p["status"], "ACTIVE");
    EXPECT_EQ(p["version"], 1);
    EXPECT_EQ(r.header("Location"), "/products/" + pid(p));
    EXPECT_EQ(r.header("ETag"), "\"1-7\"");  // version and stock

    // Every field given explicitly; names and categories are trimmed.
    r = client_->post("/products",
                      {{"name", "  삼성 갤럭시 탭 S9  "},
                       {"description", "11인치 디스플레이, 방수 IP68"},
                       {"price", 0},
                       {"currency", "USD"},
                       {"category", " 태블릿 "},
                       {"stock", 0},
                       {"status", "INACTIVE"}},
                      s.token);
    ASSERT_EQ(r.status, 201) << r.body;
    const auto q = r.json();
    expect_product_shape(q);
    EXPECT_EQ(q["name"], "삼성 갤럭시 탭 S9");
    EXPECT_EQ(q["description"], "11인치 디스플레이, 방수 IP68");
    EXPECT_EQ(q["price"], 0);
    EXPECT_EQ(q["currency"], "USD");
    EXPECT_EQ(q["category"], "태블릿");
    EXPECT_EQ(q["stock"], 0);
    EXPECT_EQ(q["status"], "INACTIVE");
    EXPECT_NE(pid(q), pid(p));

    // Upper bounds are accepted.
    r = client_->post("/products", product_body(std::string(200, 'n'), 1000000000000LL, 1000000000, std::string(100, 'c')),
                      s.token);
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.json()["price"], 1000000000000LL);
    EXPECT_EQ(r.json()["stock"], 1000000000);

    // The database holds what was answered, and the initial stock is the first ledger row.
    EXPECT_EQ(sql("SELECT seller_id FROM product.products WHERE id = '" + pid(p) + "'"), s.id);
    EXPECT_EQ(db_stock(pid(p)), "7");
    EXPECT_EQ(ledger_rows(pid(p)), "1");
    EXPECT_EQ(ledger_rows(pid(p), "INITIAL"), "1");
    EXPECT_EQ(sql("SELECT delta || '/' || resulting_stock || '/' || (order_id IS NULL) FROM product.stock_movements "
                  "WHERE product_id = '" + pid(p) + "'"),
              "7/7/true");
    EXPECT_EQ(ledger_sum(pid(q)), "0");
}

TEST_F(ProductApi, CreateNeedsASellerToken) {
    const auto b = buyer();
    expect_problem(client_->post("/products", product_body("노트북 거치대")), 401, "UNAUTHORIZED");
    expect_problem(client_->post("/products", product_body("노트북 거치대"), "not-a-real-token"), 401, "UNAUTHORIZED");
    expect_problem(client_->post("/products", product_body("노트북 거치대"), b.token), 403, "FORBIDDEN");
    EXPECT_EQ(sql("SELECT count(*) FROM product.products"), "0");
}

TEST_F(ProductApi, CreateValidationReportsEveryField) {
    const auto s = seller();
    auto r = client_->post("/products", json::object(), s.token);
    expect_problem(r, 400, "VALIDATION_FAILED");
    for (const char* f : {"name", "price", "category", "stock"}) {
        EXPECT_TRUE(has_field_error(r, f)) << f << ": " << r.body;
    }

    r = client_->post("/products",
                      {{"name", 42}, {"price", "1000"}, {"category", true}, {"stock", 1.5}, {"description", 7},
                       {"currency", 1}, {"status", false}},
                      s.token);
    expect_problem(r, 400, "VALIDATION_FAILED");
    for (const char* f : {"name", "price", "category", "stock", "description", "currency", "status"}) {
        EXPECT_TRUE(has_field_error(r, f)) << f << ": " << r.body;
    }

    r = client_->post("/products",
                      {{"name", "   "}, {"price", -1}, {"category", ""}, {"stock", -1}, {"currency", "krw"},
                       {"status", "DELETED"}},
                      s.token);
    expect_problem(r, 400, "VALIDATION_FAILED");
    for (const char* f : {"name", "price", "category", "stock", "currency", "status"}) {
        EXPECT_TRUE(has_field_error(r, f)) << f << ": " << r.body;
    }

    // One past every upper bound.
    r = client_->post("/products",
                      {{"name", std::string(201, 'n')}, {"price", 1000000000001LL}, {"category", std::string(101, 'c')},
                       {"stock", 1000000001}, {"description", std::string(20001, 'd')}, {"currency", "KRWX"}},
                      s.token);
    expect_problem(r, 400, "VALIDATION_FAILED");
    for (const char* f : {"name", "price", "category", "stock", "description", "currency"}) {
        EXPECT_TRUE(has_field_error(r, f)) << f << ": " << r.body;
    }

    // One field wrong at a time names only that field.
    auto body = product_body("키보드");
    body["price"] = 1.25;
    r = client_->post("/products", body, s.token);
    expect_field_error(r, "price");
    EXPECT_FALSE(has_field_error(r, "name"));

    expect_problem(client_->request("POST", "/products", "{\"name\": ",
                                    {{"Authorization", "Bearer " + s.token}, {"Content-Type", "application/json"}}),
                   400, "MALFORMED_JSON");
    expect_problem(client_->request("POST", "/products", "[1,2]",
                                    {{"Authorization", "Bearer " + s.token}, {"Content-Type", "application/json"}}),
                   400, "VALIDATION_FAILED");
    // Nothing was created by any of these.
    EXPECT_EQ(sql("SELECT count(*) FROM product.products"), "0");
    EXPECT_EQ(sql("SELECT count(*) FROM product.stock_movements"), "0");
}

TEST_F(ProductApi, IdempotencyKeyReplaysTheSameProductPerSeller) {
    const auto s = seller();
    const auto other = seller();
    const auto body = product_body("로지텍 MX Master 3S 마우스", 139000, 5, "주변기기");
    auto first = send(*client_, "POST", "/products", body, s.token, {{"Idempotency-Key", "create-mouse-1"}});
    ASSERT_EQ(first.status, 201) << first.body;
    const auto id = pid(first.json());

    auto again = send(*client_, "POST", "/products", body, s.token, {{"Idempotency-Key", "create-mouse-1"}});
    ASSERT_EQ(again.status, 201) << again.body;
    EXPECT_EQ(pid(again.json()), id);
    EXPECT_EQ(again.json()["name"], "로지텍 MX Master 3S 마우스");
    EXPECT_EQ(sql("SELECT count(*) FROM product.products"), "1");
    EXPECT_EQ(ledger_rows(id), "1");

    auto changed = body;
    changed["price"] = 129000;
    expect_problem(send(*client_, "POST", "/products", changed, s.token, {{"Idempotency-Key", "create-mouse-1"}}), 422,
                   "IDEMPOTENCY_KEY_REUSED");
    EXPECT_EQ(sql("SELECT count(*) FROM product.products"), "1");

    // The key is scoped to the seller: another seller with the same key creates its own product.
    auto theirs = send(*client_, "POST", "/products", body, other.token, {{"Idempotency-Key", "create-mouse-1"}});
    ASSERT_EQ(theirs.status, 201) << theirs.body;
    EXPECT_NE(pid(theirs.json()), id);
    EXPECT_EQ(theirs.json()["sellerId"], other.id);

    // Without a key, the same body creates another product.
    auto plain = client_->post("/products", body, s.token);
    ASSERT_EQ(plain.status, 201) << plain.body;
    EXPECT_NE(pid(plain.json()), id);
    EXPECT_EQ(sql("SELECT count(*) FROM product.products"), "3");

    // A key longer than 200 characters is rejected and creates nothing.
    auto too_long = send(*client_, "POST", "/products", body, s.token, {{"Idempotency-Key", std::string(201, 'k')}});
    EXPECT_EQ(too_long.status, 400) << too_long.body;
    EXPECT_EQ(sql("SELECT count(*) FROM product.products"), "3");
}

TEST_F(ProductApi, ConcurrentRetriesWithOneIdempotencyKeyCreateOneProduct) {
    const auto s = seller();
    const auto body = product_body("애플 에어팟 프로 2", 359000, 3, "음향기기");
    auto rs = parallel(8, [&](HttpClient& c, int) {
        return send(c, "POST", "/products", body, s.token, {{"Idempotency-Key", "airpods-retry"}});
    });
    std::set<std::string> ids;
    for (const auto& r : rs) {
        ASSERT_EQ(r.status, 201) << r.body;
        ids.insert(pid(r.json()));
    }
    EXPECT_EQ(ids.size(), 1U);
    EXPECT_EQ(sql("SELECT count(*) FROM product.products"), "1");
    EXPECT_EQ(sql("SELECT count(*) FROM product.stock_movements"), "1");
}

// ---- PUT /products/{id} ------------------------------------------------------------------------

TEST_F(ProductApi, UpdateChangesOnlyTheGivenFieldsAndBumpsTheVersion) {
    const auto s = seller();
    const auto p = create(s.token, product_body("LG 그램 노트북 16인치", 1899000, 4, "노트북"));
    const auto id = pid(p);

    auto r = client_->put("/products/" + id, {{"price", 1790000}, {"description", "2024년형 새 모델"}}, s.token);
    ASSERT_EQ(r.status, 200) << r.body;
    auto u = r.json();
    expect_product_shape(u);
    EXPECT_EQ(u["productId"], id);
    EXPECT_EQ(u["price"], 1790000);
    EXPECT_EQ(u["description"], "2024년형 새 모델");
    EXPECT_EQ(u["name"], "LG 그램 노트북 16인치");
    EXPECT_EQ(u["category"], "노트북");
    EXPECT_EQ(u["stock"], 4);
    EXPECT_EQ(u["version"], 2);
    EXPECT_EQ(u["createdAt"], p["createdAt"]);
    EXPECT_GE(u["updatedAt"].get<std::string>(), p["updatedAt"].get<std::string>());
    EXPECT_EQ(r.header("ETag"), "\"2-4\"");

    r = client_->put("/products/" + id,
                     {{"name", " LG 그램 프로 17 "}, {"category", "랩탑"}, {"currency", "USD"}, {"status", "INACTIVE"}},
                     s.token);
    ASSERT_EQ(r.status, 200) << r.body;
    u = r.json();
    EXPECT_EQ(u["name"], "LG 그램 프로 17");
    EXPECT_EQ(u["category"], "랩탑");
    EXPECT_EQ(u["currency"], "USD");
    EXPECT_EQ(u["status"], "INACTIVE");
    EXPECT_EQ(u["price"], 1790000);
    EXPECT_EQ(u["version"], 3);
    EXPECT_EQ(r.header("ETag"), "\"3-4\"");
    EXPECT_EQ(db_version(id), "3");
    EXPECT_EQ(sql("SELECT name || '|' || status FROM product.products WHERE id = '" + id + "'"), "LG 그램 프로 17|INACTIVE");

    // Details changes do not touch the stock ledger.
    EXPECT_EQ(ledger_rows(id), "1");
}

TEST_F(ProductApi, UpdateIsForTheOwnerOnly) {
    const auto owner = seller();
    const auto other = seller();
    const auto b = buyer();
    const auto id = pid(create(owner.token, product_body("삼성 갤럭시 탭 S9", 999000, 2, "태블릿")));
    const std::string path = "/products/" + id;

    expect_problem(client_->put(path, {{"price", 1}}), 401, "UNAUTHORIZED");
    expect_problem(client_->put(path, {{"price", 1}}, "not-a-real-token"), 401, "UNAUTHORIZED");
    expect_problem(client_->put(path, {{"price", 1}}, other.token), 403, "FORBIDDEN");
    expect_problem(client_->put(path, {{"price", 1}}, b.token), 403, "FORBIDDEN");
    expect_problem(client_->put("/products/019a0000-0000-7000-8000-000000000000", {{"price", 1}}, owner.token), 404,
                   "NOT_FOUND");
    expect_problem(client_->put("/products/not-a-uuid", {{"price", 1}}, owner.token), 404, "NOT_FOUND");
    EXPECT_EQ(sql("SELECT price || '/' || version FROM product.products WHERE id = '" + id + "'"), "999000/1");
}

TEST_F(ProductApi, UpdateValidation) {
    const auto s = seller();
    const auto id = pid(create(s.token, product_body("소니 WH-1000XM5 헤드폰", 429000, 9, "음향기기")));
    const std::string path = "/products/" + id;

    expect_problem(client_->put(path, json::object(), s.token), 400, "VALIDATION_FAILED");
    expect_problem(client_->put(path, {{"color", "black"}}, s.token), 400, "VALIDATION_FAILED");
    expect_field_error(client_->put(path, {{"stock", 5}}, s.token), "stock");
    expect_field_error(client_->put(path, {{"name", "헤드폰"}, {"stock", 5}}, s.token), "stock");
    expect_field_error(client_->put(path, {{"name", "  "}}, s.token), "name");
    expect_field_error(client_->put(path, {{"name", std::string(201, 'x')}}, s.token), "name");
    expect_field_error(client_->put(path, {{"price", -5}}, s.token), "price");
    expect_field_error(client_->put(path, {{"price", "429000"}}, s.token), "price");
    expect_field_error(client_->put(path, {{"price", 1000000000001LL}}, s.token), "price");
    expect_field_error(client_->put(path, {{"currency", "won"}}, s.token), "currency");
    expect_field_error(client_->put(path, {{"category", ""}}, s.token), "category");
    expect_field_error(client_->put(path, {{"description", std::string(20001, 'd')}}, s.token), "description");
    expect_field_error(client_->put(path, {{"status", "SOLD_OUT"}}, s.token), "status");
    expect_problem(client_->request("PUT", path, "{oops", {{"Authorization", "Bearer " + s.token}}), 400,
                   "MALFORMED_JSON");
    // Nothing changed.
    EXPECT_EQ(sql("SELECT name || '/' || price || '/' || stock || '/' || version FROM product.products WHERE id = '" +
                  id + "'"),
              "소니 WH-1000XM5 헤드폰/429000/9/1");
}

TEST_F(ProductApi, IfMatchGuardsUpdates) {
    const auto s = seller();
    const auto id = pid(create(s.token, product_body("다이슨 V15 청소기", 1190000, 3, "생활가전")));
    const std::string path = "/products/" + id;

    auto r = send(*client_, "PUT", path, {{"price", 1100000}}, s.token, {{"If-Match", "1"}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["version"], 2);
    EXPECT_EQ(r.header("ETag"), "\"2-3\"");

    // Stale versions, in each accepted form, fail and change nothing; so does a tag that is not ours.
    for (const std::string stale : {"1", "\"1\"", "W/\"1\"", "3", "\"99\"", "\"1-3\"", "\"2-x\"", "\"2-\""}) {
        r = send(*client_, "PUT", path, {{"price", 5}}, s.token, {{"If-Match", stale}});
        expect_problem(r, 412, "PRECONDITION_FAILED");
    }
    EXPECT_EQ(sql("SELECT price || '/' || version FROM product.products WHERE id = '" + id + "'"), "1100000/2");
    auto g = client_->get(path);
    ASSERT_EQ(g.status, 200) << g.body;
    EXPECT_EQ(g.json()["price"], 1100000);
    EXPECT_EQ(g.json()["version"], 2);

    // The ETag, a bare version and the weak form of the current version are accepted; the stock part of the
    // ETag is not compared (buyers' orders do not make a seller's edit fail).
    r = send(*client_, "PUT", path, {{"price", 1050000}}, s.token, {{"If-Match", "\"2-1\""}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["version"], 3);
    r = send(*client_, "PUT", path, {{"price", 1000000}}, s.token, {{"If-Match", "W/\"3\""}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["version"], 4);
    EXPECT_EQ(r.json()["price"], 1000000);

    // A stock change is a change too: the version moves and the old ETag no longer matches.
    auto inv = inventory(*client_, id, {{"delta", 1}}, s.token);
    ASSERT_EQ(inv.status, 200) << inv.body;
    EXPECT_EQ(inv.json()["version"], 5);
    expect_problem(send(*client_, "PUT", path, {{"price", 7}}, s.token, {{"If-Match", "\"4\""}}), 412,
                   "PRECONDITION_FAILED");
    EXPECT_EQ(sql("SELECT price || '/' || version FROM product.products WHERE id = '" + id + "'"), "1000000/5");
}

TEST_F(ProductApi, ConcurrentIfMatchUpdatesLetExactlyOneWin) {
    const auto s = seller();
    const auto id = pid(create(s.token, product_body("닌텐도 스위치 OLED", 415000, 6, "게임")));
    auto rs = parallel(10, [&](HttpClient& c, int i) {
        return send(c, "PUT", "/products/" + id, {{"price", 400000 + i}}, s.token, {{"If-Match", "\"1\""}});
    });
    int ok = 0;
    long long winner = -1;
    for (const auto& r : rs) {
        if (r.status == 200) {
            ++ok;
            winner = r.json()["price"].get<long long>();
        } else {
            expect_problem(r, 412, "PRECONDITION_FAILED");
        }
    }
    EXPECT_EQ(ok, 1);
    EXPECT_EQ(sql("SELECT price || '/' || version FROM product.products WHERE id = '" + id + "'"),
              std::to_string(winner) + "/2");
}

// ---- GET /products/{id} ------------------------------------------------------------------------

TEST_F(ProductApi, GetIsPublicWithEtagAndConditionalRequests) {
    const auto s = seller();
    const auto p = create(s.token, product_body("LG 그램 노트북 16인치", 1899000, 7, "노트북"));
    const std::string path = "/products/" + pid(p);

    auto r = client_->get(path);
    ASSERT_EQ(r.status, 200) << r.body;
    expect_product_shape(r.json());
    EXPECT_EQ(r.json(), p);
    EXPECT_EQ(r.header("ETag"), "\"1-7\"");
    EXPECT_EQ(r.header("Cache-Control"), "public, no-cache");
    // Anyone may read an ACTIVE product, with any valid token.
    const auto b = buyer();
    EXPECT_EQ(client_->get(path, b.token).status, 200);
    EXPECT_EQ(client_->get(path, s.token).json(), p);

    r = client_->request("GET", path, {}, {{"If-None-Match", "\"1-7\""}});
    EXPECT_EQ(r.status, 304) << r.body;
    EXPECT_EQ(r.header("ETag"), "\"1-7\"");
    EXPECT_TRUE(r.body.empty()) << r.body;
    r = client_->request("GET", path, {}, {{"If-None-Match", "*"}});
    EXPECT_EQ(r.status, 304) << r.body;
    EXPECT_TRUE(r.body.empty());
    r = client_->request("GET", path, {}, {{"If-None-Match", "\"0\""}});
    EXPECT_EQ(r.status, 200) << r.body;

    // After an update the old ETag no longer matches.
    ASSERT_EQ(client_->put(path, {{"price", 1799000}}, s.token).status, 200);
    r = client_->request("GET", path, {}, {{"If-None-Match", "\"1-7\""}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["price"], 1799000);
    EXPECT_EQ(r.header("ETag"), "\"2-7\"");
    r = client_->request("GET", path, {}, {{"If-None-Match", "\"2-7\""}});
    EXPECT_EQ(r.status, 304);
    EXPECT_EQ(r.header("ETag"), "\"2-7\"");
}

TEST_F(ProductApi, GetUnknownOrInvalidIsNotFoundAndBadTokensAre401) {
    const auto s = seller();
    const auto id = pid(create(s.token, product_body("애플 맥북 에어 M3", 1590000, 1, "노트북")));
    expect_problem(client_->get("/products/019a0000-0000-7000-8000-000000000000"), 404, "NOT_FOUND");
    expect_problem(client_->get("/products/not-a-uuid"), 404, "NOT_FOUND");
    expect_problem(client_->get("/products/" + id, "not-a-real-token"), 401, "UNAUTHORIZED");
}

TEST_F(ProductApi, InactiveProductsAreVisibleToTheirOwnerOnly) {
    const auto owner = seller();
    const auto other = seller();
    const auto b = buyer();
    auto body = product_body("출시 예정 갤럭시 Z 폴드7", 2399000, 0, "스마트폰");
    body["status"] = "INACTIVE";
    const auto p = create(owner.token, body);
    const std::string path = "/products/" + pid(p);

    expect_problem(client_->get(path), 404, "NOT_FOUND");
    expect_problem(client_->get(path, b.token), 404, "NOT_FOUND");
    expect_problem(client_->get(path, other.token), 404, "NOT_FOUND");
    auto r = client_->get(path, owner.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json(), p);
    EXPECT_EQ(r.header("Cache-Control"), "private, no-cache");
    EXPECT_EQ(r.header("ETag"), "\"1-0\"");

    // Activating it makes it public at once; deactivating hides it again.
    ASSERT_EQ(client_->put(path, {{"status", "ACTIVE"}}, owner.token).status, 200);
    r = client_->get(path);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("Cache-Control"), "public, no-cache");
    EXPECT_EQ(r.json()["status"], "ACTIVE");
    ASSERT_EQ(client_->put(path, {{"status", "INACTIVE"}}, owner.token).status, 200);
    expect_problem(client_->get(path), 404, "NOT_FOUND");
    expect_problem(client_->get(path, other.token), 404, "NOT_FOUND");
    EXPECT_EQ(client_->get(path, owner.token).status, 200);
}

TEST_F(ProductApi, ReadsAreNeverStaleAfterUpdates) {
    const auto s = seller();
    const auto id = pid(create(s.token, product_body("LG 그램 노트북 16인치", 1000000, 50, "노트북")));
    const std::string path = "/products/" + id;
    // Several readers on their own connections (possibly other shards) keep the product cached.
    std::vector<std::unique_ptr<HttpClient>> readers;
    for (int i = 0; i < 4; ++i) {
        readers.push_back(std::make_unique<HttpClient>(server_->port()));
    }
    long long version = 1;
    for (int i = 1; i <= 15; ++i) {
        for (auto& rd : readers) {
            ASSERT_EQ(rd->get(path).status, 200);
        }
        const long long price = 1000000 + i;
        auto u = client_->put(path, {{"price", price}, {"name", "LG 그램 노트북 16인치 v" + std::to_string(i)}}, s.token);
        ASSERT_EQ(u.status, 200) << u.body;
        ++version;
        for (auto& rd : readers) {
            auto g = rd->get(path);
            ASSERT_EQ(g.status, 200) << g.body;
            EXPECT_EQ(g.json()["price"], price) << "round " << i;
            EXPECT_EQ(g.json()["name"], "LG 그램 노트북 16인치 v" + std::to_string(i));
            EXPECT_EQ(g.json()["version"], version);
            EXPECT_EQ(g.header("ETag"), "\"" + std::to_string(version) + "-" + std::to_string(51 - i) + "\"");
        }
        auto inv = inventory(*client_, id, {{"delta", -1}}, s.token);
        ASSERT_EQ(inv.status, 200) << inv.body;
        ++version;
        for (auto& rd : readers) {
            const std::string before = "\"" + std::to_string(version - 1) + "-" + std::to_string(51 - i) + "\"";
            auto g = rd->request("GET", path, {}, {{"If-None-Match", before}});
            ASSERT_EQ(g.status, 200) << "round " << i << ": " << g.body;
            EXPECT_EQ(g.json()["stock"], 50 - i);
            EXPECT_EQ(g.json()["version"], version);
        }
    }
    expect_stock_consistent(id, 35);
}

// ---- PUT /products/{id}/inventory --------------------------------------------------------------

TEST_F(ProductApi, InventorySetsAndAdjustsStockWithALedgerRowPerChange) {
    const auto s = seller();
    const auto id = pid(create(s.token, product_body("삼성 갤럭시 탭 S9", 999000, 10, "태블릿")));

    auto r = inventory(*client_, id, {{"quantity", 25}}, s.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json(), json({{"productId", id}, {"stock", 25}, {"version", 2}}));
    expect_stock_consistent(id, 25);

    r = inventory(*client_, id, {{"delta", -7}}, s.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json(), json({{"productId", id}, {"stock", 18}, {"version", 3}}));
    expect_stock_consistent(id, 18);

    r = inventory(*client_, id, {{"delta", 2}}, s.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json(), json({{"productId", id}, {"stock", 20}, {"version", 4}}));

    // Below zero: 409 and nothing changes.
    expect_problem(inventory(*client_, id, {{"delta", -21}}, s.token), 409, "INSUFFICIENT_STOCK");
    expect_problem(inventory(*client_, id, {{"delta", -1000000000}}, s.token), 409, "INSUFFICIENT_STOCK");
    EXPECT_EQ(db_version(id), "4");
    expect_stock_consistent(id, 20);

    // Setting the current quantity is a no-op: 200, no row, same version.
    r = inventory(*client_, id, {{"quantity", 20}}, s.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json(), json({{"productId", id}, {"stock", 20}, {"version", 4}}));
    EXPECT_EQ(ledger_rows(id), "4");

    // Exactly to zero is fine, and the bounds are accepted.
    r = inventory(*client_, id, {{"delta", -20}}, s.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["stock"], 0);
    r = inventory(*client_, id, {{"quantity", 1000000000}}, s.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["stock"], 1000000000);
    r = inventory(*client_, id, {{"delta", -1000000000}}, s.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["stock"], 0);
    EXPECT_EQ(r.json()["version"], 7);
    r = inventory(*client_, id, {{"quantity", 0}}, s.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["version"], 7);
    expect_stock_consistent(id, 0);

    // The ledger, in order.
    EXPECT_EQ(sql("SELECT string_agg(reason || ':' || delta || ':' || resulting_stock, ',' ORDER BY id) "
                  "FROM product.stock_movements WHERE product_id = '" + id + "'"),
              "INITIAL:10:10,SELLER_SET:15:25,SELLER_ADJUST:-7:18,SELLER_ADJUST:2:20,SELLER_ADJUST:-20:0,"
              "SELLER_SET:1000000000:1000000000,SELLER_ADJUST:-1000000000:0");
    EXPECT_EQ(sql("SELECT count(*) FROM product.stock_movements WHERE product_id = '" + id + "' AND order_id IS NOT NULL"),
              "0");

    // The product reflects the stock and version at once.
    auto g = client_->get("/products/" + id);
    ASSERT_EQ(g.status, 200);
    EXPECT_EQ(g.json()["stock"], 0);
    EXPECT_EQ(g.json()["version"], 7);
}

TEST_F(ProductApi, InventoryErrors) {
    const auto owner = seller();
    const auto other = seller();
    const auto b = buyer();
    const auto id = pid(create(owner.token, product_body("소니 WH-1000XM5 헤드폰", 429000, 5, "음향기기")));

    expect_problem(inventory(*client_, id, {{"delta", 1}}, ""), 401, "UNAUTHORIZED");
    expect_problem(inventory(*client_, id, {{"delta", 1}}, "not-a-real-token"), 401, "UNAUTHORIZED");
    expect_problem(inventory(*client_, id, {{"delta", 1}}, other.token), 403, "FORBIDDEN");
    expect_problem(inventory(*client_, id, {{"quantity", 100}}, b.token), 403, "FORBIDDEN");
    expect_problem(inventory(*client_, "019a0000-0000-7000-8000-000000000000", {{"delta", 1}}, owner.token), 404,
                   "NOT_FOUND");
    expect_problem(inventory(*client_, "not-a-uuid", {{"delta", 1}}, owner.token), 404, "NOT_FOUND");

    for (const json& bad : {json::object(), json{{"quantity", 1}, {"delta", 1}}, json{{"delta", 0}},
                            json{{"quantity", -1}}, json{{"quantity", 1000000001}}, json{{"delta", 1000000001}},
                            json{{"delta", -1000000001}}, json{{"quantity", "5"}}, json{{"delta", 1.5}},
                            json{{"quantity", nullptr}}, json{{"stock", 5}}}) {
        auto r = inventory(*client_, id, bad, owner.token);
        expect_problem(r, 400, "VALIDATION_FAILED");
        EXPECT_TRUE(r.json().contains("errors")) << bad.dump() << " → " << r.body;
    }
    expect_problem(client_->request("PUT", "/products/" + id + "/inventory", "{\"delta\":",
                                    {{"Authorization", "Bearer " + owner.token}}),
                   400, "MALFORMED_JSON");
    // Nothing changed.
    EXPECT_EQ(db_version(id), "1");
    EXPECT_EQ(ledger_rows(id), "1");
    expect_stock_consistent(id, 5);
}

TEST_F(ProductApi, HundredParallelIncrementsAddExactlyHundred) {
    const auto s = seller();
    const auto id = pid(create(s.token, product_body("LG 그램 노트북 16인치", 1899000, 7, "노트북")));
    auto rs = parallel(100, [&](HttpClient& c, int) { return inventory(c, id, {{"delta", 1}}, s.token); });
    std::set<long long> stocks;
    std::set<long long> versions;
    for (const auto& r : rs) {
        ASSERT_EQ(r.status, 200) << r.body;
        stocks.insert(r.json()["stock"].get<long long>());
        versions.insert(r.json()["version"].get<long long>());
    }
    // Every request saw its own result: 8..107 and versions 2..101, each once.
    EXPECT_EQ(stocks.size(), 100U);
    EXPECT_EQ(*stocks.begin(), 8);
    EXPECT_EQ(*stocks.rbegin(), 107);
    EXPECT_EQ(versions.size(), 100U);
    EXPECT_EQ(*versions.begin(), 2);
    EXPECT_EQ(*versions.rbegin(), 101);

    expect_stock_consistent(id, 107);
    EXPECT_EQ(db_version(id), "101");
    EXPECT_EQ(ledger_rows(id, "SELLER_ADJUST"), "100");
    EXPECT_EQ(sql("SELECT count(DISTINCT resulting_stock) FROM product.stock_movements WHERE product_id = '" + id + "'"),
              "101");
    auto g = client_->get("/products/" + id);
    EXPECT_EQ(g.json()["stock"], 107);
    EXPECT_EQ(g.json()["version"], 101);
}

TEST_F(ProductApi, ParallelDecrementsNeverGoBelowZero) {
    const auto s = seller();
    const auto id = pid(create(s.token, product_body("한정판 키보드", 259000, 30, "주변기기")));
    auto rs = parallel(100, [&](HttpClient& c, int) { return inventory(c, id, {{"delta", -1}}, s.token); });
    int ok = 0;
    for (const auto& r : rs) {
        if (r.status == 200) {
            ++ok;
        } else {
            expect_problem(r, 409, "INSUFFICIENT_STOCK");
        }
    }
    EXPECT_EQ(ok, 30);
    expect_stock_consistent(id, 0);
    EXPECT_EQ(db_version(id), "31");
    EXPECT_EQ(sql("SELECT min(resulting_stock) FROM product.stock_movements WHERE product_id = '" + id + "'"), "0");
}

TEST_F(ProductApi, ConcurrentSetsAndAdjustsNeverLoseAnUpdate) {
    const auto s = seller();
    const long long initial = 100;
    const auto id = pid(create(s.token, product_body("삼성 갤럭시 탭 S9", 999000, initial, "태블릿")));
    // 40 sets to distinct quantities 1000, 2000, ... (never equal to the stock at the time, so none is a no-op)
    // and 60 adjusts of +1 / -1 (never below zero), all at once.
    constexpr int n = 100;
    auto is_set = [](int i) { return i % 5 < 2; };
    auto quantity = [](int i) { return 1000LL * (i + 1); };
    auto delta = [](int i) { return i % 2 == 0 ? 1LL : -1LL; };
    auto rs = parallel(n, [&](HttpClient& c, int i) {
        return inventory(c, id, is_set(i) ? json{{"quantity", quantity(i)}} : json{{"delta", delta(i)}}, s.token);
    });

    // Replaying the answers in version order must explain every answer: each set shows its quantity, each
    // adjust shows the previous stock plus its delta. A lost update breaks the chain.
    std::map<long long, int> by_version;
    for (int i = 0; i < n; ++i) {
        const auto& r = rs[static_cast<std::size_t>(i)];
        ASSERT_EQ(r.status, 200) << "request " << i << ": " << r.body;
        const auto v = r.json()["version"].get<long long>();
        ASSERT_TRUE(by_version.emplace(v, i).second) << "two answers with version " << v;
    }
    ASSERT_EQ(by_version.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(by_version.begin()->first, 2);
    EXPECT_EQ(by_version.rbegin()->first, n + 1);
    long long stock = initial;
    std::multiset<std::string> expected_ledger{"INITIAL:100:100"};
    for (const auto& [v, i] : by_version) {
        const auto got = rs[static_cast<std::size_t>(i)].json()["stock"].get<long long>();
        const long long want = is_set(i) ? quantity(i) : stock + delta(i);
        EXPECT_EQ(got, want) << "version " << v << " (request " << i << (is_set(i) ? ", set" : ", adjust") << ")";
        expected_ledger.insert(std::string(is_set(i) ? "SELLER_SET" : "SELLER_ADJUST") + ":" +
                               std::to_string(got - stock) + ":" + std::to_string(got));
        stock = got;
    }
    expect_stock_consistent(id, stock);
    EXPECT_EQ(db_version(id), std::to_string(n + 1));

    // The ledger holds exactly those movements.
    std::multiset<std::string> ledger;
    std::stringstream rows(sql("SELECT string_agg(reason || ':' || delta || ':' || resulting_stock, ',') "
                               "FROM product.stock_movements WHERE product_id = '" + id + "'"));
    for (std::string row; std::getline(rows, row, ',');) {
        ledger.insert(row);
    }
    EXPECT_EQ(ledger, expected_ledger);
    auto g = client_->get("/products/" + id);
    EXPECT_EQ(g.json()["stock"], stock);
}

TEST_F(ProductApi, ConcurrentSetsAndDecrementsNearZeroStayConsistent) {
    const auto s = seller();
    const long long initial = 10;
    const auto id = pid(create(s.token, product_body("LG 그램 노트북 16인치", 1899000, initial, "노트북")));
    // Sets to small quantities (some equal to the stock at the time: no-ops) racing decrements that may be refused.
    constexpr int n = 100;
    auto is_set = [](int i) { return i % 10 < 3; };
    auto quantity = [](int i) { return static_cast<long long>(i % 7); };
    auto delta = [](int i) { return i % 2 == 0 ? -1LL : -2LL; };
    auto rs = parallel(n, [&](HttpClient& c, int i) {
        return inventory(c, id, is_set(i) ? json{{"quantity", quantity(i)}} : json{{"delta", delta(i)}}, s.token);
    });
    auto stock_of = [&](int i) { return rs[static_cast<std::size_t>(i)].json()["stock"].get<long long>(); };

    std::map<long long, std::vector<int>> by_version;  // a no-op set answers the version it saw
    for (int i = 0; i < n; ++i) {
        const auto& r = rs[static_cast<std::size_t>(i)];
        if (r.status == 409 && !is_set(i)) {
            expect_problem(r, 409, "INSUFFICIENT_STOCK");
            continue;
        }
        ASSERT_EQ(r.status, 200) << "request " << i << ": " << r.body;
        by_version[r.json()["version"].get<long long>()].push_back(i);
    }
    // Replay in version order: each new version is explained by exactly one answer; every other answer with that
    // version is a set to exactly the stock at that version.
    long long stock = initial;
    long long version = 1;
    std::multiset<std::string> expected_ledger{"INITIAL:10:10"};
    for (auto& [v, reqs] : by_version) {
        if (v != version) {
            ASSERT_EQ(v, version + 1) << "version " << version + 1 << " is missing from the answers";
            // An adjust is never a no-op, so when an adjust explains the version it is the change (a set
            // with that version then found the stock already at its quantity).
            auto changer = std::find_if(reqs.begin(), reqs.end(),
                                        [&](int i) { return !is_set(i) && stock_of(i) == stock + delta(i); });
            if (changer == reqs.end()) {
                changer = std::find_if(reqs.begin(), reqs.end(), [&](int i) {
                    return is_set(i) && stock_of(i) == quantity(i) && quantity(i) != stock;
                });
            }
            ASSERT_NE(changer, reqs.end()) << "no answer explains version " << v << " from stock " << stock;
            const long long got = stock_of(*changer);
            expected_ledger.insert(std::string(is_set(*changer) ? "SELLER_SET" : "SELLER_ADJUST") + ":" +
                                   std::to_string(got - stock) + ":" + std::to_string(got));
            stock = got;
            version = v;
            reqs.erase(changer);
        }
        for (int i : reqs) {
            if (!is_set(i)) {
                ADD_FAILURE() << "adjust " << i << " (" << delta(i) << ") answered version " << v << " and stock "
                              << stock_of(i) << ", but that version is stock " << stock << " made by another change";
                continue;
            }
            EXPECT_EQ(quantity(i), stock) << "set " << i << " answered version " << v << " without changing it";
            EXPECT_EQ(stock_of(i), stock) << "set " << i;
        }
    }
    expect_stock_consistent(id, stock);
    EXPECT_EQ(db_version(id), std::to_string(version));
    std::multiset<std::string> ledger;
    std::stringstream rows(sql("SELECT string_agg(reason || ':' || delta || ':' || resulting_stock, ',') "
                               "FROM product.stock_movements WHERE product_id = '" + id + "'"));
    for (std::string row; std::getline(rows, row, ',');) {
        ledger.insert(row);
    }
    EXPECT_EQ(ledger, expected_ledger);
}

TEST_F(ProductApi, TheLedgerAlwaysSumsToTheStock) {
    const auto s = seller();
    std::vector<std::string> ids;
    for (long long st : {0LL, 1LL, 12LL, 500LL}) {
        ids.push_back(pid(create(s.token, product_body("재고 테스트 상품 " + std::to_string(st), 1000, st, "테스트"))));
    }
    std::vector<long long> expected{0, 1, 12, 500};
    // A deterministic mix of sets, adjusts, no-ops and refused decrements, checked after every step.
    std::mt19937 rng(12345);
    for (int step = 0; step < 40; ++step) {
        const std::size_t k = rng() % ids.size();
        json body;
        long long want = expected[k];
        int status = 200;
        switch (rng() % 4) {
            case 0:
                body = {{"quantity", static_cast<long long>(rng() % 50)}};
                want = body["quantity"].get<long long>();
                break;
            case 1:
                body = {{"quantity", expected[k]}};  // no-op
                break;
            case 2:
                body = {{"delta", static_cast<long long>(rng() % 20) + 1}};
                want += body["delta"].get<long long>();
                break;
            default: {
                const long long d = -static_cast<long long>(rng() % 30) - 1;
                body = {{"delta", d}};
                if (expected[k] + d < 0) {
                    status = 409;
                } else {
                    want += d;
                }
            }
        }
        auto r = inventory(*client_, ids[k], body, s.token);
        ASSERT_EQ(r.status, status) << "step " << step << " " << body.dump() << ": " << r.body;
        expected[k] = want;
        // One query per step: the stock and the ledger's sum.
        ASSERT_EQ(sql("SELECT p.stock || '/' || (SELECT coalesce(sum(m.delta), 0) FROM product.stock_movements m "
                      "WHERE m.product_id = p.id) FROM product.products p WHERE p.id = '" + ids[k] + "'"),
                  std::to_string(want) + "/" + std::to_string(want))
            << "step " << step;
    }
    for (std::size_t k = 0; k < ids.size(); ++k) {
        expect_stock_consistent(ids[k], expected[k]);
    }
    EXPECT_EQ(sql("SELECT count(*) FROM product.products p WHERE p.stock <> (SELECT coalesce(sum(m.delta), 0) "
                  "FROM product.stock_movements m WHERE m.product_id = p.id)"),
              "0");
    // resulting_stock is the running sum of the deltas.
    EXPECT_EQ(sql("SELECT count(*) FROM (SELECT resulting_stock, sum(delta) OVER (PARTITION BY product_id ORDER BY id) "
                  "AS running FROM product.stock_movements) t WHERE resulting_stock <> running"),
              "0");
}

// ---- GET /products?sellerId=me -----------------------------------------------------------------

TEST_F(ProductApi, SellerListsOwnProductsNewestFirstIncludingInactive) {
    const auto s = seller();
    const auto other = seller();
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        auto body = product_body("내 상품 " + std::to_string(i), 1000 * (i + 1), i, "잡화");
        if (i % 2 == 1) {
            body["status"] = "INACTIVE";
        }
        ids.push_back(pid(create(s.token, body)));
    }
    create(other.token, product_body("다른 판매자 상품", 1000, 1, "잡화"));
    const std::vector<std::string> newest_first(ids.rbegin(), ids.rend());

    auto walk = [&](const std::string& query) {
        std::vector<std::string> seen;
        std::string cursor;
        for (int page = 0; page < 20; ++page) {
            auto r = client_->get("/products?" + query + (cursor.empty() ? "" : "&cursor=" + cursor), s.token);
            EXPECT_EQ(r.status, 200) << query << ": " << r.body;
            if (r.status != 200) {
                break;
            }
            auto j = r.json();
            EXPECT_LE(j["items"].size(), 2U);
            for (const auto& p : j["items"]) {
                expect_product_shape(p);
                EXPECT_EQ(p["sellerId"], s.id);
                seen.push_back(pid(p));
            }
            if (j["nextCursor"].is_null()) {
                break;
            }
            cursor = j["nextCursor"].get<std::string>();
        }
        return seen;
    };
    EXPECT_EQ(walk("sellerId=me&limit=2"), newest_first);
    EXPECT_EQ(walk("sellerId=" + s.id + "&limit=2"), newest_first);
    EXPECT_EQ(walk("sellerId=me&status=INACTIVE&limit=2"), (std::vector<std::string>{ids[3], ids[1]}));
    EXPECT_EQ(walk("sellerId=me&status=ACTIVE&limit=2"), (std::vector<std::string>{ids[4], ids[2], ids[0]}));

    auto r = client_->get("/products?sellerId=me", s.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["items"].size(), 5U);
    EXPECT_TRUE(r.json()["nextCursor"].is_null());
}

TEST_F(ProductApi, SellerListingErrors) {
    const auto s = seller();
    const auto other = seller();
    const auto b = buyer();
    create(s.token, product_body("상품", 1000, 1, "잡화"));
    expect_problem(client_->get("/products?sellerId=me"), 401, "UNAUTHORIZED");
    expect_problem(client_->get("/products?sellerId=me", "not-a-real-token"), 401, "UNAUTHORIZED");
    expect_problem(client_->get("/products?sellerId=me", b.token), 403, "FORBIDDEN");
    expect_problem(client_->get("/products?sellerId=" + other.id, s.token), 403, "FORBIDDEN");
    expect_problem(client_->get("/products", s.token), 400, "VALIDATION_FAILED");
    for (const std::string q : {"limit=0", "limit=101", "limit=abc", "status=DELETED", "cursor=not-a-cursor"}) {
        expect_problem(client_->get("/products?sellerId=me&" + q, s.token), 400, "VALIDATION_FAILED");
    }
    EXPECT_EQ(client_->get("/products?sellerId=me&limit=1", s.token).status, 200);
    EXPECT_EQ(client_->get("/products?sellerId=me&limit=100", s.token).status, 200);
}

}  // namespace
