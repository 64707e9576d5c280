#pragma once
// POST /products/search: request parsing, SQL building (keyset pagination) and opaque cursors.
#include <cstdint>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "product/product_repository.hpp"

namespace om::product {

struct SearchRequest {
    std::string query;  // trimmed, may be empty
    std::optional<std::string> category;
    std::optional<std::int64_t> min_price;
    std::optional<std::int64_t> max_price;
    std::optional<std::string> seller_id;
    bool in_stock_only = false;
    std::string sort;  // relevance | price_asc | price_desc | newest
    int limit = 20;
    std::optional<std::pair<std::string, std::string>> after;  // decoded cursor: (sort key, id)
};

// Parses and validates a search body (empty body allowed). Errors: MALFORMED_JSON / VALIDATION_FAILED.
Result<SearchRequest> parse_search(const std::string& body);

// The page query: LIMIT limit + 1 rows, each with its sort key as the 13th column.
SearchQuery build_search(const SearchRequest& r);
// Category counts over all matches, ignoring the category filter and the cursor (from the maintained
// product.category_counts when there is no text query, price or seller filter).
SearchQuery build_facets(const SearchRequest& r);

// Cursors are opaque to clients: base64url of {"s": sort, "k": key, "id": id}.
std::string encode_cursor(const std::string& sort, const std::string& key, const std::string& id);
// nullopt when malformed or made for another sort.
std::optional<std::pair<std::string, std::string>> decode_cursor(const std::string& cursor, const std::string& sort);

// Escapes % _ and \ for use inside a LIKE pattern.
std::string like_escape(std::string_view s);

}  // namespace om::product
