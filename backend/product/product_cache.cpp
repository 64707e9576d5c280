#include "product/product_cache.hpp"

#include <charconv>

#include "core/log.hpp"
#include "net/redis.hpp"
#include "product/stock_gate.hpp"

namespace om::product {

namespace {
constexpr const char* put_script =
    "local cur = redis.call('GET', KEYS[1]) "
    "if cur then local v = tonumber(string.match(cur, '^(%d+)|')) "
    "  if v and v >= tonumber(ARGV[1]) then return 0 end end "
    "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) "
    "return 1";
constexpr int ttl_seconds = 3600;

std::string key(const std::string& id) { return "om:pc:" + id; }
}  // namespace

std::string with_stock(std::string json, std::int64_t stock) {
    // product_json() writes a flat object, and a quote inside a JSON string is escaped, so `"stock":` can only be
    // the key itself.
    static constexpr std::string_view tag = "\"stock\":";
    const auto at = json.find(tag);
    if (at == std::string::npos) {
        return json;
    }
    const auto from = at + tag.size();
    auto to = from;
    while (to < json.size() && (json[to] == '-' || (json[to] >= '0' && json[to] <= '9'))) {
        ++to;
    }
    json.replace(from, to - from, std::to_string(stock));
    return json;
}

Task<CacheRead> ProductCache::get(const std::string& id) {
    CacheRead out;
    redis::Reply r;
    try {
        r = co_await redis_.command(redis::args("MGET", key(id), gate_key(id)));
    } catch (const std::exception&) {
        co_return out;  // degrade to PostgreSQL
    }
    if (r.type != redis::Reply::Type::array || r.elements.size() != 2) {
        co_return out;
    }
    if (r.elements[1].type == redis::Reply::Type::string) {
        std::int64_t units = 0;
        const auto& g = r.elements[1].str;
        if (auto [p, ec] = std::from_chars(g.data(), g.data() + g.size(), units); ec == std::errc{} && p == g.data() + g.size()) {
            out.gate = units;
        }
    }
    if (r.elements[0].type != redis::Reply::Type::string) {
        co_return out;
    }
    std::string& v = r.elements[0].str;
    const auto a = v.find('|');
    const auto b = a == std::string::npos ? a : v.find('|', a + 1);
    const auto c = b == std::string::npos ? b : v.find('|', b + 1);
    if (c == std::string::npos) {
        co_return out;
    }
    CachedProduct p;
    std::from_chars(v.data(), v.data() + a, p.version);
    p.status = v.substr(a + 1, b - a - 1);
    p.seller_id = v.substr(b + 1, c - b - 1);
    v.erase(0, c + 1);  // the JSON takes over the reply's buffer: no copy of the body
    p.json = std::move(v);
    out.product = std::move(p);
    co_return out;
}

Task<void> ProductCache::put(const std::string& id, const CachedProduct& p) {
    const std::string value = std::to_string(p.version) + "|" + p.status + "|" + p.seller_id + "|" + p.json;
    try {
        auto r = co_await redis_.command(redis::args("EVAL", put_script, "1", key(id), std::to_string(p.version), value,
                                                     std::to_string(ttl_seconds)));
        if (!r.is_error()) {
            co_return;
        }
        log::warn("product cache store failed", {{"product_id", id}, {"error", r.str}});
    } catch (const std::exception& e) {
        log::warn("product cache store failed", {{"product_id", id}, {"error", e.what()}});
    }
    // Could not store the new version: make sure no older one stays behind.
    try {
        co_await redis_.command(redis::args("DEL", key(id)));
    } catch (const std::exception&) {
        // Redis unreachable: readers fall back to PostgreSQL while it is down, and it keeps nothing on restart.
    }
}

}  // namespace om::product
