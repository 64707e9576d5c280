// Delivery service end to end: addresses (isolation, exactly one default, soft delete), deliveries (address
// snapshots, idempotency per order, visibility), the status lifecycle advanced by sellers and by signed carrier
// webhooks (replays, reordering), the outbox events reaching the Redis stream, and the courier simulator.
// A real openmarket-server against real PostgreSQL and Redis.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "common/clock.hpp"
#include "common/ids.hpp"
#include "delivery/carrier_signature.hpp"
#include "support/api_test.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/test_env.hpp"

using nlohmann::json;
using om::test::Account;
using om::test::HttpClient;
using om::test::HttpResponse;
using om::test::ServerProcess;

namespace {

constexpr const char* kSecret = "test-carrier-secret-0123456789";

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
    return out;
}

std::string at_offset(std::chrono::seconds offset) { return om::rfc3339(std::chrono::system_clock::now() + offset); }

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class DeliveryTest : public ::testing::Test {
protected:
    static void start(std::vector<std::string> extra) {
        om::test::ServerOptions o;
        o.extra_args = std::move(extra);
        server_ = std::make_unique<ServerProcess>(o);
    }
    static void TearDownTestSuite() { server_.reset(); }
    void SetUp() override { client_ = std::make_unique<HttpClient>(server_->port()); }

    Account member(const std::string& role = "BUYER") { return om::test::sign_up(*client_, role); }

    HttpResponse send(const std::string& method, const std::string& target, const json& body, const std::string& token,
                      std::map<std::string, std::string> headers = {}) {
        if (!token.empty()) {
            headers["Authorization"] = "Bearer " + token;
        }
        return client_->request(method, target, body.is_null() ? std::string() : body.dump(), headers);
    }

    static json address_body(const std::string& name = "김민지") {
        return {{"recipientName", name},
                {"phone", "010-1234-5678"},
                {"postalCode", "06236"},
                {"address1", "서울특별시 강남구 테헤란로 123"},
                {"address2", "4층"},
                {"label", "집"}};
    }

    json add_address(const std::string& token, json body = address_body()) {
        auto r = client_->post("/delivery/addresses", body, token);
        EXPECT_EQ(r.status, 201) << r.body;
        return r.json();
    }

    std::string product_of(const Account& seller) {
        auto r = client_->post("/products",
                               {{"name", "택배 상자"}, {"price", 1000}, {"category", "생활"}, {"stock", 5}}, seller.token);
        EXPECT_EQ(r.status, 201) << r.body;
        return r.json().value("productId", "");
    }

    HttpResponse process(const std::string& token, const std::string& order_id, const std::string& address_id,
                         const std::vector<std::string>& product_ids = {}) {
        json body{{"orderId", order_id}, {"addressId", address_id}};
        if (!product_ids.empty()) {
            body["productIds"] = product_ids;
        }
        return client_->post("/delivery/process-delivery", body, token);
    }

    // A buyer's delivery of one product of `seller`: returns the delivery JSON.
    json delivery_for(const Account& buyer, const Account& seller) {
        const auto addr = add_address(buyer.token);
        auto r = process(buyer.token, om::new_uuid_v7(), addr.value("addressId", ""), {product_of(seller)});
        EXPECT_EQ(r.status, 201) << r.body;
        return r.json();
    }

    HttpResponse set_status(const std::string& token, const std::string& id, const json& body) {
        return client_->post("/delivery/deliveries/" + id + "/status", body, token);
    }

    HttpResponse carrier(const json& body, std::optional<std::string> signature = std::nullopt) {
        const std::string text = body.dump();
        std::map<std::string, std::string> headers{{"Content-Type", "application/json"}};
        const std::string sig = signature ? *signature : om::delivery::carrier_signature_header(kSecret, unix_now(), text);
        if (!sig.empty()) {
            headers["X-Carrier-Signature"] = sig;
        }
        return client_->request("POST", "/delivery/carrier-events", text, headers);
    }

    json get_delivery(const std::string& token, const std::string& id) {
        auto r = client_->get("/delivery/deliveries/" + id, token);
        EXPECT_EQ(r.status, 200) << r.body;
        return r.json();
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
        EXPECT_TRUE(has_field_error(r, field)) << "no field error on '" << field << "': " << r.body;
    }

    static std::string xrange() {
        return run("redis-cli -p " + om::test::env("OM_TEST_REDIS_PORT") + " -n " +
                   std::to_string(om::test::exclusive_redis_db()) + " XRANGE om:events:delivery - + 2>&1");
    }
    static std::string sql(const std::string& q) { return om::test::sql_value(server_->database_url(), q); }

    static inline std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<HttpClient> client_;
};

class DeliveryApi : public DeliveryTest {
protected:
    static void SetUpTestSuite() { start({"--carrier-webhook-secret", kSecret}); }
};

// ---- addresses ------------------------------------------------------------------------------------

TEST_F(DeliveryApi, AddressesCreateListUpdateDeleteWithOneDefault) {
    const auto a = member();
    auto r = client_->post("/delivery/addresses", address_body(), a.token);
    ASSERT_EQ(r.status, 201) << r.body;
    const auto first = r.json();
    EXPECT_EQ(r.header("Location"), "/delivery/addresses/" + first.value("addressId", ""));
    EXPECT_TRUE(first.value("isDefault", false)) << "the first address is the default";
    EXPECT_EQ(first.value("recipientName", ""), "김민지");
    EXPECT_EQ(first.value("address2", ""), "4층");
    EXPECT_EQ(first.value("label", ""), "집");
    EXPECT_TRUE(first.contains("createdAt"));

    auto body = address_body("박서준");
    body.erase("address2");
    body.erase("label");
    body["isDefault"] = true;
    const auto second = add_address(a.token, body);
    EXPECT_TRUE(second.value("isDefault", false));
    EXPECT_TRUE(second["address2"].is_null());
    EXPECT_TRUE(second["label"].is_null());

    auto list = client_->get("/delivery/addresses", a.token);
    ASSERT_EQ(list.status, 200) << list.body;
    const auto items = list.json()["items"];
    ASSERT_EQ(items.size(), 2U);
    int defaults = 0;
    for (const auto& i : items) {
        defaults += i.value("isDefault", false) ? 1 : 0;
    }
    EXPECT_EQ(defaults, 1);
    EXPECT_EQ(items[0].value("addressId", ""), second.value("addressId", "")) << "the default comes first";

    const std::string id1 = first.value("addressId", "");
    auto put = client_->put("/delivery/addresses/" + id1, {{"phone", "010-9999-0000"}, {"address2", ""}}, a.token);
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(put.json().value("phone", ""), "010-9999-0000");
    EXPECT_EQ(put.json().value("recipientName", ""), "김민지") << "a partial update keeps the other fields";
    EXPECT_TRUE(put.json()["address2"].is_null()) << "an empty address2 clears it";
    EXPECT_FALSE(put.json().value("isDefault", true));

    auto got = client_->get("/delivery/addresses/" + id1, a.token);
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_EQ(got.json().value("phone", ""), "010-9999-0000");

    // Making the first one the default again takes it from the second.
    put = client_->put("/delivery/addresses/" + id1, {{"isDefault", true}}, a.token);
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_TRUE(put.json().value("isDefault", false));
    got = client_->get("/delivery/addresses/" + second.value("addressId", ""), a.token);
    EXPECT_FALSE(got.json().value("isDefault", true));

    // Unsetting the default directly is refused: there is always exactly one.
    expect_problem(client_->put("/delivery/addresses/" + id1, {{"isDefault", false}}, a.token), 409, "CONFLICT");

    // Deleting the default promotes the remaining address.
    auto del = send("DELETE", "/delivery/addresses/" + id1, nullptr, a.token);
    EXPECT_EQ(del.status, 204) << del.body;
    expect_problem(client_->get("/delivery/addresses/" + id1, a.token), 404, "NOT_FOUND");
    expect_problem(send("DELETE", "/delivery/addresses/" + id1, nullptr, a.token), 404, "NOT_FOUND");
    expect_problem(client_->put("/delivery/addresses/" + id1, {{"label", "x"}}, a.token), 404, "NOT_FOUND");
    list = client_->get("/delivery/addresses", a.token);
    ASSERT_EQ(list.json()["items"].size(), 1U);
    EXPECT_TRUE(list.json()["items"][0].value("isDefault", false));
    EXPECT_EQ(sql("SELECT count(*) FROM delivery.addresses WHERE id = '" + id1 + "' AND deleted_at IS NOT NULL"), "1")
        << "soft delete keeps the row";
}

TEST_F(DeliveryApi, AddressIdempotencyKey) {
    const auto a = member();
    const auto other = member();
    auto post = [&](const std::string& token, const json& body, const std::string& key) {
        return client_->request("POST", "/delivery/addresses", body.dump(),
                                {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"},
                                 {"Idempotency-Key", key}});
    };
    auto first = post(a.token, address_body(), "addr-key-1");
    ASSERT_EQ(first.status, 201) << first.body;
    // The same request, written differently: the same address, nothing new.
    auto body = address_body();
    body["recipientName"] = "  김민지 ";
    body["isDefault"] = false;
    auto again = post(a.token, body, "addr-key-1");
    ASSERT_EQ(again.status, 201) << again.body;
    EXPECT_EQ(again.json().value("addressId", ""), first.json().value("addressId", ""));
    EXPECT_EQ(client_->get("/delivery/addresses", a.token).json()["items"].size(), 1U);
    // Another request with the same key.
    expect_problem(post(a.token, address_body("다른 이름"), "addr-key-1"), 422, "IDEMPOTENCY_KEY_REUSED");
    // Keys are per member.
    auto theirs = post(other.token, address_body(), "addr-key-1");
    ASSERT_EQ(theirs.status, 201) << theirs.body;
    EXPECT_NE(theirs.json().value("addressId", ""), first.json().value("addressId", ""));
    expect_field_error(post(a.token, address_body(), "has space"), "Idempotency-Key");
    // A replay after the address was deleted does not bring it back.
    ASSERT_EQ(send("DELETE", "/delivery/addresses/" + first.json().value("addressId", ""), nullptr, a.token).status, 204);
    expect_problem(post(a.token, address_body(), "addr-key-1"), 404, "NOT_FOUND");
}

TEST_F(DeliveryApi, AddressValidation) {
    const auto a = member();
    auto body = address_body();
    body["recipientName"] = "   ";
    expect_field_error(client_->post("/delivery/addresses", body, a.token), "recipientName");
    body = address_body();
    body.erase("address1");
    body["postalCode"] = "";
    auto r = client_->post("/delivery/addresses", body, a.token);
    expect_field_error(r, "address1");
    EXPECT_TRUE(has_field_error(r, "postalCode"));
    body = address_body();
    body["phone"] = "call me";
    expect_field_error(client_->post("/delivery/addresses", body, a.token), "phone");
    body = address_body();
    body["isDefault"] = "yes";
    expect_field_error(client_->post("/delivery/addresses", body, a.token), "isDefault");
    expect_problem(client_->request("POST", "/delivery/addresses", "{not json",
                                    {{"Authorization", "Bearer " + a.token}, {"Content-Type", "application/json"}}),
                   400, "MALFORMED_JSON");
    expect_problem(client_->post("/delivery/addresses", address_body()), 401, "UNAUTHORIZED");
    expect_problem(client_->get("/delivery/addresses"), 401, "UNAUTHORIZED");

    const auto addr = add_address(a.token);
    const std::string path = "/delivery/addresses/" + addr.value("addressId", "");
    expect_field_error(client_->put(path, json::object(), a.token), "");
    expect_field_error(client_->put(path, {{"address1", ""}}, a.token), "address1");
    expect_problem(client_->get("/delivery/addresses/not-a-uuid", a.token), 404, "NOT_FOUND");
}

TEST_F(DeliveryApi, AnotherMembersAddressIsNotFound) {
    const auto a = member();
    const auto b = member();
    const auto addr = add_address(a.token);
    const std::string path = "/delivery/addresses/" + addr.value("addressId", "");
    expect_problem(client_->get(path, b.token), 404, "NOT_FOUND");
    expect_problem(client_->put(path, {{"label", "mine now"}}, b.token), 404, "NOT_FOUND");
    expect_problem(send("DELETE", path, nullptr, b.token), 404, "NOT_FOUND");
    EXPECT_EQ(client_->get("/delivery/addresses", b.token).json()["items"].size(), 0U);
    expect_problem(process(b.token, om::new_uuid_v7(), addr.value("addressId", "")), 404, "NOT_FOUND");
    // Untouched for its owner.
    auto mine = client_->get(path, a.token);
    ASSERT_EQ(mine.status, 200);
    EXPECT_EQ(mine.json().value("label", ""), "집");
}

// ---- deliveries -----------------------------------------------------------------------------------

TEST_F(DeliveryApi, ProcessDeliveryIsIdempotentAndSnapshotsTheAddress) {
    const auto buyer = member();
    const auto seller = member("SELLER");
    const auto addr = add_address(buyer.token);
    const std::string order = om::new_uuid_v7();
    const std::string product = product_of(seller);
    auto r = process(buyer.token, order, addr.value("addressId", ""), {product});
    ASSERT_EQ(r.status, 201) << r.body;
    const auto d = r.json();
    const std::string id = d.value("deliveryId", "");
    EXPECT_EQ(r.header("Location"), "/delivery/deliveries/" + id);
    EXPECT_EQ(d.value("status", ""), "READY");
    EXPECT_EQ(d.value("orderId", ""), order);
    EXPECT_EQ(d.value("buyerId", ""), buyer.id);
    EXPECT_EQ(d["sellerIds"], json::array({seller.id}));
    EXPECT_EQ(d["address"].value("address1", ""), "서울특별시 강남구 테헤란로 123");
    EXPECT_EQ(d["address"].value("addressId", ""), addr.value("addressId", ""));
    EXPECT_TRUE(d["carrier"].is_null());
    ASSERT_EQ(d["history"].size(), 1U);
    EXPECT_EQ(d["history"][0].value("status", ""), "READY");

    // A repeat for the same order returns the same delivery (and creates nothing).
    auto again = process(buyer.token, order, addr.value("addressId", ""), {product});
    ASSERT_EQ(again.status, 201) << again.body;
    EXPECT_EQ(again.json().value("deliveryId", ""), id);
    EXPECT_EQ(sql("SELECT count(*) FROM delivery.deliveries WHERE order_id = '" + order + "'"), "1");

    // Editing (and deleting) the address later does not change the delivery's copy.
    ASSERT_EQ(client_->put("/delivery/addresses/" + addr.value("addressId", ""),
                           {{"address1", "부산광역시 해운대구 1"}, {"recipientName", "다른 사람"}}, buyer.token)
                  .status,
              200);
    auto later = get_delivery(buyer.token, id);
    EXPECT_EQ(later["address"].value("address1", ""), "서울특별시 강남구 테헤란로 123");
    EXPECT_EQ(later["address"].value("recipientName", ""), "김민지");
    EXPECT_EQ(send("DELETE", "/delivery/addresses/" + addr.value("addressId", ""), nullptr, buyer.token).status, 204);
    EXPECT_EQ(get_delivery(buyer.token, id)["address"].value("address1", ""), "서울특별시 강남구 테헤란로 123");

    // Another buyer cannot take over the order id.
    const auto other = member();
    const auto other_addr = add_address(other.token);
    expect_problem(process(other.token, order, other_addr.value("addressId", "")), 409, "CONFLICT");
}

TEST_F(DeliveryApi, ConcurrentRequestsForOneOrderMakeOneDelivery) {
    const auto buyer = member();
    const auto addr = add_address(buyer.token);
    const std::string order = om::new_uuid_v7();
    constexpr int kClients = 8;
    std::vector<std::future<std::pair<int, std::string>>> results;
    for (int i = 0; i < kClients; ++i) {
        results.push_back(std::async(std::launch::async, [&] {
            HttpClient c(server_->port());
            auto r = c.post("/delivery/process-delivery", {{"orderId", order}, {"addressId", addr.value("addressId", "")}},
                            buyer.token);
            return std::make_pair(r.status, r.status == 201 ? r.json().value("deliveryId", "") : r.body);
        }));
    }
    std::set<std::string> ids;
    for (auto& f : results) {
        auto [status, id] = f.get();
        EXPECT_EQ(status, 201) << id;
        ids.insert(id);
    }
    EXPECT_EQ(ids.size(), 1U);
    EXPECT_EQ(sql("SELECT count(*) FROM delivery.deliveries WHERE order_id = '" + order + "'"), "1");
    EXPECT_EQ(sql("SELECT count(*) FROM delivery.outbox WHERE aggregate_id = '" + *ids.begin() + "'"), "1")
        << "one DeliveryCreated event";
}

TEST_F(DeliveryApi, ConcurrentAddressesKeepExactlyOneDefault) {
    const auto a = member();
    constexpr int kClients = 6;
    std::vector<std::future<int>> results;
    for (int i = 0; i < kClients; ++i) {
        results.push_back(std::async(std::launch::async, [&, i] {
            HttpClient c(server_->port());
            auto body = address_body("수령인 " + std::to_string(i));
            body["isDefault"] = i % 2 == 0;
            return c.post("/delivery/addresses", body, a.token).status;
        }));
    }
    for (auto& f : results) {
        EXPECT_EQ(f.get(), 201);
    }
    auto list = client_->get("/delivery/addresses", a.token).json()["items"];
    ASSERT_EQ(list.size(), static_cast<std::size_t>(kClients));
    int defaults = 0;
    for (const auto& i : list) {
        defaults += i.value("isDefault", false) ? 1 : 0;
    }
    EXPECT_EQ(defaults, 1);
}

TEST_F(DeliveryApi, ProcessDeliveryValidation) {
    const auto buyer = member();
    const auto addr = add_address(buyer.token);
    const std::string aid = addr.value("addressId", "");
    expect_problem(client_->post("/delivery/process-delivery", {{"orderId", om::new_uuid_v7()}, {"addressId", aid}}), 401,
                   "UNAUTHORIZED");
    expect_field_error(client_->post("/delivery/process-delivery", {{"addressId", aid}}, buyer.token), "orderId");
    expect_field_error(client_->post("/delivery/process-delivery", {{"orderId", "order-1"}, {"addressId", aid}}, buyer.token),
                       "orderId");
    expect_field_error(client_->post("/delivery/process-delivery", {{"orderId", om::new_uuid_v7()}, {"addressId", ""}},
                                     buyer.token),
                       "addressId");
    expect_field_error(client_->post("/delivery/process-delivery",
                                     {{"orderId", om::new_uuid_v7()}, {"addressId", aid}, {"productIds", "p1"}}, buyer.token),
                       "productIds");
    expect_field_error(process(buyer.token, om::new_uuid_v7(), aid, {om::new_uuid_v7()}), "productIds[0]");
    expect_problem(process(buyer.token, om::new_uuid_v7(), om::new_uuid_v7()), 404, "NOT_FOUND");
}

TEST_F(DeliveryApi, DeliveriesAreVisibleToTheBuyerAndTheSellersOnly) {
    const auto buyer = member();
    const auto seller = member("SELLER");
    const auto stranger = member("SELLER");
    const auto d = delivery_for(buyer, seller);
    const std::string id = d.value("deliveryId", "");
    const std::string order = d.value("orderId", "");

    EXPECT_EQ(get_delivery(buyer.token, id).value("deliveryId", ""), id);
    EXPECT_EQ(get_delivery(seller.token, id).value("deliveryId", ""), id);
    expect_problem(client_->get("/delivery/deliveries/" + id, stranger.token), 404, "NOT_FOUND");
    expect_problem(client_->get("/delivery/deliveries/" + id), 401, "UNAUTHORIZED");
    expect_problem(client_->get("/delivery/deliveries/" + om::new_uuid_v7(), buyer.token), 404, "NOT_FOUND");
    expect_problem(client_->get("/delivery/deliveries/xyz", buyer.token), 404, "NOT_FOUND");

    for (const auto* who : {&buyer, &seller}) {
        auto r = client_->get("/delivery/deliveries?orderId=" + order, who->token);
        ASSERT_EQ(r.status, 200) << r.body;
        ASSERT_EQ(r.json()["items"].size(), 1U);
        EXPECT_EQ(r.json()["items"][0].value("deliveryId", ""), id);
    }
    auto none = client_->get("/delivery/deliveries?orderId=" + order, stranger.token);
    ASSERT_EQ(none.status, 200);
    EXPECT_EQ(none.json()["items"].size(), 0U);
    expect_field_error(client_->get("/delivery/deliveries?orderId=42", buyer.token), "orderId");
    expect_field_error(client_->get("/delivery/deliveries?limit=0", buyer.token), "limit");

    // The buyer's list pages newest first.
    const auto second = delivery_for(buyer, seller);
    auto page1 = client_->get("/delivery/deliveries?limit=1", buyer.token);
    ASSERT_EQ(page1.status, 200) << page1.body;
    ASSERT_EQ(page1.json()["items"].size(), 1U);
    EXPECT_EQ(page1.json()["items"][0].value("deliveryId", ""), second.value("deliveryId", ""));
    const std::string cursor = page1.json().value("nextCursor", "");
    ASSERT_FALSE(cursor.empty());
    auto page2 = client_->get("/delivery/deliveries?limit=1&cursor=" + cursor, buyer.token);
    ASSERT_EQ(page2.json()["items"].size(), 1U);
    EXPECT_EQ(page2.json()["items"][0].value("deliveryId", ""), id);
    ASSERT_EQ(page2.json()["items"][0]["history"].size(), 1U) << "list items carry their history";
    EXPECT_EQ(page2.json()["items"][0]["history"][0].value("status", ""), "READY");
    EXPECT_TRUE(page2.json()["nextCursor"].is_null());
}

TEST_F(DeliveryApi, SellerAdvancesThroughTheLifecycle) {
    const auto buyer = member();
    const auto seller = member("SELLER");
    const std::string id = delivery_for(buyer, seller).value("deliveryId", "");

    auto r = set_status(seller.token, id,
                        {{"status", "SHIPPED"}, {"carrier", "CJ대한통운"}, {"trackingNumber", "6543-2100-1234"}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json().value("status", ""), "SHIPPED");
    EXPECT_EQ(r.json().value("carrier", ""), "CJ대한통운");
    EXPECT_EQ(r.json().value("trackingNumber", ""), "6543-2100-1234");
    for (const char* s : {"IN_TRANSIT", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"}) {
        r = set_status(seller.token, id, {{"status", s}, {"location", "옥천 HUB"}, {"note", "ok"}});
        ASSERT_EQ(r.status, 200) << s << ": " << r.body;
        EXPECT_EQ(r.json().value("status", ""), s);
    }
    const auto d = get_delivery(buyer.token, id);
    EXPECT_EQ(d.value("status", ""), "DELIVERED");
    ASSERT_EQ(d["history"].size(), 6U) << d.dump();
    EXPECT_EQ(d["history"][1].value("status", ""), "SHIPPED");
    EXPECT_EQ(d["history"][1].value("source", ""), "SELLER");
    EXPECT_EQ(d["history"][2].value("location", ""), "옥천 HUB");
    EXPECT_EQ(d["history"][5].value("status", ""), "DELIVERED");
    EXPECT_EQ(d.value("version", 0), 6);

    // Nothing leaves DELIVERED.
    for (const char* s : {"READY", "SHIPPED", "IN_TRANSIT", "FAILED", "RETURNED", "DELIVERED"}) {
        expect_problem(set_status(seller.token, id, {{"status", s}, {"carrier", "c"}, {"trackingNumber", "t"}}), 409,
                       "ILLEGAL_TRANSITION");
    }
    EXPECT_EQ(get_delivery(buyer.token, id)["history"].size(), 6U);
}

TEST_F(DeliveryApi, IllegalTransitionsAndWhoMayAdvance) {
    const auto buyer = member();
    const auto seller = member("SELLER");
    const auto stranger = member("SELLER");
    const std::string id = delivery_for(buyer, seller).value("deliveryId", "");

    expect_problem(set_status(seller.token, id, {{"status", "DELIVERED"}}), 409, "ILLEGAL_TRANSITION");
    expect_problem(set_status(seller.token, id, {{"status", "IN_TRANSIT"}}), 409, "ILLEGAL_TRANSITION");
    expect_problem(set_status(seller.token, id, {{"status", "READY"}}), 409, "ILLEGAL_TRANSITION");
    auto r = set_status(seller.token, id, {{"status", "SHIPPED"}, {"carrier", "CJ"}});
    expect_field_error(r, "trackingNumber");
    expect_field_error(set_status(seller.token, id, {{"status", "LOST"}}), "status");
    expect_field_error(set_status(seller.token, id, json::object()), "status");
    expect_problem(set_status(buyer.token, id, {{"status", "SHIPPED"}, {"carrier", "c"}, {"trackingNumber", "t"}}), 403,
                   "FORBIDDEN");
    expect_problem(set_status(stranger.token, id, {{"status", "SHIPPED"}, {"carrier", "c"}, {"trackingNumber", "t"}}), 404,
                   "NOT_FOUND");
    expect_problem(set_status(seller.token, om::new_uuid_v7(), {{"status", "FAILED"}}), 404, "NOT_FOUND");
    expect_problem(client_->post("/delivery/deliveries/" + id + "/status", {{"status", "FAILED"}}), 401, "UNAUTHORIZED");
    EXPECT_EQ(get_delivery(buyer.token, id).value("status", ""), "READY") << "nothing changed";

    // READY → FAILED → RETURNED, and then nothing more.
    ASSERT_EQ(set_status(seller.token, id, {{"status", "FAILED"}, {"note", "주소 불명"}}).status, 200);
    expect_problem(set_status(seller.token, id, {{"status", "SHIPPED"}, {"carrier", "c"}, {"trackingNumber", "t"}}), 409,
                   "ILLEGAL_TRANSITION");
    ASSERT_EQ(set_status(seller.token, id, {{"status", "RETURNED"}}).status, 200);
    expect_problem(set_status(seller.token, id, {{"status", "FAILED"}}), 409, "ILLEGAL_TRANSITION");
    EXPECT_EQ(get_delivery(buyer.token, id).value("status", ""), "RETURNED");
}

// ---- carriers -------------------------------------------------------------------------------------

TEST_F(DeliveryApi, CarrierEventsNeedAValidSignature) {
    const auto buyer = member();
    const auto seller = member("SELLER");
    const std::string id = delivery_for(buyer, seller).value("deliveryId", "");
    const json event{{"eventId", "sig-" + om::new_uuid_v7()},
                     {"deliveryId", id},
                     {"status", "SHIPPED"},
                     {"carrier", "CJ"},
                     {"trackingNumber", "111"},
                     {"occurredAt", at_offset(std::chrono::seconds(5))}};
    const std::string text = event.dump();
    expect_problem(carrier(event, std::string()), 401, "UNAUTHORIZED");  // no header
    expect_problem(carrier(event, std::string("t=1,v1=00")), 401, "UNAUTHORIZED");
    expect_problem(carrier(event, om::delivery::carrier_signature_header("wrong-secret-0123456789", unix_now(), text)), 401,
                   "UNAUTHORIZED");
    expect_problem(carrier(event, om::delivery::carrier_signature_header(kSecret, unix_now() - 600, text)), 401,
                   "UNAUTHORIZED");  // expired
    expect_problem(carrier(event, std::string("garbage")), 401, "UNAUTHORIZED");
    // Signed for another body.
    json other = event;
    other["status"] = "DELIVERED";
    expect_problem(carrier(event, om::delivery::carrier_signature_header(kSecret, unix_now(), other.dump())), 401,
                   "UNAUTHORIZED");
    auto d = get_delivery(buyer.token, id);
    EXPECT_EQ(d.value("status", ""), "READY");
    EXPECT_EQ(d["history"].size(), 1U);

    auto ok = carrier(event);
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(ok.json().value("status", ""), "SHIPPED");
    EXPECT_TRUE(ok.json().value("applied", false));
    EXPECT_FALSE(ok.json().value("duplicate", true));
    d = get_delivery(seller.token, id);
    EXPECT_EQ(d.value("status", ""), "SHIPPED");
    EXPECT_EQ(d.value("carrier", ""), "CJ");
    EXPECT_EQ(d["history"][1].value("source", ""), "CARRIER");
}

TEST_F(DeliveryApi, CarrierEventReplayIsAppliedOnce) {
    const auto buyer = member();
    const auto seller = member("SELLER");
    const std::string id = delivery_for(buyer, seller).value("deliveryId", "");
    const json event{{"eventId", "replay-" + om::new_uuid_v7()},
                     {"deliveryId", id},
                     {"status", "SHIPPED"},
                     {"carrier", "Hanjin"},
                     {"trackingNumber", "4242"},
                     {"location", "Seoul"},
                     {"occurredAt", at_offset(std::chrono::seconds(10))}};
    auto first = carrier(event);
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_FALSE(first.json().value("duplicate", true));
    auto second = carrier(event);
    ASSERT_EQ(second.status, 200) << second.body;
    EXPECT_TRUE(second.json().value("duplicate", false));
    EXPECT_FALSE(second.json().value("applied", true));
    const auto d = get_delivery(buyer.token, id);
    ASSERT_EQ(d["history"].size(), 2U) << d.dump();  // READY + one SHIPPED
    EXPECT_EQ(d.value("version", 0), 2);
}

TEST_F(DeliveryApi, OlderCarrierEventsDoNotMoveTheStatusBack) {
    const auto buyer = member();
    const auto seller = member("SELLER");
    const std::string id = delivery_for(buyer, seller).value("deliveryId", "");
    ASSERT_EQ(set_status(seller.token, id, {{"status", "SHIPPED"}, {"carrier", "CJ"}, {"trackingNumber", "9"}}).status, 200);
    // The later event arrives first ...
    auto later = carrier({{"eventId", "late-" + om::new_uuid_v7()},
                          {"deliveryId", id},
                          {"status", "OUT_FOR_DELIVERY"},
                          {"location", "강남 대리점"},
                          {"occurredAt", at_offset(std::chrono::seconds(60))}});
    ASSERT_EQ(later.status, 200) << later.body;
    EXPECT_TRUE(later.json().value("applied", false));
    // ... then the earlier one: recorded, not applied.
    auto earlier = carrier({{"eventId", "early-" + om::new_uuid_v7()},
                            {"deliveryId", id},
                            {"status", "IN_TRANSIT"},
                            {"location", "옥천 HUB"},
                            {"occurredAt", at_offset(std::chrono::seconds(30))}});
    ASSERT_EQ(earlier.status, 200) << earlier.body;
    EXPECT_FALSE(earlier.json().value("applied", true));
    EXPECT_FALSE(earlier.json().value("duplicate", true));
    EXPECT_EQ(earlier.json().value("status", ""), "OUT_FOR_DELIVERY");
    const auto d = get_delivery(buyer.token, id);
    EXPECT_EQ(d.value("status", ""), "OUT_FOR_DELIVERY");
    ASSERT_EQ(d["history"].size(), 4U) << d.dump();
    // History is in time order: READY, SHIPPED, IN_TRANSIT (not applied), OUT_FOR_DELIVERY.
    EXPECT_EQ(d["history"][2].value("status", ""), "IN_TRANSIT");
    EXPECT_FALSE(d["history"][2].value("applied", true));
    EXPECT_EQ(d["history"][3].value("status", ""), "OUT_FOR_DELIVERY");
    EXPECT_TRUE(d["history"][3].value("applied", false));
}

TEST_F(DeliveryApi, CarrierEventErrors) {
    const auto buyer = member();
    const auto seller = member("SELLER");
    const std::string id = delivery_for(buyer, seller).value("deliveryId", "");
    auto r = carrier({{"eventId", "x"}, {"deliveryId", id}, {"status", "SHIPPED"}, {"occurredAt", "yesterday"}});
    expect_field_error(r, "occurredAt");
    expect_field_error(carrier({{"deliveryId", id}, {"status", "SHIPPED"}, {"occurredAt", at_offset({})}}), "eventId");
    expect_field_error(carrier({{"eventId", "x"}, {"deliveryId", id}, {"status", "GONE"}, {"occurredAt", at_offset({})}}),
                       "status");
    expect_field_error(carrier({{"eventId", "x"},
                                {"deliveryId", id},
                                {"status", "FAILED"},
                                {"occurredAt", at_offset(std::chrono::hours(1))}}),
                       "occurredAt");  // in the future
    expect_problem(carrier({{"eventId", "x"},
                            {"deliveryId", om::new_uuid_v7()},
                            {"status", "FAILED"},
                            {"occurredAt", at_offset({})}}),
                   404, "NOT_FOUND");
    // Newer but illegal: READY cannot become DELIVERED.
    expect_problem(carrier({{"eventId", "illegal-" + om::new_uuid_v7()},
                            {"deliveryId", id},
                            {"status", "DELIVERED"},
                            {"occurredAt", at_offset(std::chrono::seconds(5))}}),
                   409, "ILLEGAL_TRANSITION");
    // SHIPPED without a carrier or tracking number known.
    expect_field_error(carrier({{"eventId", "noship-" + om::new_uuid_v7()},
                                {"deliveryId", id},
                                {"status", "SHIPPED"},
                                {"occurredAt", at_offset(std::chrono::seconds(5))}}),
                       "carrier");
    expect_problem(client_->request("POST", "/delivery/carrier-events", "{",
                                    {{"X-Carrier-Signature",
                                      om::delivery::carrier_signature_header(kSecret, unix_now(), "{")}}),
                   400, "MALFORMED_JSON");
    const auto d = get_delivery(buyer.token, id);
    EXPECT_EQ(d.value("status", ""), "READY");
    EXPECT_EQ(d["history"].size(), 1U);
}

// ---- events ---------------------------------------------------------------------------------------

TEST_F(DeliveryApi, EveryChangeReachesTheRedisStream) {
    const auto buyer = member();
    const auto seller = member("SELLER");
    const std::string id = delivery_for(buyer, seller).value("deliveryId", "");
    ASSERT_EQ(set_status(seller.token, id, {{"status", "SHIPPED"}, {"carrier", "CJ"}, {"trackingNumber", "77"}}).status,
              200);
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
        out = xrange();
        if (out.find("DeliveryCreated") != std::string::npos && out.find("DeliveryStatusChanged") != std::string::npos &&
            out.find(id) != std::string::npos) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    // redis-cli prints one field or value per line; the payloads are the JSON lines.
    std::vector<json> payloads;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("{")) {
            auto j = json::parse(line, nullptr, false);
            if (j.is_object() && j.value("deliveryId", "") == id) {
                payloads.push_back(std::move(j));
            }
        }
    }
    ASSERT_EQ(payloads.size(), 2U) << out;
    EXPECT_EQ(payloads[0].value("type", ""), "DeliveryCreated");
    EXPECT_EQ(payloads[0].value("status", ""), "READY");
    EXPECT_EQ(payloads[0].value("buyerId", ""), buyer.id);
    EXPECT_EQ(payloads[1].value("type", ""), "DeliveryStatusChanged");
    EXPECT_EQ(payloads[1].value("status", ""), "SHIPPED");
    EXPECT_EQ(payloads[1].value("previousStatus", ""), "READY");
    EXPECT_EQ(payloads[1].value("version", 0), 2);
    EXPECT_EQ(payloads[1]["sellerIds"], json::array({seller.id}));
    EXPECT_NE(out.find(payloads[1].value("eventId", "?")), std::string::npos) << "the event id is a field of the entry";
    // Every outbox row of this delivery left the outbox once it reached the stream.
    bool sent = false;
    while (std::chrono::steady_clock::now() < deadline && !sent) {
        sent = sql("SELECT count(*) FROM delivery.outbox WHERE aggregate_id = '" + id + "' AND sent_at IS NULL") == "0";
        if (!sent) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    EXPECT_TRUE(sent);
    EXPECT_EQ(sql("SELECT count(*) FROM delivery.outbox WHERE aggregate_id = '" + id + "'"), "0");
}

// ---- the courier simulator ------------------------------------------------------------------------

class CourierSimulatorApi : public DeliveryTest {
protected:
    static void SetUpTestSuite() { start({"--courier-simulator", "1", "--courier-interval-ms", "200"}); }
};

TEST_F(CourierSimulatorApi, MovesShippedDeliveriesToDelivered) {
    const auto buyer = member();
    const auto seller = member("SELLER");
    const std::string waiting = delivery_for(buyer, seller).value("deliveryId", "");
    const std::string id = delivery_for(buyer, seller).value("deliveryId", "");
    ASSERT_EQ(set_status(seller.token, id, {{"status", "SHIPPED"}, {"carrier", "CJ"}, {"trackingNumber", "5"}}).status,
              200);
    json d;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        d = get_delivery(buyer.token, id);
        if (d.value("status", "") == "DELIVERED") {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(d.value("status", ""), "DELIVERED") << d.dump();
    ASSERT_EQ(d["history"].size(), 5U) << d.dump();
    EXPECT_EQ(d["history"][2].value("status", ""), "IN_TRANSIT");
    EXPECT_EQ(d["history"][2].value("source", ""), "SIMULATOR");
    EXPECT_EQ(d["history"][3].value("status", ""), "OUT_FOR_DELIVERY");
    EXPECT_EQ(d["history"][4].value("source", ""), "SIMULATOR");
    // A delivery that was never shipped is left alone.
    EXPECT_EQ(get_delivery(buyer.token, waiting).value("status", ""), "READY");
    // Without a configured secret, carrier events are refused.
    expect_problem(carrier({{"eventId", "e"}, {"deliveryId", id}, {"status", "FAILED"}, {"occurredAt", at_offset({})}}),
                   401, "UNAUTHORIZED");
}

}  // namespace
