#pragma once
// Coroutine parameters that callers build as temporaries are taken by value (GCC 12 coroutine bug).
// Product use cases: create (idempotent), update with optimistic concurrency, stock changes through the
// stock gate and the ledger, cached reads, the seller's list and search.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/coalescer.hpp"
#include "core/error.hpp"
#include "core/http.hpp"
#include "core/task.hpp"
#include "product/product_cache.hpp"
#include "product/product_repository.hpp"
#include "product/row_copies.hpp"
#include "product/search.hpp"
#include "product/search_feed.hpp"
#include "product/stock_gate.hpp"

namespace om::net {
class Offload;
}

namespace om::product {

// The product's public representation (the JSON every endpoint returns).
std::string product_json(const ProductRow& p);

struct ProductPage {
    std::vector<ProductRow> items;
    std::optional<std::string> next_cursor;
};

struct SearchPage {
    std::vector<ProductRow> items;
    std::optional<std::string> next_cursor;
    std::vector<std::pair<std::string, std::int64_t>> categories;
};

class ProductService {
public:
    // `feed` is the process's search index (shared by every shard); `offload` runs the in-memory search off
    // the shard thread.
    ProductService(pg::Pool& db, redis::Client& redis, SearchFeed& feed, net::Offload& offload);

    // Returns the product (also when an Idempotency-Key replays an earlier request).
    Task<Result<ProductRow>> create(const Principal& who, NewProduct p, std::optional<std::string> idempotency_key,
                                    std::string request_hash);
    Task<Result<ProductRow>> update(const Principal& who, std::string id,
                                    std::optional<std::int64_t> expected_version, ProductPatch patch);
    // Exactly one of quantity / delta is set.
    Task<Result<ProductRow>> change_stock(const Principal& who, std::string id,
                                          std::optional<std::int64_t> quantity, std::optional<std::int64_t> delta);
    // The cached representation; INACTIVE products only for their owner.
    Task<Result<CachedProduct>> get(const std::optional<Principal>& who, std::string id);
    Task<ProductPage> list_by_seller(const std::string& seller_id, std::optional<std::string> status, int limit,
                                     std::optional<std::pair<std::string, std::string>> after);
    // 503 while the index is still loading.
    Task<Result<SearchPage>> search(SearchRequest r);
    // Read-only, for other services (delivery): (productId, sellerId) of each given id that exists, whatever
    // its status. Ids that are not UUIDs are skipped.
    Task<std::vector<std::pair<std::string, std::string>>> sellers_of(std::vector<std::string> ids);

    // ---- the order service's C++ interface ----
    // Rows (price, status, version) to price an order with; unknown ids and non-UUIDs are skipped. From the
    // shard's copies when they are younger than kCopyMaxAge, else (and with `from_database`) from PostgreSQL,
    // a single product together with those of the shard's other orders in flight. A copy may be out of date:
    // the group commit refuses an order whose lines name another version than the product has (CHANGED), and
    // the order service then forgets those copies and prices the order again from the database.
    Task<std::vector<ProductRow>> price_rows(std::vector<std::string> ids, bool from_database);
    void forget_copies(const std::vector<std::string>& ids) { copies_.forget(ids); }
    static constexpr std::chrono::milliseconds kCopyMaxAge{5000};
    static constexpr std::size_t kCopyCapacity = 10'000;
    // The stock gate (reservations, releases).
    StockGate& gate() noexcept { return gate_; }
    // Seeds missing gate keys of these products from PostgreSQL (under the epoch's share lock).
    Task<void> seed_gate(std::vector<std::string> ids);
    // Redis lost the gate (om:gate:ready is gone): sets a new epoch in PostgreSQL, copies every product's stock
    // into the gate and marks it ready. One rebuild at a time (a Redis lock); false when another one runs.
    Task<bool> rebuild_gate();

private:
    Task<void> cache(const ProductRow& p);
    Task<Result<ProductRow>> owned(const Principal& who, const std::string& id);

    pg::Pool& db_;
    redis::Client& redis_;
    SearchFeed& feed_;
    net::Offload& offload_;
    ProductRepository repo_;
    StockGate gate_;
    ProductCache cache_;
    // One-product lookups of concurrent orders of this shard share one query per round trip.
    Coalescer<std::string, ProductRow> rows_;
    RowCopies copies_{kCopyMaxAge, kCopyCapacity};
};

}  // namespace om::product
