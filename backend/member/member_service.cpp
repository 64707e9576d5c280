#include "member/member_service.hpp"

#include <algorithm>

#include "common/ids.hpp"
#include "member/password.hpp"
#include "net/offload.hpp"
#include "net/pg.hpp"
#include "net/redis.hpp"

namespace om::member {

std::optional<std::string> normalize_email(std::string_view raw) {
    auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!raw.empty() && ws(raw.front())) {
        raw.remove_prefix(1);
    }
    while (!raw.empty() && ws(raw.back())) {
        raw.remove_suffix(1);
    }
    if (raw.empty() || raw.size() > 254) {
        return std::nullopt;
    }
    std::string e(raw);
    std::transform(e.begin(), e.end(), e.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    const auto at = e.find('@');
    if (at == std::string::npos || at == 0 || at > 64 || e.find('@', at + 1) != std::string::npos) {
        return std::nullopt;  // RFC 5321: the local part is at most 64 octets
    }
    const std::string_view domain = std::string_view(e).substr(at + 1);
    if (domain.size() < 3 || domain.find('.') == std::string_view::npos || domain.front() == '.' ||
        domain.back() == '.' || domain.find("..") != std::string_view::npos) {
        return std::nullopt;
    }
    for (char c : e) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' ||
            c == '"') {
            return std::nullopt;
        }
    }
    return e;
}

MemberService::MemberService(pg::Pool& db, redis::Client& redis, net::Offload& offload, SessionStore sessions,
                             LoginLimits limits)
    : repo_(db), redis_(redis), offload_(offload), sessions_(std::move(sessions)), limits_(limits) {}

Task<Result<MemberRow>> MemberService::register_member(RegisterCommand cmd) {
    MemberRow m;
    m.id = new_uuid_v7();
    m.email = std::move(cmd.email);
    m.name = std::move(cmd.name);
    m.role = std::move(cmd.role);
    m.phone = std::move(cmd.phone);
    std::string hash;
    co_await offload_.run([&] { hash = hash_password(cmd.password); });
    m.password_hash = std::move(hash);
    try {
        co_return co_await repo_.insert(m);
    } catch (const pg::SqlError& e) {
        if (!e.unique_violation()) {
            throw;
        }
    }
    co_return std::unexpected(Error{ErrorCode::email_taken, "An account with this email already exists",
                                    {{"email", "is already registered"}}});
}

Task<std::optional<Error>> MemberService::check_login_limit(const std::string& email, const std::string& address) {
    const std::string ek = "om:rl:login:email:" + email;
    const std::string ak = "om:rl:login:addr:" + address;
    // One round trip: both counters and their remaining windows.
    auto r = co_await redis_.command(redis::args("EVAL",
                                      "return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('TTL', KEYS[1]),"
                                      " tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('TTL', KEYS[2])}",
                                      "2", ek, ak));
    if (r.is_error() || r.elements.size() != 4) {
        throw Unavailable("redis: unexpected reply to the login limit check: " + r.str);
    }
    auto limited = [](long long count, long long max, long long ttl) -> std::optional<long long> {
        if (count >= max) {
            return std::max(1LL, ttl);
        }
        return std::nullopt;
    };
    auto retry = limited(r.elements[0].integer, limits_.per_email, r.elements[1].integer);
    if (!retry) {
        retry = limited(r.elements[2].integer, limits_.per_address, r.elements[3].integer);
    }
    if (!retry) {
        co_return std::nullopt;
    }
    Error e{ErrorCode::too_many_requests, "Too many failed login attempts; try again in " + std::to_string(*retry) + " s"};
    e.with_header("Retry-After", std::to_string(*retry));
    co_return e;
}

Task<void> MemberService::record_login_failure(const std::string& email, const std::string& address) {
    // Fixed windows that start at the first failure (EXPIRE ... NX).
    auto r = co_await redis_.command(redis::args("EVAL",
                                      "redis.call('INCR', KEYS[1]); redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX');"
                                      "redis.call('INCR', KEYS[2]); redis.call('EXPIRE', KEYS[2], ARGV[2], 'NX');"
                                      "return 1",
                                      "2", "om:rl:login:email:" + email, "om:rl:login:addr:" + address,
                                      std::to_string(limits_.email_window_s), std::to_string(limits_.address_window_s)));
    if (r.is_error()) {
        throw Unavailable("redis: " + r.str);
    }
}

Task<Result<LoginResult>> MemberService::login(std::string email, std::string password, std::string client_address) {
    if (auto limited = co_await check_login_limit(email, client_address)) {
        co_return std::unexpected(std::move(*limited));
    }
    auto found = co_await repo_.find_by_email(email);
    bool ok = false;
    // An unknown email costs the same hashing time as a wrong password (no account enumeration by timing).
    const std::string stored = found ? found->password_hash : dummy_hash();
    co_await offload_.run([&] { ok = verify_password(stored, password); });
    if (!found || !ok) {
        co_await record_login_failure(email, client_address);
        co_return std::unexpected(Error{ErrorCode::invalid_credentials, "Invalid email or password"});
    }
    auto tokens = co_await sessions_.create(found->id, found->role);
    co_return LoginResult{std::move(tokens), std::move(*found)};
}

Task<Result<LoginResult>> MemberService::refresh(std::string refresh_token) {
    auto rotated = co_await sessions_.refresh(refresh_token);
    if (!rotated) {
        Error e{ErrorCode::unauthorized, "The refresh token is invalid, expired or already used"};
        co_return std::unexpected(std::move(e));
    }
    auto m = co_await repo_.find_by_id(rotated->first.member_id);
    if (!m) {
        co_return std::unexpected(Error{ErrorCode::unauthorized, "The account no longer exists"});
    }
    co_return LoginResult{std::move(rotated->second), std::move(*m)};
}

Task<void> MemberService::logout(const Principal& who) { co_await sessions_.revoke(who); }

Task<Result<MemberRow>> MemberService::get(const Principal& who, std::string member_id) {
    if (who.member_id != member_id) {
        co_return std::unexpected(Error{ErrorCode::forbidden, "You may only read your own account"});
    }
    auto m = co_await repo_.find_by_id(member_id);
    if (!m) {
        co_return std::unexpected(Error{ErrorCode::not_found, "No such member"});
    }
    co_return std::move(*m);
}

Task<Result<MemberRow>> MemberService::update(const Principal& who, std::string member_id, UpdateCommand cmd) {
    if (who.member_id != member_id) {
        co_return std::unexpected(Error{ErrorCode::forbidden, "You may only change your own account"});
    }
    std::optional<std::string> new_hash;
    if (cmd.password) {
        auto current = co_await repo_.find_by_id(member_id);
        if (!current) {
            co_return std::unexpected(Error{ErrorCode::not_found, "No such member"});
        }
        bool ok = false;
        co_await offload_.run([&] { ok = verify_password(current->password_hash, cmd.current_password.value_or("")); });
        if (!ok) {
            co_return std::unexpected(Error{ErrorCode::validation_failed, "The current password is incorrect",
                                            {{"currentPassword", "is incorrect"}}});
        }
        std::string h;
        co_await offload_.run([&] { h = hash_password(*cmd.password); });
        new_hash = std::move(h);
    }
    auto updated = co_await repo_.update(member_id, cmd.name, cmd.phone, cmd.clear_phone, new_hash);
    if (!updated) {
        co_return std::unexpected(Error{ErrorCode::not_found, "No such member"});
    }
    if (new_hash) {
        // A password change ends every other session of the member; the current one stays.
        co_await sessions_.revoke_all(member_id, who.token_id);
    }
    co_return std::move(*updated);
}

Task<Result<Principal>> MemberService::authenticate(const Request& req) {
    auto header = req.headers.get("Authorization");
    if (!header) {
        Error e{ErrorCode::unauthorized, "This endpoint requires a bearer token"};
        e.with_header("WWW-Authenticate", "Bearer realm=\"openmarket\"");
        co_return std::unexpected(std::move(e));
    }
    std::string_view h = *header;
    constexpr std::string_view scheme = "Bearer ";
    const bool bearer = h.size() > scheme.size() &&
                        std::equal(scheme.begin(), scheme.end(), h.begin(), [](char a, char b) {
                            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                        });
    std::optional<Principal> who;
    if (bearer) {
        std::string token(h.substr(scheme.size()));
        while (!token.empty() && token.back() == ' ') {
            token.pop_back();
        }
        if (!token.empty() && token.size() <= 512) {
            who = co_await sessions_.lookup(token);
        }
    }
    if (!who) {
        Error e{ErrorCode::unauthorized, "The access token is invalid or expired"};
        e.with_header("WWW-Authenticate", "Bearer realm=\"openmarket\", error=\"invalid_token\"");
        co_return std::unexpected(std::move(e));
    }
    co_return std::move(*who);
}

}  // namespace om::member
