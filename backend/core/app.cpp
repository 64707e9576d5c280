#include "core/app.hpp"

#include "core/log.hpp"

namespace om {

Response json_response(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

Response no_content() {
    Response r;
    r.status = 204;
    r.content_type.clear();
    return r;
}

Task<Response> dispatch(const ShardApp& app, Request& req, std::string& log_message) {
    auto m = app.router.match(req.method, req.path);
    if (!m.route) {
        if (!m.allow.empty()) {
            req.route = m.pattern;
            Error e{ErrorCode::method_not_allowed,
                    std::string(to_string(req.method)) + " is not supported here; allowed: " + m.allow};
            e.with_header("Allow", m.allow);
            co_return problem(e, req.path);
        }
        req.route = "unmatched";
        co_return problem(Error{ErrorCode::not_found, "No resource at " + req.path}, req.path);
    }
    req.route = m.route->pattern;
    req.path_params = std::move(m.params);
    std::exception_ptr failure;
    try {
        const bool wants_auth = m.route->auth == Auth::required ||
                                (m.route->auth == Auth::optional && req.headers.get("Authorization").has_value());
        if (wants_auth) {
            if (!app.authenticate) {
                throw std::logic_error("route requires authentication but no authenticator is configured");
            }
            auto who = co_await app.authenticate(req);
            if (!who) {
                co_return problem(who.error(), req.path);
            }
            req.principal = std::move(*who);
        }
        co_return co_await m.route->handler(req);
    } catch (...) {
        failure = std::current_exception();
    }
    co_return problem_from_exception(failure, req.path, log_message);
}

}  // namespace om
