#include "product/product_repository.hpp"
#include "product/search_feed.hpp"

#include <charconv>

#include "common/clock.hpp"
#include "common/ids.hpp"
#include "net/pg.hpp"

namespace om::product {

namespace {


constexpr const char* kColumns =
    "id::text, seller_id::text, name, description, price, currency, category, stock, status, version, "
    "created_at AT TIME ZONE 'UTC', updated_at AT TIME ZONE 'UTC'";

}  // namespace

const char* ProductRepository::columns() { return kColumns; }

ProductRow product_from_row(const pg::Result& r, int i) {
    ProductRow p;
    p.id = r.get(i, 0);
    p.seller_id = r.get(i, 1);
    p.name = r.get(i, 2);
    p.description = r.get(i, 3);
    p.price = parse_i64(r.get(i, 4));
    p.currency = r.get(i, 5);
    p.category = r.get(i, 6);
    p.stock = parse_i64(r.get(i, 7));
    p.status = r.get(i, 8);
    p.version = parse_i64(r.get(i, 9));
    p.created_at = pg_utc_to_rfc3339(r.get(i, 10));
    p.updated_at = pg_utc_to_rfc3339(r.get(i, 11));
    if (r.columns() > 12) {
        p.sort_key = r.get(i, 12);
    }
    return p;
}

ProductRepository::ProductRepository(pg::Pool& db) : db_(db) {
    const std::string cols = kColumns;
    const std::string insert_values =
        "INSERT INTO product.products (id, seller_id, name, description, price, currency, category, stock, status) "
        "VALUES ($1::uuid, $2::uuid, $3, $4, $5::bigint, $6, $7, $8::bigint, $9) RETURNING " + cols + ", stock AS s";
    db_.prepare("product.insert",
                "WITH p AS (" + insert_values + "), "
                "m AS (INSERT INTO product.stock_movements (product_id, delta, resulting_stock, reason) "
                "      SELECT $1::uuid, s, s, 'INITIAL' FROM p) "
                "SELECT * FROM p");
    db_.prepare("product.insert_idem",
                "WITH k AS (INSERT INTO product.idempotency_keys (seller_id, key, request_hash, product_id) "
                "           VALUES ($2::uuid, $10, $11, $1::uuid) ON CONFLICT DO NOTHING RETURNING 1), "
                "p AS (INSERT INTO product.products (id, seller_id, name, description, price, currency, category, stock, status) "
                "      SELECT $1::uuid, $2::uuid, $3, $4, $5::bigint, $6, $7, $8::bigint, $9 WHERE EXISTS (SELECT 1 FROM k) "
                "      RETURNING " + cols + ", stock AS s), "
                "m AS (INSERT INTO product.stock_movements (product_id, delta, resulting_stock, reason) "
                "      SELECT $1::uuid, s, s, 'INITIAL' FROM p) "
                "SELECT * FROM p");
    db_.prepare("product.idem_lookup",
                "SELECT product_id::text, request_hash FROM product.idempotency_keys WHERE seller_id = $1::uuid AND key = $2");
    db_.prepare("product.find", "SELECT " + cols + " FROM product.products WHERE id = $1::uuid");
    db_.prepare("product.find_many", "SELECT " + cols + " FROM product.products WHERE id = " + pg::any_uuid("$1"));
    db_.prepare("product.search_changes", search_changes_sql());
    db_.prepare("product.gate_epoch_shared", "SELECT epoch FROM product.gate_state FOR SHARE");
    db_.prepare("product.lock", "SELECT " + cols + " FROM product.products WHERE id = $1::uuid FOR UPDATE");
    db_.prepare("product.update",
                "UPDATE product.products SET "
                "name = coalesce($4, name), description = coalesce($5, description), price = coalesce($6::bigint, price), "
                "currency = coalesce($7, currency), category = coalesce($8, category), status = coalesce($9, status), "
                "version = version + 1, updated_at = now() "
                "WHERE id = $1::uuid AND seller_id = $2::uuid AND ($3::integer IS NULL OR version = $3::integer) "
                "RETURNING " + cols);
    db_.prepare("product.stock_delta",
                "WITH u AS (UPDATE product.products SET stock = stock + $2::bigint, version = version + 1, updated_at = now() "
                "           WHERE id = $1::uuid RETURNING " + cols + ", stock AS s), "
                "m AS (INSERT INTO product.stock_movements (product_id, delta, resulting_stock, reason, order_id) "
                "      SELECT $1::uuid, $2::bigint, s, $3, $4::uuid FROM u) "
                "SELECT * FROM u");
    db_.prepare("product.by_seller",
                "SELECT " + cols + ", created_at::text AS sort_key FROM product.products "
                "WHERE seller_id = $1::uuid AND ($2::text IS NULL OR status = $2) "
                "AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid)) "
                "ORDER BY created_at DESC, id DESC LIMIT $5::integer");
}

Task<IdempotentInsert> ProductRepository::insert(const std::string& id, const NewProduct& p,
                                                 const std::optional<std::string>& key, const std::string& request_hash) {
    IdempotentInsert out;
    auto params = pg::params(id, p.seller_id, p.name, p.description, std::to_string(p.price), p.currency, p.category,
                             std::to_string(p.stock), p.status);
    if (!key) {
        auto r = co_await db_.query_prepared("product.insert", std::move(params));
        out.created = product_from_row(r, 0);
        co_return out;
    }
    params.emplace_back(*key);
    params.emplace_back(request_hash);
    auto r = co_await db_.query_prepared("product.insert_idem", std::move(params));
    if (!r.empty()) {
        out.created = product_from_row(r, 0);
        co_return out;
    }
    auto k = co_await db_.query_prepared("product.idem_lookup", pg::params(p.seller_id, *key));
    if (!k.empty()) {
        out.existing_id = std::string(k.get(0, 0));
        out.existing_hash = std::string(k.get(0, 1));
    }
    co_return out;
}

Task<std::optional<ProductRow>> ProductRepository::find(const std::string& id) {
    auto r = co_await db_.query_prepared("product.find", pg::params(id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return product_from_row(r, 0);
}

Task<std::optional<ProductRow>> ProductRepository::update(const std::string& id, const std::string& seller_id,
                                                          const std::optional<std::int64_t>& expected_version,
                                                          const ProductPatch& patch) {
    std::optional<std::string> ver;
    if (expected_version) {
        ver = std::to_string(*expected_version);
    }
    std::optional<std::string> price;
    if (patch.price) {
        price = std::to_string(*patch.price);
    }
    auto r = co_await db_.query_prepared("product.update", pg::params(id, seller_id, ver, patch.name, patch.description,
                                                                      price, patch.currency, patch.category, patch.status));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return product_from_row(r, 0);
}

Task<pg::Lease> ProductRepository::begin() {
    auto tx = co_await db_.acquire();
    co_await tx.exec("BEGIN");
    co_return tx;
}

Task<std::optional<ProductRow>> ProductRepository::lock(pg::Lease& tx, const std::string& id) {
    auto r = co_await tx.exec_prepared("product.lock", pg::params(id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return product_from_row(r, 0);
}

Task<ProductRow> ProductRepository::apply_stock_delta(pg::Lease& tx, const std::string& id, std::int64_t delta,
                                                      const std::string& reason,
                                                      const std::optional<std::string>& order_id) {
    auto r = co_await tx.exec_prepared("product.stock_delta", pg::params(id, std::to_string(delta), reason, order_id));
    if (r.empty()) {
        throw std::runtime_error("stock change for a product that does not exist: " + id);
    }
    co_return product_from_row(r, 0);
}

Task<void> ProductRepository::commit(pg::Lease& tx) { co_await tx.exec("COMMIT"); }

Task<std::string> ProductRepository::gate_epoch_shared(pg::Lease& tx) {
    auto r = co_await tx.exec_prepared("product.gate_epoch_shared");
    co_return std::string(r.get(0, 0));
}

Task<std::vector<ProductRow>> ProductRepository::list_by_seller(
    const std::string& seller_id, const std::optional<std::string>& status,
    const std::optional<std::pair<std::string, std::string>>& after, int limit) {
    std::optional<std::string> ts;
    std::optional<std::string> aid;
    if (after) {
        ts = after->first;
        aid = after->second;
    }
    auto r = co_await db_.query_prepared("product.by_seller", pg::params(seller_id, status, ts, aid, std::to_string(limit)));
    std::vector<ProductRow> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        out.push_back(product_from_row(r, i));
    }
    co_return out;
}

Task<std::vector<ProductRow>> ProductRepository::find_many(const std::vector<std::string>& ids) {
    // One id (most lookups below a few hundred orders a second) takes the single-row statement, a plain index
    // lookup; more take pg::any_uuid, planned once (`= ANY($1)` was planned on every call: issue 6, 90 µs of
    // planning for 20 µs of execution, with this table's nine indexes).
    pg::Result r;
    if (ids.size() == 1) {
        r = co_await db_.query_prepared("product.find", pg::params(ids.front()));
    } else {
        r = co_await db_.query_prepared("product.find_many", pg::params(pg::uuid_array(ids)));
    }
    std::vector<ProductRow> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        out.push_back(product_from_row(r, i));
    }
    co_return out;
}

}  // namespace om::product
