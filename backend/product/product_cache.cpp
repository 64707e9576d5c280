#include "product/product_cache.hpp"

#include <charconv>

#include "core/log.hpp"
#include "net/redis.hpp"

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

Task<std::optional<CachedProduct>> ProductCache::get(const std::string& id) {
    redis::Reply r;
    try {
        r = co_await redis_.command(redis::args("GET", key(id)));
    } catch (const std::exception&) {
        co_return std::nullopt;  // degrade to PostgreSQL
    }
    if (r.type != redis::Reply::Type::string) {
        co_return std::nullopt;
    }
    std::string& v = r.str;
    const auto a = v.find('|');
    const auto b = a == std::string::npos ? a : v.find('|', a + 1);
    const auto c = b == std::string::npos ? b : v.find('|', b + 1);
    if (c == std::string::npos) {
        co_return std::nullopt;
    }
    CachedProduct p;
    std::from_chars(v.data(), v.data() + a, p.version);
    p.status = v.substr(a + 1, b - a - 1);
    p.seller_id = v.substr(b + 1, c - b - 1);
    v.erase(0, c + 1);  // the JSON takes over the reply's buffer: no copy of the body
    p.json = std::move(v);
    co_return p;
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
