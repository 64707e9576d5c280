#include "product/product_service.hpp"

#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "core/log.hpp"
#include "net/offload.hpp"
#include "net/pg.hpp"
#include "net/redis.hpp"


namespace om::product {

std::string product_json(const ProductRow& p) {
    return nlohmann::json{{"productId", p.id},       {"sellerId", p.seller_id}, {"name", p.name},
                          {"description", p.description}, {"price", p.price},  {"currency", p.currency},
                          {"category", p.category},   {"stock", p.stock},         {"status", p.status},
                          {"version", p.version},     {"createdAt", p.created_at}, {"updatedAt", p.updated_at}}
        .dump();
}

ProductService::ProductService(pg::Pool& db, redis::Client& redis, SearchFeed& feed, net::Offload& offload)
    : db_(db),
      redis_(redis),
      feed_(feed),
      offload_(offload),
      repo_(db),
      gate_(redis),
      cache_(redis),
      rows_([this](std::vector<std::string> ids) -> Task<std::unordered_map<std::string, ProductRow>> {
          auto rows = co_await repo_.find_many(std::move(ids));
          co_return by_id(std::move(rows));
      }, 256, [&db] { return db.next_turn(); }) {}

Task<void> ProductService::cache(const ProductRow& p) {
    // Named, not a temporary: GCC 12 mishandles temporaries bound to reference parameters of a co_await'ed call.
    const CachedProduct entry{p.version, p.status, p.seller_id, product_json(p), p.stock};
    copies_.put(p);  // this shard prices its next orders from the new row at once
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
    // The gate is initialised only after the product is durable, and only if it has no key yet (a rebuild may
    // have copied the product already). A failure here is harmless: an order that finds the key missing has
    // it seeded from PostgreSQL (seed_gate).
    try {
        const auto epoch = co_await gate_.epoch();
        if (!epoch.empty()) {
            co_await gate_.seed(r.created->id, r.created->stock, epoch);
        }
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
    // The gate's epoch under a share lock: a rebuild of the gate waits for this change to commit, and while
    // the gate is being rebuilt (not in this epoch) the change goes to PostgreSQL only.
    const std::string epoch = co_await repo_.gate_epoch_shared(tx);
    const std::string reason = quantity ? "SELLER_SET" : "SELLER_ADJUST";
    std::int64_t d = delta.value_or(0);
    bool gate_done = false;     // the gate already reflects d (or is off)
    bool gate_changed = false;  // the gate was changed by d (to undo on failure)
    auto insufficient = [&](std::int64_t available) {
        return Error{ErrorCode::insufficient_stock, "Only " + std::to_string(available) +
                                                        " units are available; cannot remove " + std::to_string(-d)};
    };
    if (quantity) {
        auto g = co_await gate_.lower_to(id, *quantity, current->stock, epoch);
        d = g.off ? *quantity - current->stock : g.delta;
        gate_done = g.off || g.applied;
        gate_changed = g.applied;
        if (d == 0) {
            co_return std::move(*current);  // already at that quantity (the lease rolls back)
        }
    } else if (d < 0) {
        auto g = co_await gate_.adjust(id, d, current->stock, epoch);
        if (g.off) {
            if (current->stock + d < 0) {
                co_return std::unexpected(insufficient(current->stock));
            }
        } else if (!g.applied) {
            co_return std::unexpected(insufficient(g.value));
        }
        gate_done = true;
        gate_changed = g.applied;
    }
    std::exception_ptr failure;
    std::optional<ProductRow> row;
    try {
        row = co_await repo_.apply_stock_delta(tx, id, d, reason);
        if (!gate_done) {
            // Raising: the gate goes up while the row is still locked and before COMMIT, so the next seller
            // change sees it. Should COMMIT then fail, the gate is lowered again below; orders that took the
            // extra units in between fail at PostgreSQL's CHECK (stock >= 0) and release them.
            auto g = co_await gate_.adjust(id, d, current->stock, epoch);
            gate_done = true;
            gate_changed = g.applied;
        }
        co_await repo_.commit(tx);
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        if (gate_changed) {
            try {
                co_await gate_.adjust(id, -d, current->stock, epoch);
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
    // The stock shown is the gate's: what buyers can reserve now (PostgreSQL's stock less the units of orders
    // being written). Orders change only the gate and the stock, not the cached entry (issue 6: the entry used
    // to be dropped after every order, so that during a sale nearly every GET read PostgreSQL). Without a gate
    // key (Redis lost it, or it was never seeded), PostgreSQL's stock is shown.
    auto read = co_await cache_.get(id);
    std::optional<CachedProduct> cached = std::move(read.product);
    std::int64_t stock = 0;
    if (!cached || !read.gate) {
        auto p = co_await repo_.find(id);
        if (!p) {
            co_return std::unexpected(not_found());
        }
        cached = CachedProduct{p->version, p->status, p->seller_id, product_json(*p), p->stock};
        co_await cache_.put(id, *cached);
        stock = read.gate.value_or(p->stock);
    } else {
        stock = *read.gate;
    }
    if (cached->status != "ACTIVE" && (!who || who->member_id != cached->seller_id)) {
        co_return std::unexpected(not_found());
    }
    cached->json = with_stock(std::move(cached->json), stock);
    cached->stock = stock;
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

Task<std::vector<ProductRow>> ProductService::price_rows(std::vector<std::string> ids, bool from_database) {
    std::erase_if(ids, [](const std::string& id) { return !is_uuid(id); });
    std::vector<ProductRow> rows;
    if (!from_database) {
        const auto now = RowCopies::Clock::now();
        std::erase_if(ids, [&](const std::string& id) {
            auto copy = copies_.get(id, now);
            if (copy) {
                rows.push_back(std::move(*copy));
            }
            return copy.has_value();
        });
    }
    if (ids.empty()) {
        co_return rows;
    }
    std::vector<ProductRow> read;
    if (ids.size() == 1) {
        if (auto row = co_await rows_.get(ids.front())) {
            read.push_back(std::move(*row));
        }
    } else {
        read = co_await repo_.find_many(ids);
    }
    const auto now = RowCopies::Clock::now();
    for (auto& row : read) {
        copies_.put(row, now);
        rows.push_back(std::move(row));
    }
    co_return rows;
}

Task<void> ProductService::seed_gate(std::vector<std::string> ids) {
    auto tx = co_await repo_.begin();
    const std::string epoch = co_await repo_.gate_epoch_shared(tx);
    auto rows = co_await repo_.find_many(ids);
    for (const auto& row : rows) {
        const bool seeded = co_await gate_.seed(row.id, row.stock, epoch);
        if (seeded) {
            log::warn("stock gate key was missing; seeded from PostgreSQL",
                      {{"product_id", row.id}, {"stock", row.stock}});
        }
    }
    co_await repo_.commit(tx);
}

Task<bool> ProductService::rebuild_gate() {
    const std::string token = new_uuid_v7();
    auto lock = co_await redis_.command(redis::args("SET", "om:gate:rebuilding", token, "NX", "PX", "120000"));
    if (lock.is_error()) {
        throw Unavailable("stock gate rebuild lock: " + lock.str);
    }
    if (lock.is_nil()) {
        co_return false;  // another shard or process is rebuilding
    }
    std::exception_ptr failure;
    try {
        auto ready = co_await redis_.command(redis::args("GET", kGateReadyKey));
        if (ready.is_nil()) {
            const std::string epoch = new_uuid_v7();
            auto tx = co_await repo_.begin();
            // Waits for every transaction that holds the old epoch (orders committing, stock returned, seller
            // changes); from now on none of those can commit under the old epoch.
            co_await tx.exec("UPDATE product.gate_state SET epoch = $1, rebuilt_at = now()", pg::params(epoch));
            auto r = co_await tx.exec("SELECT id::text, stock FROM product.products");
            std::vector<std::string> cmd{"MSET"};
            std::int64_t copied = 0;
            for (int i = 0; i < r.rows(); ++i) {
                cmd.push_back(gate_key(std::string(r.get(i, 0))));
                cmd.emplace_back(r.get(i, 1));
                if (cmd.size() >= 2001 || i + 1 == r.rows()) {
                    auto m = co_await redis_.command(std::move(cmd));
                    if (m.is_error()) {
                        throw Unavailable("stock gate rebuild: " + m.str);
                    }
                    cmd = {"MSET"};
                }
                ++copied;
            }
            auto set = co_await redis_.command(redis::args("SET", kGateReadyKey, epoch));
            if (set.is_error()) {
                throw Unavailable("stock gate rebuild: " + set.str);
            }
            co_await repo_.commit(tx);
            log::warn("stock gate rebuilt from PostgreSQL", {{"epoch", epoch}, {"products", copied}});
        }
    } catch (...) {
        failure = std::current_exception();
    }
    co_await redis::release_if_held(redis_, "om:gate:rebuilding", token);
    if (failure) {
        std::rethrow_exception(failure);
    }
    co_return true;
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
