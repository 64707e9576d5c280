#include "core/router.hpp"

#include <map>
#include <stdexcept>

namespace om {

struct Router::Node {
    std::map<std::string, std::unique_ptr<Node>, std::less<>> literal;
    std::unique_ptr<Node> param;
    std::vector<const Route*> routes;  // routes ending here (one per method)
    std::string pattern;
};

namespace {

std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> out;
    if (path.empty() || path.front() != '/') {
        return out;
    }
    std::size_t i = 1;
    while (i <= path.size()) {
        const std::size_t j = path.find('/', i);
        const std::size_t end = j == std::string_view::npos ? path.size() : j;
        out.push_back(path.substr(i, end - i));
        if (j == std::string_view::npos) {
            break;
        }
        i = j + 1;
    }
    return out;
}

bool is_param(std::string_view seg) { return seg.size() >= 3 && seg.front() == '{' && seg.back() == '}'; }

}  // namespace

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::add(Method m, std::string pattern, Handler h, Auth auth) {
    Node* n = root_.get();
    for (auto seg : split(pattern)) {
        if (is_param(seg)) {
            if (!n->param) {
                n->param = std::make_unique<Node>();
            }
            n = n->param.get();
        } else {
            auto it = n->literal.find(seg);
            if (it == n->literal.end()) {
                it = n->literal.emplace(std::string(seg), std::make_unique<Node>()).first;
            }
            n = it->second.get();
        }
    }
    for (const Route* r : n->routes) {
        if (r->method == m) {
            throw std::logic_error("duplicate route " + std::string(to_string(m)) + " " + pattern);
        }
    }
    n->pattern = pattern;
    routes_.push_back(std::make_unique<Route>(Route{m, std::move(pattern), std::move(h), auth}));
    n->routes.push_back(routes_.back().get());
}

Router::Match Router::match(Method m, std::string_view path) const {
    Match result;
    const auto segs = split(path);
    if (segs.empty()) {
        return result;
    }
    // Depth-first: literal before parameter, backtracking when a branch dead-ends.
    std::vector<std::string> values;
    const Node* found = nullptr;
    auto walk = [&](auto& self, const Node* n, std::size_t i) -> bool {
        if (i == segs.size()) {
            if (n->routes.empty()) {
                return false;
            }
            found = n;
            return true;
        }
        auto it = n->literal.find(segs[i]);
        if (it != n->literal.end() && self(self, it->second.get(), i + 1)) {
            return true;
        }
        if (n->param && !segs[i].empty()) {
            values.emplace_back(segs[i]);
            if (self(self, n->param.get(), i + 1)) {
                return true;
            }
            values.pop_back();
        }
        return false;
    };
    if (!walk(walk, root_.get(), 0)) {
        return result;
    }
    result.pattern = found->pattern;
    const Method want = m == Method::head ? Method::get : m;
    for (const Route* r : found->routes) {
        if (r->method == want) {
            result.route = r;
        }
    }
    if (!result.route) {
        std::string allow;
        for (const Route* r : found->routes) {
            if (!allow.empty()) {
                allow += ", ";
            }
            allow += to_string(r->method);
            if (r->method == Method::get) {
                allow += ", HEAD";
            }
        }
        result.allow = std::move(allow);
        return result;
    }
    // Zip parameter names of the route's own pattern with the matched values.
    std::size_t vi = 0;
    for (auto seg : split(result.route->pattern)) {
        if (is_param(seg) && vi < values.size()) {
            auto decoded = percent_decode(values[vi++]);
            if (!decoded) {
                result.route = nullptr;  // invalid escape: treat as unknown path
                result.pattern.clear();
                return result;
            }
            result.params.emplace_back(std::string(seg.substr(1, seg.size() - 2)), std::move(*decoded));
        }
    }
    return result;
}

}  // namespace om
