#include "product/product_service.hpp"

#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "core/log.hpp"
#include "net/offload.hpp"
#include "net/pg.hpp"


namespace om::product {

std::string product_json(const ProductRow& p) {
    return nlohmann::json{{"productId", p.id},       {"sellerId", p.seller_id}, {"name", p.name},
                          {"description", p.description}, {"price", p.price},  {"currency", p.currency},
                          {"category", p.category},   {"stock", p.stock},         {"status", p.status},
                          {"version", p.version},     {"createdAt", p.created_at}, {"updatedAt", p.updated_at}}
        .dump();
}

ProductService::ProductService(pg::Pool& db, redis::Client& redis, SearchFeed& feed, net::Offload& offload)
    : db_(db), feed_(feed), offload_(offload), repo_(db), gate_(redis), cache_(redis) {}

Task<void> ProductService::cache(const ProductRow& p) {
    // Named, not a temporary: GCC 12 mishandles temporaries bound to reference parameters of a co_await'ed call.
    const CachedProduct entry{p.version, p.status, p.seller_id, product_json(p)};
    co_await cache_.put(p.id, entry);
}

Task<Result<ProductRow>> ProductService::create(const Principal& who, NewProduct p,
                                                std::optional<std::string> idempotency_key, std::string request_hash) {
    if (who.role != "SELLER") {
        co_return std::unexpected(Error{ErrorCode::forbidden, "Only sellers can list products"});
    }
    p.seller_id = who.member_id;
    const std::string id = new_uuid_v7();
    auto r = co_await repo_.insert(id, p, idempotency_key, request_hash);
    if (!r.created) {
        if (!r.existing_id) {
            throw std::runtime_error("idempotency key vanished between insert and lookup");
        }
        if (r.existing_hash != request_hash) {
            co_return std::unexpected(Error{ErrorCode::idempotency_key_reused,
                                            "This Idempotency-Key was used for a different request"});
        }
        auto existing = co_await repo_.find(*r.existing_id);
        if (!existing) {
            throw std::runtime_error("product of an idempotency key is missing");
        }
        co_return std::move(*existing);
    }
    // The gate is initialised only after the product is durable; a failure here is harmless because a
    // missing gate key is seeded from PostgreSQL on first use.
    try {
        co_await gate_.set(r.created->id, r.created->stock);
    } catch (const std::exception& e) {
        log::warn("stock gate init failed", {{"product_id", r.created->id}, {"error", e.what()}});
    }
    co_await cache(*r.created);
    co_return std::move(*r.created);
}

namespace {
// The one ownership rule for changes: an unknown product is 404, someone else's is 403.
Result<ProductRow> owned_by(std::optional<ProductRow> p, const Principal& who) {
    if (!p) {
        return std::unexpected(Error{ErrorCode::not_found, "No such product"});
    }
    if (p->seller_id != who.member_id) {
        return std::unexpected(Error{ErrorCode::forbidden, "Only the product's seller may change it"});
    }
    return std::move(*p);
}
}  // namespace

Task<Result<ProductRow>> ProductService::owned(const Principal& who, const std::string& id) {
    if (!is_uuid(id)) {
        co_return std::unexpected(Error{ErrorCode::not_found, "No such product"});
    }
    co_return owned_by(co_await repo_.find(id), who);
}

Task<Result<ProductRow>> ProductService::update(const Principal& who, std::string id,
                                                std::optional<std::int64_t> expected_version, ProductPatch patch) {
    auto current = co_await owned(who, id);
    if (!current) {
        co_return std::unexpected(current.error());
    }
    auto stale = [] {
        return Error{ErrorCode::precondition_failed, "The product has changed since the version given in If-Match"};
    };
    if (expected_version && *expected_version != current->version) {
        co_return std::unexpected(stale());
    }
    auto updated = co_await repo_.update(id, who.member_id, expected_version, patch);
    if (!updated) {
        co_return std::unexpected(stale());  // changed between our read and the conditional update
    }
    co_await cache(*updated);
    co_return std::move(*updated);
}

Task<Result<ProductRow>> ProductService::change_stock(const Principal& who, std::string id,
                                                      std::optional<std::int64_t> quantity,
                                                      std::optional<std::int64_t> delta) {
    if (!is_uuid(id)) {
        co_return std::unexpected(Error{ErrorCode::not_found, "No such product"});
    }
    // The row lock serialises the seller-side changes of this product, so every change reads the gate after
    // the previous one was fully applied (to PostgreSQL and to the gate). Order reservations only touch the
    // gate (atomically, in Redis) and never wait for this lock.
    auto tx = co_await repo_.begin();
    auto current = owned_by(co_await repo_.lock(tx, id), who);
    if (!current) {
        co_return std::unexpected(current.error());
    }
    const std::string reason = quantity ? "SELLER_SET" : "SELLER_ADJUST";
    std::int64_t d = delta.value_or(0);
    bool gate_done = false;  // the gate already reflects d
    if (quantity) {
        auto g = co_await gate_.lower_to(id, *quantity, current->stock);
        d = g.delta;
        gate_done = g.applied;
        if (d == 0) {
            co_return std::move(*current);  // already at that quantity (the lease rolls back)
        }
    } else if (d < 0) {
        auto g = co_await gate_.adjust(id, d, current->stock);
        if (!g.applied) {
            co_return std::unexpected(Error{ErrorCode::insufficient_stock,
                                            "Only " + std::to_string(g.value) + " units are available; cannot remove " +
                                                std::to_string(-d)});
        }
        gate_done = true;
    }
    std::exception_ptr failure;
    std::optional<ProductRow> row;
    try {
        row = co_await repo_.apply_stock_delta(tx, id, d, reason);
        if (!gate_done) {
            // Raising: the gate goes up while the row is still locked and before COMMIT, so the next seller
            // change sees it. Should COMMIT then fail, the gate is lowered again below; orders that took the
            // extra units in between fail at PostgreSQL's CHECK (stock >= 0) and release them.
            co_await gate_.adjust(id, d, current->stock);
            gate_done = true;
        }
        co_await repo_.commit(tx);
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        if (gate_done) {
            try {
                co_await gate_.adjust(id, -d, current->stock);
            } catch (const std::exception& e) {
                log::error("stock gate compensation failed", {{"product_id", id}, {"error", e.what()}});
            }
        }
        std::rethrow_exception(failure);
    }
    co_await cache(*row);
    co_return std::move(*row);
}

Task<Result<CachedProduct>> ProductService::get(const std::optional<Principal>& who, std::string id) {
    auto not_found = [] { return Error{ErrorCode::not_found, "No such product"}; };
    if (!is_uuid(id)) {
        co_return std::unexpected(not_found());
    }
    auto cached = co_await cache_.get(id);
    if (!cached) {
        auto p = co_await repo_.find(id);
        if (!p) {
            co_return std::unexpected(not_found());
        }
        cached = CachedProduct{p->version, p->status, p->seller_id, product_json(*p)};
        co_await cache_.put(id, *cached);
    }
    if (cached->status != "ACTIVE" && (!who || who->member_id != cached->seller_id)) {
        co_return std::unexpected(not_found());
    }
    co_return std::move(*cached);
}

Task<ProductPage> ProductService::list_by_seller(const std::string& seller_id, std::optional<std::string> status,
                                                 int limit, std::optional<std::pair<std::string, std::string>> after) {
    auto rows = co_await repo_.list_by_seller(seller_id, status, after, limit + 1);
    ProductPage page;
    if (static_cast<int>(rows.size()) > limit) {
        rows.resize(static_cast<std::size_t>(limit));
        page.next_cursor = encode_cursor("seller", rows.back().sort_key, rows.back().id);
    }
    page.items = std::move(rows);
    co_return page;
}

Task<Result<SearchPage>> ProductService::search(SearchRequest r) {
    if (!feed_.index().ready()) {
        Error e{ErrorCode::service_unavailable, "The search index is still loading; try again in a moment."};
        e.with_header("Retry-After", "1");
        co_return std::unexpected(std::move(e));
    }
    co_await feed_.catch_up(db_);
    // Matching and ranking are CPU work (milliseconds for broad queries over a million products): run them
    // on the CPU pool so that the shard keeps serving other requests meanwhile.
    IndexResult found;
    co_await offload_.run([&] { found = feed_.index().search(r); });
    SearchPage page;
    page.categories = std::move(found.categories);
    if (static_cast<int>(found.hits.size()) > r.limit) {
        found.hits.resize(static_cast<std::size_t>(r.limit));
        page.next_cursor = encode_cursor(r.sort, std::to_string(found.hits.back().key), found.hits.back().id);
    }
    if (found.hits.empty()) {
        co_return page;
    }
    std::vector<std::string> ids;
    for (const auto& h : found.hits) {
        ids.push_back(h.id);
    }
    auto rows = co_await repo_.find_many(ids);
    std::unordered_map<std::string, ProductRow*> by_id;
    for (auto& row : rows) {
        by_id.emplace(row.id, &row);
    }
    for (const auto& h : found.hits) {
        if (auto it = by_id.find(h.id); it != by_id.end()) {
            page.items.push_back(std::move(*it->second));
        }
    }
    co_return page;
}

Task<std::vector<std::pair<std::string, std::string>>> ProductService::sellers_of(std::vector<std::string> ids) {
    std::erase_if(ids, [](const std::string& id) { return !is_uuid(id); });
    if (ids.empty()) {
        co_return std::vector<std::pair<std::string, std::string>>{};
    }
    const auto rows = co_await repo_.find_many(ids);
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
        out.emplace_back(row.id, row.seller_id);
    }
    co_return out;
}

}  // namespace om::product
