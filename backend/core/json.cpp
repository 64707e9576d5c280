#include "core/json.hpp"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "common/ids.hpp"

namespace om {

Result<nlohmann::json> parse_object(std::string_view body) {
    if (body.empty()) {
        return std::unexpected(Error{ErrorCode::malformed_json, "The request body is empty; a JSON object is expected"});
    }
    nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        return std::unexpected(Error{ErrorCode::malformed_json, "The request body is not valid JSON (UTF-8)"});
    }
    if (!j.is_object()) {
        return std::unexpected(Error{ErrorCode::validation_failed, "The request body must be a JSON object",
                                     {{"", "must be an object"}}});
    }
    return j;
}

int page_limit(const std::optional<std::string_view>& text, Validator& v) {
    if (!text) {
        return 20;
    }
    int x = 0;
    auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), x);
    if (ec != std::errc{} || p != text->data() + text->size() || x < 1 || x > 100) {
        v.fail("limit", "must be an integer between 1 and 100");
        return 20;
    }
    return x;
}

nlohmann::json or_null(const std::optional<std::string>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

std::optional<Error> check_idempotency_key(const std::optional<std::string_view>& key) {
    if (!key) {
        return std::nullopt;
    }
    const bool ok = !key->empty() && key->size() <= 200 &&
                    std::all_of(key->begin(), key->end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
    if (ok) {
        return std::nullopt;
    }
    return Error{ErrorCode::validation_failed, "Idempotency-Key must be 1-200 printable ASCII characters",
                 {{"Idempotency-Key", "must be 1-200 printable ASCII characters"}}};
}

std::size_t utf8_length(std::string_view s) noexcept {
    std::size_t n = 0;
    for (char c : s) {
        if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) {
            ++n;
        }
    }
    return n;
}

namespace {
std::string_view trim(std::string_view s) {
    auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && ws(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && ws(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}
}  // namespace

const nlohmann::json* Validator::find(std::string_view field) const {
    auto it = obj_.find(field);
    if (it == obj_.end() || it->is_null()) {
        return nullptr;
    }
    return &*it;
}

bool Validator::has(std::string_view field) const { return find(field) != nullptr; }

std::optional<std::string> Validator::string(std::string_view field, StringRule rule) {
    const auto* v = find(field);
    if (!v) {
        if (rule.required) {
            fail(std::string(field), "is required");
        }
        return std::nullopt;
    }
    if (!v->is_string()) {
        fail(std::string(field), "must be a string");
        return std::nullopt;
    }
    std::string_view s = v->get_ref<const std::string&>();
    if (rule.trim) {
        s = trim(s);
    }
    const auto len = utf8_length(s);
    if (len < rule.min) {
        fail(std::string(field), rule.min == 1 ? "must not be empty"
                                               : "must be at least " + std::to_string(rule.min) + " characters");
        return std::nullopt;
    }
    if (len > rule.max) {
        fail(std::string(field), "must be at most " + std::to_string(rule.max) + " characters");
        return std::nullopt;
    }
    return std::string(s);
}

std::optional<std::int64_t> Validator::integer(std::string_view field, IntRule rule) {
    const auto* v = find(field);
    if (!v) {
        if (rule.required) {
            fail(std::string(field), "is required");
        }
        return std::nullopt;
    }
    std::int64_t x = 0;
    if (v->is_number_integer()) {
        if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
            fail(std::string(field), "is out of range");
            return std::nullopt;
        }
        x = v->get<std::int64_t>();
    } else {
        fail(std::string(field), "must be an integer");
        return std::nullopt;
    }
    if (x < rule.min || x > rule.max) {
        fail(std::string(field), "must be between " + std::to_string(rule.min) + " and " + std::to_string(rule.max));
        return std::nullopt;
    }
    return x;
}

std::optional<bool> Validator::boolean(std::string_view field, bool required) {
    const auto* v = find(field);
    if (!v) {
        if (required) {
            fail(std::string(field), "is required");
        }
        return std::nullopt;
    }
    if (!v->is_boolean()) {
        fail(std::string(field), "must be a boolean");
        return std::nullopt;
    }
    return v->get<bool>();
}

std::optional<std::string> Validator::one_of(std::string_view field, std::initializer_list<std::string_view> allowed,
                                             bool required) {
    const auto* v = find(field);
    std::string list;
    for (auto a : allowed) {
        list += list.empty() ? "" : ", ";
        list += a;
    }
    if (!v) {
        if (required) {
            fail(std::string(field), "is required (one of " + list + ")");
        }
        return std::nullopt;
    }
    if (v->is_string()) {
        const auto& s = v->get_ref<const std::string&>();
        for (auto a : allowed) {
            if (s == a) {
                return s;
            }
        }
    }
    fail(std::string(field), "must be one of " + list);
    return std::nullopt;
}

Error Validator::error() const {
    return Error{ErrorCode::validation_failed, "One or more fields are invalid", errors_};
}

std::optional<std::string> uuid_query(const std::optional<std::string_view>& text, std::string_view field,
                                      std::string_view message, Validator& v) {
    if (!text) {
        return std::nullopt;
    }
    if (!is_uuid(*text)) {
        v.fail(std::string(field), std::string(message));
        return std::nullopt;
    }
    return std::string(*text);
}

std::string page_json(const std::vector<std::string>& items, const std::optional<std::string>& next) {
    std::string out = "{\"items\":[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) {
            out += ',';
        }
        out += items[i];
    }
    out += "],\"nextCursor\":";
    out += next ? nlohmann::json(*next).dump() : "null";
    out += '}';
    return out;
}

}  // namespace om
