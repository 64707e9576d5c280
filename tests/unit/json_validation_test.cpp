// om::parse_object and om::Validator: error codes for bad bodies, string/integer/boolean/enum rules, Unicode
// lengths, and collecting every field error in one response.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/http.hpp"
#include "core/json.hpp"

namespace {

using nlohmann::json;
using om::Validator;

// The messages recorded for `field`, in order.
std::vector<std::string> messages(const Validator& v, const std::string& field) {
    std::vector<std::string> out;
    for (const auto& e : v.error().errors) {
        if (e.field == field) {
            out.push_back(e.message);
        }
    }
    return out;
}

// ---- parse_object ----------------------------------------------------------------------------------

TEST(ParseObject, ValidObject) {
    const auto r = om::parse_object(R"({"email":"a@b.co","n":1})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->at("email").get<std::string>(), "a@b.co");
    EXPECT_EQ(r->at("n").get<int>(), 1);
    EXPECT_TRUE(om::parse_object("{}").has_value());
    EXPECT_TRUE(om::parse_object(" \n{ } \n").has_value());
}

TEST(ParseObject, EmptyBodyIsMalformedJson) {
    const auto r = om::parse_object("");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, om::ErrorCode::malformed_json);
    EXPECT_EQ(om::problem(r.error()).status, 400);
}

TEST(ParseObject, MalformedJson) {
    for (const char* body : {"{", "{\"a\":}", "{'a':1}", "{\"a\":1,}", "{} trailing", "   ", "nul", "{\"a\":01}"}) {
        SCOPED_TRACE(body);
        const auto r = om::parse_object(body);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, om::ErrorCode::malformed_json);
    }
}

TEST(ParseObject, InvalidUtf8IsMalformedJson) {
    for (const std::string& body : {std::string("{\"name\":\"\xff\xfe\"}"), std::string("{\"name\":\"\xc3\"}"),
                                   std::string("{\"name\":\"\xed\xa0\x80\"}")}) {  // lone surrogate
        const auto r = om::parse_object(body);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, om::ErrorCode::malformed_json);
    }
}

TEST(ParseObject, NonObjectIsValidationFailed) {
    for (const char* body : {"[1,2]", "[]", "42", "\"text\"", "null", "true"}) {
        SCOPED_TRACE(body);
        const auto r = om::parse_object(body);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, om::ErrorCode::validation_failed);
        ASSERT_EQ(r.error().errors.size(), 1U);
        EXPECT_EQ(r.error().errors[0].message, "must be an object");
    }
}

TEST(ParseObject, KoreanTextRoundTrips) {
    const auto r = om::parse_object("{\"name\":\"\xEA\xB9\x80\xEC\xB2\xA0\xEC\x88\x98\"}");  // 김철수
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->at("name").get<std::string>(), "\xEA\xB9\x80\xEC\xB2\xA0\xEC\x88\x98");
}

TEST(Utf8Length, CountsCodePoints) {
    EXPECT_EQ(om::utf8_length(""), 0U);
    EXPECT_EQ(om::utf8_length("abc"), 3U);
    EXPECT_EQ(om::utf8_length("\xED\x95\x9C\xEA\xB8\x80"), 2U);  // 한글: 6 bytes
    EXPECT_EQ(om::utf8_length("\xF0\x9F\x98\x80"), 1U);          // 😀: 4 bytes
    EXPECT_EQ(om::utf8_length("a\xC3\xA9z"), 3U);                // aéz
}

// ---- strings ----------------------------------------------------------------------------------------

TEST(ValidatorString, RequiredMissingAndNull) {
    const json j = {{"present", "x"}, {"nothing", nullptr}};
    Validator v(j);
    EXPECT_FALSE(v.string("missing").has_value());
    EXPECT_FALSE(v.string("nothing").has_value());
    EXPECT_EQ(v.string("present"), "x");
    EXPECT_FALSE(v.ok());
    EXPECT_EQ(messages(v, "missing"), std::vector<std::string>{"is required"});
    EXPECT_EQ(messages(v, "nothing"), std::vector<std::string>{"is required"});
    EXPECT_TRUE(messages(v, "present").empty());
}

TEST(ValidatorString, OptionalMissingIsNoError) {
    const json j = json::object();
    Validator v(j);
    EXPECT_FALSE(v.string("phone", {.required = false}).has_value());
    EXPECT_TRUE(v.ok());
}

TEST(ValidatorString, TrimsByDefault) {
    const json j = {{"name", "  \t Kim \r\n"}};
    Validator v(j);
    EXPECT_EQ(v.string("name"), "Kim");
    EXPECT_TRUE(v.ok());
}

TEST(ValidatorString, TrimCanBeDisabled) {
    const json j = {{"password", "  secret  "}};
    Validator v(j);
    EXPECT_EQ(v.string("password", {.trim = false}), "  secret  ");
    EXPECT_TRUE(v.ok());
}

TEST(ValidatorString, WhitespaceOnlyIsEmpty) {
    const json j = {{"name", "   "}, {"empty", ""}};
    Validator v(j);
    EXPECT_FALSE(v.string("name").has_value());
    EXPECT_FALSE(v.string("empty").has_value());
    EXPECT_EQ(messages(v, "name"), std::vector<std::string>{"must not be empty"});
    EXPECT_EQ(messages(v, "empty"), std::vector<std::string>{"must not be empty"});
}

TEST(ValidatorString, MinAndMaxLength) {
    const json j = {{"short", "ab"}, {"exact_min", "abc"}, {"exact_max", "abcde"}, {"long", "abcdef"},
                    {"padded", "  ab  "}};
    Validator v(j);
    const om::StringRule rule{.min = 3, .max = 5};
    EXPECT_FALSE(v.string("short", rule).has_value());
    EXPECT_EQ(v.string("exact_min", rule), "abc");
    EXPECT_EQ(v.string("exact_max", rule), "abcde");
    EXPECT_FALSE(v.string("long", rule).has_value());
    EXPECT_FALSE(v.string("padded", rule).has_value());  // length is measured after trimming
    EXPECT_EQ(messages(v, "short"), std::vector<std::string>{"must be at least 3 characters"});
    EXPECT_EQ(messages(v, "long"), std::vector<std::string>{"must be at most 5 characters"});
    EXPECT_EQ(messages(v, "padded"), std::vector<std::string>{"must be at least 3 characters"});
    EXPECT_EQ(v.error().errors.size(), 3U);
}

TEST(ValidatorString, KoreanLengthCountsCharactersNotBytes) {
    // "가나다라마": 5 characters, 15 bytes.
    const std::string five = "\xEA\xB0\x80\xEB\x82\x98\xEB\x8B\xA4\xEB\x9D\xBC\xEB\xA7\x88";
    ASSERT_EQ(five.size(), 15U);
    const json j = {{"name", five}};
    {
        Validator v(j);
        EXPECT_EQ(v.string("name", {.min = 5, .max = 5}), five);
        EXPECT_TRUE(v.ok());
    }
    {
        Validator v(j);
        EXPECT_FALSE(v.string("name", {.max = 4}).has_value());
        EXPECT_EQ(messages(v, "name"), std::vector<std::string>{"must be at most 4 characters"});
    }
    {
        Validator v(j);
        EXPECT_FALSE(v.string("name", {.min = 6}).has_value());
    }
}

TEST(ValidatorString, WrongType) {
    const json j = {{"n", 42}, {"a", json::array({"x"})}, {"o", json::object()}, {"b", true}};
    Validator v(j);
    for (const char* f : {"n", "a", "o", "b"}) {
        EXPECT_FALSE(v.string(f).has_value());
        EXPECT_EQ(messages(v, f), std::vector<std::string>{"must be a string"}) << f;
    }
}

// ---- integers ---------------------------------------------------------------------------------------

TEST(ValidatorInteger, AcceptsIntegersInRange) {
    const json j = json::parse(R"({"q":5,"neg":-3,"zero":0})");
    Validator v(j);
    EXPECT_EQ(v.integer("q", {.min = 1, .max = 10}), 5);
    EXPECT_EQ(v.integer("neg"), -3);
    EXPECT_EQ(v.integer("zero", {.min = 0, .max = 0}), 0);
    EXPECT_TRUE(v.ok());
}

TEST(ValidatorInteger, RangeBoundsAreInclusive) {
    const json j = json::parse(R"({"lo":1,"hi":10,"under":0,"over":11})");
    Validator v(j);
    const om::IntRule rule{.min = 1, .max = 10};
    EXPECT_EQ(v.integer("lo", rule), 1);
    EXPECT_EQ(v.integer("hi", rule), 10);
    EXPECT_FALSE(v.integer("under", rule).has_value());
    EXPECT_FALSE(v.integer("over", rule).has_value());
    EXPECT_EQ(messages(v, "under"), std::vector<std::string>{"must be between 1 and 10"});
    EXPECT_EQ(messages(v, "over"), std::vector<std::string>{"must be between 1 and 10"});
}

TEST(ValidatorInteger, FloatIsRejected) {
    const json j = json::parse(R"({"f":1.5,"whole":5.0,"exp":1e3})");
    Validator v(j);
    for (const char* f : {"f", "whole", "exp"}) {
        EXPECT_FALSE(v.integer(f).has_value()) << f;
        EXPECT_EQ(messages(v, f), std::vector<std::string>{"must be an integer"}) << f;
    }
}

TEST(ValidatorInteger, Int64LimitsAndHugeUnsigned) {
    const json j = json::parse(
        R"({"max":9223372036854775807,"min":-9223372036854775808,"over":9223372036854775808,"u64":18446744073709551615})");
    Validator v(j);
    EXPECT_EQ(v.integer("max"), INT64_MAX);
    EXPECT_EQ(v.integer("min"), INT64_MIN);
    EXPECT_FALSE(v.integer("over").has_value());
    EXPECT_FALSE(v.integer("u64").has_value());
    EXPECT_EQ(messages(v, "over"), std::vector<std::string>{"is out of range"});
    EXPECT_EQ(messages(v, "u64"), std::vector<std::string>{"is out of range"});
    EXPECT_TRUE(messages(v, "max").empty());
    EXPECT_TRUE(messages(v, "min").empty());
}

TEST(ValidatorInteger, BeyondUint64IsNotAnInteger) {
    const json j = json::parse(R"({"big":100000000000000000000000})");
    Validator v(j);
    EXPECT_FALSE(v.integer("big").has_value());
    EXPECT_FALSE(v.ok());
}

TEST(ValidatorInteger, StringAndBooleanAreRejected) {
    const json j = json::parse(R"({"s":"5","b":true})");
    Validator v(j);
    EXPECT_FALSE(v.integer("s").has_value());
    EXPECT_FALSE(v.integer("b").has_value());
    EXPECT_EQ(messages(v, "s"), std::vector<std::string>{"must be an integer"});
    EXPECT_EQ(messages(v, "b"), std::vector<std::string>{"must be an integer"});
}

TEST(ValidatorInteger, RequiredAndOptional) {
    const json j = json::parse(R"({"n":null})");
    Validator v(j);
    EXPECT_FALSE(v.integer("n").has_value());
    EXPECT_FALSE(v.integer("opt", {.required = false}).has_value());
    EXPECT_EQ(messages(v, "n"), std::vector<std::string>{"is required"});
    EXPECT_TRUE(messages(v, "opt").empty());
}

// ---- booleans ---------------------------------------------------------------------------------------

TEST(ValidatorBoolean, Values) {
    const json j = json::parse(R"({"t":true,"f":false,"s":"true","one":1})");
    Validator v(j);
    EXPECT_EQ(v.boolean("t"), true);
    EXPECT_EQ(v.boolean("f"), false);
    EXPECT_TRUE(v.ok());
    EXPECT_FALSE(v.boolean("s").has_value());
    EXPECT_FALSE(v.boolean("one").has_value());
    EXPECT_EQ(messages(v, "s"), std::vector<std::string>{"must be a boolean"});
    EXPECT_EQ(messages(v, "one"), std::vector<std::string>{"must be a boolean"});
}

TEST(ValidatorBoolean, OptionalByDefaultRequiredOnRequest) {
    const json j = json::object();
    Validator v(j);
    EXPECT_FALSE(v.boolean("agree").has_value());
    EXPECT_TRUE(v.ok());
    EXPECT_FALSE(v.boolean("agree", true).has_value());
    EXPECT_EQ(messages(v, "agree"), std::vector<std::string>{"is required"});
}

// ---- enums ------------------------------------------------------------------------------------------

TEST(ValidatorOneOf, AcceptsListedValues) {
    const json j = {{"role", "SELLER"}};
    Validator v(j);
    EXPECT_EQ(v.one_of("role", {"BUYER", "SELLER"}), "SELLER");
    EXPECT_TRUE(v.ok());
}

TEST(ValidatorOneOf, UnknownValueWrongTypeAndCase) {
    const json j = {{"a", "ADMIN"}, {"b", 1}, {"c", "buyer"}, {"d", json::array({"BUYER"})}};
    Validator v(j);
    for (const char* f : {"a", "b", "c", "d"}) {
        EXPECT_FALSE(v.one_of(f, {"BUYER", "SELLER"}).has_value()) << f;
        EXPECT_EQ(messages(v, f), std::vector<std::string>{"must be one of BUYER, SELLER"}) << f;
    }
}

TEST(ValidatorOneOf, RequiredAndOptional) {
    const json j = json::object();
    Validator v(j);
    EXPECT_FALSE(v.one_of("role", {"BUYER", "SELLER"}).has_value());
    EXPECT_FALSE(v.one_of("sort", {"asc", "desc"}, false).has_value());
    ASSERT_EQ(v.error().errors.size(), 1U);
    EXPECT_EQ(v.error().errors[0].field, "role");
    EXPECT_NE(v.error().errors[0].message.find("is required"), std::string::npos);
    EXPECT_NE(v.error().errors[0].message.find("BUYER, SELLER"), std::string::npos);
}

// ---- everything together -----------------------------------------------------------------------------

TEST(Validator, HasTreatsNullAsAbsent) {
    const json j = json::parse(R"({"a":1,"n":null,"f":false})");
    Validator v(j);
    EXPECT_TRUE(v.has("a"));
    EXPECT_TRUE(v.has("f"));
    EXPECT_FALSE(v.has("n"));
    EXPECT_FALSE(v.has("missing"));
}

TEST(Validator, CollectsEveryFieldErrorAtOnce) {
    const auto obj = om::parse_object(
        R"({"email":"","password":"short","name":12,"role":"ADMIN","age":17.5,"agree":"yes","ok":"fine"})");
    ASSERT_TRUE(obj.has_value());
    Validator v(*obj);
    EXPECT_FALSE(v.string("email", {.max = 320}).has_value());
    EXPECT_FALSE(v.string("password", {.min = 8, .max = 128, .trim = false}).has_value());
    EXPECT_FALSE(v.string("name").has_value());
    EXPECT_FALSE(v.one_of("role", {"BUYER", "SELLER"}).has_value());
    EXPECT_FALSE(v.integer("age", {.min = 0}).has_value());
    EXPECT_FALSE(v.boolean("agree").has_value());
    EXPECT_EQ(v.string("ok"), "fine");
    EXPECT_FALSE(v.string("phone").has_value());
    v.fail("custom", "is inconsistent");

    ASSERT_FALSE(v.ok());
    const om::Error e = v.error();
    EXPECT_EQ(e.code, om::ErrorCode::validation_failed);
    std::vector<std::string> fields;
    for (const auto& f : e.errors) {
        fields.push_back(f.field);
    }
    EXPECT_EQ(fields, (std::vector<std::string>{"email", "password", "name", "role", "age", "agree", "phone",
                                                "custom"}));

    const auto r = om::problem(e);
    EXPECT_EQ(r.status, 400);
    const auto body = json::parse(r.body);
    EXPECT_EQ(body.at("code"), "VALIDATION_FAILED");
    ASSERT_EQ(body.at("errors").size(), 8U);
    EXPECT_EQ(body["errors"][1]["field"], "password");
    EXPECT_EQ(body["errors"][1]["message"], "must be at least 8 characters");
    EXPECT_EQ(body["errors"][7], (json{{"field", "custom"}, {"message", "is inconsistent"}}));
}

TEST(Validator, OkWhenEverythingValid) {
    const auto obj = om::parse_object(R"({"email":" a@b.co ","quantity":3,"gift":false,"role":"BUYER"})");
    ASSERT_TRUE(obj.has_value());
    Validator v(*obj);
    EXPECT_EQ(v.string("email"), "a@b.co");
    EXPECT_EQ(v.integer("quantity", {.min = 1, .max = 99}), 3);
    EXPECT_EQ(v.boolean("gift"), false);
    EXPECT_EQ(v.one_of("role", {"BUYER", "SELLER"}), "BUYER");
    EXPECT_TRUE(v.ok());
    EXPECT_TRUE(v.error().errors.empty());
}

}  // namespace
