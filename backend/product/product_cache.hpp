#pragma once
// Redis cache of GET /products/{id}: om:pc:<id> = "<version>|<status>|<sellerId>|<json>".
// Writers store the new representation after every committed change (set-if-newer by version), so a GET after
// an update has returned never sees an older version; a reader that filled the cache from an older read cannot
// overwrite a newer entry. Redis failures degrade to reading PostgreSQL.
// The entry's stock is not what a GET shows: orders do not change `version` (issue 6), and the stock comes
// from the product's gate key, read in the same MGET (see ProductService::get).
#include <cstdint>
#include <optional>
#include <string>

#include "core/task.hpp"

namespace om::redis {
class Client;
}

namespace om::product {

struct CachedProduct {
    std::int64_t version = 0;
    std::string status;
    std::string seller_id;
    std::string json;
    std::int64_t stock = 0;  // the stock `json` shows (part of the ETag); not stored in the entry
};

// An entry and the units the product's gate holds, read together.
struct CacheRead {
    std::optional<CachedProduct> product;  // nullopt on a miss
    std::optional<std::int64_t> gate;      // nullopt when the gate key is missing
};

// `json` (a product representation) with its top-level "stock" set to `stock`.
std::string with_stock(std::string json, std::int64_t stock);

class ProductCache {
public:
    explicit ProductCache(redis::Client& redis) : redis_(redis) {}
    // The entry and the gate key in one MGET; both missing when Redis is unavailable.
    Task<CacheRead> get(const std::string& id);
    // Stores unless a newer version is cached. Never throws (a failed store is logged and the entry dropped).
    Task<void> put(const std::string& id, const CachedProduct& p);

private:
    redis::Client& redis_;
};

}  // namespace om::product
