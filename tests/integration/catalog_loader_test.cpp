// openmarket-catalog (tools/catalog_loader.cpp) against the fixture's PostgreSQL: counts, the stock ledger
// invariant, realistic values, determinism, refusal without --append, --append numbering, seller login.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/test_env.hpp"

namespace {

using om::test::sql_value;

constexpr const char* kNow = "2025-01-01T00:00:00Z";  // fixed time anchor: runs are comparable
constexpr const char* kNowEpoch = "1735689600";

// The loader sits next to the server in the build tree: <build>/tools/openmarket-catalog.
std::string catalog_binary() {
    std::string path = OM_SERVER_BINARY;
    const std::string server = "backend/openmarket-server";
    const auto at = path.rfind(server);
    if (at == std::string::npos) {
        throw std::runtime_error("unexpected OM_SERVER_BINARY: " + path);
    }
    return path.replace(at, server.size(), "tools/openmarket-catalog");
}

struct CatalogRun {
    int status = -1;
    std::string output;  // stdout and stderr
};

CatalogRun run_catalog(const std::string& args) {
    const std::string cmd = catalog_binary() + " " + args + " 2>&1";
    CatalogRun r;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) {
        return r;
    }
    std::array<char, 512> buf{};
    while (auto n = std::fread(buf.data(), 1, buf.size(), p)) {
        r.output.append(buf.data(), n);
    }
    const int rc = ::pclose(p);
    r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return r;
}

std::string migrated_database() {
    const auto url = om::test::fresh_database("om_catalog");
    std::string out;
    if (om::test::run_migrate(url, &out) != 0) {
        throw std::runtime_error("migrate failed: " + out);
    }
    return url;
}

CatalogRun load(const std::string& url, const std::string& extra) {
    return run_catalog("load --database-url '" + url + "' " + extra);
}

long long count(const std::string& url, const std::string& sql) { return std::stoll(sql_value(url, sql)); }

// Everything the loader writes except the (randomly salted) password hash.
std::string checksum(const std::string& url) {
    return sql_value(url,
                     "SELECT md5(string_agg(concat_ws('|', id, seller_id, name, description, price, currency, category, "
                     "stock, status, version, created_at, updated_at), ',' ORDER BY id)) FROM product.products") +
           sql_value(url,
                     "SELECT md5(string_agg(concat_ws('|', product_id, delta, resulting_stock, reason, order_id, "
                     "created_at), ',' ORDER BY product_id)) FROM product.stock_movements") +
           sql_value(url,
                     "SELECT md5(string_agg(concat_ws('|', id, email, name, role, phone, created_at, updated_at, "
                     "password_changed_at), ',' ORDER BY id)) FROM member.members");
}

// Products whose ledger is not exactly one INITIAL movement with delta = resulting_stock = stock.
constexpr const char* kLedgerMismatches =
    "SELECT count(*) FROM product.products p LEFT JOIN ("
    "  SELECT product_id, sum(delta) AS total, count(*) AS n,"
    "         bool_and(reason = 'INITIAL' AND delta = resulting_stock AND order_id IS NULL) AS initial,"
    "         min(created_at) AS at"
    "  FROM product.stock_movements GROUP BY product_id) m ON m.product_id = p.id "
    "WHERE m.total IS DISTINCT FROM p.stock OR m.n <> 1 OR NOT m.initial OR m.at <> p.created_at";

// One database loaded with 2,000 products for 3 sellers, shared by the read-only tests of a process.
class CatalogLoader : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        url_ = new std::string(migrated_database());
        first_ = new CatalogRun(load(*url_, std::string("--products 2000 --sellers 3 --now ") + kNow));
    }
    static void TearDownTestSuite() {
        delete url_;
        delete first_;
        url_ = nullptr;
        first_ = nullptr;
    }
    static const std::string& url() { return *url_; }
    static const CatalogRun& first() { return *first_; }

private:
    static std::string* url_;
    static CatalogRun* first_;
};
std::string* CatalogLoader::url_ = nullptr;
CatalogRun* CatalogLoader::first_ = nullptr;

TEST_F(CatalogLoader, LoadsTheRequestedSellersAndProducts) {
    ASSERT_EQ(first().status, 0) << first().output;
    EXPECT_NE(first().output.find("loaded 2000 products for 3 sellers in "), std::string::npos) << first().output;
    EXPECT_EQ(count(url(), "SELECT count(*) FROM member.members"), 3);
    EXPECT_EQ(count(url(), "SELECT count(*) FROM member.members WHERE role = 'SELLER' AND email IN "
                           "('seller-1@catalog.openmarket.local', 'seller-2@catalog.openmarket.local', "
                           "'seller-3@catalog.openmarket.local')"),
              3);
    EXPECT_EQ(count(url(), "SELECT count(*) FROM product.products"), 2000);
    EXPECT_EQ(count(url(), "SELECT count(*) FROM product.stock_movements"), 2000);
    // Every product belongs to one of the new sellers, and every seller has products.
    EXPECT_EQ(count(url(), "SELECT count(*) FROM product.products p LEFT JOIN member.members m ON m.id = p.seller_id "
                           "WHERE m.id IS NULL"),
              0);
    EXPECT_EQ(count(url(), "SELECT count(DISTINCT seller_id) FROM product.products"), 3);
    // Statistics were gathered.
    EXPECT_EQ(sql_value(url(), "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL FROM pg_stat_user_tables "
                               "WHERE schemaname = 'product' AND relname = 'products'"),
              "t");
}

TEST_F(CatalogLoader, LedgerSumsEqualStockForEveryProduct) {
    ASSERT_EQ(first().status, 0) << first().output;
    EXPECT_EQ(count(url(), kLedgerMismatches), 0);
    EXPECT_EQ(sql_value(url(), "SELECT (SELECT sum(stock) FROM product.products) = "
                               "(SELECT sum(delta) FROM product.stock_movements)"),
              "t");
}

TEST_F(CatalogLoader, ProductsLookReal) {
    ASSERT_EQ(first().status, 0) << first().output;
    const auto& u = url();
    // Korean and English names, many categories.
    EXPECT_GT(count(u, "SELECT count(*) FROM product.products WHERE name ~ '[가-힣]'"), 1000);
    EXPECT_GT(count(u, "SELECT count(*) FROM product.products WHERE name !~ '[가-힣]' AND name ~ '[A-Za-z]'"), 100);
    EXPECT_GT(count(u, "SELECT count(DISTINCT name) FROM product.products"), 500);
    EXPECT_GE(count(u, "SELECT count(DISTINCT category) FROM product.products"), 28);
    EXPECT_GT(count(u, "SELECT count(*) FROM product.products WHERE description <> '' AND length(description) > 10"), 1999);
    // Prices: 1,000 to 3,000,000 KRW, rounded to 10 (to 100 from 10,000), spread over the range.
    EXPECT_EQ(count(u, "SELECT count(*) FROM product.products WHERE price NOT BETWEEN 1000 AND 3000000 OR price % 10 <> 0 "
                       "OR (price >= 10000 AND price % 100 <> 0) OR currency <> 'KRW'"),
              0);
    EXPECT_GT(count(u, "SELECT count(*) FROM product.products WHERE price < 20000"), 100);
    EXPECT_GT(count(u, "SELECT count(*) FROM product.products WHERE price > 1000000"), 50);
    // Stock 0-500 with about 5% sold out; about 3% inactive.
    EXPECT_EQ(count(u, "SELECT count(*) FROM product.products WHERE stock NOT BETWEEN 0 AND 500"), 0);
    const auto zero = count(u, "SELECT count(*) FROM product.products WHERE stock = 0");
    EXPECT_GT(zero, 40);
    EXPECT_LT(zero, 180);
    EXPECT_EQ(count(u, "SELECT count(*) FROM product.products WHERE status NOT IN ('ACTIVE', 'INACTIVE') OR version <> 1"), 0);
    const auto inactive = count(u, "SELECT count(*) FROM product.products WHERE status = 'INACTIVE'");
    EXPECT_GT(inactive, 20);
    EXPECT_LT(inactive, 120);
    // created_at over the 365 days before --now; ids are UUIDv7 in created_at order.
    EXPECT_EQ(count(u, std::string("SELECT count(*) FROM product.products WHERE created_at >= timestamptz '") + kNow +
                           "' OR created_at < timestamptz '" + kNow + "' - interval '365 days' OR updated_at <> created_at"),
              0);
    EXPECT_GT(count(u, "SELECT count(DISTINCT date_trunc('month', created_at)) FROM product.products"), 11);
    EXPECT_EQ(count(u, "SELECT count(*) FROM product.products WHERE substr(id::text, 15, 1) <> '7'"), 0);
    EXPECT_EQ(count(u, "SELECT count(*) FROM (SELECT id, lag(created_at) OVER (ORDER BY id) AS prev, created_at "
                       "FROM product.products) s WHERE prev > created_at"),
              0);
}

TEST_F(CatalogLoader, SellersShareOneArgon2idHashAndCanLogIn) {
    ASSERT_EQ(first().status, 0) << first().output;
    EXPECT_EQ(count(url(), "SELECT count(DISTINCT password_hash) FROM member.members"), 1);
    EXPECT_EQ(sql_value(url(), "SELECT min(password_hash) LIKE '$argon2id$v=19$m=12288,t=3,p=1$%' FROM member.members"),
              "t");
    om::test::ServerOptions options;
    options.database_url = url();
    om::test::ServerProcess server(options);
    om::test::HttpClient client(server.port());
    auto ok = client.post("/member/login",
                          {{"email", "seller-2@catalog.openmarket.local"}, {"password", "catalog-seller-pass"}});
    EXPECT_EQ(ok.status, 200) << ok.body;
    auto wrong = client.post("/member/login",
                             {{"email", "seller-2@catalog.openmarket.local"}, {"password", "not-the-password"}});
    EXPECT_EQ(wrong.status, 401) << wrong.body;
}

TEST_F(CatalogLoader, SameSeedGivesTheSameCatalogWhateverTheBatching) {
    ASSERT_EQ(first().status, 0) << first().output;
    const auto other = migrated_database();
    auto r = load(other, std::string("--products 2000 --sellers 3 --batch 333 --jobs 3 --seed 42 --now ") + kNowEpoch);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(checksum(other), checksum(url()));

    const auto different = migrated_database();
    r = load(different, std::string("--products 2000 --sellers 3 --seed 7 --now ") + kNow);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(checksum(different), checksum(url()));
}

TEST(CatalogLoaderRuns, RefusesToLoadTwiceWithoutAppend) {
    const auto url = migrated_database();
    ASSERT_EQ(load(url, "--products 300 --sellers 2").status, 0);
    const auto before = checksum(url);
    auto r = load(url, "--products 300 --sellers 2");
    EXPECT_EQ(r.status, 3) << r.output;
    EXPECT_NE(r.output.find("--append"), std::string::npos) << r.output;
    EXPECT_EQ(checksum(url), before);
    EXPECT_EQ(count(url, "SELECT count(*) FROM product.products"), 300);
}

TEST(CatalogLoaderRuns, AppendContinuesAfterTheHighestSeller) {
    const auto url = migrated_database();
    ASSERT_EQ(load(url, std::string("--products 2000 --sellers 3 --now ") + kNow).status, 0);
    // Same seed and anchor: an appended run must still create new ids, not collide with the first run.
    auto r = load(url, std::string("--append --products 500 --sellers 2 --now ") + kNow);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("loaded 500 products for 2 sellers in "), std::string::npos) << r.output;
    EXPECT_EQ(count(url, "SELECT count(*) FROM member.members"), 5);
    EXPECT_EQ(count(url, "SELECT count(*) FROM member.members WHERE email IN ('seller-4@catalog.openmarket.local', "
                         "'seller-5@catalog.openmarket.local')"),
              2);
    EXPECT_EQ(count(url, "SELECT count(*) FROM product.products"), 2500);
    EXPECT_EQ(count(url, "SELECT count(*) FROM product.products p JOIN member.members m ON m.id = p.seller_id "
                         "WHERE m.email IN ('seller-4@catalog.openmarket.local', 'seller-5@catalog.openmarket.local')"),
              500);
    EXPECT_EQ(count(url, kLedgerMismatches), 0);
    // Numbering follows the highest existing seller, even with gaps.
    sql_value(url, "UPDATE member.members SET email = 'seller-41@catalog.openmarket.local' "
                   "WHERE email = 'seller-5@catalog.openmarket.local'");
    r = load(url, "--append --products 10 --sellers 1");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(count(url, "SELECT count(*) FROM member.members WHERE email = 'seller-42@catalog.openmarket.local'"), 1);
    EXPECT_EQ(count(url, "SELECT count(*) FROM product.products"), 2510);
}

TEST(CatalogLoaderRuns, HelpAndUsageErrors) {
    auto r = run_catalog("--help");
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.output.find("openmarket-catalog load --database-url URL --products N"), std::string::npos) << r.output;
    ::unsetenv("OPENMARKET_DATABASE_URL");
    EXPECT_EQ(run_catalog("load --products 10").status, 2);
    EXPECT_EQ(run_catalog("load --database-url postgresql://x/y --products ten").status, 2);
    EXPECT_EQ(run_catalog("load --database-url postgresql://x/y --products 10 --bogus").status, 2);
    EXPECT_EQ(run_catalog("unload").status, 2);
    // A database without the schema: a clear error, nothing written.
    const auto empty = om::test::fresh_database("om_catalog");
    r = load(empty, "--products 10");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("migrate"), std::string::npos) << r.output;
}

}  // namespace
