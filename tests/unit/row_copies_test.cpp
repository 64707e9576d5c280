// om::product::RowCopies: a copy is served while younger than its age limit, replaced by a newer row, forgotten
// on demand, and the capacity holds (expired copies go first).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "product/row_copies.hpp"

namespace {

using om::product::ProductRow;
using om::product::RowCopies;
using std::chrono::milliseconds;

ProductRow row(const std::string& id, std::int64_t price, std::int64_t version) {
    ProductRow r;
    r.id = id;
    r.price = price;
    r.version = version;
    return r;
}

TEST(RowCopies, ServesACopyUntilItIsTooOld) {
    RowCopies copies(milliseconds(5000), 10);
    const RowCopies::Clock::time_point t0{milliseconds(1'000'000)};
    EXPECT_FALSE(copies.get("a", t0));
    copies.put(row("a", 100, 1), t0);
    auto got = copies.get("a", t0 + milliseconds(5000));
    ASSERT_TRUE(got);
    EXPECT_EQ(got->price, 100);
    EXPECT_EQ(got->version, 1);
    EXPECT_FALSE(copies.get("a", t0 + milliseconds(5001)));
    EXPECT_EQ(copies.size(), 0U) << "an expired copy is dropped when met";
}

TEST(RowCopies, ANewerRowReplacesTheCopyAndForgetDropsIt) {
    RowCopies copies(milliseconds(5000), 10);
    const RowCopies::Clock::time_point t0{milliseconds(1'000'000)};
    copies.put(row("a", 100, 1), t0);
    copies.put(row("b", 200, 1), t0);
    copies.put(row("a", 150, 2), t0 + milliseconds(4000));
    EXPECT_EQ(copies.get("a", t0 + milliseconds(8000))->price, 150) << "its age counts from the newer row";
    copies.forget({"a", "nope"});
    EXPECT_FALSE(copies.get("a", t0 + milliseconds(4000)));
    EXPECT_TRUE(copies.get("b", t0 + milliseconds(4000)));
}

TEST(RowCopies, KeepsToItsCapacityDroppingExpiredCopiesFirst) {
    RowCopies copies(milliseconds(1000), 3);
    const RowCopies::Clock::time_point t0{milliseconds(1'000'000)};
    copies.put(row("old", 1, 1), t0);
    copies.put(row("b", 2, 1), t0 + milliseconds(900));
    copies.put(row("c", 3, 1), t0 + milliseconds(900));
    copies.put(row("d", 4, 1), t0 + milliseconds(1500));  // full: "old" has expired and goes
    EXPECT_EQ(copies.size(), 3U);
    EXPECT_TRUE(copies.get("b", t0 + milliseconds(1500)));
    EXPECT_TRUE(copies.get("c", t0 + milliseconds(1500)));
    EXPECT_TRUE(copies.get("d", t0 + milliseconds(1500)));
    copies.put(row("e", 5, 1), t0 + milliseconds(1600));  // full, nothing expired: one of the others goes
    EXPECT_EQ(copies.size(), 3U);
    EXPECT_TRUE(copies.get("e", t0 + milliseconds(1600)));
    copies.put(row("e", 6, 2), t0 + milliseconds(1600));  // replacing needs no room
    EXPECT_EQ(copies.size(), 3U);

    RowCopies none(milliseconds(1000), 0);
    none.put(row("a", 1, 1), t0);
    EXPECT_FALSE(none.get("a", t0));
}

}  // namespace
