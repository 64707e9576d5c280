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

// The scan for characters to escape goes eight bytes at a time: whatever the length and wherever the special
// character sits (first, last, across two words, after UTF-8 bytes), the text is the byte-by-byte escaping's.
TEST(JsonOut, EscapesEverySpecialCharacterAtEveryPositionOfLongerStrings) {
    const auto reference = [](const std::string& in) {
        std::string out = "\"";
        for (const char c : in) {
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                default:
                    if (static_cast<unsigned char>(c) < 0x20) {
                        static constexpr char hex[] = "0123456789abcdef";
                        out += "\\u00";
                        out += hex[static_cast<unsigned char>(c) >> 4];
                        out += hex[static_cast<unsigned char>(c) & 0xF];
                    } else {
                        out += c;
                    }
            }
        }
        return out + "\"";
    };
    const std::string fillers[] = {"a", "\xc3\xa9", "\x7f", "\xff", " ", "!", "#", "[", "]", "~"};
    const char specials[] = {'"', '\\', '\n', '\x01', '\x1f', '\0'};
    int checked = 0;
    for (const auto& filler : fillers) {
        for (std::size_t len = 0; len <= 40; ++len) {
            std::string plain;
            while (plain.size() < len) {
                plain += filler;
            }
            plain.resize(len);
            om::JsonOut j;
            j.value(plain);
            ASSERT_EQ(j.take(), reference(plain)) << "length " << len;
            for (std::size_t at = 0; at < len; ++at) {
                for (const char c : specials) {
                    std::string s = plain;
                    s[at] = c;
                    om::JsonOut k;
                    k.value(s);
                    ASSERT_EQ(k.take(), reference(s)) << "length " << len << ", special " << int(c) << " at " << at;
                    ++checked;
                }
            }
        }
    }
    EXPECT_EQ(checked, 10 * 6 * (40 * 41 / 2));
}

}  // namespace
