#include "events/processed_events.hpp"

#include <algorithm>
#include <stdexcept>
#include <string_view>

#include "net/pg.hpp"

namespace om::events {

namespace {

bool ident(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

}  // namespace

Task<bool> mark_processed(pg::Lease& tx, std::string table, std::string event_id) {
    const auto dot = table.find('.');
    if (dot == std::string::npos || !ident(std::string_view(table).substr(0, dot)) ||
        !ident(std::string_view(table).substr(dot + 1))) {
        throw std::invalid_argument("processed-events table must be schema.table in [a-z_]: " + table);
    }
    const std::string sql =
        "INSERT INTO " + table + " (event_id) VALUES ($1::uuid) ON CONFLICT (event_id) DO NOTHING";
    auto result = co_await tx.exec(sql, pg::params(event_id));
    co_return result.affected() == 1;
}

}  // namespace om::events
