#pragma once
// Request-body parsing and validation that collects every field error at once.
//   auto obj = parse_object(req.body);           // malformed JSON → MALFORMED_JSON (400)
//   if (!obj) co_return problem(obj.error());
//   Validator v(*obj);
//   auto email = v.string("email", {.max = 320});
//   auto role  = v.one_of("role", {"BUYER", "SELLER"});
//   if (!v.ok()) co_return problem(v.error());  // VALIDATION_FAILED with errors[{field, message}]

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.hpp"

namespace om {

Result<nlohmann::json> parse_object(std::string_view body);

// The string, or JSON null when absent.
nlohmann::json or_null(const std::optional<std::string>& v);

// Number of Unicode code points in valid UTF-8 text.
std::size_t utf8_length(std::string_view s) noexcept;

// An `Idempotency-Key` header, when present, must be 1-200 printable ASCII characters: the 400 otherwise.
std::optional<Error> check_idempotency_key(const std::optional<std::string_view>& key);

struct StringRule {
    bool required = true;
    std::size_t min = 1;       // code points, after trimming when trim is set
    std::size_t max = 10'000;  // code points
    bool trim = true;
};

struct IntRule {
    bool required = true;
    std::int64_t min = INT64_MIN;
    std::int64_t max = INT64_MAX;
};

class Validator {
public:
    explicit Validator(const nlohmann::json& object) : obj_(object) {}

    std::optional<std::string> string(std::string_view field, StringRule rule = {});
    std::optional<std::int64_t> integer(std::string_view field, IntRule rule = {});
    std::optional<bool> boolean(std::string_view field, bool required = false);
    std::optional<std::string> one_of(std::string_view field, std::initializer_list<std::string_view> allowed,
                                      bool required = true);
    // Whether the field is present with a non-null value.
    [[nodiscard]] bool has(std::string_view field) const;

    void fail(std::string field, std::string message) { errors_.push_back({std::move(field), std::move(message)}); }
    [[nodiscard]] bool ok() const noexcept { return errors_.empty(); }
    [[nodiscard]] Error error() const;

private:
    const nlohmann::json* find(std::string_view field) const;
    const nlohmann::json& obj_;
    std::vector<FieldError> errors_;
};

// The `limit` query parameter of a list endpoint: 1-100, default 20; anything else is recorded in `v` under
// "limit" (and the default returned).
int page_limit(const std::optional<std::string_view>& text, Validator& v);

// An optional UUID query parameter (an id filter, or a keyset cursor that is an id): nullopt when absent; a
// value that is not a UUID records `message` under `field` in `v`.
std::optional<std::string> uuid_query(const std::optional<std::string_view>& text, std::string_view field,
                                      std::string_view message, Validator& v);

// A list endpoint's body: {"items": [<each item's JSON>], "nextCursor": <next or null>}.
std::string page_json(const std::vector<std::string>& items, const std::optional<std::string>& next);

}  // namespace om
