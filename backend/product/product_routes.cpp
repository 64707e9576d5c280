#include "product/product_routes.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "core/app.hpp"
#include "core/json.hpp"
#include "product/product_service.hpp"

namespace om::product {

namespace {

using nlohmann::json;

constexpr std::int64_t max_price = 1'000'000'000'000;
constexpr std::int64_t max_stock = 1'000'000'000;

// "<version>-<stock>": the representation changes with either (orders change the stock, not the version).
std::string etag(std::int64_t version, std::int64_t stock) {
    return "\"" + std::to_string(version) + "-" + std::to_string(stock) + "\"";
}

Response product_response(int status, const ProductRow& p) {
    auto r = json_response(status, product_json(p));
    r.headers.set("ETag", etag(p.version, p.stock));
    return r;
}

void validate_currency(Validator& v, const std::optional<std::string>& c) {
    if (c && (c->size() != 3 || !std::all_of(c->begin(), c->end(), [](char x) { return x >= 'A' && x <= 'Z'; }))) {
        v.fail("currency", "must be a 3-letter upper-case ISO 4217 code, e.g. KRW");
    }
}

Result<NewProduct> parse_new(const json& obj) {
    Validator v(obj);
    NewProduct p;
    auto name = v.string("name", {.max = 200});
    auto description = v.string("description", {.required = false, .min = 0, .max = 20'000, .trim = false});
    auto price = v.integer("price", {.min = 0, .max = max_price});
    auto currency = v.string("currency", {.required = false, .max = 3});
    auto category = v.string("category", {.max = 100});
    auto stock = v.integer("stock", {.min = 0, .max = max_stock});
    auto status = v.one_of("status", {"ACTIVE", "INACTIVE"}, false);
    validate_currency(v, currency);
    if (!v.ok()) {
        return std::unexpected(v.error());
    }
    p.name = std::move(*name);
    p.description = description.value_or("");
    p.price = *price;
    p.currency = currency.value_or("KRW");
    p.category = std::move(*category);
    p.stock = *stock;
    p.status = status.value_or("ACTIVE");
    return p;
}

Result<ProductPatch> parse_patch(const json& obj) {
    Validator v(obj);
    ProductPatch p;
    p.name = v.string("name", {.required = false, .max = 200});
    p.description = v.string("description", {.required = false, .min = 0, .max = 20'000, .trim = false});
    p.price = v.integer("price", {.required = false, .min = 0, .max = max_price});
    p.currency = v.string("currency", {.required = false, .max = 3});
    p.category = v.string("category", {.required = false, .max = 100});
    p.status = v.one_of("status", {"ACTIVE", "INACTIVE"}, false);
    validate_currency(v, p.currency);
    if (obj.contains("stock")) {
        v.fail("stock", "cannot be changed here; use PUT /products/{productId}/inventory");
    }
    if (v.ok() && !p.name && !p.description && !p.price && !p.currency && !p.category && !p.status) {
        v.fail("", "nothing to update: give at least one of name, description, price, currency, category, status");
    }
    if (!v.ok()) {
        return std::unexpected(v.error());
    }
    return p;
}

// If-Match: the version of an ETag ("\"3-120\"", W/"3-120") or a bare version ("3", "\"3\""), or *. nullopt when
// absent or *; an unparsable value never matches (-1). The stock part is not compared: a seller's edit is not
// refused because buyers bought meanwhile.
std::optional<std::int64_t> if_match(const Request& req) {
    auto h = req.headers.get("If-Match");
    if (!h) {
        return std::nullopt;
    }
    std::string_view s = *h;
    if (s == "*") {
        return std::nullopt;  // RFC 9110: "*" matches any current representation
    }
    if (s.starts_with("W/")) {
        s.remove_prefix(2);
    }
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
        s = s.substr(1, s.size() - 2);
    }
    if (const auto dash = s.find('-'); dash != std::string_view::npos && dash > 0) {
        const auto stock = s.substr(dash + 1);
        if (stock.empty() || !std::all_of(stock.begin(), stock.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return -1;
        }
        s = s.substr(0, dash);
    }
    std::int64_t v = -1;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) {
        return -1;
    }
    return v;
}

bool none_match(const Request& req, const std::string& tag) {
    auto h = req.headers.get("If-None-Match");
    if (!h) {
        return false;
    }
    std::string_view s = *h;
    while (!s.empty()) {
        const auto comma = s.find(',');
        std::string_view t = s.substr(0, comma);
        s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
        while (!t.empty() && t.front() == ' ') {
            t.remove_prefix(1);
        }
        while (!t.empty() && t.back() == ' ') {
            t.remove_suffix(1);
        }
        if (t.starts_with("W/")) {
            t.remove_prefix(2);
        }
        if (t == "*" || t == tag) {
            return true;
        }
    }
    return false;
}

std::string items_json(const std::vector<ProductRow>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) {
            out += ',';
        }
        out += product_json(items[i]);
    }
    out += ']';
    return out;
}

}  // namespace

void add_routes(Router& router, ProductService& svc) {
    router.post("/products", [&svc](Request& req) -> Task<Response> {
        if (req.member().role != "SELLER") {
            co_return problem(Error{ErrorCode::forbidden, "Only sellers can list products"}, req.path);
        }
        const auto key = req.idempotency_key();
        if (auto bad = check_idempotency_key(key)) {
            co_return problem(*bad, req.path);
        }
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        auto p = parse_new(*obj);
        if (!p) {
            co_return problem(p.error(), req.path);
        }
        // The request's meaning, independent of spacing and field order: what the idempotency key protects.
        const std::string hash = sha256_hex(json{{"name", p->name}, {"description", p->description}, {"price", p->price},
                                                 {"currency", p->currency}, {"category", p->category},
                                                 {"stock", p->stock}, {"status", p->status}}
                                                .dump());
        std::optional<std::string> k;
        if (key) {
            k = std::string(*key);
        }
        auto created = co_await svc.create(req.member(), std::move(*p), std::move(k), hash);
        if (!created) {
            co_return problem(created.error(), req.path);
        }
        auto res = product_response(201, *created);
        res.headers.set("Location", "/products/" + created->id);
        co_return res;
    }, Auth::required);

    router.get("/products", [&svc](Request& req) -> Task<Response> {
        const auto& who = req.member();
        if (who.role != "SELLER") {
            co_return problem(Error{ErrorCode::forbidden, "Only sellers have a product list"}, req.path);
        }
        Validator v(json::object());
        auto seller = req.query_param("sellerId");
        if (!seller) {
            v.fail("sellerId", "is required (use sellerId=me)");
        } else if (*seller != "me" && *seller != who.member_id) {
            co_return problem(Error{ErrorCode::forbidden, "You can list only your own products"}, req.path);
        }
        std::optional<std::string> status;
        if (auto s = req.query_param("status")) {
            if (*s != "ACTIVE" && *s != "INACTIVE") {
                v.fail("status", "must be ACTIVE or INACTIVE");
            } else {
                status = std::string(*s);
            }
        }
        const int limit = page_limit(req.query_param("limit"), v);
        std::optional<std::pair<std::string, std::string>> after;
        if (auto c = req.query_param("cursor")) {
            after = decode_cursor(std::string(*c), "seller");
            if (!after) {
                v.fail("cursor", "is not a cursor returned by this list");
            }
        }
        if (!v.ok()) {
            co_return problem(v.error(), req.path);
        }
        auto page = co_await svc.list_by_seller(who.member_id, status, limit, after);
        std::string body = "{\"items\":" + items_json(page.items) + ",\"nextCursor\":" +
                           (page.next_cursor ? json(*page.next_cursor).dump() : "null") + "}";
        co_return json_response(200, std::move(body));
    }, Auth::required);

    router.get("/products/{productId}", [&svc](Request& req) -> Task<Response> {
        auto p = co_await svc.get(req.principal, std::string(req.param("productId")));
        if (!p) {
            co_return problem(p.error(), req.path);
        }
        const std::string tag = etag(p->version, p->stock);
        const bool public_view = p->status == "ACTIVE";
        Response res;
        if (none_match(req, tag)) {
            res.status = 304;
            res.content_type.clear();
        } else {
            res = json_response(200, std::move(p->json));
        }
        res.headers.set("ETag", tag);
        res.headers.set("Cache-Control", public_view ? "public, no-cache" : "private, no-cache");
        co_return res;
    }, Auth::optional);

    router.put("/products/{productId}", [&svc](Request& req) -> Task<Response> {
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        auto patch = parse_patch(*obj);
        if (!patch) {
            co_return problem(patch.error(), req.path);
        }
        auto p = co_await svc.update(req.member(), std::string(req.param("productId")), if_match(req), std::move(*patch));
        if (!p) {
            co_return problem(p.error(), req.path);
        }
        co_return product_response(200, *p);
    }, Auth::required);

    router.put("/products/{productId}/inventory", [&svc](Request& req) -> Task<Response> {
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        Validator v(*obj);
        auto quantity = v.integer("quantity", {.required = false, .min = 0, .max = max_stock});
        auto delta = v.integer("delta", {.required = false, .min = -max_stock, .max = max_stock});
        if (v.ok()) {
            if (quantity && delta) {
                v.fail("", "give either quantity or delta, not both");
            } else if (!quantity && !delta) {
                v.fail("", "give quantity (the new stock) or delta (the change)");
            } else if (delta && *delta == 0) {
                v.fail("delta", "must not be zero");
            }
        }
        if (!v.ok()) {
            co_return problem(v.error(), req.path);
        }
        auto p = co_await svc.change_stock(req.member(), std::string(req.param("productId")), quantity, delta);
        if (!p) {
            co_return problem(p.error(), req.path);
        }
        auto res = json_response(200, json{{"productId", p->id}, {"stock", p->stock}, {"version", p->version}}.dump());
        res.headers.set("ETag", etag(p->version, p->stock));
        co_return res;
    }, Auth::required);

    router.post("/products/search", [&svc](Request& req) -> Task<Response> {
        auto r = parse_search(req.body);
        if (!r) {
            co_return problem(r.error(), req.path);
        }
        auto page = co_await svc.search(std::move(*r));
        if (!page) {
            co_return problem(page.error(), req.path);
        }
        json cats = json::array();
        for (const auto& [c, n] : page->categories) {
            cats.push_back({{"category", c}, {"count", n}});
        }
        std::string body = "{\"items\":" + items_json(page->items) + ",\"nextCursor\":" +
                           (page->next_cursor ? json(*page->next_cursor).dump() : "null") +
                           ",\"facets\":{\"categories\":" + cats.dump() + "}}";
        co_return json_response(200, std::move(body));
    });
}

}  // namespace om::product
