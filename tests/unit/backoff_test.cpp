// events::Backoff: the pause doubles up to the cap, logs the first failure and the growing ones, resets.
#include <gtest/gtest.h>

#include "events/backoff.hpp"

TEST(Backoff, DoublesUpToTheCapAndResetsOnSuccess) {
    om::events::Backoff b(100, 500);
    EXPECT_EQ(b.succeeded(), 0);
    auto p = b.failed();
    EXPECT_EQ(p.ms, 100);
    EXPECT_TRUE(p.log);
    EXPECT_EQ(b.failed().ms, 200);
    EXPECT_EQ(b.failed().ms, 400);
    p = b.failed();
    EXPECT_EQ(p.ms, 500);
    EXPECT_FALSE(p.log);  // at the cap: no more lines until the loop recovers
    EXPECT_EQ(b.failed().ms, 500);
    EXPECT_EQ(b.succeeded(), 5);
    p = b.failed();
    EXPECT_EQ(p.ms, 100);
    EXPECT_TRUE(p.log);
}
