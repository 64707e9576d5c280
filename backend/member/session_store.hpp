#pragma once
// Opaque bearer tokens kept in Redis (see docs/architecture.md "Tokens" for why not JWTs): only SHA-256
// digests of tokens are stored, so a Redis dump reveals no usable token.
//   om:sess:<sha(access)>      → "<memberId>|<role>|<sha(refresh)>"   TTL = access TTL
//   om:refresh:<sha(refresh)>  → "<memberId>|<role>|<sha(access)>"    TTL = refresh TTL
//   om:msess:<memberId>        → set of "<sha(access)>|<sha(refresh)>" (to end all of a member's sessions)
#include <chrono>
#include <optional>
#include <string>

#include "core/http.hpp"
#include "core/task.hpp"
#include "member/session_cache.hpp"

namespace om::redis {
class Client;
}

namespace om::member {

struct Tokens {
    std::string access;
    std::string refresh;
    long long expires_in = 0;  // seconds
};

class SessionStore {
public:
    // `cache_ttl` > 0: lookups are cached that long (SessionCache); 0: every lookup asks Redis.
    SessionStore(redis::Client& redis, std::chrono::seconds access_ttl, std::chrono::seconds refresh_ttl,
                 std::chrono::milliseconds cache_ttl = std::chrono::milliseconds(0))
        : redis_(redis), access_ttl_(access_ttl), refresh_ttl_(refresh_ttl), cache_(cache_ttl) {}

    Task<Tokens> create(const std::string& member_id, const std::string& role);
    // The principal of a live access token, or nullopt.
    Task<std::optional<Principal>> lookup(const std::string& access_token);
    // Rotates a refresh token: the old pair stops working, a new pair is returned. nullopt if unknown/expired.
    Task<std::optional<std::pair<Principal, Tokens>>> refresh(const std::string& refresh_token);
    // Ends the session of this access token (its refresh token too).
    Task<void> revoke(const Principal& p);
    // Ends every session of the member except the one whose access-token digest is `keep_token_id`.
    Task<void> revoke_all(const std::string& member_id, const std::string& keep_token_id);

private:
    redis::Client& redis_;
    std::chrono::seconds access_ttl_;
    std::chrono::seconds refresh_ttl_;
    SessionCache cache_;
};

}  // namespace om::member
