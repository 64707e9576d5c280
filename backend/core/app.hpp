#pragma once
// What a shard serves: its router and the auth middleware, plus the dispatcher that turns a Request into a
// Response (routing, 404/405, authentication, and the one place exceptions become problem+json).

#include <functional>
#include <memory>
#include <vector>

#include "core/error.hpp"
#include "core/http.hpp"
#include "core/router.hpp"
#include "core/task.hpp"

namespace om {

using Authenticator = std::function<Task<Result<Principal>>(const Request&)>;

struct ShardApp {
    Router router;
    Authenticator authenticate;  // required when any route uses Auth::required
    std::vector<std::shared_ptr<void>> owned;  // services and state the routes refer to
    // Long-running jobs of the shard (outbox relay, courier simulator). The server starts each one on the
    // shard's thread once its event loop runs; they must return soon after `stop` hooks were called.
    std::vector<std::function<Task<void>()>> background;
    // Called on the shard's thread when the shard begins its graceful shutdown.
    std::vector<std::function<void()>> stop;
};

// Never throws: every failure becomes a problem+json response. `log_message` receives the internal
// message of an unexpected exception (for the access log), empty otherwise.
Task<Response> dispatch(const ShardApp& app, Request& req, std::string& log_message);

// Helpers for handlers.
Response json_response(int status, std::string body);
Response no_content();

}  // namespace om
