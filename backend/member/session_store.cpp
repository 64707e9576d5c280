#include "member/session_store.hpp"

#include "common/ids.hpp"
#include "core/error.hpp"
#include "net/redis.hpp"

namespace om::member {

namespace {
std::vector<std::string> split3(const std::string& v) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto bar = v.find('|', start);
        out.push_back(v.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
        if (bar == std::string::npos) {
            break;
        }
        start = bar + 1;
    }
    return out;
}

void check(const redis::Reply& r) {
    if (r.is_error()) {
        throw Unavailable("redis error: " + r.str);
    }
}
}  // namespace

Task<Tokens> SessionStore::create(const std::string& member_id, const std::string& role) {
    Tokens t;
    t.access = new_secret(32);
    t.refresh = new_secret(32);
    t.expires_in = access_ttl_.count();
    const auto a = sha256_hex(t.access);
    const auto r = sha256_hex(t.refresh);
    // One Lua script keeps the three keys consistent (atomic on the Redis side).
    auto reply = co_await redis_.command(redis::args("EVAL",
                                          "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3]);"
                                          "redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[4]);"
                                          "redis.call('SADD', KEYS[3], ARGV[5]);"
                                          "redis.call('EXPIRE', KEYS[3], ARGV[4]);"
                                          "return 1",
                                          "3", "om:sess:" + a, "om:refresh:" + r, "om:msess:" + member_id,
                                          member_id + "|" + role + "|" + r, member_id + "|" + role + "|" + a,
                                          std::to_string(access_ttl_.count()), std::to_string(refresh_ttl_.count()),
                                          a + "|" + r));
    check(reply);
    co_return t;
}

Task<std::optional<Principal>> SessionStore::lookup(const std::string& access_token) {
    if (auto hit = cache_.get(access_token)) {  // never anything when the cache is off
        co_return hit;
    }
    const auto generation = SessionCache::generation();
    const auto a = sha256_hex(access_token);
    // With the cache, the session's time left comes along, so that no entry outlives the session.
    auto command = cache_.enabled()
                       ? redis::args("EVAL", "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}", "1",
                                     "om:sess:" + a)
                       : redis::args("GET", "om:sess:" + a);
    auto reply = co_await redis_.command(std::move(command));
    check(reply);
    const redis::Reply* value = &reply;
    long long left_ms = 0;
    if (reply.type == redis::Reply::Type::array) {
        if (reply.elements.size() != 2) {
            co_return std::nullopt;
        }
        value = &reply.elements[0];
        left_ms = reply.elements[1].integer;
    }
    if (value->type != redis::Reply::Type::string) {
        co_return std::nullopt;
    }
    auto parts = split3(value->str);
    if (parts.size() != 3) {
        co_return std::nullopt;
    }
    Principal who{parts[0], parts[1], a};
    cache_.put(access_token, who, generation, std::chrono::milliseconds(left_ms));
    co_return who;
}

Task<std::optional<std::pair<Principal, Tokens>>> SessionStore::refresh(const std::string& refresh_token) {
    const auto r = sha256_hex(refresh_token);
    // GETDEL makes rotation single-use even when two refreshes race.
    auto reply = co_await redis_.command(redis::args("GETDEL", "om:refresh:" + r));
    check(reply);
    if (reply.type != redis::Reply::Type::string) {
        co_return std::nullopt;
    }
    auto parts = split3(reply.str);
    if (parts.size() != 3) {
        co_return std::nullopt;
    }
    auto del = co_await redis_.command(redis::args("DEL", "om:sess:" + parts[2]));
    SessionCache::revoked();  // whether or not the rest succeeds
    check(del);
    auto srem = co_await redis_.command(redis::args("SREM", "om:msess:" + parts[0], parts[2] + "|" + r));
    check(srem);
    Tokens t = co_await create(parts[0], parts[1]);
    Principal p{parts[0], parts[1], sha256_hex(t.access)};
    co_return std::make_pair(std::move(p), std::move(t));
}

Task<void> SessionStore::revoke(const Principal& p) {
    auto reply = co_await redis_.command(redis::args("EVAL",
                                          "local v = redis.call('GET', KEYS[1]);"
                                          "redis.call('DEL', KEYS[1]);"
                                          "if v then local r = string.match(v, '([^|]+)$');"
                                          "  redis.call('DEL', 'om:refresh:' .. r);"
                                          "  redis.call('SREM', KEYS[2], ARGV[1] .. '|' .. r) end;"
                                          "return 1",
                                          "2", "om:sess:" + p.token_id, "om:msess:" + p.member_id, p.token_id));
    SessionCache::revoked();
    check(reply);
}

Task<void> SessionStore::revoke_all(const std::string& member_id, const std::string& keep_token_id) {
    auto reply = co_await redis_.command(redis::args("EVAL",
                                          "local all = redis.call('SMEMBERS', KEYS[1]);"
                                          "for _, pair in ipairs(all) do"
                                          "  local a, r = string.match(pair, '([^|]+)|([^|]+)');"
                                          "  if a ~= ARGV[1] then"
                                          "    redis.call('DEL', 'om:sess:' .. a, 'om:refresh:' .. r);"
                                          "    redis.call('SREM', KEYS[1], pair) end end;"
                                          "return 1",
                                          "1", "om:msess:" + member_id, keep_token_id));
    SessionCache::revoked();
    check(reply);
}

}  // namespace om::member
