// openmarket-search-bench: the in-process cost of POST /products/search, without HTTP or PostgreSQL round
// trips. Builds the search index from a database exactly as the server does, then times each query.
//   openmarket-search-bench --database-url URL [--repeat N] [BODY.json ...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "product/search.hpp"
#include "product/search_feed.hpp"

int main(int argc, char** argv) {
    std::string url;
    int repeat = 200;
    std::vector<std::string> bodies;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--database-url" && i + 1 < argc) {
            url = argv[++i];
        } else if (a == "--repeat" && i + 1 < argc) {
            repeat = std::stoi(argv[++i]);
        } else {
            bodies.push_back(a);
        }
    }
    if (url.empty()) {
        std::cerr << "usage: openmarket-search-bench --database-url URL [--repeat N] [BODY ...]\n";
        return 2;
    }
    if (bodies.empty()) {
        bodies = {R"({"query":"노트북"})", R"({"query":"galaxy","sort":"price_asc"})",
                  R"({"category":"패션/신발","sort":"newest"})",
                  R"({"query":"나이키","minPrice":50000,"maxPrice":200000,"inStockOnly":true})", R"({"query":"Samsng"})",
                  R"({})"};
    }
    const auto t0 = std::chrono::steady_clock::now();
    om::product::SearchFeed feed(url);
    while (!feed.index().ready()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto load_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    std::printf("index: %zu products loaded in %lld ms\n", feed.index().products(), static_cast<long long>(load_ms));
    std::printf("| body | hits | p50 | p99 | max |\n|---|---|---|---|---|\n");
    for (const auto& body : bodies) {
        auto r = om::product::parse_search(body);
        if (!r) {
            std::cerr << "bad body: " << body << "\n";
            return 2;
        }
        std::vector<double> us;
        std::size_t hits = 0;
        for (int k = 0; k < repeat; ++k) {
            const auto s = std::chrono::steady_clock::now();
            const auto res = feed.index().search(*r);
            us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count());
            hits = res.hits.size();
        }
        std::sort(us.begin(), us.end());
        auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * us.size()))] / 1000.0; };
        std::printf("| `%s` | %zu | %.2f ms | %.2f ms | %.2f ms |\n", body.c_str(), hits, at(0.5), at(0.99), us.back() / 1000.0);
    }
    return 0;
}
