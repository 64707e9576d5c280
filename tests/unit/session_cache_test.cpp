// SessionCache (issue 6): a shard reuses the sessions it read from Redis for a short time, never past the
// session's own expiry, and never after a revocation anywhere in the process.
#include <gtest/gtest.h>

#include <chrono>

#include "member/session_cache.hpp"

using namespace std::chrono_literals;
using om::Principal;
using om::member::SessionCache;

namespace {

const Principal kBuyer{"m-1", "BUYER", "digest-1"};

TEST(SessionCache, AnEntryLivesItsTimeAndNoLongerThanTheSession) {
    SessionCache cache(1000ms);
    const auto t0 = SessionCache::Clock::now();
    cache.put("tok", kBuyer, SessionCache::generation(), 3600s, t0);
    auto hit = cache.get("tok", t0 + 999ms);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->member_id, "m-1");
    EXPECT_EQ(hit->role, "BUYER");
    EXPECT_EQ(hit->token_id, "digest-1");
    EXPECT_FALSE(cache.get("tok", t0 + 1000ms));
    EXPECT_EQ(cache.size(), 0U);  // dropped when found stale
    EXPECT_FALSE(cache.get("other", t0));

    // A session with 300 ms left in Redis is kept 300 ms, not the cache's second.
    cache.put("short", kBuyer, SessionCache::generation(), 300ms, t0);
    EXPECT_TRUE(cache.get("short", t0 + 299ms));
    EXPECT_FALSE(cache.get("short", t0 + 300ms));
    // No time left (or PTTL's -1/-2): not cached at all.
    cache.put("gone", kBuyer, SessionCache::generation(), 0ms, t0);
    cache.put("gone2", kBuyer, SessionCache::generation(), -2ms, t0);
    EXPECT_EQ(cache.size(), 0U);
}

TEST(SessionCache, ARevocationAnywhereVoidsEveryEntry) {
    SessionCache a(1000ms);
    SessionCache b(1000ms);  // another shard
    const auto t0 = SessionCache::Clock::now();
    a.put("tok", kBuyer, SessionCache::generation(), 3600s, t0);
    b.put("tok", kBuyer, SessionCache::generation(), 3600s, t0);
    ASSERT_TRUE(a.get("tok", t0));
    SessionCache::revoked();
    EXPECT_FALSE(a.get("tok", t0));
    EXPECT_FALSE(b.get("tok", t0));
}

TEST(SessionCache, ALookupThatRacedARevocationIsNotCached) {
    SessionCache cache(1000ms);
    const auto t0 = SessionCache::Clock::now();
    const auto before = SessionCache::generation();  // the lookup starts, asks Redis ...
    SessionCache::revoked();                          // ... while a logout completes
    cache.put("tok", kBuyer, before, 3600s, t0);
    EXPECT_FALSE(cache.get("tok", t0));
    EXPECT_EQ(cache.size(), 0U);
}

TEST(SessionCache, OffMeansOff) {
    SessionCache cache(0ms);
    EXPECT_FALSE(cache.enabled());
    cache.put("tok", kBuyer, SessionCache::generation(), 3600s);
    EXPECT_FALSE(cache.get("tok"));
}

TEST(SessionCache, AFullCacheMakesRoom) {
    SessionCache cache(1000ms, 3);
    const auto t0 = SessionCache::Clock::now();
    const auto g = SessionCache::generation();
    cache.put("a", kBuyer, g, 100ms, t0);
    cache.put("b", kBuyer, g, 3600s, t0);
    cache.put("c", kBuyer, g, 3600s, t0);
    cache.put("d", kBuyer, g, 3600s, t0 + 200ms);  // "a" has expired: it makes the room
    EXPECT_EQ(cache.size(), 3U);
    EXPECT_TRUE(cache.get("b", t0 + 200ms));
    EXPECT_TRUE(cache.get("d", t0 + 200ms));
    cache.put("e", kBuyer, g, 3600s, t0 + 200ms);  // none stale: start over
    EXPECT_EQ(cache.size(), 1U);
    EXPECT_TRUE(cache.get("e", t0 + 200ms));
}

}  // namespace
