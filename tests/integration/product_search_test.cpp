// Product search end to end: substring matching in Korean and English, filters, sorts, facets, typo
// tolerance and keyset pagination (also while products are being added). A real openmarket-server against
// real PostgreSQL and Redis.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>
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


// A random lower-case word, unlike any other product text (so neither substring nor trigram matches collide).
std::string token(std::size_t length = 8) {
    static std::mt19937 rng{std::random_device{}()};
    std::string t;
    for (std::size_t i = 0; i < length; ++i) {
        t.push_back(static_cast<char>('a' + rng() % 26));
    }
    return t;
}


using Ids = std::vector<std::string>;
using IdSet = std::set<std::string>;

class ProductSearch : public om::test::ServerSuite {
protected:

    Account member(const std::string& role) { return om::test::sign_up(*client_, role); }
    Account seller() { return member("SELLER"); }

    static json create(HttpClient& c, const std::string& token, const std::string& name, long long price,
                       const std::string& category, long long stock = 5, const std::string& status = "ACTIVE") {
        auto r = c.post("/products",
                        {{"name", name}, {"price", price}, {"category", category}, {"stock", stock}, {"status", status}},
                        token);
        EXPECT_EQ(r.status, 201) << name << ": " << r.body;
        return r.status == 201 ? r.json() : json::object();
    }
    json create(const std::string& token, const std::string& name, long long price, const std::string& category,
                long long stock = 5, const std::string& status = "ACTIVE") {
        return create(*client_, token, name, price, category, stock, status);
    }
    static std::string pid(const json& p) { return p.value("productId", ""); }

    static HttpResponse search_raw(HttpClient& c, const json& body) { return c.post("/products/search", body); }
    json search(const json& body) {
        auto r = search_raw(*client_, body);
        EXPECT_EQ(r.status, 200) << body.dump() << " → " << r.body;
        if (r.status != 200) {
            return json{{"items", json::array()}, {"nextCursor", nullptr}, {"facets", {{"categories", json::array()}}}};
        }
        return r.json();
    }
    static Ids ids_of(const json& page) {
        Ids out;
        for (const auto& p : page.at("items")) {
            out.push_back(pid(p));
        }
        return out;
    }
    IdSet found(json body) {
        body["limit"] = 100;
        auto page = search(body);
        EXPECT_TRUE(page["nextCursor"].is_null()) << "more than 100 matches for " << body.dump();
        auto ids = ids_of(page);
        EXPECT_EQ(IdSet(ids.begin(), ids.end()).size(), ids.size()) << "duplicates in one page: " << page.dump();
        return {ids.begin(), ids.end()};
    }

    // Walks every page of `body` with `limit`; after each page calls between(); returns every item in order.
    std::vector<json> walk(HttpClient& c, json body, int limit, const std::function<void()>& between = {}) {
        body["limit"] = limit;
        std::vector<json> items;
        for (int page = 0; page < 200; ++page) {
            auto r = search_raw(c, body);
            EXPECT_EQ(r.status, 200) << body.dump() << " → " << r.body;
            if (r.status != 200) {
                return items;
            }
            auto j = r.json();
            EXPECT_LE(j["items"].size(), static_cast<std::size_t>(limit));
            for (const auto& p : j["items"]) {
                items.push_back(p);
            }
            if (j["nextCursor"].is_null()) {
                return items;
            }
            body["cursor"] = j["nextCursor"];
            if (between) {
                between();
            }
        }
        ADD_FAILURE() << "the walk did not end after 200 pages: " << body.dump();
        return items;
    }

    static void expect_problem(const HttpResponse& r, int status, const std::string& code) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << r.body;
        auto j = json::parse(r.body, nullptr, false);
        ASSERT_TRUE(j.is_object()) << r.body;
        EXPECT_EQ(j.value("code", ""), code) << r.body;
        EXPECT_EQ(j.value("status", 0), status);
    }

    // Ordering checks over a sequence of items for a sort.
    static void expect_sorted(const std::vector<json>& items, const std::string& sort) {
        for (std::size_t i = 1; i < items.size(); ++i) {
            const auto& a = items[i - 1];
            const auto& b = items[i];
            if (sort == "price_asc") {
                EXPECT_LE(a["price"].get<long long>(), b["price"].get<long long>()) << "at " << i;
            } else if (sort == "price_desc") {
                EXPECT_GE(a["price"].get<long long>(), b["price"].get<long long>()) << "at " << i;
            } else if (sort == "newest") {
                EXPECT_GE(a["createdAt"].get<std::string>(), b["createdAt"].get<std::string>()) << "at " << i;
            }
        }
    }

};


const std::vector<std::string> kSorts{"relevance", "price_asc", "price_desc", "newest"};

TEST_F(ProductSearch, QueryMatchesNameOrCategorySubstringsInKoreanAndEnglish) {
    const auto s = seller();
    const auto gram = pid(create(s.token, "LG 그램 노트북 16인치", 1899000, "컴퓨터"));
    const auto macbook = pid(create(s.token, "Apple MacBook Air 노트북 13", 1590000, "컴퓨터"));
    const auto tab_ko = pid(create(s.token, "삼성 갤럭시 탭 S9", 999000, "태블릿"));
    const auto tab_en = pid(create(s.token, "Galaxy Tab S9", 989000, "Tablets"));
    const auto sony = pid(create(s.token, "Sony WH-1000XM5 헤드폰", 429000, "Audio Gear"));
    const auto mouse = pid(create(s.token, "로지텍 무선 마우스", 39000, "주변기기"));

    EXPECT_EQ(found({{"query", "노트북"}}), (IdSet{gram, macbook}));
    EXPECT_EQ(found({{"query", "그램"}}), (IdSet{gram}));
    EXPECT_EQ(found({{"query", "16인치"}}), (IdSet{gram}));
    EXPECT_EQ(found({{"query", "갤럭시"}}), (IdSet{tab_ko}));
    EXPECT_EQ(found({{"query", "tab s9"}}), (IdSet{tab_en}));
    EXPECT_EQ(found({{"query", "TAB S9"}}), (IdSet{tab_en}));
    EXPECT_EQ(found({{"query", "마우스"}}), (IdSet{mouse}));
    // Category substrings match too.
    EXPECT_EQ(found({{"query", "태블릿"}}), (IdSet{tab_ko}));
    EXPECT_EQ(found({{"query", "컴퓨"}}), (IdSet{gram, macbook}));

    // Longer English words, in any case (typo tolerance may add look-alikes, but not these unrelated products).
    for (const std::string q : {"GALAXY", "galaxy", "GaLaXy"}) {
        const auto ids = found({{"query", q}});
        EXPECT_TRUE(ids.contains(tab_en)) << q;
        for (const auto& unrelated : {gram, macbook, sony, mouse}) {
            EXPECT_FALSE(ids.contains(unrelated)) << q;
        }
    }
    for (const std::string q : {"macbook", "MACBOOK"}) {
        const auto ids = found({{"query", q}});
        EXPECT_TRUE(ids.contains(macbook)) << q;
        EXPECT_FALSE(ids.contains(gram)) << q;
        EXPECT_FALSE(ids.contains(tab_en)) << q;
    }
    const auto audio = found({{"query", "AUDIO"}});  // category "Audio Gear"
    EXPECT_TRUE(audio.contains(sony));
    EXPECT_FALSE(audio.contains(gram));

    // Nothing matches a word that appears nowhere.
    EXPECT_TRUE(found({{"query", token(10)}}).empty());

    // Items are complete product objects.
    auto page = search({{"query", "그램"}});
    ASSERT_EQ(page["items"].size(), 1U);
    const auto& p = page["items"][0];
    EXPECT_EQ(p.size(), 12U) << p.dump();
    EXPECT_EQ(p["name"], "LG 그램 노트북 16인치");
    EXPECT_EQ(p["sellerId"], s.id);
    EXPECT_EQ(p["price"], 1899000);
    EXPECT_EQ(p["status"], "ACTIVE");
    EXPECT_EQ(p["version"], 1);
    EXPECT_TRUE(page["nextCursor"].is_null());
    EXPECT_TRUE(page["facets"]["categories"].is_array());
}

TEST_F(ProductSearch, TypoTolerantForLongerWords) {
    const auto s = seller();
    const auto tab = pid(create(s.token, "Galaxy Tab S9", 989000, "Tablets"));
    const auto other = pid(create(s.token, "로지텍 무선 마우스", 39000, "주변기기"));
    const auto ids = found({{"query", "Galxy"}});
    EXPECT_TRUE(ids.contains(tab));
    EXPECT_FALSE(ids.contains(other));
}

TEST_F(ProductSearch, EmptyBodyOrEmptyQueryFindsAllActiveProductsNewestFirst) {
    const auto s = seller();
    Ids created;
    for (int i = 0; i < 4; ++i) {
        created.push_back(pid(create(s.token, "상품 " + std::to_string(i), 1000L * (4 - i), "잡화")));
    }
    create(s.token, "비공개 상품", 500, "잡화", 5, "INACTIVE");
    const Ids newest(created.rbegin(), created.rend());

    auto r = client_->request("POST", "/products/search", "", {});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(ids_of(r.json()), newest);
    EXPECT_EQ(ids_of(search(json::object())), newest);
    EXPECT_EQ(ids_of(search({{"query", ""}})), newest);
    EXPECT_EQ(ids_of(search({{"sort", "newest"}})), newest);
    // Search is public, and a token does not change the answer.
    r = client_->post("/products/search", json::object(), s.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(ids_of(r.json()), newest);
}

TEST_F(ProductSearch, FiltersOnCategoryPriceStockAndSeller) {
    const auto a = seller();
    const auto b = seller();
    const auto tok = token();
    std::map<std::string, std::string> id;  // label → productId
    id["a1"] = pid(create(a.token, "노트북 " + tok + " 1", 1000, "노트북", 0));
    id["a2"] = pid(create(a.token, "노트북 " + tok + " 2", 2000, "노트북", 3));
    id["a3"] = pid(create(a.token, "태블릿 " + tok + " 3", 3000, "태블릿", 0));
    id["a4"] = pid(create(a.token, "태블릿 " + tok + " 4", 4000, "태블릿", 9));
    id["b1"] = pid(create(b.token, "노트북 " + tok + " 5", 2000, "노트북", 1));
    id["b2"] = pid(create(b.token, "태블릿 " + tok + " 6", 5000, "태블릿", 0));
    id["off"] = pid(create(a.token, "노트북 " + tok + " 비공개", 2000, "노트북", 4, "INACTIVE"));
    id["x"] = pid(create(a.token, "무관한 노트북", 2000, "노트북", 4));  // does not match the query
    auto set = [&](std::initializer_list<const char*> labels) {
        IdSet out;
        for (const char* l : labels) {
            out.insert(id.at(l));
        }
        return out;
    };
    const json q{{"query", tok}};

    EXPECT_EQ(found(q), set({"a1", "a2", "a3", "a4", "b1", "b2"}));
    EXPECT_EQ(found({{"query", tok}, {"category", "노트북"}}), set({"a1", "a2", "b1"}));
    EXPECT_EQ(found({{"query", tok}, {"category", "태블릿"}}), set({"a3", "a4", "b2"}));
    EXPECT_TRUE(found({{"query", tok}, {"category", "스마트폰"}}).empty());
    // Price bounds are inclusive.
    EXPECT_EQ(found({{"query", tok}, {"minPrice", 2000}, {"maxPrice", 3000}}), set({"a2", "b1", "a3"}));
    EXPECT_EQ(found({{"query", tok}, {"minPrice", 2000}, {"maxPrice", 2000}}), set({"a2", "b1"}));
    EXPECT_EQ(found({{"query", tok}, {"minPrice", 4000}}), set({"a4", "b2"}));
    EXPECT_EQ(found({{"query", tok}, {"maxPrice", 1000}}), set({"a1"}));
    EXPECT_EQ(found({{"query", tok}, {"minPrice", 0}, {"maxPrice", 999}}), IdSet{});
    // In stock only: stock > 0.
    EXPECT_EQ(found({{"query", tok}, {"inStockOnly", true}}), set({"a2", "a4", "b1"}));
    EXPECT_EQ(found({{"query", tok}, {"inStockOnly", false}}), set({"a1", "a2", "a3", "a4", "b1", "b2"}));
    // Seller.
    EXPECT_EQ(found({{"query", tok}, {"sellerId", b.id}}), set({"b1", "b2"}));
    EXPECT_EQ(found({{"sellerId", b.id}}), set({"b1", "b2"}));
    // Everything combined.
    EXPECT_EQ(found({{"query", tok}, {"category", "노트북"}, {"minPrice", 1500}, {"maxPrice", 2500}, {"inStockOnly", true},
                     {"sellerId", a.id}}),
              set({"a2"}));
    // Without a query, filters alone; INACTIVE products never appear.
    EXPECT_EQ(found({{"category", "노트북"}, {"minPrice", 2000}, {"maxPrice", 2000}}), set({"a2", "b1", "x"}));
}

TEST_F(ProductSearch, InactiveProductsAreExcludedAndStatusChangesShowAtOnce) {
    const auto s = seller();
    const auto tok = token();
    const auto visible = pid(create(s.token, "Galaxy Buds " + tok, 199000, "음향기기"));
    const auto hidden = pid(create(s.token, "Galaxy Watch " + tok, 399000, "웨어러블", 5, "INACTIVE"));
    EXPECT_EQ(found({{"query", tok}}), (IdSet{visible}));
    EXPECT_EQ(found({{"query", tok}, {"sellerId", s.id}}), (IdSet{visible}));

    ASSERT_EQ(client_->put("/products/" + visible, {{"status", "INACTIVE"}}, s.token).status, 200);
    ASSERT_EQ(client_->put("/products/" + hidden, {{"status", "ACTIVE"}}, s.token).status, 200);
    EXPECT_EQ(found({{"query", tok}}), (IdSet{hidden}));
    auto page = search({{"query", tok}});
    ASSERT_EQ(page["items"].size(), 1U);
    EXPECT_EQ(page["items"][0]["status"], "ACTIVE");
    EXPECT_EQ(page["items"][0]["version"], 2);
    // Facets do not count INACTIVE products either.
    EXPECT_EQ(page["facets"]["categories"], json::parse(R"([{"category":"웨어러블","count":1}])"));
}

TEST_F(ProductSearch, FacetsCountCategoriesIgnoringTheCategoryFilter) {
    const auto s = seller();
    const auto tok = token();
    for (int i = 0; i < 3; ++i) {
        create(s.token, "노트북 " + tok + " " + std::to_string(i), 1000 + i, "노트북");
    }
    for (int i = 0; i < 2; ++i) {
        create(s.token, "태블릿 " + tok + " " + std::to_string(i), 2000 + i, "태블릿");
    }
    create(s.token, "이어폰 " + tok, 3000, "음향기기");
    create(s.token, "비공개 이어폰 " + tok, 3000, "음향기기", 5, "INACTIVE");     // not counted
    create(s.token, "비싼 노트북 " + tok, 900000, "노트북");                      // outside the price filter
    create(s.token, "다른 상품", 1000, "노트북");                                 // does not match the query
    const auto expected = json::parse(
        R"([{"category":"노트북","count":3},{"category":"태블릿","count":2},{"category":"음향기기","count":1}])");

    auto page = search({{"query", tok}, {"maxPrice", 10000}});
    EXPECT_EQ(page["facets"]["categories"], expected) << page["facets"].dump();
    EXPECT_EQ(page["items"].size(), 6U);

    // With a category filter the items narrow, but the facets stay the same.
    page = search({{"query", tok}, {"maxPrice", 10000}, {"category", "태블릿"}});
    EXPECT_EQ(page["items"].size(), 2U);
    for (const auto& p : page["items"]) {
        EXPECT_EQ(p["category"], "태블릿");
    }
    EXPECT_EQ(page["facets"]["categories"], expected) << page["facets"].dump();

    // The facets are over all matches, not the page.
    page = search({{"query", tok}, {"maxPrice", 10000}, {"limit", 1}});
    EXPECT_EQ(page["items"].size(), 1U);
    EXPECT_EQ(page["facets"]["categories"], expected) << page["facets"].dump();

    // Other filters do change them.
    page = search({{"query", tok}});
    EXPECT_EQ(page["facets"]["categories"],
              json::parse(R"([{"category":"노트북","count":4},{"category":"태블릿","count":2},)"
                          R"({"category":"음향기기","count":1}])"));

    // At most 20 categories.
    const auto many = token();
    for (int i = 0; i < 22; ++i) {
        create(s.token, "상품 " + many + " " + std::to_string(i), 100, "카테고리" + std::to_string(i));
    }
    page = search({{"query", many}});
    EXPECT_EQ(page["facets"]["categories"].size(), 20U);
    for (const auto& f : page["facets"]["categories"]) {
        EXPECT_EQ(f["count"], 1);
    }
}

TEST_F(ProductSearch, EachSortOrdersTheMatches) {
    const auto s = seller();
    const auto tok = token();
    const std::vector<long long> prices{5000, 1000, 9000, 3000, 7000, 2000};
    Ids created;
    for (std::size_t i = 0; i < prices.size(); ++i) {
        created.push_back(pid(create(s.token, "Product " + tok + " " + std::to_string(i), prices[i], "잡화")));
    }
    create(s.token, "Unrelated thing", 4000, "잡화");

    auto ordered = [&](const std::string& sort) { return ids_of(search({{"query", tok}, {"sort", sort}, {"limit", 100}})); };
    const Ids newest(created.rbegin(), created.rend());
    EXPECT_EQ(ordered("newest"), newest);
    EXPECT_EQ(ordered("price_asc"), (Ids{created[1], created[5], created[3], created[0], created[4], created[2]}));
    EXPECT_EQ(ordered("price_desc"), (Ids{created[2], created[4], created[0], created[3], created[5], created[1]}));
    const auto rel = ordered("relevance");
    EXPECT_EQ(IdSet(rel.begin(), rel.end()), IdSet(created.begin(), created.end()));
    EXPECT_EQ(rel.size(), created.size());
}

TEST_F(ProductSearch, PaginationVisitsEveryMatchOnceForEverySort) {
    const auto s = seller();
    const auto tok = token();
    IdSet matches;
    for (int i = 0; i < 20; ++i) {
        // Repeated prices so that the keyset needs its tie-breaker; every third name has the token twice
        // and in the category, so that relevance differs between products.
        const std::string name = (i % 3 == 0 ? tok + " 특가 " : std::string()) + "상품 " + tok + " #" + std::to_string(i);
        matches.insert(pid(create(s.token, name, 1000L * (i % 4), i % 3 == 0 ? "기획 " + tok : "잡화", i % 5)));
    }
    for (int i = 0; i < 4; ++i) {
        create(s.token, "다른 상품 " + std::to_string(i), 1000L * i, "잡화");
    }
    create(s.token, "비공개 " + tok, 1000, "잡화", 1, "INACTIVE");

    for (const auto& sort : kSorts) {
        const auto items = walk(*client_, {{"query", tok}, {"sort", sort}}, 3);
        Ids seen;
        for (const auto& p : items) {
            seen.push_back(pid(p));
        }
        EXPECT_EQ(seen.size(), matches.size()) << sort;
        EXPECT_EQ(IdSet(seen.begin(), seen.end()), matches) << sort;
        expect_sorted(items, sort);
    }
    // With filters and without a query, too.
    const auto items = walk(*client_, {{"minPrice", 1000}, {"maxPrice", 2000}, {"sort", "price_desc"}}, 3);
    IdSet seen;
    for (const auto& p : items) {
        EXPECT_TRUE(seen.insert(pid(p)).second) << "duplicate " << pid(p);
        EXPECT_GE(p["price"].get<long long>(), 1000);
        EXPECT_LE(p["price"].get<long long>(), 2000);
    }
    EXPECT_EQ(seen.size(), 12U);  // 10 matches with price 1000 or 2000, and 2 of the others
    expect_sorted(items, "price_desc");
}

TEST_F(ProductSearch, PaginationIsStableWhileProductsAreAdded) {
    const auto s = seller();
    const auto inserter_seller = seller();
    const auto tok = token();
    IdSet existing;
    for (int i = 0; i < 20; ++i) {
        existing.insert(pid(create(s.token, "Galaxy " + tok + " 기존 " + std::to_string(i), 1000L * (i % 7), "잡화")));
    }
    IdSet all = existing;

    for (const auto& sort : kSorts) {
        const IdSet before = all;  // every product that exists before this walk starts
        std::atomic<int> inserted{0};
        std::atomic<bool> stop{false};
        std::vector<std::string> new_ids;
        std::thread inserter([&] {
            HttpClient c(server_->port());
            for (int i = 0; !stop && i < 40; ++i) {
                // Prices across the whole range, so that new products land before and after the cursor.
                auto p = create(c, inserter_seller.token, "Galaxy " + tok + " 신규 " + sort + std::to_string(i),
                                1000L * ((i * 3) % 8), "잡화");
                new_ids.push_back(pid(p));
                ++inserted;
            }
        });
        // After every page, wait until at least one more product has been added, so that inserts and
        // pages really interleave.
        auto between = [&] {
            const int seen_so_far = inserted.load();
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            while (inserted.load() == seen_so_far && inserted.load() < 40 &&
                   std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        };
        HttpClient walker(server_->port());
        const auto items = walk(walker, {{"query", tok}, {"sort", sort}}, 3, between);
        stop = true;
        inserter.join();
        EXPECT_GT(inserted.load(), 3) << sort << ": inserts did not overlap the walk";

        std::map<std::string, int> count;
        for (const auto& p : items) {
            ++count[pid(p)];
        }
        for (const auto& [id, n] : count) {
            EXPECT_EQ(n, 1) << sort << ": " << id << " seen " << n << " times";
        }
        for (const auto& id : before) {
            EXPECT_EQ(count.contains(id) ? count[id] : 0, 1) << sort << ": product " << id << " existed before the walk";
        }
        all.insert(new_ids.begin(), new_ids.end());
        for (const auto& [id, n] : count) {
            EXPECT_TRUE(all.contains(id)) << sort << ": " << id << " does not match";
        }
        expect_sorted(items, sort);
    }
}

TEST_F(ProductSearch, ValidationErrors) {
    const auto s = seller();
    create(s.token, "상품", 1000, "잡화");
    for (const json& bad : {json{{"query", 5}}, json{{"query", std::string(201, 'q')}}, json{{"category", 1}},
                            json{{"minPrice", -1}}, json{{"maxPrice", -1}}, json{{"minPrice", "100"}},
                            json{{"minPrice", 1.5}}, json{{"sellerId", 42}}, json{{"inStockOnly", "yes"}},
                            json{{"sort", "cheapest"}}, json{{"sort", 1}}, json{{"limit", 0}}, json{{"limit", 101}},
                            json{{"limit", "10"}}, json{{"cursor", 7}}, json{{"minPrice", 5000}, {"maxPrice", 4999}}}) {
        auto r = search_raw(*client_, bad);
        expect_problem(r, 400, "VALIDATION_FAILED");
        EXPECT_TRUE(r.json().contains("errors")) << bad.dump() << " → " << r.body;
    }
    expect_problem(client_->request("POST", "/products/search", "{\"query\": ", {{"Content-Type", "application/json"}}),
                   400, "MALFORMED_JSON");
    expect_problem(client_->request("POST", "/products/search", "[]", {{"Content-Type", "application/json"}}), 400,
                   "VALIDATION_FAILED");
    EXPECT_EQ(search_raw(*client_, {{"limit", 1}}).status, 200);
    EXPECT_EQ(search_raw(*client_, {{"limit", 100}}).status, 200);
    EXPECT_EQ(search_raw(*client_, {{"query", std::string(200, 'q')}}).status, 200);
}

TEST_F(ProductSearch, CursorsAreTiedToTheirSort) {
    const auto s = seller();
    const auto tok = token();
    for (int i = 0; i < 5; ++i) {
        create(s.token, "상품 " + tok + " " + std::to_string(i), 1000L * i, "잡화");
    }
    auto page = search({{"query", tok}, {"sort", "price_asc"}, {"limit", 2}});
    ASSERT_TRUE(page["nextCursor"].is_string()) << page.dump();
    const auto cursor = page["nextCursor"].get<std::string>();
    // The same body with the cursor continues.
    auto next = search({{"query", tok}, {"sort", "price_asc"}, {"limit", 2}, {"cursor", cursor}});
    ASSERT_EQ(next["items"].size(), 2U);
    EXPECT_EQ(next["items"][0]["price"], 2000);
    // Another sort with that cursor is refused, and so is a cursor that was never issued.
    for (const std::string sort : {"price_desc", "newest", "relevance"}) {
        expect_problem(search_raw(*client_, {{"query", tok}, {"sort", sort}, {"limit", 2}, {"cursor", cursor}}), 400,
                       "VALIDATION_FAILED");
    }
    expect_problem(search_raw(*client_, {{"query", tok}, {"sort", "price_asc"}, {"cursor", "not-a-cursor"}}), 400,
                   "VALIDATION_FAILED");
}

}  // namespace

namespace {

// Filter-only searches take their facets from per-category counts that the search index maintains: the counts
// must follow creation, status changes, stock crossing zero and category changes exactly.
TEST_F(ProductSearch, FilterOnlyFacetsFollowEveryChangeExactly) {
    const auto s = seller();
    const auto a = "가전 " + token();
    const auto b = "도서 " + token();
    std::vector<std::string> in_a;
    for (int i = 0; i < 4; ++i) {
        in_a.push_back(pid(create(s.token, "상품 " + std::to_string(i), 1000 + i, a, i == 0 ? 0 : 3)));
    }
    create(s.token, "책", 15000, b);
    create(s.token, "숨긴 책", 15000, b, 5, "INACTIVE");
    auto facets = [&](const json& body) { return search(body)["facets"]["categories"]; };
    auto count_of = [](const json& cats, const std::string& c) -> long long {
        for (const auto& e : cats) {
            if (e["category"] == c) {
                return e["count"].get<long long>();
            }
        }
        return 0;
    };
    EXPECT_EQ(count_of(facets({{"category", a}}), a), 4);
    EXPECT_EQ(count_of(facets(json::object()), b), 1);
    EXPECT_EQ(count_of(facets({{"inStockOnly", true}}), a), 3);

    // Deactivate one, empty another's stock, refill the empty one: each shows at once.
    ASSERT_EQ(client_->put("/products/" + in_a[1], {{"status", "INACTIVE"}}, s.token).status, 200);
    EXPECT_EQ(count_of(facets({{"category", a}}), a), 3);
    EXPECT_EQ(count_of(facets({{"inStockOnly", true}}), a), 2);
    ASSERT_EQ(client_->put("/products/" + in_a[2] + "/inventory", {{"quantity", 0}}, s.token).status, 200);
    EXPECT_EQ(count_of(facets({{"inStockOnly", true}}), a), 1);
    ASSERT_EQ(client_->put("/products/" + in_a[0] + "/inventory", {{"delta", 7}}, s.token).status, 200);
    EXPECT_EQ(count_of(facets({{"inStockOnly", true}}), a), 2);
    // Moving a product to the other category moves its count.
    ASSERT_EQ(client_->put("/products/" + in_a[3], {{"category", b}}, s.token).status, 200);
    EXPECT_EQ(count_of(facets(json::object()), a), 2);
    EXPECT_EQ(count_of(facets(json::object()), b), 2);

    // The index's counts equal a direct count in PostgreSQL, for and without inStockOnly.
    for (const auto& c : {a, b}) {
        const auto direct = om::test::sql_value(
            server_->database_url(), "SELECT count(*) || '/' || count(*) FILTER (WHERE stock > 0) FROM product.products "
                                     "WHERE status = 'ACTIVE' AND category = '" + c + "'");
        const auto from_index = std::to_string(count_of(facets({{"category", c}}), c)) + "/" +
                                std::to_string(count_of(facets({{"category", c}, {"inStockOnly", true}}), c));
        EXPECT_EQ(from_index, direct) << c;
    }
}

}  // namespace
