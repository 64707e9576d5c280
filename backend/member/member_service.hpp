#pragma once
// Member use cases: registration, login (rate-limited), token refresh, logout, profile read/update, and the
// bearer-token authenticator that every service's routes use.
#include <optional>
#include <string>

#include "core/error.hpp"
#include "core/http.hpp"
#include "core/task.hpp"
#include "member/member_repository.hpp"
#include "member/session_store.hpp"

namespace om::net {
class Offload;
}
namespace om::redis {
class Client;
}

namespace om::member {

struct RegisterCommand {
    std::string email;  // normalised: trimmed, lower-case
    std::string password;
    std::string name;
    std::string role;
    std::optional<std::string> phone;
};

struct UpdateCommand {
    std::optional<std::string> name;
    std::optional<std::string> phone;
    bool clear_phone = false;
    std::optional<std::string> password;
    std::optional<std::string> current_password;
};

struct LoginResult {
    Tokens tokens;
    MemberRow member;
};

struct LoginLimits {
    long long per_email = 10;           // failed attempts per email ...
    long long email_window_s = 15 * 60; // ... per 15 minutes
    long long per_address = 100;        // failed attempts per client address ...
    long long address_window_s = 60;    // ... per minute
};

class MemberService {
public:
    MemberService(pg::Pool& db, redis::Client& redis, net::Offload& offload, SessionStore sessions,
                  LoginLimits limits = {});

    Task<Result<MemberRow>> register_member(RegisterCommand cmd);
    Task<Result<LoginResult>> login(std::string email, std::string password, std::string client_address);
    Task<Result<LoginResult>> refresh(std::string refresh_token);
    Task<void> logout(const Principal& who);
    Task<Result<MemberRow>> get(const Principal& who, std::string member_id);
    Task<Result<MemberRow>> update(const Principal& who, std::string member_id, UpdateCommand cmd);

    // Auth middleware: Authorization: Bearer <token> → Principal, or 401 with WWW-Authenticate.
    Task<Result<Principal>> authenticate(const Request& req);

private:
    Task<std::optional<Error>> check_login_limit(const std::string& email, const std::string& address);
    Task<void> record_login_failure(const std::string& email, const std::string& address);

    MemberRepository repo_;
    redis::Client& redis_;
    net::Offload& offload_;
    SessionStore sessions_;
    LoginLimits limits_;
};

// Email normalisation and validation: trimmed, lower-cased, one '@', a dot in the domain, no spaces.
std::optional<std::string> normalize_email(std::string_view raw);

}  // namespace om::member
