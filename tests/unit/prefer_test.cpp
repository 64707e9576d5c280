// Request::prefer_wait: the `wait` preference of RFC 7240 §4.3, read from any Prefer header.
#include <gtest/gtest.h>

#include "core/http.hpp"

namespace {

om::Request with(std::initializer_list<std::pair<const char*, const char*>> headers) {
    om::Request r;
    for (const auto& [name, value] : headers) {
        r.headers.add(name, value);
    }
    return r;
}

}  // namespace

TEST(PreferWait, AbsentWithoutAPreferHeader) {
    EXPECT_FALSE(with({}).prefer_wait());
    EXPECT_FALSE(with({{"Accept", "application/json"}}).prefer_wait());
}

TEST(PreferWait, ReadsTheSecondsWhereverThePreferenceStands) {
    EXPECT_EQ(with({{"Prefer", "wait=0"}}).prefer_wait(), 0);
    EXPECT_EQ(with({{"Prefer", "wait=5"}}).prefer_wait(), 5);
    EXPECT_EQ(with({{"prefer", "respond-async, wait=10"}}).prefer_wait(), 10) << "names are case-insensitive";
    EXPECT_EQ(with({{"Prefer", "respond-async"}, {"Prefer", "WAIT = \"3\" ; x=y"}}).prefer_wait(), 3)
        << "a second header, BWS around '=', a quoted value, parameters";
    EXPECT_EQ(with({{"Prefer", "return=minimal,wait=7,handling=lenient"}}).prefer_wait(), 7);
}

TEST(PreferWait, IgnoresWhatItCannotRead) {
    EXPECT_FALSE(with({{"Prefer", "wait"}}).prefer_wait());
    EXPECT_FALSE(with({{"Prefer", "wait="}}).prefer_wait());
    EXPECT_FALSE(with({{"Prefer", "wait=-1"}}).prefer_wait());
    EXPECT_FALSE(with({{"Prefer", "wait=1.5"}}).prefer_wait());
    EXPECT_FALSE(with({{"Prefer", "wait=9999999999"}}).prefer_wait()) << "more digits than any wait";
    EXPECT_FALSE(with({{"Prefer", "waited=5"}}).prefer_wait());
    EXPECT_FALSE(with({{"Preferred", "wait=5"}}).prefer_wait());
}
