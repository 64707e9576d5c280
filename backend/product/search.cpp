#include "product/search.hpp"

#include <sodium.h>

#include <charconv>

#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "core/json.hpp"

namespace om::product {

namespace {

std::string b64url(std::string_view raw) {
    std::string out(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(std::char_traits<char>::length(out.c_str()));
    return out;
}

std::optional<std::string> unb64url(std::string_view s) {
    std::string out(s.size(), '\0');
    std::size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(), s.size(), nullptr, &len,
                          nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
        return std::nullopt;
    }
    out.resize(len);
    return out;
}

}  // namespace

std::string encode_cursor(const std::string& sort, const std::string& key, const std::string& id) {
    return b64url(nlohmann::json{{"s", sort}, {"k", key}, {"id", id}}.dump());
}

std::optional<std::pair<std::string, std::string>> decode_cursor(const std::string& cursor, const std::string& sort) {
    if (cursor.empty() || cursor.size() > 1024) {
        return std::nullopt;
    }
    auto raw = unb64url(cursor);
    if (!raw) {
        return std::nullopt;
    }
    auto j = nlohmann::json::parse(*raw, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("s") || !j.contains("k") || !j.contains("id") ||
        !j["s"].is_string() || !j["k"].is_string() || !j["id"].is_string() || j["s"] != sort ||
        !is_uuid(j["id"].get<std::string>())) {
        return std::nullopt;
    }
    const std::string key = j["k"].get<std::string>();
    if (key.empty() || key.size() > 64) {
        return std::nullopt;
    }
    return std::make_pair(key, j["id"].get<std::string>());
}

Result<SearchRequest> parse_search(const std::string& body) {
    SearchRequest r;
    nlohmann::json obj = nlohmann::json::object();
    if (!body.empty()) {
        auto parsed = parse_object(body);
        if (!parsed) {
            return std::unexpected(parsed.error());
        }
        obj = std::move(*parsed);
    }
    Validator v(obj);
    r.query = v.string("query", {.required = false, .min = 0, .max = 200}).value_or("");
    r.category = v.string("category", {.required = false, .max = 100});
    r.min_price = v.integer("minPrice", {.required = false, .min = 0});
    r.max_price = v.integer("maxPrice", {.required = false, .min = 0});
    r.seller_id = v.string("sellerId", {.required = false, .max = 36});
    r.in_stock_only = v.boolean("inStockOnly").value_or(false);
    auto sort = v.one_of("sort", {"relevance", "price_asc", "price_desc", "newest"}, false);
    r.limit = static_cast<int>(v.integer("limit", {.required = false, .min = 1, .max = 100}).value_or(20));
    auto cursor = v.string("cursor", {.required = false, .max = 1024});
    if (r.seller_id && !is_uuid(*r.seller_id)) {
        v.fail("sellerId", "must be a product seller's id (UUID)");
    }
    if (r.min_price && r.max_price && *r.min_price > *r.max_price) {
        v.fail("minPrice", "must not be greater than maxPrice");
    }
    r.sort = sort.value_or(r.query.empty() ? "newest" : "relevance");
    if (r.sort == "relevance" && r.query.empty() && sort) {
        r.sort = "newest";  // nothing to rank by: newest first
    }
    if (cursor && v.ok()) {
        // Search keys are integers (score, price or microseconds); decode_cursor has checked the id.
        if (const auto decoded = decode_cursor(*cursor, r.sort)) {
            const auto& k = decoded->first;
            std::int64_t key = 0;
            const auto [end, ec] = std::from_chars(k.data(), k.data() + k.size(), key);
            const auto id = uuid_bytes(decoded->second);
            if (ec == std::errc{} && end == k.data() + k.size() && id) {
                r.after = SearchCursor{key, *id};
            }
        }
        if (!r.after) {
            v.fail("cursor", "is not a cursor returned by this search (with the same sort)");
        }
    }
    if (!v.ok()) {
        return std::unexpected(v.error());
    }
    return r;
}

}  // namespace om::product
