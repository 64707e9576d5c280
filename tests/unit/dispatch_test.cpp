// om::dispatch: routing failures, authentication, and exceptions all become problem+json responses.
// The handlers here do not suspend (or are resumed by the test), so om::start_detached runs them
// synchronously.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/app.hpp"

namespace {

using om::Method;
using om::Request;
using om::Response;
using om::Task;

struct Outcome {
    bool finished = false;
    std::exception_ptr error;
    std::optional<Response> response;
};

void start(const om::ShardApp& app, Request& req, std::string& log, Outcome& out) {
    om::start_detached(om::dispatch(app, req, log), [&out](std::exception_ptr e, std::optional<Response> r) {
        out.finished = true;
        out.error = e;
        out.response = std::move(r);
    });
}

Response run(const om::ShardApp& app, Request& req, std::string& log) {
    Outcome out;
    start(app, req, log, out);
    EXPECT_TRUE(out.finished) << "dispatch suspended although no handler does";
    EXPECT_FALSE(out.error) << "dispatch must never throw";
    if (!out.response) {
        ADD_FAILURE() << "no response";
        Response none;
        none.status = -1;
        return none;
    }
    return std::move(*out.response);
}

Request request(Method m, std::string path) {
    Request r;
    r.method = m;
    r.target = path;
    r.path = std::move(path);
    return r;
}

nlohmann::json body_of(const Response& r) { return nlohmann::json::parse(r.body); }

struct Fixture : ::testing::Test {
    om::ShardApp app;
    int handler_calls = 0;
    int auth_calls = 0;

    void SetUp() override {
        app.router.get("/products/{id}", [this](Request& req) -> Task<Response> {
            ++handler_calls;
            nlohmann::json j{{"id", std::string(req.param("id"))}, {"route", req.route}};
            co_return om::json_response(200, j.dump());
        });
        app.router.post("/products", [](Request&) -> Task<Response> { co_return om::json_response(201, "{}"); });
        app.router.get("/me", [this](Request& req) -> Task<Response> {
            ++handler_calls;
            co_return om::json_response(200, nlohmann::json{{"member", req.member().member_id},
                                                             {"role", req.member().role}}
                                                 .dump());
        }, om::Auth::required);
        app.router.get("/down", [](Request&) -> Task<Response> {
            throw om::Unavailable("redis at 10.9.8.7 timed out");
            co_return Response{};
        });
        app.router.get("/boom", [](Request&) -> Task<Response> {
            throw std::runtime_error("null pointer in the pricing engine");
            co_return Response{};
        });
        app.router.get("/weird", [](Request&) -> Task<Response> {
            throw 7;
            co_return Response{};
        });
        app.router.del("/empty", [](Request&) -> Task<Response> { co_return om::no_content(); });
        app.authenticate = [this](const Request& req) -> Task<om::Result<om::Principal>> {
            ++auth_calls;
            if (req.headers.get("Authorization") == std::optional<std::string_view>("Bearer good")) {
                co_return om::Principal{"m-1", "BUYER", "tok"};
            }
            om::Error e{om::ErrorCode::unauthorized, "A valid bearer token is required"};
            e.with_header("WWW-Authenticate", "Bearer");
            co_return std::unexpected(std::move(e));
        };
    }
};

using Dispatch = Fixture;

TEST_F(Dispatch, SuccessfulHandler) {
    auto req = request(Method::get, "/products/p-42");
    std::string log;
    const auto r = run(app, req, log);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_TRUE(log.empty());
    EXPECT_EQ(handler_calls, 1);
    EXPECT_EQ(auth_calls, 0);
}

TEST_F(Dispatch, PathParamsAndRouteAreVisibleToHandler) {
    auto req = request(Method::get, "/products/%ED%95%9C%EA%B8%80");
    std::string log;
    const auto r = run(app, req, log);
    ASSERT_EQ(r.status, 200) << r.body;
    const auto j = body_of(r);
    EXPECT_EQ(j.at("id").get<std::string>(), "\xED\x95\x9C\xEA\xB8\x80");
    EXPECT_EQ(j.at("route").get<std::string>(), "/products/{id}");
    EXPECT_EQ(req.route, "/products/{id}");
    EXPECT_EQ(req.param("id"), "\xED\x95\x9C\xEA\xB8\x80");
}

TEST_F(Dispatch, HeadRunsGetHandler) {
    auto req = request(Method::head, "/products/1");
    std::string log;
    const auto r = run(app, req, log);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(handler_calls, 1);
}

TEST_F(Dispatch, UnknownPathIs404Problem) {
    auto req = request(Method::get, "/nowhere");
    std::string log;
    const auto r = run(app, req, log);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.content_type, "application/problem+json");
    const auto j = body_of(r);
    EXPECT_EQ(j.at("code").get<std::string>(), "NOT_FOUND");
    EXPECT_EQ(j.at("status").get<int>(), 404);
    EXPECT_EQ(j.at("instance").get<std::string>(), "/nowhere");
    EXPECT_EQ(req.route, "unmatched");
    EXPECT_FALSE(r.headers.get("Allow").has_value());
    EXPECT_TRUE(log.empty());
}

TEST_F(Dispatch, BadPercentEscapeIs404) {
    auto req = request(Method::get, "/products/%zz");
    std::string log;
    const auto r = run(app, req, log);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(handler_calls, 0);
}

TEST_F(Dispatch, WrongMethodIs405WithAllow) {
    auto req = request(Method::put, "/products/1");
    std::string log;
    const auto r = run(app, req, log);
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(r.headers.get("Allow").value_or(""), "GET, HEAD");
    EXPECT_EQ(body_of(r).at("code").get<std::string>(), "METHOD_NOT_ALLOWED");
    EXPECT_EQ(req.route, "/products/{id}");
    EXPECT_EQ(handler_calls, 0);

    auto req2 = request(Method::get, "/products");
    const auto r2 = run(app, req2, log);
    EXPECT_EQ(r2.status, 405);
    EXPECT_EQ(r2.headers.get("Allow").value_or(""), "POST");
}

TEST_F(Dispatch, AuthFailurePassesThroughWithWwwAuthenticate) {
    auto req = request(Method::get, "/me");
    std::string log;
    const auto r = run(app, req, log);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(r.headers.get("WWW-Authenticate").value_or(""), "Bearer");
    const auto j = body_of(r);
    EXPECT_EQ(j.at("code").get<std::string>(), "UNAUTHORIZED");
    EXPECT_EQ(j.at("detail").get<std::string>(), "A valid bearer token is required");
    EXPECT_EQ(auth_calls, 1);
    EXPECT_EQ(handler_calls, 0);
    EXPECT_FALSE(req.principal.has_value());
    EXPECT_EQ(req.route, "/me");
}

TEST_F(Dispatch, AuthSuccessSetsPrincipal) {
    auto req = request(Method::get, "/me");
    req.headers.set("Authorization", "Bearer good");
    std::string log;
    const auto r = run(app, req, log);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(body_of(r), (nlohmann::json{{"member", "m-1"}, {"role", "BUYER"}}));
    ASSERT_TRUE(req.principal.has_value());
    EXPECT_EQ(req.principal->token_id, "tok");
    EXPECT_EQ(auth_calls, 1);
}

TEST_F(Dispatch, PublicRouteDoesNotCallAuthenticator) {
    auto req = request(Method::post, "/products");
    std::string log;
    EXPECT_EQ(run(app, req, log).status, 201);
    EXPECT_EQ(auth_calls, 0);
}

TEST_F(Dispatch, AuthRequiredWithoutAuthenticatorIs500) {
    app.authenticate = nullptr;
    auto req = request(Method::get, "/me");
    std::string log;
    const auto r = run(app, req, log);
    EXPECT_EQ(r.status, 500);
    EXPECT_FALSE(log.empty());
    EXPECT_EQ(handler_calls, 0);
}

TEST_F(Dispatch, AuthenticatorThatThrowsUnavailableIs503) {
    app.authenticate = [](const Request&) -> Task<om::Result<om::Principal>> {
        throw om::Unavailable("session store down");
        co_return om::Principal{};
    };
    auto req = request(Method::get, "/me");
    std::string log;
    const auto r = run(app, req, log);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.headers.get("Retry-After").value_or(""), "1");
    EXPECT_EQ(log, "session store down");
}

TEST_F(Dispatch, UnavailableIs503WithRetryAfter) {
    auto req = request(Method::get, "/down");
    std::string log;
    const auto r = run(app, req, log);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(r.headers.get("Retry-After").value_or(""), "1");
    EXPECT_EQ(body_of(r).at("code").get<std::string>(), "SERVICE_UNAVAILABLE");
    EXPECT_EQ(log, "redis at 10.9.8.7 timed out");
    EXPECT_EQ(r.body.find("10.9.8.7"), std::string::npos) << r.body;
    EXPECT_EQ(req.route, "/down");
}

TEST_F(Dispatch, RuntimeErrorIs500AndLogged) {
    auto req = request(Method::get, "/boom");
    std::string log;
    const auto r = run(app, req, log);
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(body_of(r).at("code").get<std::string>(), "INTERNAL");
    EXPECT_EQ(body_of(r).at("instance").get<std::string>(), "/boom");
    EXPECT_EQ(log, "null pointer in the pricing engine");
    EXPECT_EQ(r.body.find("pricing engine"), std::string::npos) << r.body;
}

TEST_F(Dispatch, NonStandardExceptionIs500) {
    auto req = request(Method::get, "/weird");
    std::string log;
    const auto r = run(app, req, log);
    EXPECT_EQ(r.status, 500);
    EXPECT_FALSE(log.empty());
}

TEST_F(Dispatch, NoContentHelper) {
    auto req = request(Method::del, "/empty");
    std::string log;
    const auto r = run(app, req, log);
    EXPECT_EQ(r.status, 204);
    EXPECT_TRUE(r.body.empty());
    EXPECT_TRUE(r.content_type.empty());
}

TEST(DispatchAsync, HandlerThatSuspendsCompletesWhenResumed) {
    om::ShardApp app;
    std::function<void(int)> pending;
    app.router.get("/slow/{n}", [&pending](Request& req) -> Task<Response> {
        const int v = co_await om::CallbackAwaiter<int>([&pending](std::function<void(int)> cb) {
            pending = std::move(cb);
        });
        co_return om::json_response(200, std::string(req.param("n")) + ":" + std::to_string(v));
    });
    auto req = request(Method::get, "/slow/abc");
    std::string log;
    Outcome out;
    start(app, req, log, out);
    EXPECT_FALSE(out.finished);
    ASSERT_TRUE(static_cast<bool>(pending));
    auto cb = std::move(pending);
    cb(99);
    ASSERT_TRUE(out.finished);
    ASSERT_TRUE(out.response.has_value());
    EXPECT_EQ(out.response->status, 200);
    EXPECT_EQ(out.response->body, "abc:99");
}

TEST(DispatchAsync, HandlerThatThrowsAfterResumingIs500) {
    om::ShardApp app;
    std::function<void(int)> pending;
    app.router.get("/slow", [&pending](Request&) -> Task<Response> {
        const int v = co_await om::CallbackAwaiter<int>([&pending](std::function<void(int)> cb) {
            pending = std::move(cb);
        });
        throw std::runtime_error("failed after " + std::to_string(v));
        co_return Response{};
    });
    auto req = request(Method::get, "/slow");
    std::string log;
    Outcome out;
    start(app, req, log, out);
    ASSERT_FALSE(out.finished);
    auto cb = std::move(pending);
    cb(3);
    ASSERT_TRUE(out.finished);
    ASSERT_TRUE(out.response.has_value());
    EXPECT_EQ(out.response->status, 500);
    EXPECT_EQ(log, "failed after 3");
}

}  // namespace
