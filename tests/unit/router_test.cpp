// om::Router: literal vs {param} precedence with backtracking, parameter extraction and percent-decoding,
// 404 vs 405 (Allow), HEAD → GET, odd paths, duplicate registration.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/router.hpp"

namespace {

using om::Method;
using om::Router;

om::Handler noop() {
    return [](om::Request&) -> om::Task<om::Response> { co_return om::Response{}; };
}

using Params = std::vector<std::pair<std::string, std::string>>;

// A router shaped like the product/member APIs.
Router catalog() {
    Router r;
    r.get("/products/{id}", noop());
    r.get("/products/search", noop());  // registered after the parameter route on purpose
    r.get("/products/{id}/reviews", noop());
    r.post("/products", noop());
    r.get("/products", noop());
    r.get("/members/{memberId}/orders/{orderId}", noop());
    r.get("/member/members/{userId}", noop());
    r.put("/member/members/{userId}", noop());
    return r;
}

TEST(Router, LiteralSegmentWinsOverParameter) {
    const Router r = catalog();
    const auto m = r.match(Method::get, "/products/search");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/products/search");
    EXPECT_TRUE(m.params.empty());
    EXPECT_EQ(m.pattern, "/products/search");
}

TEST(Router, ParameterMatchesOtherValues) {
    const Router r = catalog();
    const auto m = r.match(Method::get, "/products/42");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/products/{id}");
    EXPECT_EQ(m.params, (Params{{"id", "42"}}));
}

TEST(Router, BacktracksFromLiteralDeadEndToParameter) {
    // "search" matches the literal child, which has no "reviews" child: the router must back up and
    // take the {id} branch.
    const Router r = catalog();
    const auto m = r.match(Method::get, "/products/search/reviews");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/products/{id}/reviews");
    EXPECT_EQ(m.params, (Params{{"id", "search"}}));
}

TEST(Router, BacktrackingDoesNotLeakParameterValuesFromAbandonedBranches) {
    Router r;
    r.get("/a/{x}/b/c", noop());
    r.get("/a/{x}/{y}/d", noop());
    const auto m = r.match(Method::get, "/a/1/b/d");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/a/{x}/{y}/d");
    EXPECT_EQ(m.params, (Params{{"x", "1"}, {"y", "b"}}));
}

TEST(Router, BacktrackingDropsValuesCapturedInAFailedParameterBranch) {
    // /s/lit/w/v first descends the literal "lit", captures "w" as {q}, dead-ends, and must forget "w"
    // before retrying with {id} = "lit".
    Router r;
    r.get("/s/lit/{q}/z", noop());
    r.get("/s/{id}/w/v", noop());
    const auto m = r.match(Method::get, "/s/lit/w/v");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/s/{id}/w/v");
    EXPECT_EQ(m.params, (Params{{"id", "lit"}}));
    const auto z = r.match(Method::get, "/s/lit/w/z");
    ASSERT_NE(z.route, nullptr);
    EXPECT_EQ(z.params, (Params{{"q", "w"}}));
}

TEST(Router, SeveralParametersInOrder) {
    const Router r = catalog();
    const auto m = r.match(Method::get, "/members/m-1/orders/o-2");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.params, (Params{{"memberId", "m-1"}, {"orderId", "o-2"}}));
}

TEST(Router, ParameterNamesComeFromTheMatchedRoutesOwnPattern) {
    Router r;
    r.get("/items/{id}", noop());
    r.put("/items/{itemId}", noop());
    const auto g = r.match(Method::get, "/items/7");
    const auto p = r.match(Method::put, "/items/7");
    ASSERT_NE(g.route, nullptr);
    ASSERT_NE(p.route, nullptr);
    EXPECT_EQ(g.params, (Params{{"id", "7"}}));
    EXPECT_EQ(p.params, (Params{{"itemId", "7"}}));
}

TEST(Router, PercentDecodesUtf8KoreanInASegment) {
    const Router r = catalog();
    // "한글" in UTF-8 is ED 95 9C EA B8 80.
    const auto m = r.match(Method::get, "/products/%ED%95%9C%EA%B8%80");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/products/{id}");
    EXPECT_EQ(m.params, (Params{{"id", "\xED\x95\x9C\xEA\xB8\x80"}}));
    // Lower-case hex digits too.
    const auto lower = r.match(Method::get, "/products/%ed%95%9c");
    ASSERT_NE(lower.route, nullptr);
    EXPECT_EQ(lower.params.at(0).second, "\xED\x95\x9C");
}

TEST(Router, EncodedSlashStaysInsideOneSegment) {
    const Router r = catalog();
    const auto m = r.match(Method::get, "/products/a%2Fb");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/products/{id}");
    EXPECT_EQ(m.params, (Params{{"id", "a/b"}}));
    // ...and it does not make /products/{id}/reviews match.
    const auto n = r.match(Method::get, "/products/a%2Freviews");
    ASSERT_NE(n.route, nullptr);
    EXPECT_EQ(n.route->pattern, "/products/{id}");
    EXPECT_EQ(n.params, (Params{{"id", "a/reviews"}}));
}

TEST(Router, PlusAndOtherCharactersAreNotDecodedInPaths) {
    const Router r = catalog();
    const auto m = r.match(Method::get, "/products/a+b");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.params, (Params{{"id", "a+b"}}));
}

TEST(Router, InvalidEscapeIsNoMatch) {
    const Router r = catalog();
    for (const char* path : {"/products/%zz", "/products/%4", "/products/%", "/products/ab%", "/products/%G1",
                             "/products/%1g/reviews"}) {
        SCOPED_TRACE(path);
        const auto m = r.match(Method::get, path);
        EXPECT_EQ(m.route, nullptr);
        EXPECT_TRUE(m.allow.empty());   // a 404, not a 405
        EXPECT_TRUE(m.params.empty());
    }
}

TEST(Router, UnknownPathIsNotFoundWithoutAllow) {
    const Router r = catalog();
    for (const char* path : {"/nope", "/products/1/2", "/member", "/member/members", "/products/1/reviews/x"}) {
        SCOPED_TRACE(path);
        const auto m = r.match(Method::get, path);
        EXPECT_EQ(m.route, nullptr);
        EXPECT_TRUE(m.allow.empty());
    }
}

TEST(Router, KnownPathWithOtherMethodIsMethodNotAllowedWithAllow) {
    const Router r = catalog();
    const auto m = r.match(Method::del, "/member/members/abc");
    EXPECT_EQ(m.route, nullptr);
    EXPECT_EQ(m.allow, "GET, HEAD, PUT");
    EXPECT_EQ(m.pattern, "/member/members/{userId}");

    const auto p = r.match(Method::put, "/products");
    EXPECT_EQ(p.route, nullptr);
    EXPECT_EQ(p.allow, "POST, GET, HEAD");  // registration order; HEAD right after GET
}

TEST(Router, AllowListWithoutGetHasNoHead) {
    Router r;
    r.post("/auth/login", noop());
    const auto m = r.match(Method::get, "/auth/login");
    EXPECT_EQ(m.route, nullptr);
    EXPECT_EQ(m.allow, "POST");
    const auto h = r.match(Method::head, "/auth/login");
    EXPECT_EQ(h.route, nullptr);
    EXPECT_EQ(h.allow, "POST");
}

TEST(Router, HeadMatchesGetRoute) {
    const Router r = catalog();
    const auto m = r.match(Method::head, "/products/9");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->method, Method::get);
    EXPECT_EQ(m.route->pattern, "/products/{id}");
    EXPECT_EQ(m.params, (Params{{"id", "9"}}));
}

TEST(Router, MatchedRouteCarriesMethodHandlerAndAuth) {
    Router r;
    r.get("/open", noop());
    r.post("/closed", noop(), om::Auth::required);
    const auto a = r.match(Method::get, "/open");
    const auto b = r.match(Method::post, "/closed");
    ASSERT_NE(a.route, nullptr);
    ASSERT_NE(b.route, nullptr);
    EXPECT_EQ(a.route->auth, om::Auth::none);
    EXPECT_EQ(b.route->auth, om::Auth::required);
    EXPECT_EQ(b.route->method, Method::post);
    EXPECT_TRUE(static_cast<bool>(b.route->handler));
}

TEST(Router, TrailingSlashAndEmptySegmentsDoNotMatch) {
    const Router r = catalog();
    for (const char* path : {"/products/", "/products//reviews", "//products", "/products/1/", "/products/1//"}) {
        SCOPED_TRACE(path);
        const auto m = r.match(Method::get, path);
        EXPECT_EQ(m.route, nullptr);
        EXPECT_TRUE(m.allow.empty());
    }
}

TEST(Router, EmptyOrRelativePathDoesNotMatch) {
    const Router r = catalog();
    EXPECT_EQ(r.match(Method::get, "").route, nullptr);
    EXPECT_EQ(r.match(Method::get, "products").route, nullptr);
    EXPECT_EQ(r.match(Method::get, "products/1").route, nullptr);
}

TEST(Router, RootRoute) {
    Router r;
    r.get("/", noop());
    r.get("/health", noop());
    const auto m = r.match(Method::get, "/");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/");
    EXPECT_EQ(r.match(Method::get, "/health").route->pattern, "/health");
}

TEST(Router, LiteralMatchIsCaseSensitive) {
    const Router r = catalog();
    const auto m = r.match(Method::get, "/Products/search");
    EXPECT_EQ(m.route, nullptr);
}

TEST(Router, DuplicateRouteThrows) {
    Router r;
    r.get("/products/{id}", noop());
    EXPECT_THROW(r.get("/products/{id}", noop()), std::logic_error);
    // Same shape with another parameter name is the same route.
    EXPECT_THROW(r.get("/products/{productId}", noop()), std::logic_error);
    // Another method on the same pattern is fine.
    EXPECT_NO_THROW(r.put("/products/{id}", noop()));
    EXPECT_NO_THROW(r.get("/products/search", noop()));
}

TEST(Router, MovedRouterStillMatches) {
    Router a = catalog();
    Router b(std::move(a));
    const auto m = b.match(Method::get, "/products/search");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/products/search");
}

}  // namespace
