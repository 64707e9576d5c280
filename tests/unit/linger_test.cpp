// om::Linger: the wait grows with the rate of items over the last second, up to its maximum at the full rate;
// old items stop counting; full_rate 0 is a fixed linger.
#include <gtest/gtest.h>

#include <chrono>

#include "core/linger.hpp"

namespace {

using Clock = om::Linger::Clock;
using std::chrono::milliseconds;

TEST(Linger, GrowsWithTheRateUpToItsMaximum) {
    om::Linger linger(10, 1000);
    const Clock::time_point t0{milliseconds(1'000'000)};  // at a quarter's start
    EXPECT_EQ(linger.ms(t0), 0);  // nothing seen: no wait
    // 300 items a second for a second: 75 per quarter.
    for (int q = 0; q < 4; ++q) {
        linger.count(75, t0 + milliseconds(250 * q));
    }
    const auto t1 = t0 + milliseconds(999);
    EXPECT_NEAR(linger.rate(t1), 300.0, 1.0);
    EXPECT_EQ(linger.ms(t1), 3);  // 10 ms x 300 / 1000
    // Far above the full rate: the maximum, never more.
    linger.count(5000, t1);
    EXPECT_EQ(linger.ms(t1), 10);
}

TEST(Linger, ForgetsWhatIsOlderThanASecond) {
    om::Linger linger(10, 1000);
    const Clock::time_point t0{milliseconds(2'000'000)};
    linger.count(2000, t0);
    EXPECT_EQ(linger.ms(t0 + milliseconds(100)), 10);
    EXPECT_EQ(linger.ms(t0 + milliseconds(1100)), 0);  // a quiet second later: at once again
    EXPECT_EQ(linger.rate(t0 + milliseconds(1100)), 0.0);
}

TEST(Linger, WithoutAFullRateItIsFixedAndZeroIsNone) {
    om::Linger fixed(10, 0);
    EXPECT_EQ(fixed.ms(), 10);
    om::Linger none(0, 1000);
    none.count(100000);
    EXPECT_EQ(none.ms(), 0);
}

}  // namespace
