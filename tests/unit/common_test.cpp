// common/ids, common/clock, member::normalize_email and member password hashing.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "common/clock.hpp"
#include "common/ids.hpp"
#include "member/member_service.hpp"
#include "member/password.hpp"

namespace {

using namespace std::chrono_literals;

// ---- UUIDv7 -----------------------------------------------------------------------------------------

const std::regex kUuidV7("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");

std::uint64_t uuid_ms(const std::string& u) {
    return std::stoull(u.substr(0, 8) + u.substr(9, 4), nullptr, 16);
}

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

TEST(Uuid, V7FormatVersionAndVariant) {
    for (int i = 0; i < 200; ++i) {
        const auto u = om::new_uuid_v7();
        ASSERT_EQ(u.size(), 36U);
        ASSERT_TRUE(std::regex_match(u, kUuidV7)) << u;
        EXPECT_EQ(u[14], '7') << u;
        EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos) << u;
        EXPECT_TRUE(om::is_uuid(u)) << u;
    }
}

TEST(Uuid, V7EmbedsCurrentUnixMilliseconds) {
    const auto before = now_ms();
    const auto u = om::new_uuid_v7();
    const auto after = now_ms();
    const auto ms = uuid_ms(u);
    EXPECT_GE(ms, before) << u;
    EXPECT_LE(ms, after) << u;
}

TEST(Uuid, V7SortsByCreationTimeAcrossMilliseconds) {
    std::string prev = om::new_uuid_v7();
    for (int i = 0; i < 5; ++i) {
        std::this_thread::sleep_for(2ms);
        const auto next = om::new_uuid_v7();
        EXPECT_LT(prev, next);
        EXPECT_LT(uuid_ms(prev), uuid_ms(next));
        prev = next;
    }
}

TEST(Uuid, V7IsUnique) {
    std::set<std::string> seen;
    for (int i = 0; i < 5000; ++i) {
        seen.insert(om::new_uuid_v7());
    }
    EXPECT_EQ(seen.size(), 5000U);
}

TEST(Uuid, IsUuid) {
    EXPECT_TRUE(om::is_uuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
    EXPECT_TRUE(om::is_uuid("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"));
    EXPECT_TRUE(om::is_uuid("00000000-0000-0000-0000-000000000000"));
    EXPECT_FALSE(om::is_uuid(""));
    EXPECT_FALSE(om::is_uuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5"));    // too short
    EXPECT_FALSE(om::is_uuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b0"));  // too long
    EXPECT_FALSE(om::is_uuid("0190a1b2c3d4-7e5f-8a9b-0c1d2e3f4a5b-"));   // dashes misplaced
    EXPECT_FALSE(om::is_uuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g"));   // non-hex
    EXPECT_FALSE(om::is_uuid("{190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5}"));
    EXPECT_FALSE(om::is_uuid("0190a1b2_c3d4_7e5f_8a9b_0c1d2e3f4a5b"));
    EXPECT_FALSE(om::is_uuid("../../etc/passwd-aaaaaaaaaaaaaaaaaaaaa"));
}

// ---- secrets, request ids, hashes --------------------------------------------------------------------

bool is_base64url(const std::string& s) {
    for (char c : s) {
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

TEST(Secret, LengthAndAlphabet) {
    EXPECT_EQ(om::new_secret().size(), 43U);  // 32 bytes → ceil(256 / 6)
    EXPECT_EQ(om::new_secret(32).size(), 43U);
    EXPECT_EQ(om::new_secret(16).size(), 22U);
    EXPECT_EQ(om::new_secret(3).size(), 4U);
    EXPECT_EQ(om::new_secret(1).size(), 2U);
    for (int i = 0; i < 100; ++i) {
        const auto s = om::new_secret();
        EXPECT_TRUE(is_base64url(s)) << s;
        EXPECT_EQ(s.find('='), std::string::npos) << s;
    }
}

TEST(Secret, AlphabetIsFullyUsed) {
    // Over 200 secrets (8600 characters) every one of the 64 symbols shows up, including '-' and '_'.
    std::set<char> chars;
    for (int i = 0; i < 200; ++i) {
        for (char c : om::new_secret()) {
            chars.insert(c);
        }
    }
    EXPECT_EQ(chars.size(), 64U);
    EXPECT_TRUE(chars.contains('-'));
    EXPECT_TRUE(chars.contains('_'));
}

TEST(Secret, Unique) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        seen.insert(om::new_secret());
    }
    EXPECT_EQ(seen.size(), 1000U);
}

TEST(RequestId, SixteenHexChars) {
    const std::regex hex16("^[0-9a-f]{16}$");
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const auto id = om::new_request_id();
        EXPECT_TRUE(std::regex_match(id, hex16)) << id;
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 100U);
}

TEST(Sha256, KnownVectors) {
    EXPECT_EQ(om::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(om::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(om::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const std::string with_nul("a\0b", 3);
    EXPECT_NE(om::sha256_hex(with_nul), om::sha256_hex("a"));
}

// ---- clock ------------------------------------------------------------------------------------------

std::chrono::system_clock::time_point at(std::chrono::sys_days day, std::chrono::milliseconds since_midnight) {
    return std::chrono::system_clock::time_point(day) + since_midnight;
}

TEST(Clock, Rfc3339) {
    using namespace std::chrono;
    EXPECT_EQ(om::rfc3339(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(om::rfc3339(at(sys_days{2026y / 11 / 25}, 6h + 16min + 123ms)), "2026-11-25T06:16:00.123Z");
    EXPECT_EQ(om::rfc3339(at(sys_days{2024y / 2 / 29}, 23h + 59min + 59s + 999ms)), "2024-02-29T23:59:59.999Z");
    EXPECT_EQ(om::rfc3339(at(sys_days{2000y / 1 / 1}, 1ms)), "2000-01-01T00:00:00.001Z");
    // Sub-millisecond precision is truncated, not rounded.
    EXPECT_EQ(om::rfc3339(at(sys_days{2030y / 6 / 15}, 12h) + 999us), "2030-06-15T12:00:00.000Z");
}

TEST(Clock, Rfc3339BeforeTheEpoch) {
    using namespace std::chrono;
    EXPECT_EQ(om::rfc3339(system_clock::time_point{} - 1ms), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(om::rfc3339(at(sys_days{1969y / 7 / 20}, 20h + 17min + 40s + 250ms)), "1969-07-20T20:17:40.250Z");
}

TEST(Clock, NowRfc3339Shape) {
    const std::regex shape(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");
    const auto s = om::now_rfc3339();
    EXPECT_TRUE(std::regex_match(s, shape)) << s;
    EXPECT_EQ(s.substr(0, 2), "20");
}

TEST(Clock, PgTimestampToRfc3339) {
    EXPECT_EQ(om::pg_timestamp_to_rfc3339("2026-11-25 06:16:00.123456+00"), "2026-11-25T06:16:00.123Z");
    EXPECT_EQ(om::pg_timestamp_to_rfc3339("2026-11-25 06:16:00.999999+00"), "2026-11-25T06:16:00.999Z");
    EXPECT_EQ(om::pg_timestamp_to_rfc3339("2026-11-25 06:16:00+00"), "2026-11-25T06:16:00.000Z");
    EXPECT_EQ(om::pg_timestamp_to_rfc3339("2026-11-25 06:16:00.5+00"), "2026-11-25T06:16:00.500Z");
    EXPECT_EQ(om::pg_timestamp_to_rfc3339("2026-11-25 06:16:00.05+00"), "2026-11-25T06:16:00.050Z");
    EXPECT_EQ(om::pg_timestamp_to_rfc3339("2026-01-02 03:04:05.123+00"), "2026-01-02T03:04:05.123Z");
}

TEST(Clock, PgTimestampOtherShapesUnchanged) {
    for (const char* s : {"", "2026-11-25", "2026-11-25T06:16:00Z", "2026-11-25 06:16:00.123+09",
                          "2026-11-25 06:16:00.123+05:30", "infinity", "2026-11-25 06:16:00.123"}) {
        EXPECT_EQ(om::pg_timestamp_to_rfc3339(s), s);
    }
}

TEST(Clock, RoundTripWithRfc3339) {
    using namespace std::chrono;
    const auto tp = at(sys_days{2025y / 3 / 9}, 1h + 2min + 3s + 45ms);
    EXPECT_EQ(om::pg_timestamp_to_rfc3339("2025-03-09 01:02:03.045678+00"), om::rfc3339(tp));
}

// ---- normalize_email --------------------------------------------------------------------------------

using om::member::normalize_email;

TEST(NormalizeEmail, TrimsAndLowerCases) {
    EXPECT_EQ(normalize_email("  Alice.Kim@Example.COM \t\r\n"), "alice.kim@example.com");
    EXPECT_EQ(normalize_email("bob@example.co.kr"), "bob@example.co.kr");
    EXPECT_EQ(normalize_email("First+Tag@Sub.Example.ORG"), "first+tag@sub.example.org");
}

TEST(NormalizeEmail, RejectsMalformed) {
    for (const char* e : {"", "   ", "alice.example.com", "a@b@example.com", "alice@localhost", "@example.com",
                          "alice@", "alice@.com", "alice@example.", "al ice@example.com", "alice@exa mple.com",
                          "alice@a.", "a\tb@example.com", "<alice@example.com>", "alice@example.com,bob@example.com",
                          "\"alice\"@example.com", "alice;@example.com", "alice@b"}) {
        SCOPED_TRACE(e);
        EXPECT_FALSE(normalize_email(e).has_value());
    }
}

TEST(NormalizeEmail, RejectsLongLocalPartsAndEmptyLabels) {
    EXPECT_TRUE(normalize_email(std::string(64, 'a') + "@example.com").has_value());
    EXPECT_FALSE(normalize_email(std::string(65, 'a') + "@example.com").has_value());
    EXPECT_FALSE(normalize_email("alice@example..com").has_value());
}

TEST(NormalizeEmail, RejectsControlCharacters) {
    EXPECT_FALSE(normalize_email(std::string("ali\x01" "ce@example.com")).has_value());
    EXPECT_FALSE(normalize_email(std::string("alice@example.com\x7f")).has_value());
    EXPECT_FALSE(normalize_email(std::string("alice\0@example.com", 18)).has_value());
}

TEST(NormalizeEmail, LengthLimitIs254) {
    // A long domain of 50-character labels: "alice@" + labels + ".com" is exactly 254 characters.
    std::string labels;
    while (labels.size() + 51 <= 254 - 6 - 4) {
        labels += std::string(50, 'd') + ".";
    }
    labels += std::string(254 - 6 - 4 - labels.size(), 'e');
    const std::string ok = "alice@" + labels + ".com";
    const std::string too_long = "alice@x" + labels + ".com";
    ASSERT_EQ(ok.size(), 254U);
    EXPECT_EQ(normalize_email(ok), ok);
    EXPECT_FALSE(normalize_email(too_long).has_value());
    // Surrounding whitespace does not count.
    EXPECT_EQ(normalize_email("   " + ok + "   "), ok);
}

// ---- password hashing -------------------------------------------------------------------------------

const om::member::HashParams kFast{.ops = 1, .mem_bytes = 8U * 1024U * 1024U};

TEST(Password, RoundTrip) {
    const auto h = om::member::hash_password("correct horse battery staple", kFast);
    EXPECT_TRUE(h.starts_with("$argon2id$")) << h;
    EXPECT_NE(h.find("m=8192,t=1"), std::string::npos) << h;  // the parameters are the ones asked for
    EXPECT_EQ(h.find("correct horse"), std::string::npos);
    EXPECT_TRUE(om::member::verify_password(h, "correct horse battery staple"));
    EXPECT_FALSE(om::member::verify_password(h, "correct horse battery stapl"));
    EXPECT_FALSE(om::member::verify_password(h, "Correct horse battery staple"));
    EXPECT_FALSE(om::member::verify_password(h, ""));
}

TEST(Password, SaltedSoSamePasswordGivesDifferentHashes) {
    const auto a = om::member::hash_password("p@ssw0rd-\xED\x95\x9C", kFast);
    const auto b = om::member::hash_password("p@ssw0rd-\xED\x95\x9C", kFast);
    EXPECT_NE(a, b);
    EXPECT_TRUE(om::member::verify_password(a, "p@ssw0rd-\xED\x95\x9C"));
    EXPECT_TRUE(om::member::verify_password(b, "p@ssw0rd-\xED\x95\x9C"));
}

TEST(Password, GarbageHashNeverVerifies) {
    EXPECT_FALSE(om::member::verify_password("", "x"));
    EXPECT_FALSE(om::member::verify_password("not a hash", "not a hash"));
    auto h = om::member::hash_password("secret", kFast);
    const auto digest = h.rfind('$') + 5;  // a character in the middle of the digest
    ASSERT_LT(digest, h.size());
    h[digest] = h[digest] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(om::member::verify_password(h, "secret"));
}

TEST(Password, DummyHashIsAStableValidArgon2idHash) {
    const std::string& a = om::member::dummy_hash();
    const std::string& b = om::member::dummy_hash();
    EXPECT_EQ(&a, &b);  // computed once
    EXPECT_TRUE(a.starts_with("$argon2id$")) << a;
    EXPECT_FALSE(om::member::verify_password(a, ""));
    EXPECT_FALSE(om::member::verify_password(a, "password"));
}

TEST(Password, PasswordWithEmbeddedNulUsesAllBytes) {
    const std::string pw("ab\0cd", 5);
    const auto h = om::member::hash_password(pw, kFast);
    EXPECT_TRUE(om::member::verify_password(h, pw));
    EXPECT_FALSE(om::member::verify_password(h, "ab"));
}

}  // namespace
