#pragma once
// SQL for schema `product`: products, the stock movement ledger and POST idempotency keys.
// The only code that touches product.* tables.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/task.hpp"

namespace om::pg {
class Pool;
class Result;
class Lease;
}  // namespace om::pg

namespace om::product {

struct ProductRow {
    std::string id;
    std::string seller_id;
    std::string name;
    std::string description;
    std::int64_t price = 0;
    std::string currency;
    std::string category;
    std::int64_t stock = 0;
    std::string status;
    std::int64_t version = 0;
    std::string created_at;  // RFC 3339
    std::string updated_at;  // RFC 3339
    std::string sort_key;    // keyset value of the query that produced the row (list/search), else empty
};

struct NewProduct {
    std::string seller_id;
    std::string name;
    std::string description;
    std::int64_t price = 0;
    std::string currency;
    std::string category;
    std::int64_t stock = 0;
    std::string status;
};

struct ProductPatch {
    std::optional<std::string> name;
    std::optional<std::string> description;
    std::optional<std::int64_t> price;
    std::optional<std::string> currency;
    std::optional<std::string> category;
    std::optional<std::string> status;
};

struct IdempotentInsert {
    std::optional<ProductRow> created;      // set when this call created the product
    std::optional<std::string> existing_id;  // set when the key was used before ...
    std::string existing_hash;               // ... with this request hash
};

class ProductRepository {
public:
    explicit ProductRepository(pg::Pool& db);

    // Inserts the product and its INITIAL ledger row in one statement. With an idempotency key, the key row
    // is inserted in the same statement; if the key exists, nothing is inserted and the earlier product id and
    // request hash are returned.
    Task<IdempotentInsert> insert(const std::string& id, const NewProduct& p, const std::optional<std::string>& key,
                                  const std::string& request_hash);
    Task<std::optional<ProductRow>> find(const std::string& id);
    // Applies the patch if the product belongs to `seller_id` and (when given) has `expected_version`.
    // nullopt when no row matched (the caller decides between 404/403/412 from a prior read).
    Task<std::optional<ProductRow>> update(const std::string& id, const std::string& seller_id,
                                           const std::optional<std::int64_t>& expected_version, const ProductPatch& patch);
    // A connection with an open transaction (BEGIN sent). Dropping the lease without COMMIT rolls back.
    Task<pg::Lease> begin();
    // SELECT ... FOR UPDATE: serialises stock changes of one product until the transaction ends.
    Task<std::optional<ProductRow>> lock(pg::Lease& tx, const std::string& id);
    // stock += delta, version + 1, one ledger row; all in one statement. Throws pg::SqlError 23514 if the result
    // would be negative.
    Task<ProductRow> apply_stock_delta(pg::Lease& tx, const std::string& id, std::int64_t delta,
                                       const std::string& reason, const std::optional<std::string>& order_id = std::nullopt);
    Task<void> commit(pg::Lease& tx);
    // The stock gate's epoch under a share lock held until the transaction ends (a rebuild waits for it).
    Task<std::string> gate_epoch_shared(pg::Lease& tx);
    // Seller's products, newest first, keyset after (created_at text, id).
    Task<std::vector<ProductRow>> list_by_seller(const std::string& seller_id, const std::optional<std::string>& status,
                                                 const std::optional<std::pair<std::string, std::string>>& after,
                                                 int limit);
    // The products with these ids (any order; unknown ids are skipped).
    Task<std::vector<ProductRow>> find_many(const std::vector<std::string>& ids);

    static const char* columns();  // the product column list used by every SELECT/RETURNING

private:
    pg::Pool& db_;
};

ProductRow product_from_row(const pg::Result& r, int row);

}  // namespace om::product
