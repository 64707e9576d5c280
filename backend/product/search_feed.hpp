#pragma once
// Keeps the process's SearchIndex in step with product.products (PostgreSQL is the truth).
//
//  - At start, a background thread copies the catalog out of PostgreSQL (one COPY in a REPEATABLE READ
//    snapshot) and installs it; until then searches answer 503.
//  - Every insert and update stamps the row with its transaction id (product.products.change_xid, migration
//    0004). The index keeps the snapshot whose visible rows it holds (the load's, then each catch-up's). Before
//    each search, the shard reads the rows whose stamp that snapshot did not see (committed since) and applies
//    them, so the search sees every change committed before it began. A row read twice (two catch-ups from the
//    same snapshot) is ignored by version.
//  - When more than kMaxChanges rows changed at once (a bulk load), the thread rebuilds the index instead and
//    searches use the previous one meanwhile.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "core/task.hpp"
#include "product/search_index.hpp"

namespace om::pg {
class Pool;
}

namespace om::product {

// Columns: id, seller_id, name, category, price, stock, active (t/f), version, created_us.
IndexedProduct indexed_product(std::span<const std::string_view> cols);
// The change-feed statement ($1 = the index's snapshot), prepared as "product.search_changes" by
// ProductRepository: one row with the statement's snapshot and NULL columns when nothing changed, else one row
// per product changed since $1 (at most kMaxChanges + 1), each with the snapshot.
std::string search_changes_sql();

class SearchFeed {
public:
    static constexpr int kMaxChanges = 5000;

    explicit SearchFeed(std::string database_url);
    ~SearchFeed();  // stops and joins the loader thread
    SearchFeed(const SearchFeed&) = delete;
    SearchFeed& operator=(const SearchFeed&) = delete;

    [[nodiscard]] SearchIndex& index() noexcept { return index_; }
    [[nodiscard]] const SearchIndex& index() const noexcept { return index_; }
    // Applies every change committed since the index's snapshot, read through the shard's pool.
    Task<void> catch_up(pg::Pool& db);
    void request_reload();

private:
    void run(const std::stop_token& stop);
    void load(const std::stop_token& stop);

    std::string database_url_;
    SearchIndex index_;
    std::mutex mutex_;
    std::condition_variable_any wake_;
    bool reload_ = false;
    std::atomic<bool> rebuilding_{false};  // a rebuild was requested: catching up would re-read the same rows
    std::atomic<std::uint64_t> loads_started_{0};  // loads begun (each takes its snapshot after this count)
    std::jthread thread_;  // last: started after everything it uses
};

}  // namespace om::product
