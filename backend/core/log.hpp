#pragma once
// Structured logging: one JSON object per line on stderr (spdlog underneath).
//   log::info("request", {{"request_id", id}, {"status", 200}});
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace om::log {

enum class Level : std::uint8_t { trace, debug, info, warn, error };

using Value = std::variant<std::string_view, std::int64_t, double, bool>;
struct Field {
    std::string_view key;
    Value value;
    Field(std::string_view k, std::string_view v) : key(k), value(v) {}
    Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
    Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
    Field(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
    Field(std::string_view k, long v) : key(k), value(static_cast<std::int64_t>(v)) {}
    Field(std::string_view k, long long v) : key(k), value(static_cast<std::int64_t>(v)) {}
    Field(std::string_view k, unsigned long v) : key(k), value(static_cast<std::int64_t>(v)) {}
    Field(std::string_view k, double v) : key(k), value(v) {}
    Field(std::string_view k, bool v) : key(k), value(v) {}
};

void init(std::string_view level);
bool enabled(Level l) noexcept;
void write(Level l, std::string_view msg, std::initializer_list<Field> fields);

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::debug, m, f); }
inline void info(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::info, m, f); }
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::warn, m, f); }
inline void error(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::error, m, f); }

}  // namespace om::log
