#pragma once
// Method + path-pattern router. Patterns are literal segments and {name} parameters, e.g.
// "/member/members/{userId}". Literal segments win over parameters. Unknown path → 404,
// known path with another method → 405 with Allow.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/http.hpp"
#include "core/task.hpp"

namespace om {

using Handler = std::function<Task<Response>(Request&)>;

// none: public; required: 401 without a valid token; optional: public, but a token that is present must be
// valid (401 otherwise) and then fills req.principal.
enum class Auth : std::uint8_t { none, required, optional };

struct Route {
    Method method;
    std::string pattern;
    Handler handler;
    Auth auth = Auth::none;
};

class Router {
public:
    Router();
    ~Router();
    Router(Router&&) noexcept;
    Router& operator=(Router&&) noexcept;

    void add(Method m, std::string pattern, Handler h, Auth auth = Auth::none);
    void get(std::string p, Handler h, Auth a = Auth::none) { add(Method::get, std::move(p), std::move(h), a); }
    void post(std::string p, Handler h, Auth a = Auth::none) { add(Method::post, std::move(p), std::move(h), a); }
    void put(std::string p, Handler h, Auth a = Auth::none) { add(Method::put, std::move(p), std::move(h), a); }
    void del(std::string p, Handler h, Auth a = Auth::none) { add(Method::del, std::move(p), std::move(h), a); }

    struct Match {
        const Route* route = nullptr;               // set when found
        std::vector<std::pair<std::string, std::string>> params;
        std::string allow;                          // set when the path exists with other methods (405)
        std::string pattern;                        // matched pattern (also for 405)
    };
    // HEAD matches GET routes.
    [[nodiscard]] Match match(Method m, std::string_view path) const;

private:
    struct Node;
    std::unique_ptr<Node> root_;
    std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace om
