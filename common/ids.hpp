#pragma once
// Identifier and secret generation. Thread-safe (libsodium's randombytes).
#include <string>
#include <string_view>

namespace om {

// A UUIDv7 (RFC 9562): time-ordered, so that ids sort by creation time and index well.
std::string new_uuid_v7();
// A random request id (16 hex chars).
std::string new_request_id();
// A URL-safe random secret with `bytes` bytes of entropy (base64url, no padding).
std::string new_secret(std::size_t bytes = 32);
// Lower-case hex SHA-256 of `data` (for storing token references, never tokens themselves).
std::string sha256_hex(std::string_view data);
// true when `s` is a canonical lower/upper-case UUID text (8-4-4-4-12 hex).
bool is_uuid(std::string_view s) noexcept;

}  // namespace om
