#include "product/stock_gate.hpp"

#include "core/error.hpp"
#include "net/redis.hpp"

namespace om::product {

namespace {

constexpr const char* adjust_script =
    "local v = redis.call('GET', KEYS[1]) "
    "if not v then v = ARGV[2] end "
    "v = tonumber(v) "
    "local d = tonumber(ARGV[1]) "
    "if v + d < 0 then return {0, v} end "
    "redis.call('SET', KEYS[1], v + d) "
    "return {1, v + d}";

constexpr const char* lower_script =
    "local v = redis.call('GET', KEYS[1]) "
    "if not v then v = ARGV[2] redis.call('SET', KEYS[1], v) end "
    "v = tonumber(v) "
    "local q = tonumber(ARGV[1]) "
    "if q < v then redis.call('SET', KEYS[1], q) return {1, q, q - v} end "
    "return {0, v, q - v}";

GateResult parse(const redis::Reply& r) {
    if (r.is_error() || r.type != redis::Reply::Type::array || r.elements.size() < 2) {
        throw Unavailable("stock gate: unexpected Redis reply " + r.str);
    }
    GateResult g;
    g.applied = r.elements[0].integer == 1;
    g.value = r.elements[1].integer;
    if (r.elements.size() > 2) {
        g.delta = r.elements[2].integer;
    }
    return g;
}

}  // namespace

std::string gate_key(const std::string& product_id) { return "om:gate:" + product_id; }

Task<GateResult> StockGate::adjust(const std::string& product_id, std::int64_t delta, std::int64_t init) {
    auto r = co_await redis_.command(
        redis::args("EVAL", adjust_script, "1", gate_key(product_id), std::to_string(delta), std::to_string(init)));
    auto g = parse(r);
    g.delta = g.applied ? delta : 0;
    co_return g;
}

Task<GateResult> StockGate::lower_to(const std::string& product_id, std::int64_t quantity, std::int64_t init) {
    auto r = co_await redis_.command(
        redis::args("EVAL", lower_script, "1", gate_key(product_id), std::to_string(quantity), std::to_string(init)));
    co_return parse(r);
}

Task<void> StockGate::set(const std::string& product_id, std::int64_t value) {
    auto r = co_await redis_.command(redis::args("SET", gate_key(product_id), std::to_string(value)));
    if (r.is_error()) {
        throw Unavailable("stock gate: " + r.str);
    }
}

}  // namespace om::product
