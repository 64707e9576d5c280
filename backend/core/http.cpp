#include "core/http.hpp"

#include <algorithm>
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

const Principal& Request::member() const {
    if (!principal) {
        throw std::logic_error("Request::member() on a route without authentication");
    }
    return *principal;
}

}  // namespace om
