// The search index follows PostgreSQL through the change feed (product.products.change_xid): a change made
// through another server process, or committed late by a long transaction, or in bulk, reaches every search.
#include <gtest/gtest.h>

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "support/api_test.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"

using nlohmann::json;
using om::test::HttpClient;
using om::test::ServerProcess;

namespace {

std::string token() {
    static std::mt19937 rng{std::random_device{}()};
    std::string t;
    for (int i = 0; i < 10; ++i) {
        t.push_back(static_cast<char>('a' + rng() % 26));
    }
    return t;
}

std::set<std::string> found(HttpClient& c, const std::string& query) {
    auto r = c.post("/products/search", {{"query", query}, {"limit", 100}});
    EXPECT_EQ(r.status, 200) << r.body;
    std::set<std::string> ids;
    if (r.status == 200) {
        const auto page = r.json();  // named: a temporary in the range-for initializer would dangle
        for (const auto& p : page["items"]) {
            ids.insert(p["productId"].get<std::string>());
        }
    }
    return ids;
}

struct PgConn {
    explicit PgConn(const std::string& url) : c(PQconnectdb(url.c_str())) {}
    ~PgConn() { PQfinish(c); }
    PgConn(const PgConn&) = delete;
    PgConn& operator=(const PgConn&) = delete;
    void exec(const std::string& sql) {
        PGresult* r = PQexec(c, sql.c_str());
        const auto st = PQresultStatus(r);
        EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) << sql << ": " << PQerrorMessage(c);
        PQclear(r);
    }
    PGconn* c;
};

class SearchFeed : public om::test::ServerSuite {};

TEST_F(SearchFeed, ChangesMadeThroughAnotherProcessAreSearchableAtOnce) {
    om::test::ServerOptions o;
    o.database_url = server_->database_url();
    o.redis_url = server_->redis_url();
    ServerProcess other(o);
    HttpClient b(other.port());

    const auto s = om::test::sign_up(*client_, "SELLER");
    const auto tok = token();
    auto r = client_->post("/products", {{"name", "Feed " + tok}, {"price", 1000}, {"category", "잡화"}, {"stock", 1}},
                           s.token);
    ASSERT_EQ(r.status, 201) << r.body;
    const auto id = r.json()["productId"].get<std::string>();
    // Created through server A; the very next search through server B finds it.
    EXPECT_EQ(found(b, tok), (std::set<std::string>{id}));

    const auto renamed = token();
    ASSERT_EQ(client_->put("/products/" + id, {{"name", "Feed " + renamed}}, s.token).status, 200);
    EXPECT_TRUE(found(b, tok).empty());
    EXPECT_EQ(found(b, renamed), (std::set<std::string>{id}));

    ASSERT_EQ(client_->put("/products/" + id, {{"status", "INACTIVE"}}, s.token).status, 200);
    EXPECT_TRUE(found(b, renamed).empty());
    ASSERT_EQ(client_->put("/products/" + id, {{"status", "ACTIVE"}}, s.token).status, 200);
    EXPECT_EQ(found(b, renamed), (std::set<std::string>{id}));
}

TEST_F(SearchFeed, ATransactionThatCommitsAfterLaterOnesIsNotMissed) {
    const auto s = om::test::sign_up(*client_, "SELLER");
    const auto before = token();
    auto r = client_->post("/products", {{"name", "Slow " + before}, {"price", 1000}, {"category", "잡화"}, {"stock", 1}},
                           s.token);
    ASSERT_EQ(r.status, 201) << r.body;
    const auto id = r.json()["productId"].get<std::string>();

    // A long transaction renames the product and stays open...
    const auto late = token();
    PgConn slow(server_->database_url());
    slow.exec("BEGIN");
    slow.exec("UPDATE product.products SET name = 'Slow " + late + "', version = version + 1 WHERE id = '" + id + "'");
    // ...while later transactions commit and searches move the feed along.
    for (int i = 0; i < 5; ++i) {
        const auto other = token();
        ASSERT_EQ(client_->post("/products", {{"name", "Other " + other}, {"price", 10}, {"category", "잡화"}, {"stock", 1}},
                                s.token)
                      .status,
                  201);
        EXPECT_EQ(found(*client_, other).size(), 1U);
        EXPECT_EQ(found(*client_, before), (std::set<std::string>{id}));  // the rename is not committed yet
    }
    slow.exec("COMMIT");
    EXPECT_EQ(found(*client_, late), (std::set<std::string>{id}));
    EXPECT_TRUE(found(*client_, before).empty());
}

TEST_F(SearchFeed, ABulkChangeRebuildsTheIndexAndSearchesKeepAnswering) {
    const auto s = om::test::sign_up(*client_, "SELLER");
    const auto tok = token();
    // More rows than one catch-up applies: the index is rebuilt in the background.
    PgConn bulk(server_->database_url());
    bulk.exec("INSERT INTO product.products (id, seller_id, name, price, category, stock) "
              "SELECT (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || "
              "substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text), 4, 15))::uuid, "  // UUIDv7-shaped ids
              "'" + s.id + "', 'Bulk " + tok + " ' || i, i, '대량', 0 FROM generate_series(1, 6000) i");
    long long total = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        auto r = client_->post("/products/search", {{"query", tok}, {"limit", 1}});
        ASSERT_EQ(r.status, 200) << r.body;  // the previous index answers while the new one is built
        const auto cats = r.json()["facets"]["categories"];
        total = cats.empty() ? 0 : cats[0]["count"].get<long long>();
        if (total == 6000) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(total, 6000);
    // And the feed goes on after the rebuild.
    const auto after = token();
    ASSERT_EQ(client_->post("/products", {{"name", "After " + after}, {"price", 1}, {"category", "잡화"}, {"stock", 1}},
                            s.token)
                  .status,
              201);
    EXPECT_EQ(found(*client_, after).size(), 1U);
}

// A transaction older than the bulk change, still open anywhere in the cluster (a report, a backup), keeps the
// snapshots' xmin below the bulk's id. The rebuilt index already holds the bulk's rows; the feed must not read
// them again as changes (and rebuild again, and again, while searches miss every later change).
TEST_F(SearchFeed, ABulkChangeIsRebuiltOnceWhileAnOlderTransactionStaysOpen) {
    const auto s = om::test::sign_up(*client_, "SELLER");
    const auto tok = token();
    PgConn older(server_->database_url());
    older.exec("BEGIN");
    older.exec("SELECT pg_current_xact_id()");  // holds an id: every later snapshot's xmin stays at or below it
    PgConn bulk(server_->database_url());
    bulk.exec("INSERT INTO product.products (id, seller_id, name, price, category, stock) "
              "SELECT (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || "
              "substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text), 4, 15))::uuid, "
              "'" + s.id + "', 'Older " + tok + " ' || i, i, '대량', 0 FROM generate_series(1, 6000) i");
    long long total = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline && total != 6000) {
        auto r = client_->post("/products/search", {{"query", tok}, {"limit", 1}});
        ASSERT_EQ(r.status, 200) << r.body;
        const auto cats = r.json()["facets"]["categories"];
        total = cats.empty() ? 0 : cats[0]["count"].get<long long>();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ(total, 6000);
    // Changes after the rebuild reach the very next search, time after time, with the older transaction open.
    for (int i = 0; i < 3; ++i) {
        const auto after = token();
        ASSERT_EQ(client_->post("/products", {{"name", "After " + after}, {"price", 1}, {"category", "잡화"}, {"stock", 1}},
                                s.token)
                      .status,
                  201);
        EXPECT_EQ(found(*client_, after).size(), 1U) << "change " << i;
    }
    older.exec("COMMIT");
}

}  // namespace
