#include "core/http.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace om {

std::string_view to_string(Method m) noexcept {
    switch (m) {
    case Method::get: return "GET";
    case Method::head: return "HEAD";
    case Method::post: return "POST";
    case Method::put: return "PUT";
    case Method::patch: return "PATCH";
    case Method::del: return "DELETE";
    case Method::options: return "OPTIONS";
    case Method::other: return "OTHER";
    }
    return "OTHER";
}

Method method_from_string(std::string_view s) noexcept {
    if (s == "GET") { return Method::get; }
    if (s == "POST") { return Method::post; }
    if (s == "PUT") { return Method::put; }
    if (s == "DELETE") { return Method::del; }
    if (s == "PATCH") { return Method::patch; }
    if (s == "HEAD") { return Method::head; }
    if (s == "OPTIONS") { return Method::options; }
    return Method::other;
}

namespace {
int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') { return c - '0'; }
    if (c >= 'a' && c <= 'f') { return c - 'a' + 10; }
    if (c >= 'A' && c <= 'F') { return c - 'A' + 10; }
    return -1;
}
}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
            if (i + 2 >= s.size()) {
                return std::nullopt;
            }
            const int h = hex_value(s[i + 1]);
            const int l = hex_value(s[i + 2]);
            if (h < 0 || l < 0) {
                return std::nullopt;
            }
            out.push_back(static_cast<char>(h * 16 + l));
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out.push_back(' ');
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

namespace {
bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
               return lower(x) == lower(y);
           });
}
}  // namespace

void Headers::set(std::string name, std::string value) {
    for (auto& [n, v] : items_) {
        if (iequals(n, name)) {
            v = std::move(value);
            return;
        }
    }
    items_.emplace_back(std::move(name), std::move(value));
}

void Headers::add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }

std::optional<std::string_view> Headers::get(std::string_view name) const noexcept {
    for (const auto& [n, v] : items_) {
        if (iequals(n, name)) {
            return std::string_view(v);
        }
    }
    return std::nullopt;
}

std::string_view Request::param(std::string_view name) const noexcept {
    for (const auto& [n, v] : path_params) {
        if (n == name) {
            return v;
        }
    }
    return {};
}

std::optional<std::string_view> Request::query_param(std::string_view name) const noexcept {
    for (const auto& [n, v] : query) {
        if (n == name) {
            return std::string_view(v);
        }
    }
    return std::nullopt;
}

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

namespace {

// "wait=5", "wait = \"5\"" (RFC 7240's BWS and quoted-string); nullopt for anything else.
std::optional<long> wait_seconds(std::string_view pref) noexcept {
    pref = trim_ows(pref.substr(0, pref.find(';')));  // parameters of the preference do not matter here
    const auto eq = pref.find('=');
    if (eq == std::string_view::npos || !iequals(trim_ows(pref.substr(0, eq)), "wait")) {
        return std::nullopt;
    }
    std::string_view v = trim_ows(pref.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        v = v.substr(1, v.size() - 2);
    }
    long n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.size() > 9 || ec != std::errc() || end != v.data() + v.size() || n < 0) {
        return std::nullopt;
    }
    return n;
}

}  // namespace

std::optional<long> Request::prefer_wait() const noexcept {
    for (const auto& [name, value] : headers.items()) {
        if (!iequals(name, "Prefer")) {
            continue;
        }
        std::string_view rest = value;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            if (auto n = wait_seconds(rest.substr(0, comma))) {
                return n;
            }
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
    }
    return std::nullopt;
}

const Principal& Request::member() const {
    if (!principal) {
        throw std::logic_error("Request::member() on a route without authentication");
    }
    return *principal;
}

}  // namespace om
