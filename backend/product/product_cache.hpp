#pragma once
// Redis cache of GET /products/{id}: om:pc:<id> = "<version>|<status>|<sellerId>|<json>".
// Writers store the new representation after every committed change (set-if-newer by version), so a GET after
// an update has returned never sees an older version; a reader that filled the cache from an older read cannot
// overwrite a newer entry. Redis failures degrade to reading PostgreSQL.
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
};

class ProductCache {
public:
    explicit ProductCache(redis::Client& redis) : redis_(redis) {}
    // nullopt on a miss or when Redis is unavailable.
    Task<std::optional<CachedProduct>> get(const std::string& id);
    // Stores unless a newer version is cached. Never throws (a failed store is logged and the entry dropped).
    Task<void> put(const std::string& id, const CachedProduct& p);

private:
    redis::Client& redis_;
};

}  // namespace om::product
