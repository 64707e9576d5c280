#pragma once
// Plain request/response types shared by the network layer and the handlers. No Beast here:
// backend/net converts to and from the wire.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace om {

enum class Method : std::uint8_t { get, head, post, put, patch, del, options, other };

std::string_view to_string(Method m) noexcept;

// Percent-decodes URL text (RFC 3986); with plus_is_space, '+' is a space (query strings,
// application/x-www-form-urlencoded). nullopt for an invalid escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);
Method method_from_string(std::string_view s) noexcept;

// `s` without the optional whitespace (spaces and tabs, RFC 9110 OWS) around a header value or list item.
std::string_view trim_ows(std::string_view s) noexcept;

// Case-insensitive header list (small, linear lookup is fastest for the handful of headers we read).
class Headers {
public:
    void set(std::string name, std::string value);
    void add(std::string name, std::string value);
    [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept;
    [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& items() const noexcept { return items_; }

private:
    std::vector<std::pair<std::string, std::string>> items_;
};

// Who made the request, once the auth middleware has checked the bearer token.
struct Principal {
    std::string member_id;
    std::string role;  // "BUYER" or "SELLER"
    std::string token_id;  // hash of the access token (lets logout revoke exactly this session)
};

struct Request {
    Method method = Method::get;
    std::string target;  // path + query as received
    std::string path;    // decoded path without the query
    std::vector<std::pair<std::string, std::string>> query;  // decoded query parameters
    Headers headers;
    std::string body;
    std::string remote_address;
    std::string request_id;
    std::vector<std::pair<std::string, std::string>> path_params;  // filled by the router
    std::string route;  // route pattern matched by the router, for logs and metrics
    std::optional<Principal> principal;  // filled by the auth middleware

    [[nodiscard]] std::string_view param(std::string_view name) const noexcept;
    [[nodiscard]] std::optional<std::string_view> query_param(std::string_view name) const noexcept;
    [[nodiscard]] const Principal& member() const;  // precondition: the route requires auth
    [[nodiscard]] std::optional<std::string_view> idempotency_key() const noexcept {
        return headers.get("Idempotency-Key");
    }
    // The client's `Prefer: wait=N` (RFC 7240 §4.3), in seconds, from any Prefer header; nullopt when absent or
    // malformed (a preference the server cannot read is ignored, as the RFC asks).
    [[nodiscard]] std::optional<long> prefer_wait() const noexcept;
};

struct Response {
    int status = 200;
    Headers headers;
    std::string body;
    std::string content_type = "application/json";
};

}  // namespace om
