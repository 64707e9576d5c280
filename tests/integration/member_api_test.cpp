// Member service end to end: a real openmarket-server against real PostgreSQL and Redis.
#include <gtest/gtest.h>

#include <atomic>
#include <random>

#include "support/http_client.hpp"
#include "support/api_test.hpp"
#include "support/server_process.hpp"
#include "support/test_env.hpp"

using nlohmann::json;
using om::test::HttpClient;
using om::test::ServerProcess;

using om::test::Account;
using om::test::unique_email;

namespace {


class MemberApi : public om::test::ServerSuite {
protected:

    json register_member(const std::string& email, const std::string& password = "correct-horse-1",
                         const std::string& role = "BUYER", const std::string& name = "테스트 사용자") {
        auto r = client_->post("/member/registration", {{"email", email}, {"password", password}, {"name", name}, {"role", role}});
        EXPECT_EQ(r.status, 201) << r.body;
        return r.json();
    }
    json login(const std::string& email, const std::string& password = "correct-horse-1") {
        auto r = client_->post("/member/login", {{"email", email}, {"password", password}});
        EXPECT_EQ(r.status, 200) << r.body;
        return r.json();
    }
    static void expect_problem(const om::test::HttpResponse& r, int status, const std::string& code) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << r.body;
        auto j = r.json();
        EXPECT_EQ(j.value("code", ""), code) << r.body;
        EXPECT_EQ(j.value("status", 0), status);
        EXPECT_TRUE(j.contains("title"));
        EXPECT_TRUE(j.contains("detail"));
        EXPECT_TRUE(j.contains("type"));
    }
    static bool has_field_error(const json& j, const std::string& field) {
        for (const auto& e : j.value("errors", json::array())) {
            if (e.value("field", "") == field) {
                return true;
            }
        }
        return false;
    }

};


TEST_F(MemberApi, RegistrationReturnsTheMemberAndNormalisesTheEmail) {
    const auto email = unique_email("MixedCase");
    std::string upper = email;
    for (auto& c : upper) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    auto r = client_->post("/member/registration", {{"email", "  " + upper + " "},
                                                   {"password", "s3cret-pass"},
                                                   {"name", "김철수"},
                                                   {"role", "SELLER"},
                                                   {"phone", "+82 10-1234-5678"}});
    ASSERT_EQ(r.status, 201) << r.body;
    auto j = r.json();
    std::string lower = email;
    for (auto& c : lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    EXPECT_EQ(j["email"], lower);
    EXPECT_EQ(j["name"], "김철수");
    EXPECT_EQ(j["role"], "SELLER");
    EXPECT_EQ(j["phone"], "+82 10-1234-5678");
    EXPECT_EQ(j["userId"].get<std::string>().size(), 36U);
    EXPECT_TRUE(j["createdAt"].get<std::string>().ends_with("Z"));
    EXPECT_FALSE(j.contains("password"));
    EXPECT_FALSE(j.contains("passwordHash"));
    EXPECT_EQ(r.header("Location"), "/member/members/" + j["userId"].get<std::string>());
    // The stored hash is argon2id, never the password.
    auto hash = om::test::sql_value(server_->database_url(),
                                    "SELECT password_hash FROM member.members WHERE email = '" + lower + "'");
    EXPECT_TRUE(hash.starts_with("$argon2id$")) << hash;
    EXPECT_EQ(hash.find("s3cret-pass"), std::string::npos);
}

TEST_F(MemberApi, TakenEmailIsRejectedCaseInsensitively) {
    const auto email = unique_email("taken");
    register_member(email);
    std::string upper = email;
    upper[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[0])));
    auto r = client_->post("/member/registration",
                           {{"email", upper}, {"password", "another-pass"}, {"name", "x"}, {"role", "BUYER"}});
    expect_problem(r, 409, "EMAIL_TAKEN");
}

TEST_F(MemberApi, RegistrationValidationReportsEveryField) {
    auto r = client_->post("/member/registration",
                           {{"email", "not-an-email"}, {"password", "short"}, {"name", ""}, {"role", "ADMIN"}});
    expect_problem(r, 400, "VALIDATION_FAILED");
    auto j = r.json();
    EXPECT_TRUE(has_field_error(j, "email"));
    EXPECT_TRUE(has_field_error(j, "password"));
    EXPECT_TRUE(has_field_error(j, "name"));
    EXPECT_TRUE(has_field_error(j, "role"));

    r = client_->post("/member/registration", {{"email", 42}, {"password", true}, {"role", "BUYER"}});
    expect_problem(r, 400, "VALIDATION_FAILED");
    EXPECT_TRUE(has_field_error(r.json(), "email"));
    EXPECT_TRUE(has_field_error(r.json(), "password"));
    EXPECT_TRUE(has_field_error(r.json(), "name"));

    r = client_->post("/member/registration", {{"email", unique_email()}, {"password", "long-enough"}, {"name", "n"},
                                               {"role", "BUYER"}, {"phone", "call me"}});
    expect_problem(r, 400, "VALIDATION_FAILED");
    EXPECT_TRUE(has_field_error(r.json(), "phone"));
}

TEST_F(MemberApi, MalformedBodiesAreClientErrors) {
    expect_problem(client_->request("POST", "/member/registration", "{\"email\": ", {{"Content-Type", "application/json"}}),
                   400, "MALFORMED_JSON");
    expect_problem(client_->request("POST", "/member/registration", "[1,2,3]", {{"Content-Type", "application/json"}}),
                   400, "VALIDATION_FAILED");
    expect_problem(client_->request("POST", "/member/registration", "", {}), 400, "MALFORMED_JSON");
    expect_problem(client_->request("POST", "/member/login", std::string("{\"email\":\"\xff\xfe\"}"), {}), 400,
                   "MALFORMED_JSON");
    // Nothing was created by any of these.
    EXPECT_EQ(om::test::sql_value(server_->database_url(), "SELECT count(*) FROM member.members WHERE email = ''"), "0");
}

TEST_F(MemberApi, LoginIssuesTokensAndFailuresLookTheSame) {
    const auto email = unique_email("login");
    auto m = register_member(email);
    auto j = login(email);
    EXPECT_EQ(j["tokenType"], "Bearer");
    EXPECT_GT(j["expiresIn"].get<long long>(), 0);
    EXPECT_FALSE(j["accessToken"].get<std::string>().empty());
    EXPECT_FALSE(j["refreshToken"].get<std::string>().empty());
    EXPECT_EQ(j["member"]["userId"], m["userId"]);
    EXPECT_EQ(j["member"]["email"], email);
    EXPECT_EQ(j["member"]["role"], "BUYER");

    auto wrong = client_->post("/member/login", {{"email", email}, {"password", "wrong-password"}});
    auto unknown = client_->post("/member/login", {{"email", unique_email("nobody")}, {"password", "wrong-password"}});
    expect_problem(wrong, 401, "INVALID_CREDENTIALS");
    expect_problem(unknown, 401, "INVALID_CREDENTIALS");
    EXPECT_EQ(wrong.body, unknown.body);

    // Email matching ignores case and surrounding spaces, as at registration.
    std::string upper = email;
    upper[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[0])));
    EXPECT_EQ(client_->post("/member/login", {{"email", " " + upper}, {"password", "correct-horse-1"}}).status, 200);

    expect_problem(client_->post("/member/login", {{"email", email}}), 400, "VALIDATION_FAILED");
}

TEST_F(MemberApi, FailedLoginsPerEmailAreLimitedAndSuccessesDoNotCount) {
    const auto email = unique_email("limited");
    register_member(email);
    for (int i = 0; i < 5; ++i) {
        login(email);  // successes never count
    }
    for (int i = 0; i < 10; ++i) {
        auto r = client_->post("/member/login", {{"email", email}, {"password", "wrong-password"}});
        ASSERT_EQ(r.status, 401) << "attempt " << i << ": " << r.body;
    }
    auto r = client_->post("/member/login", {{"email", email}, {"password", "correct-horse-1"}});
    expect_problem(r, 429, "TOO_MANY_REQUESTS");
    const int retry = std::stoi(r.header("Retry-After"));
    EXPECT_GT(retry, 0);
    EXPECT_LE(retry, 15 * 60);
    // Another account from the same address is not affected by this email's limit.
    const auto other = unique_email("unaffected");
    register_member(other);
    login(other);
}

TEST_F(MemberApi, FailedLoginsPerClientAddressAreLimited) {
    // 100 failures per client address per minute, whatever the email.
    for (int i = 0; i < 100; ++i) {
        auto r = client_->post("/member/login", {{"email", unique_email("spray")}, {"password", "wrong-password"}});
        ASSERT_EQ(r.status, 401) << "attempt " << i << ": " << r.body;
    }
    auto r = client_->post("/member/login", {{"email", unique_email("spray")}, {"password", "wrong-password"}});
    expect_problem(r, 429, "TOO_MANY_REQUESTS");
    EXPECT_LE(std::stoi(r.header("Retry-After")), 60);
}

TEST_F(MemberApi, ProfileIsReadableAndWritableByItsOwnerOnly) {
    const auto email = unique_email("profile");
    auto me = register_member(email);
    auto other = register_member(unique_email("other"));
    const auto token = login(email)["accessToken"].get<std::string>();
    const auto id = me["userId"].get<std::string>();

    auto r = client_->get("/member/members/" + id, token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["email"], email);
    EXPECT_TRUE(r.json().contains("updatedAt"));

    expect_problem(client_->get("/member/members/" + other["userId"].get<std::string>(), token), 403, "FORBIDDEN");
    expect_problem(client_->put("/member/members/" + other["userId"].get<std::string>(), {{"name", "hijack"}}, token),
                   403, "FORBIDDEN");
    expect_problem(client_->put("/member/members/" + other["userId"].get<std::string>(), {{"name", ""}}, token), 403,
                   "FORBIDDEN");  // ownership is checked before the body

    r = client_->put("/member/members/" + id, {{"name", "새 이름"}, {"phone", "010-9876-5432"}}, token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["name"], "새 이름");
    EXPECT_EQ(r.json()["phone"], "010-9876-5432");
    r = client_->put("/member/members/" + id, {{"phone", nullptr}}, token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.json()["phone"].is_null());
    EXPECT_EQ(r.json()["name"], "새 이름");

    expect_problem(client_->put("/member/members/" + id, {{"name", ""}}, token), 400, "VALIDATION_FAILED");
    expect_problem(client_->put("/member/members/" + id, {{"password", "new-password-1"}}, token), 400,
                   "VALIDATION_FAILED");
}

TEST_F(MemberApi, MissingOrBadTokensGet401WithWwwAuthenticate) {
    auto me = register_member(unique_email("auth"));
    const auto path = "/member/members/" + me["userId"].get<std::string>();
    auto r = client_->get(path);
    expect_problem(r, 401, "UNAUTHORIZED");
    EXPECT_TRUE(r.header("WWW-Authenticate").starts_with("Bearer")) << r.header("WWW-Authenticate");
    r = client_->get(path, "not-a-real-token");
    expect_problem(r, 401, "UNAUTHORIZED");
    EXPECT_NE(r.header("WWW-Authenticate").find("invalid_token"), std::string::npos);
    r = client_->request("GET", path, {}, {{"Authorization", "Basic dXNlcjpwYXNz"}});
    expect_problem(r, 401, "UNAUTHORIZED");
    expect_problem(client_->post("/member/logout", nullptr), 401, "UNAUTHORIZED");
}

TEST_F(MemberApi, PasswordChangeEndsOtherSessionsButKeepsTheCurrentOne) {
    const auto email = unique_email("pwchange");
    auto me = register_member(email, "first-password");
    const auto id = me["userId"].get<std::string>();
    const auto current = login(email, "first-password")["accessToken"].get<std::string>();
    const auto other_session = login(email, "first-password");
    const auto other = other_session["accessToken"].get<std::string>();
    for (int i = 0; i < 4; ++i) {  // now cached by the shards that answered (--session-cache-ms)
        ASSERT_EQ(client_->get("/member/members/" + id, other).status, 200);
    }

    auto r = client_->put("/member/members/" + id, {{"password", "second-password"}, {"currentPassword", "wrong"}}, current);
    expect_problem(r, 400, "VALIDATION_FAILED");
    EXPECT_TRUE(has_field_error(r.json(), "currentPassword"));

    r = client_->put("/member/members/" + id, {{"password", "second-password"}, {"currentPassword", "first-password"}},
                     current);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(client_->get("/member/members/" + id, current).status, 200);
    EXPECT_EQ(client_->get("/member/members/" + id, other).status, 401);
    EXPECT_EQ(client_->post("/member/token/refresh", {{"refreshToken", other_session["refreshToken"]}}).status, 401);
    EXPECT_EQ(client_->post("/member/login", {{"email", email}, {"password", "first-password"}}).status, 401);
    login(email, "second-password");
}

TEST_F(MemberApi, RefreshRotatesTokensAndIsSingleUse) {
    const auto email = unique_email("refresh");
    register_member(email);
    auto first = login(email);
    auto r = client_->post("/member/token/refresh", {{"refreshToken", first["refreshToken"]}});
    ASSERT_EQ(r.status, 200) << r.body;
    auto second = r.json();
    EXPECT_NE(second["accessToken"], first["accessToken"]);
    EXPECT_NE(second["refreshToken"], first["refreshToken"]);
    EXPECT_EQ(second["member"]["email"], email);
    const auto path = "/member/members/" + second["member"]["userId"].get<std::string>();
    EXPECT_EQ(client_->get(path, second["accessToken"]).status, 200);
    EXPECT_EQ(client_->get(path, first["accessToken"]).status, 401);  // the old pair is gone
    expect_problem(client_->post("/member/token/refresh", {{"refreshToken", first["refreshToken"]}}), 401,
                   "UNAUTHORIZED");
    expect_problem(client_->post("/member/token/refresh", json::object()), 400, "VALIDATION_FAILED");
}

TEST_F(MemberApi, LogoutEndsTheSessionAtOnce) {
    const auto email = unique_email("logout");
    auto me = register_member(email);
    auto s1 = login(email);
    auto s2 = login(email);
    const auto path = "/member/members/" + me["userId"].get<std::string>();
    for (int i = 0; i < 4; ++i) {  // now cached by the shards that answered (--session-cache-ms)
        ASSERT_EQ(client_->get(path, s1["accessToken"]).status, 200);
    }
    auto r = client_->post("/member/logout", nullptr, s1["accessToken"]);
    EXPECT_EQ(r.status, 204) << r.body;
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(client_->get(path, s1["accessToken"]).status, 401);
    EXPECT_EQ(client_->post("/member/token/refresh", {{"refreshToken", s1["refreshToken"]}}).status, 401);
    EXPECT_EQ(client_->get(path, s2["accessToken"]).status, 200);  // other sessions live on
}

TEST_F(MemberApi, UnknownPathsAndMethodsAreProblems) {
    auto r = client_->get("/member/nope");
    expect_problem(r, 404, "NOT_FOUND");
    r = client_->get("/member/registration");
    expect_problem(r, 405, "METHOD_NOT_ALLOWED");
    EXPECT_EQ(r.header("Allow"), "POST");
    r = client_->request("DELETE", "/member/members/abc", {}, {});
    expect_problem(r, 405, "METHOD_NOT_ALLOWED");
    EXPECT_NE(r.header("Allow").find("GET"), std::string::npos);
    EXPECT_NE(r.header("Allow").find("PUT"), std::string::npos);
}

TEST_F(MemberApi, RequestIdIsEchoedOrGenerated) {
    auto r = client_->request("GET", "/healthz", {}, {{"X-Request-Id", "trace-abc-123"}});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("X-Request-Id"), "trace-abc-123");
    auto r2 = client_->get("/healthz");
    EXPECT_EQ(r2.header("X-Request-Id").size(), 16U);
    auto r3 = client_->get("/nowhere");
    EXPECT_FALSE(r3.header("X-Request-Id").empty());
    // and it is in the access log
    const auto log = server_->log();
    EXPECT_NE(log.find("\"request_id\":\"trace-abc-123\""), std::string::npos);
}

TEST_F(MemberApi, HealthReadinessAndMetrics) {
    auto h = client_->get("/healthz");
    EXPECT_EQ(h.status, 200);
    auto ready = client_->get("/readyz");
    ASSERT_EQ(ready.status, 200) << ready.body;
    EXPECT_EQ(ready.json()["checks"]["postgres"], "ok");
    EXPECT_EQ(ready.json()["checks"]["redis"], "ok");
    auto m = client_->get("/metrics");
    ASSERT_EQ(m.status, 200);
    EXPECT_TRUE(m.header("Content-Type").starts_with("text/plain"));
    EXPECT_NE(m.body.find("openmarket_http_requests_total"), std::string::npos);
    EXPECT_NE(m.body.find("openmarket_http_request_duration_seconds_bucket"), std::string::npos);
    EXPECT_NE(m.body.find("route=\"/healthz\""), std::string::npos);
}

TEST(MemberMigrations, ReadinessIsFalseUntilMigrated) {
    // The server runs but is not ready while the database lacks the migrations it expects.
    const auto url = om::test::fresh_database("om_unmigrated");
    om::test::ServerOptions o;
    o.database_url = url;
    o.wait_ready = false;
    ServerProcess s(o);  // migrates, then starts
    ASSERT_TRUE(s.wait_ready(std::chrono::seconds(20), 200)) << s.log();
    om::test::sql_value(url, "DELETE FROM om_meta.schema_migrations");
    HttpClient c(s.port());
    auto r = c.get("/readyz");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.header("Retry-After"), "1");
    ASSERT_EQ(om::test::run_migrate(url), 1);  // the schema exists but the record is gone: applying fails
}

}  // namespace
