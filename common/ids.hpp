#pragma once
// Identifier and secret generation. Thread-safe (libsodium's randombytes).
#include <array>
#include <cstdint>
#include <optional>
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
// The 16 bytes of a UUID text (8-4-4-4-12 hex, any case); nullopt when malformed. Byte order = text order,
// so comparing the arrays orders ids as PostgreSQL's uuid type does.
using UuidBytes = std::array<std::uint8_t, 16>;
std::optional<UuidBytes> uuid_bytes(std::string_view text) noexcept;
// Lower-case 8-4-4-4-12 text of 16 bytes.
std::string uuid_text(const UuidBytes& bytes);
// 0-15 for a hex digit of either case, -1 otherwise.
int hex_digit_value(char c) noexcept;
// The integer in `s` (PostgreSQL text output of an integer column); 0 when it is not one.
std::int64_t parse_i64(std::string_view s) noexcept;

}  // namespace om
