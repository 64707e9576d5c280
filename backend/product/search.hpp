#pragma once
// POST /products/search: request parsing and opaque keyset cursors (the matching is in search_index).
#include <cstdint>
#include <optional>
#include <string>

#include "common/ids.hpp"
#include "core/error.hpp"

namespace om::product {

// Where the next page starts: strictly after (key, id) in the sort's order.
struct SearchCursor {
    std::int64_t key = 0;  // relevance score, price or created time in microseconds
    UuidBytes id{};
};

struct SearchRequest {
    std::string query;  // trimmed, may be empty
    std::optional<std::string> category;
    std::optional<std::int64_t> min_price;
    std::optional<std::int64_t> max_price;
    std::optional<std::string> seller_id;
    bool in_stock_only = false;
    std::string sort;  // relevance | price_asc | price_desc | newest
    int limit = 20;
    std::optional<SearchCursor> after;
};

// Parses and validates a search body (empty body allowed). Errors: MALFORMED_JSON / VALIDATION_FAILED.
Result<SearchRequest> parse_search(const std::string& body);

// Cursors are opaque to clients: base64url of {"s": sort, "k": key, "id": id}.
std::string encode_cursor(const std::string& sort, const std::string& key, const std::string& id);
// nullopt when malformed or made for another sort.
std::optional<std::pair<std::string, std::string>> decode_cursor(const std::string& cursor, const std::string& sort);

}  // namespace om::product
