// om::JsonOut writes the JSON a parser reads back: commas in nested objects and arrays, escaping of quotes,
// backslashes and control characters, UTF-8 copied, nulls for absent optionals, raw JSON spliced in.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/json_out.hpp"

namespace {

using nlohmann::json;

TEST(JsonOut, NestsObjectsAndArraysWithTheRightCommas) {
    om::JsonOut j;
    j.begin_object()
        .key("a").value(std::int64_t{-9007199254740993})
        .key("b").begin_array().end_array()
        .key("c").begin_array().value(1).value(true).null().begin_object().end_object().begin_array().value(2).end_array().end_array()
        .key("d").begin_object().key("e").value(false).end_object()
        .key("f").raw(R"([{"at": "2026-12-06T10:00:00Z", "status": "PENDING"}])")
        .end_object();
    const json parsed = json::parse(j.str());
    const json expected = json::parse(R"({"a": -9007199254740993, "b": [], "c": [1, true, null, {}, [2]], "d": {"e": false},
                                          "f": [{"at": "2026-12-06T10:00:00Z", "status": "PENDING"}]})");
    EXPECT_EQ(parsed, expected) << j.str();
}

TEST(JsonOut, EscapesWhatRfc8259RequiresAndCopiesUtf8) {
    const std::string tricky = std::string("say \"hi\" \\ path\n\t\r\b\f") + '\x01' + '\x1f' + " 한정판 운동화 👟 /";
    om::JsonOut j;
    j.begin_object().key(tricky).value(tricky).end_object();
    const json parsed = json::parse(j.str());
    ASSERT_TRUE(parsed.contains(tricky)) << j.str();
    EXPECT_EQ(parsed.at(tricky).get<std::string>(), tricky);
    EXPECT_NE(j.str().find("\\u0001"), std::string::npos);
    EXPECT_NE(j.str().find("\\u001f"), std::string::npos);
    EXPECT_NE(j.str().find("한정판"), std::string::npos) << "UTF-8 is not escaped";
}

TEST(JsonOut, OptionalsAreValuesOrNull) {
    const std::optional<std::string> some = "x";
    const std::optional<std::string> none;
    om::JsonOut j;
    j.begin_array().value(some).value(none).strings({}).strings({"a", "b"}).end_array();
    EXPECT_EQ(j.take(), R"(["x",null,[],["a","b"]])");
}

TEST(JsonOut, PlainAndEscapedStringsInEveryPositionWriteTheExactText) {
    om::JsonOut j;
    j.begin_object()
        .key("").value("")
        .key("k").value("plain")
        .key("q\"k").value("a\"b")
        .key("arr").begin_array().value("x").value("y\n").value("").end_array()
        .key("last").value("z")
        .end_object();
    EXPECT_EQ(j.take(), R"({"":"","k":"plain","q\"k":"a\"b","arr":["x","y\n",""],"last":"z"})");
    om::JsonOut top;
    top.value("alone");
    EXPECT_EQ(top.take(), R"("alone")");
    // Long enough that the buffer grows while strings are written into it.
    om::JsonOut big;
    big.begin_array();
    std::string expected = "[";
    for (int i = 0; i < 2000; ++i) {
        const std::string s(static_cast<std::size_t>(i % 37), static_cast<char>('a' + i % 26));
        big.value(s);
        expected += (i ? ",\"" : "\"") + s + "\"";
    }
    big.end_array();
    EXPECT_EQ(big.take(), expected + "]");
}

}  // namespace
