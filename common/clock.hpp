#pragma once
#include <chrono>
#include <string>
#include <string_view>

namespace om {
// RFC 3339 UTC with millisecond precision: 2026-11-25T06:16:00.123Z
std::string rfc3339(std::chrono::system_clock::time_point tp);
std::string now_rfc3339();
// PostgreSQL timestamptz text as returned with TimeZone=UTC ("2026-11-25 06:16:00.123456+00")
// → RFC 3339 ("2026-11-25T06:16:00.123Z"). Returns the input unchanged if it has another shape.
std::string pg_timestamp_to_rfc3339(std::string_view pg);
// Text of `timestamptz AT TIME ZONE 'UTC'` ("2026-11-25 06:16:00.123456") → RFC 3339.
inline std::string pg_utc_to_rfc3339(std::string_view utc_local) {
    return pg_timestamp_to_rfc3339(std::string(utc_local) + "+00");
}
}  // namespace om
