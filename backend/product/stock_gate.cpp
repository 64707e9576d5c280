#include "product/stock_gate.hpp"

#include "core/error.hpp"
#include "net/redis.hpp"

namespace om::product {

namespace {

constexpr const char* kReservations = "om:resv";

std::string reservation_key(const std::string& order_id) { return "om:resv:" + order_id; }
std::string give_back_marker(const std::string& order_id) { return "om:gaterel:" + order_id; }

// Seller scripts: KEYS[1] gate, KEYS[2] ready; ARGV[1] delta/quantity, ARGV[2] init, ARGV[3] epoch.
// {-1} when the gate is not in the caller's epoch.
constexpr const char* adjust_script =
    "if redis.call('GET', KEYS[2]) ~= ARGV[3] then return {-1, 0} end "
    "local v = redis.call('GET', KEYS[1]) "
    "if not v then v = ARGV[2] end "
    "v = tonumber(v) "
    "local d = tonumber(ARGV[1]) "
    "if v + d < 0 then return {0, v} end "
    "redis.call('SET', KEYS[1], v + d) "
    "return {1, v + d}";

constexpr const char* lower_script =
    "if redis.call('GET', KEYS[2]) ~= ARGV[3] then return {-1, 0, 0} end "
    "local v = redis.call('GET', KEYS[1]) "
    "if not v then v = ARGV[2] redis.call('SET', KEYS[1], v) end "
    "v = tonumber(v) "
    "local q = tonumber(ARGV[1]) "
    "if q < v then redis.call('SET', KEYS[1], q) return {1, q, q - v} end "
    "return {0, v, q - v}";

constexpr const char* seed_script =
    "if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end "
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 1 end "
    "return 0";

// KEYS[1] ready, KEYS[2] om:resv, KEYS[3] om:resv:<order>, KEYS[4] the claim, KEYS[5..] gates;
// ARGV[1] order id, ARGV[2] now ms, ARGV[3] the record ("pid:qty,pid:qty"), ARGV[4] the claim's value, ARGV[5] its
// lifetime in seconds, ARGV[6..] quantities.
// → {1, epoch} | {0, i, available, ...} short | {-1} not ready | {-2, i, ...} missing keys | {-3, value} the claim
// is held with another value. The claim is taken only with the reservation (a request that reserved nothing
// holds nothing), and a claim already holding this value is ours (a retry of the same request).
constexpr const char* reserve_script =
    "local held = redis.call('GET', KEYS[4]) "
    "if held and held ~= ARGV[4] then return {-3, held} end "
    "local epoch = redis.call('GET', KEYS[1]) "
    "if not epoch then return {-1} end "
    "local n = #KEYS - 4 "
    "local missing = {-2} "
    "local short = {0} "
    "local have = {} "
    "for i = 1, n do "
    "  local v = redis.call('GET', KEYS[i + 4]) "
    "  if not v then missing[#missing + 1] = i - 1 v = 0 else v = tonumber(v) end "
    "  have[i] = v "
    "  if v < tonumber(ARGV[i + 5]) then short[#short + 1] = i - 1 short[#short + 1] = v end "
    "end "
    "if #missing > 1 then return missing end "
    "if #short > 1 then return short end "
    "for i = 1, n do redis.call('SET', KEYS[i + 4], have[i] - tonumber(ARGV[i + 5])) end "
    "redis.call('SET', KEYS[3], epoch .. '|' .. ARGV[3]) "
    "redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) "
    "redis.call('SET', KEYS[4], ARGV[4], 'EX', ARGV[5]) "
    "return {1, epoch}";

// KEYS[1] om:resv, KEYS[2..] om:resv:<order>; ARGV the orders (as many as records).
constexpr const char* forget_script =
    "redis.call('ZREM', KEYS[1], unpack(ARGV)) redis.call('DEL', unpack(KEYS, 2)) return 1";

// KEYS[1] ready, KEYS[2] om:resv, KEYS[3] om:resv:<order>; ARGV[1] order id. The gate keys are named from the
// record (the sweeper knows only the order): one Redis instance, no cluster slots to respect.
constexpr const char* release_script =
    "redis.call('ZREM', KEYS[2], ARGV[1]) "
    "local rec = redis.call('GET', KEYS[3]) "
    "if not rec then return 0 end "
    "redis.call('DEL', KEYS[3]) "
    "local sep = string.find(rec, '|', 1, true) "
    "if redis.call('GET', KEYS[1]) ~= string.sub(rec, 1, sep - 1) then return 0 end "
    "for pid, q in string.gmatch(string.sub(rec, sep + 1), '([^:,]+):(%d+)') do "
    "  local k = 'om:gate:' .. pid "
    "  if redis.call('EXISTS', k) == 1 then redis.call('INCRBY', k, q) end "
    "end "
    "return 1";

// KEYS[1] ready, KEYS[2] marker, KEYS[3..] gates; ARGV[1] epoch, ARGV[2..] quantities.
constexpr const char* give_back_script =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
    "if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', 604800) then return 0 end "
    "for i = 3, #KEYS do "
    "  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[i - 1]) end "
    "end "
    "return 1";

const redis::Reply& checked(const redis::Reply& r) {
    if (r.is_error()) {
        throw Unavailable("stock gate: " + r.str);
    }
    return r;
}

GateResult parse(const redis::Reply& r) {
    if (r.is_error() || r.type != redis::Reply::Type::array || r.elements.size() < 2) {
        throw Unavailable("stock gate: unexpected Redis reply " + r.str);
    }
    GateResult g;
    g.off = r.elements[0].integer == -1;
    g.applied = r.elements[0].integer == 1;
    g.value = r.elements[1].integer;
    if (r.elements.size() > 2) {
        g.delta = r.elements[2].integer;
    }
    return g;
}

}  // namespace

std::string gate_key(const std::string& product_id) { return "om:gate:" + product_id; }

Task<GateResult> StockGate::adjust(std::string product_id, std::int64_t delta, std::int64_t init, std::string epoch) {
    auto r = co_await redis_.command(redis::args("EVAL", adjust_script, "2", gate_key(product_id), kGateReadyKey,
                                                 std::to_string(delta), std::to_string(init), epoch));
    auto g = parse(r);
    g.delta = g.applied ? delta : 0;
    co_return g;
}

Task<GateResult> StockGate::lower_to(std::string product_id, std::int64_t quantity, std::int64_t init,
                                     std::string epoch) {
    auto r = co_await redis_.command(redis::args("EVAL", lower_script, "2", gate_key(product_id), kGateReadyKey,
                                                 std::to_string(quantity), std::to_string(init), epoch));
    co_return parse(r);
}

Task<bool> StockGate::seed(std::string product_id, std::int64_t value, std::string epoch) {
    auto r = co_await redis_.command(
        redis::args("EVAL", seed_script, "2", gate_key(product_id), kGateReadyKey, std::to_string(value), epoch));
    co_return checked(r).integer == 1;
}

Task<Reserved> StockGate::reserve(std::string order_id, std::vector<GateLine> lines, std::int64_t now_ms,
                                  const Claim& claim) {
    std::vector<std::string> cmd{"EVAL", reserve_script, std::to_string(lines.size() + 4), kGateReadyKey,
                                 kReservations, reservation_key(order_id), claim.key};
    std::string record;
    for (const auto& l : lines) {
        cmd.push_back(gate_key(l.product_id));
        if (!record.empty()) {
            record += ',';
        }
        record += l.product_id + ':' + std::to_string(l.quantity);
    }
    cmd.push_back(order_id);
    cmd.push_back(std::to_string(now_ms));
    cmd.push_back(std::move(record));
    cmd.push_back(claim.value);
    cmd.push_back(std::to_string(claim.ttl_seconds));
    for (const auto& l : lines) {
        cmd.push_back(std::to_string(l.quantity));
    }
    auto r = co_await redis_.command(std::move(cmd));
    checked(r);
    if (r.type != redis::Reply::Type::array || r.elements.empty()) {
        throw Unavailable("stock gate: unexpected reply to reserve");
    }
    Reserved out;
    switch (r.elements[0].integer) {
        case 1:
            out.status = Reserved::Status::reserved;
            out.epoch = r.elements.size() > 1 ? r.elements[1].str : std::string();
            break;
        case 0:
            out.status = Reserved::Status::short_of_stock;
            for (std::size_t i = 1; i + 1 < r.elements.size(); i += 2) {
                out.lines.emplace_back(static_cast<std::size_t>(r.elements[i].integer), r.elements[i + 1].integer);
            }
            break;
        case -1:
            out.status = Reserved::Status::not_ready;
            break;
        case -3:
            out.status = Reserved::Status::claimed;
            out.holder = r.elements.size() > 1 ? r.elements[1].str : std::string();
            break;
        default:
            out.status = Reserved::Status::missing;
            for (std::size_t i = 1; i < r.elements.size(); ++i) {
                out.lines.emplace_back(static_cast<std::size_t>(r.elements[i].integer), 0);
            }
    }
    co_return out;
}

Task<void> StockGate::forget(std::vector<std::string> order_ids) {
    if (order_ids.empty()) {
        co_return;
    }
    std::vector<std::string> cmd{"EVAL", forget_script, std::to_string(order_ids.size() + 1), kReservations};
    cmd.reserve(order_ids.size() * 2 + 4);
    for (const auto& id : order_ids) {
        cmd.push_back(reservation_key(id));
    }
    for (auto& id : order_ids) {
        cmd.push_back(std::move(id));
    }
    auto r = co_await redis_.command(std::move(cmd));
    checked(r);
}

Task<bool> StockGate::release(std::string order_id) {
    auto r = co_await redis_.command(redis::args("EVAL", release_script, "3", kGateReadyKey, kReservations,
                                                 reservation_key(order_id), order_id));
    co_return checked(r).integer == 1;
}

Task<bool> StockGate::give_back(std::string order_id, std::vector<GateLine> lines, std::string epoch) {
    std::vector<std::string> cmd{"EVAL", give_back_script, std::to_string(lines.size() + 2), kGateReadyKey,
                                 give_back_marker(order_id)};
    for (const auto& l : lines) {
        cmd.push_back(gate_key(l.product_id));
    }
    cmd.push_back(std::move(epoch));
    for (const auto& l : lines) {
        cmd.push_back(std::to_string(l.quantity));
    }
    auto r = co_await redis_.command(std::move(cmd));
    co_return checked(r).integer == 1;
}

Task<std::vector<std::string>> StockGate::stale_reservations(std::int64_t before_ms, int limit) {
    auto r = co_await redis_.command(redis::args("ZRANGEBYSCORE", kReservations, "-inf", "(" + std::to_string(before_ms),
                                                 "LIMIT", "0", std::to_string(limit)));
    checked(r);
    std::vector<std::string> ids;
    for (const auto& e : r.elements) {
        ids.push_back(e.str);
    }
    co_return ids;
}

Task<std::string> StockGate::epoch() {
    auto r = co_await redis_.command(redis::args("GET", kGateReadyKey));
    checked(r);
    co_return r.type == redis::Reply::Type::string ? r.str : std::string();
}

}  // namespace om::product
