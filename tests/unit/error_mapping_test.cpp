// The one table from ErrorCode to HTTP, problem+json bodies (RFC 9457), and exception mapping.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/http.hpp"

namespace {

using om::ErrorCode;

struct Expected {
    ErrorCode code;
    int status;
    std::string_view name;
};

// The documented contract: changing any of these is an API break.
constexpr Expected kTable[] = {
    {ErrorCode::validation_failed, 400, "VALIDATION_FAILED"},
    {ErrorCode::malformed_json, 400, "MALFORMED_JSON"},
    {ErrorCode::bad_request, 400, "BAD_REQUEST"},
    {ErrorCode::unauthorized, 401, "UNAUTHORIZED"},
    {ErrorCode::forbidden, 403, "FORBIDDEN"},
    {ErrorCode::not_found, 404, "NOT_FOUND"},
    {ErrorCode::method_not_allowed, 405, "METHOD_NOT_ALLOWED"},
    {ErrorCode::conflict, 409, "CONFLICT"},
    {ErrorCode::email_taken, 409, "EMAIL_TAKEN"},
    {ErrorCode::invalid_credentials, 401, "INVALID_CREDENTIALS"},
    {ErrorCode::precondition_failed, 412, "PRECONDITION_FAILED"},
    {ErrorCode::payload_too_large, 413, "PAYLOAD_TOO_LARGE"},
    {ErrorCode::headers_too_large, 431, "HEADERS_TOO_LARGE"},
    {ErrorCode::unprocessable, 422, "UNPROCESSABLE"},
    {ErrorCode::too_many_requests, 429, "TOO_MANY_REQUESTS"},
    {ErrorCode::service_unavailable, 503, "SERVICE_UNAVAILABLE"},
    {ErrorCode::internal, 500, "INTERNAL"},
    {ErrorCode::insufficient_stock, 409, "INSUFFICIENT_STOCK"},
    {ErrorCode::idempotency_key_reused, 422, "IDEMPOTENCY_KEY_REUSED"},
    {ErrorCode::illegal_transition, 409, "ILLEGAL_TRANSITION"},
    {ErrorCode::out_of_stock, 409, "OUT_OF_STOCK"},
};

bool is_screaming_snake(std::string_view s) {
    if (s.empty() || s.front() == '_' || s.back() == '_') {
        return false;
    }
    for (char c : s) {
        if (!((c >= 'A' && c <= 'Z') || c == '_')) {
            return false;
        }
    }
    return true;
}

nlohmann::json body_of(const om::Response& r) { return nlohmann::json::parse(r.body); }

TEST(ErrorMapping, TableCoversEveryErrorCodeInOrder) {
    ASSERT_EQ(std::size(kTable), static_cast<std::size_t>(ErrorCode::out_of_stock) + 1);
    for (std::size_t i = 0; i < std::size(kTable); ++i) {
        EXPECT_EQ(static_cast<std::size_t>(kTable[i].code), i);
    }
}

TEST(ErrorMapping, EveryCodeHasDocumentedStatusAndStableName) {
    std::set<std::string_view> names;
    for (const auto& e : kTable) {
        SCOPED_TRACE(std::string(e.name));
        const auto& i = om::info(e.code);
        EXPECT_EQ(i.status, e.status);
        EXPECT_EQ(i.code, e.name);
        EXPECT_TRUE(is_screaming_snake(i.code));
        EXPECT_FALSE(i.title.empty());
        names.insert(i.code);
    }
    EXPECT_EQ(names.size(), std::size(kTable)) << "codes must be unique";
}

TEST(ErrorMapping, ProblemBodyForEveryCode) {
    for (const auto& e : kTable) {
        SCOPED_TRACE(std::string(e.name));
        const auto r = om::problem(om::Error{e.code, "something specific"});
        EXPECT_EQ(r.status, e.status);
        EXPECT_EQ(r.content_type, "application/problem+json");
        const auto j = body_of(r);
        EXPECT_EQ(j.at("status").get<int>(), e.status);
        EXPECT_EQ(j.at("code").get<std::string>(), e.name);
        EXPECT_EQ(j.at("type").get<std::string>(), "https://openmarket.dev/problems/" + std::string(e.name));
        EXPECT_EQ(j.at("title").get<std::string>(), om::info(e.code).title);
        EXPECT_EQ(j.at("detail").get<std::string>(), "something specific");
        EXPECT_FALSE(j.contains("errors"));
        EXPECT_FALSE(j.contains("instance"));
    }
}

TEST(ErrorMapping, EmptyDetailFallsBackToTitle) {
    const auto j = body_of(om::problem(om::Error{ErrorCode::forbidden, ""}));
    EXPECT_EQ(j.at("detail").get<std::string>(), "Not allowed");
    EXPECT_EQ(j.at("detail"), j.at("title"));
}

TEST(ErrorMapping, InstanceIsIncludedWhenGiven) {
    const auto j = body_of(om::problem(om::Error{ErrorCode::not_found, "no such member"}, "/member/members/x"));
    EXPECT_EQ(j.at("instance").get<std::string>(), "/member/members/x");
}

TEST(ErrorMapping, FieldErrorsBecomeErrorsArray) {
    const om::Error e{ErrorCode::validation_failed,
                      "One or more fields are invalid",
                      {{"email", "is required"}, {"name", "must be at most 50 characters"}}};
    const auto r = om::problem(e);
    EXPECT_EQ(r.status, 400);
    const auto j = body_of(r);
    ASSERT_TRUE(j.contains("errors"));
    ASSERT_TRUE(j.at("errors").is_array());
    ASSERT_EQ(j.at("errors").size(), 2U);
    EXPECT_EQ(j["errors"][0], (nlohmann::json{{"field", "email"}, {"message", "is required"}}));
    EXPECT_EQ(j["errors"][1], (nlohmann::json{{"field", "name"}, {"message", "must be at most 50 characters"}}));
}

TEST(ErrorMapping, HeadersAreCopied) {
    om::Error e{ErrorCode::too_many_requests, "slow down"};
    e.with_header("Retry-After", "30").with_header("X-RateLimit-Remaining", "0");
    const auto r = om::problem(e);
    EXPECT_EQ(r.status, 429);
    ASSERT_TRUE(r.headers.get("retry-after").has_value());
    EXPECT_EQ(*r.headers.get("Retry-After"), "30");
    EXPECT_EQ(*r.headers.get("X-RateLimit-Remaining"), "0");
    EXPECT_FALSE(om::problem(om::Error{ErrorCode::too_many_requests, "x"}).headers.get("Retry-After").has_value());
}

TEST(ErrorMapping, UnauthorizedCarriesWwwAuthenticate) {
    om::Error e{ErrorCode::unauthorized, "token expired"};
    e.with_header("WWW-Authenticate", R"(Bearer error="invalid_token")");
    const auto r = om::problem(e);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.headers.get("WWW-Authenticate").value_or(""), R"(Bearer error="invalid_token")");
}

TEST(ErrorMapping, InvalidUtf8InDetailStillGivesValidJson) {
    const auto r = om::problem(om::Error{ErrorCode::bad_request, std::string("bad \xff\xfe byte")});
    nlohmann::json parsed;
    EXPECT_NO_THROW(parsed = nlohmann::json::parse(r.body));
    EXPECT_EQ(parsed.at("status"), 400);
}

TEST(ErrorMapping, UnavailableExceptionIs503WithRetryAfter) {
    std::string log;
    const auto r = om::problem_from_exception(
        std::make_exception_ptr(om::Unavailable("postgres pool exhausted at 10.0.0.5")), "/products", log);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(r.headers.get("Retry-After").value_or(""), "1");
    EXPECT_EQ(log, "postgres pool exhausted at 10.0.0.5");
    const auto j = body_of(r);
    EXPECT_EQ(j.at("code").get<std::string>(), "SERVICE_UNAVAILABLE");
    EXPECT_EQ(j.at("instance").get<std::string>(), "/products");
    EXPECT_EQ(r.body.find("10.0.0.5"), std::string::npos) << "internal detail leaked: " << r.body;
}

TEST(ErrorMapping, StdExceptionIs500WithoutLeakingMessage) {
    std::string log;
    const auto r = om::problem_from_exception(
        std::make_exception_ptr(std::runtime_error("SELECT secret_column FROM member.members failed")), "/x", log);
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(log, "SELECT secret_column FROM member.members failed");
    const auto j = body_of(r);
    EXPECT_EQ(j.at("code").get<std::string>(), "INTERNAL");
    EXPECT_EQ(j.at("status").get<int>(), 500);
    EXPECT_FALSE(j.at("detail").get<std::string>().empty());
    EXPECT_EQ(r.body.find("secret_column"), std::string::npos) << "exception message leaked: " << r.body;
    EXPECT_FALSE(r.headers.get("Retry-After").has_value());
}

TEST(ErrorMapping, LogicErrorIs500Too) {
    std::string log;
    const auto r = om::problem_from_exception(std::make_exception_ptr(std::logic_error("invariant broken")), "", log);
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(log, "invariant broken");
    EXPECT_FALSE(body_of(r).contains("instance"));
}

TEST(ErrorMapping, UnknownExceptionIs500) {
    std::string log;
    const auto r = om::problem_from_exception(std::make_exception_ptr(42), "/y", log);
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(body_of(r).at("code").get<std::string>(), "INTERNAL");
    EXPECT_FALSE(log.empty());
}

}  // namespace
