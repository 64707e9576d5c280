// product::Catalog (the in-memory search index): matching, typo tolerance, filters, facets, sorts,
// cursors and the change rules (versions, renames, deactivation).
#include <gtest/gtest.h>

#include <memory>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "product/search.hpp"
#include "product/search_index.hpp"

namespace {

using om::product::Catalog;
using om::product::IndexedProduct;
using om::product::SearchRequest;

std::string uuid(int n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "0190a000-0000-7000-8000-%012d", n);
    return buf;
}

const std::string kSellerA = "0190a000-0000-7000-8000-aaaaaaaaaaaa";
const std::string kSellerB = "0190a000-0000-7000-8000-bbbbbbbbbbbb";

IndexedProduct product(int n, std::string name, std::string category, std::int64_t price = 1000,
                       std::int64_t stock = 5, std::string seller = kSellerA) {
    IndexedProduct p;
    p.id = uuid(n);
    p.seller_id = std::move(seller);
    p.name = std::move(name);
    p.category = std::move(category);
    p.price = price;
    p.stock = stock;
    p.version = 1;
    p.created_us = 1'000'000LL * n;
    return p;
}

SearchRequest query(std::string q, std::string sort = "") {
    SearchRequest r;
    r.query = std::move(q);
    r.sort = sort.empty() ? (r.query.empty() ? "newest" : "relevance") : std::move(sort);
    r.limit = 100;
    return r;
}

std::set<int> found(const Catalog& c, const SearchRequest& r) {
    std::set<int> out;
    for (const auto& h : c.search(r).hits) {
        out.insert(std::stoi(h.id.substr(24)));
    }
    return out;
}

std::vector<int> ordered(const Catalog& c, const SearchRequest& r) {
    std::vector<int> out;
    for (const auto& h : c.search(r).hits) {
        out.push_back(std::stoi(h.id.substr(24)));
    }
    return out;
}

class CatalogTest : public ::testing::Test {
protected:
    void SetUp() override {
        catalog.upsert(product(1, "LG 그램 노트북 16인치", "컴퓨터", 1899000, 3));
        catalog.upsert(product(2, "Apple MacBook Air 노트북 13", "컴퓨터", 1590000, 0));
        catalog.upsert(product(3, "삼성 갤럭시 탭 S9", "태블릿", 999000, 2, kSellerB));
        catalog.upsert(product(4, "Galaxy Tab S9", "Tablets", 989000, 1, kSellerB));
        catalog.upsert(product(5, "Sony WH-1000XM5 헤드폰", "Audio Gear", 429000, 9));
        catalog.upsert(product(6, "로지텍 무선 마우스", "주변기기", 39000, 4));
        catalog.upsert(product(7, "Samsung Galaxy Book 노트북", "컴퓨터", 1290000, 6, kSellerB));
    }
    Catalog catalog;
};

TEST(SearchText, FoldsCaseAcrossScriptsAndKeepsHangul) {
    using om::product::fold_case;
    using om::product::to_utf8;
    EXPECT_EQ(to_utf8(fold_case("GaLaXy TAB")), "galaxy tab");
    EXPECT_EQ(to_utf8(fold_case("노트북 ÄÖÜ ПРИВЕТ ΑΒΓ ＡＢＣ")), "노트북 äöü привет αβγ ａｂｃ");
    EXPECT_EQ(to_utf8(fold_case("\xff" "a")), "\xEF\xBF\xBD" "a");  // invalid byte → U+FFFD
}

TEST(SearchText, EditDistanceCountsTranspositionsOnceAndStopsEarly) {
    using om::product::edit_distance;
    using om::product::fold_case;
    EXPECT_EQ(edit_distance(fold_case("galxy"), fold_case("galaxy"), 1), 1);
    EXPECT_EQ(edit_distance(fold_case("samsng"), fold_case("samsung"), 1), 1);
    EXPECT_EQ(edit_distance(fold_case("galayx"), fold_case("galaxy"), 1), 1);
    EXPECT_EQ(edit_distance(fold_case("노트북"), fold_case("노트북"), 1), 0);
    EXPECT_EQ(edit_distance(fold_case("abcdef"), fold_case("uvwxyz"), 2), 3);  // capped at max + 1
    EXPECT_EQ(edit_distance(fold_case("ab"), fold_case("abcdef"), 2), 3);
}

TEST(SearchText, UuidsRoundTrip) {
    const auto u = om::uuid_bytes("0190A000-0000-7000-8000-00000000002a");
    ASSERT_TRUE(u);
    EXPECT_EQ(om::uuid_text(*u), "0190a000-0000-7000-8000-00000000002a");
    EXPECT_FALSE(om::uuid_bytes("0190a000-0000-7000-8000-00000000002"));
    EXPECT_FALSE(om::uuid_bytes("0190a000x0000-7000-8000-00000000002a"));
    EXPECT_FALSE(om::uuid_bytes("0190a000-0000-7000-8000-00000000002g"));
}

TEST_F(CatalogTest, MatchesSubstringsOfNamesAndCategoriesInKoreanAndEnglish) {
    EXPECT_EQ(found(catalog, query("노트북")), (std::set<int>{1, 2, 7}));
    EXPECT_EQ(found(catalog, query("그램")), (std::set<int>{1}));
    EXPECT_EQ(found(catalog, query("16인치")), (std::set<int>{1}));
    EXPECT_EQ(found(catalog, query("TAB S9")), (std::set<int>{4}));
    EXPECT_EQ(found(catalog, query("태블릿")), (std::set<int>{3}));   // category
    EXPECT_EQ(found(catalog, query("컴퓨")), (std::set<int>{1, 2, 7}));  // category substring
    EXPECT_EQ(found(catalog, query("audio")), (std::set<int>{5}));
    EXPECT_EQ(found(catalog, query("wh-1000")), (std::set<int>{5}));
    EXPECT_EQ(found(catalog, query("북")), (std::set<int>{1, 2, 7}));  // one code point: scanned
    EXPECT_TRUE(found(catalog, query("냉장고")).empty());
}

TEST_F(CatalogTest, EveryTermMustMatchInAnyOrder) {
    EXPECT_EQ(found(catalog, query("노트북 galaxy")), (std::set<int>{7}));
    EXPECT_EQ(found(catalog, query("galaxy 노트북")), (std::set<int>{7}));
    EXPECT_EQ(found(catalog, query("노트북  apple  ")), (std::set<int>{2}));
    EXPECT_TRUE(found(catalog, query("노트북 마우스")).empty());
}

TEST_F(CatalogTest, LongerWordsTolerateATypo) {
    EXPECT_EQ(found(catalog, query("Galxy")), (std::set<int>{4, 7}));
    EXPECT_EQ(found(catalog, query("Samsng")), (std::set<int>{7}));
    EXPECT_EQ(found(catalog, query("macbok")), (std::set<int>{2}));
    EXPECT_TRUE(found(catalog, query("tub")).empty());       // three letters: exact only
    EXPECT_TRUE(found(catalog, query("gxlxxy")).empty());    // two edits in a six-letter word
}

TEST_F(CatalogTest, RelevanceRanksPrefixThenPhraseThenTermsThenTypos) {
    catalog.upsert(product(8, "Galaxy 노트북 케이스", "액세서리"));
    // 8 starts with the phrase; 7 contains it; 4 has "galaxy" but not the phrase... only 7 and 8 match both terms.
    EXPECT_EQ(ordered(catalog, query("galaxy 노트북")), (std::vector<int>{8, 7}));
    // "galaxy": 4 and 8 start with it (newer id first among equals), 7 contains it.
    EXPECT_EQ(ordered(catalog, query("galaxy")), (std::vector<int>{8, 4, 7}));
    // A typo match ranks after exact ones.
    const auto r = ordered(catalog, query("galaxi"));
    ASSERT_EQ(r.size(), 3U);
}

TEST_F(CatalogTest, FiltersOnCategoryPriceStockAndSeller) {
    auto r = query("");
    r.category = "컴퓨터";
    EXPECT_EQ(found(catalog, r), (std::set<int>{1, 2, 7}));
    r.min_price = 1290000;
    r.max_price = 1590000;
    EXPECT_EQ(found(catalog, r), (std::set<int>{2, 7}));
    r.in_stock_only = true;
    EXPECT_EQ(found(catalog, r), (std::set<int>{7}));
    r = query("노트북");
    r.seller_id = kSellerB;
    EXPECT_EQ(found(catalog, r), (std::set<int>{7}));
    r.seller_id = "0190a000-0000-7000-8000-cccccccccccc";  // no products
    EXPECT_TRUE(found(catalog, r).empty());
    r = query("노트북");
    r.category = "없는 분류";
    EXPECT_TRUE(found(catalog, r).empty());
    EXPECT_EQ(catalog.search(r).categories.size(), 1U);  // facets still count the matches
}

TEST_F(CatalogTest, FacetsIgnoreTheCategoryFilterAndOrderByCountThenName) {
    auto r = query("s9");
    r.category = "태블릿";
    const auto res = catalog.search(r);
    EXPECT_EQ(res.hits.size(), 1U);
    ASSERT_EQ(res.categories.size(), 2U);
    EXPECT_EQ(res.categories[0], (std::pair<std::string, std::int64_t>{"Tablets", 1}));
    EXPECT_EQ(res.categories[1], (std::pair<std::string, std::int64_t>{"태블릿", 1}));
    const auto all = catalog.search(query("")).categories;
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all[0], (std::pair<std::string, std::int64_t>{"컴퓨터", 3}));
    auto in_stock = query("");
    in_stock.in_stock_only = true;
    EXPECT_EQ(catalog.search(in_stock).categories[0], (std::pair<std::string, std::int64_t>{"컴퓨터", 2}));
}

TEST_F(CatalogTest, SortsAndCursorsVisitEveryMatchOnce) {
    EXPECT_EQ(ordered(catalog, query("", "newest")), (std::vector<int>{7, 6, 5, 4, 3, 2, 1}));
    EXPECT_EQ(ordered(catalog, query("", "price_asc")), (std::vector<int>{6, 5, 4, 3, 7, 2, 1}));
    EXPECT_EQ(ordered(catalog, query("", "price_desc")), (std::vector<int>{1, 2, 7, 3, 4, 5, 6}));
    for (const std::string sort : {"newest", "price_asc", "price_desc", "relevance"}) {
        auto r = query(sort == "relevance" ? "s" : "", sort);
        r.limit = 2;
        std::vector<int> walked;
        for (int page = 0; page < 10; ++page) {
            const auto res = catalog.search(r);
            for (std::size_t i = 0; i < res.hits.size() && i < 2; ++i) {
                walked.push_back(std::stoi(res.hits[i].id.substr(24)));
            }
            if (res.hits.size() <= 2) {
                break;
            }
            r.after = om::product::SearchCursor{res.hits[1].key, *om::uuid_bytes(res.hits[1].id)};
        }
        auto all = query(sort == "relevance" ? "s" : "", sort);
        EXPECT_EQ(walked, ordered(catalog, all)) << sort;
    }
}

TEST_F(CatalogTest, ChangesApplyByVersionRenamesReindexAndInactiveProductsDisappear) {
    auto p = product(4, "Galaxy Tab S10", "Tablets", 889000, 1, kSellerB);
    p.version = 3;
    catalog.upsert(p);
    EXPECT_TRUE(found(catalog, query("s9")).count(4) == 0);
    EXPECT_EQ(found(catalog, query("s10")), (std::set<int>{4}));
    // An older version arriving late changes nothing.
    auto stale = product(4, "Galaxy Tab S9", "Tablets", 1, 1, kSellerB);
    stale.version = 2;
    catalog.upsert(stale);
    EXPECT_EQ(found(catalog, query("s10")), (std::set<int>{4}));
    // Price and stock change in place; the category counts follow.
    p.version = 4;
    p.stock = 0;
    catalog.upsert(p);
    auto r = query("");
    r.in_stock_only = true;
    r.category = "Tablets";
    EXPECT_TRUE(found(catalog, r).empty());
    // Deactivated: gone from matches and counts.
    p.version = 5;
    p.active = false;
    catalog.upsert(p);
    EXPECT_TRUE(found(catalog, query("s10")).empty());
    for (const auto& [c, n] : catalog.search(query("")).categories) {
        EXPECT_NE(c, "Tablets");
    }
    EXPECT_EQ(catalog.products(), 7U);
}

// The change feed's position: the snapshot whose rows the index holds; a catch-up moves it forward only, and not
// across a catalog installed after the catch-up read its starting point.
TEST(SearchIndexFeed, ThePositionMovesForwardWithinOneCatalog) {
    EXPECT_EQ(om::product::snapshot_xmax("738:745:738,741"), 745U);
    EXPECT_EQ(om::product::snapshot_xmax("738:738:"), 738U);
    EXPECT_EQ(om::product::snapshot_xmax(""), 0U);
    EXPECT_EQ(om::product::snapshot_xmax("garbage"), 0U);

    om::product::SearchIndex index;
    index.install(std::make_unique<Catalog>(), "100:110:105");
    const auto first = index.position();
    EXPECT_EQ(first.snapshot, "100:110:105");
    const std::vector<IndexedProduct> changes{product(1, "Feed shoe", "잡화")};
    index.apply(changes, first, "105:120:");
    EXPECT_EQ(index.position().snapshot, "105:120:");
    index.apply({}, first, "104:115:");  // a slower catch-up from the same start: the later position stays
    EXPECT_EQ(index.position().snapshot, "105:120:");
    EXPECT_EQ(index.products(), 1U);

    const auto before_install = index.position();
    index.install(std::make_unique<Catalog>(), "200:210:");
    index.apply(changes, before_install, "300:310:");  // read before the install: the new catalog keeps its own
    EXPECT_EQ(index.position().snapshot, "200:210:");
    EXPECT_GT(index.position().catalog, before_install.catalog);
}

}  // namespace
