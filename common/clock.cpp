#include "common/clock.hpp"

#include <ctime>
#include <cstdio>

namespace om {

std::string rfc3339(std::chrono::system_clock::time_point tp) {
    // floor, not truncation, so that instants before 1970 format correctly
    const auto ms = std::chrono::floor<std::chrono::milliseconds>(tp.time_since_epoch()).count();
    const auto whole = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    const auto frac = ms - whole * 1000;
    const std::time_t secs = static_cast<std::time_t>(whole);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(frac));
    return buf;
}

std::string now_rfc3339() { return rfc3339(std::chrono::system_clock::now()); }

std::string pg_timestamp_to_rfc3339(std::string_view pg) {
    // "YYYY-MM-DD HH:MM:SS[.ffffff]+00"
    if (pg.size() < 22 || pg[10] != ' ' || !pg.ends_with("+00")) {
        return std::string(pg);
    }
    std::string out(pg.substr(0, 10));
    out += 'T';
    out += pg.substr(11, 8);
    std::string_view frac = pg.substr(19, pg.size() - 19 - 3);  // ".ffffff" or ""
    std::string ms = ".000";
    if (!frac.empty() && frac[0] == '.') {
        for (std::size_t i = 1; i < frac.size() && i <= 3; ++i) {
            ms[i] = frac[i];
        }
    }
    out += ms;
    out += 'Z';
    return out;
}

}  // namespace om
