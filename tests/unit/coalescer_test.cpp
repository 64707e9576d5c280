// om::Coalescer and om::Batcher: requests made while a batch runs go together in the next batch; values and
// failures reach every caller of their batch, answers reach their own request. The fetch here is resumed by the test, so no event loop is needed.
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/coalescer.hpp"
#include "core/task.hpp"

namespace {

using Map = std::unordered_map<std::string, int>;

struct FakeSource {
    std::vector<std::vector<std::string>> batches;    // the keys of each fetch
    std::vector<std::function<void(Map)>> pending;  // completes the fetch
    bool fail_next = false;

    om::Task<Map> fetch(std::vector<std::string> keys) {
        batches.push_back(keys);
        if (fail_next) {
            fail_next = false;
            throw std::runtime_error("database down");
        }
        om::CallbackAwaiter<Map> answered([this](std::function<void(Map)> done) { pending.push_back(std::move(done)); });
        co_return co_await answered;
    }
};

struct Result {
    bool done = false;
    std::optional<int> value;
    std::string error;
};

void ask(om::Coalescer<std::string, int>& c, const std::string& key, Result& out) {
    om::start_detached(c.get(key), [&out](std::exception_ptr e, std::optional<std::optional<int>> v) {
        out.done = true;
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                out.error = ex.what();
            }
        } else if (v) {
            out.value = *v;
        }
    });
}

TEST(Coalescer, KeysAskedDuringAFetchGoTogetherInTheNext) {
    FakeSource src;
    om::Coalescer<std::string, int> c([&src](std::vector<std::string> keys) { return src.fetch(std::move(keys)); });
    Result a, b, d;
    ask(c, "a", a);  // fetched at once, alone
    ask(c, "b", b);  // waits for the first fetch...
    ask(c, "d", d);  // ...together with this one
    ASSERT_EQ(src.batches.size(), 1U);
    EXPECT_EQ(src.batches[0], std::vector<std::string>{"a"});
    src.pending[0](Map{{"a", 1}});
    EXPECT_TRUE(a.done);
    EXPECT_EQ(a.value, 1);
    ASSERT_EQ(src.batches.size(), 2U);
    EXPECT_EQ(src.batches[1], (std::vector<std::string>{"b", "d"}));
    EXPECT_FALSE(b.done);
    src.pending[1](Map{{"b", 2}});  // no value for "d"
    EXPECT_EQ(b.value, 2);
    EXPECT_TRUE(d.done);
    EXPECT_FALSE(d.value.has_value());
    EXPECT_TRUE(d.error.empty());
}

TEST(Coalescer, WithADeferTheKeysOfOneTurnGoTogetherInTheFirstFetch) {
    FakeSource src;
    std::vector<std::function<void(bool)>> turns;  // the test ends the "turn of the event loop"
    om::Coalescer<std::string, int> c([&src](std::vector<std::string> keys) { return src.fetch(std::move(keys)); },
                                      256, [&turns]() -> om::Task<void> {
                                          om::CallbackAwaiter<bool> turned(
                                              [&turns](std::function<void(bool)> done) { turns.push_back(std::move(done)); });
                                          co_await turned;
                                      });
    Result a, b, d;
    ask(c, "a", a);  // not fetched alone: waits for the end of the turn...
    ask(c, "b", b);
    EXPECT_TRUE(src.batches.empty());
    ASSERT_EQ(turns.size(), 1U);
    turns[0](true);  // ...and goes with "b"
    ASSERT_EQ(src.batches.size(), 1U);
    EXPECT_EQ(src.batches[0], (std::vector<std::string>{"a", "b"}));
    ask(c, "d", d);  // asked during the fetch: in the next batch, without another turn
    src.pending[0](Map{{"a", 1}, {"b", 2}});
    EXPECT_EQ(a.value, 1);
    EXPECT_EQ(b.value, 2);
    ASSERT_EQ(src.batches.size(), 2U);
    EXPECT_EQ(src.batches[1], std::vector<std::string>{"d"});
    EXPECT_EQ(turns.size(), 1U);
    src.pending[1](Map{{"d", 4}});
    EXPECT_EQ(d.value, 4);
}

TEST(Coalescer, AFailedFetchFailsItsBatchOnly) {
    FakeSource src;
    om::Coalescer<std::string, int> c([&src](std::vector<std::string> keys) { return src.fetch(std::move(keys)); });
    src.fail_next = true;
    Result a;
    ask(c, "a", a);
    EXPECT_TRUE(a.done);
    EXPECT_EQ(a.error, "database down");
    Result b;
    ask(c, "b", b);
    ASSERT_EQ(src.pending.size(), 1U);
    src.pending[0](Map{{"b", 7}});
    EXPECT_EQ(b.value, 7);
}

TEST(Batcher, EachRequestGetsItsOwnAnswerInItsBatch) {
    using Answers = std::vector<std::optional<int>>;
    std::vector<std::vector<int>> batches;
    std::vector<std::function<void(Answers)>> pending;
    auto run = [&](std::vector<int> requests) -> om::Task<Answers> {
        batches.push_back(requests);
        om::CallbackAwaiter<Answers> answered([&pending](std::function<void(Answers)> done) {
            pending.push_back(std::move(done));
        });
        co_return co_await answered;
    };
    om::Batcher<int, int> b(run);
    std::vector<Result> out(4);
    auto submit = [&b](int request, Result& r) {
        om::start_detached(b.submit(request), [&r](std::exception_ptr e, std::optional<std::optional<int>> v) {
            r.done = true;
            if (e) {
                r.error = "failed";
            } else if (v) {
                r.value = *v;
            }
        });
    };
    submit(10, out[0]);  // runs at once, alone
    submit(20, out[1]);  // these three wait, then go together
    submit(30, out[2]);
    submit(20, out[3]);  // the same request twice is two requests
    ASSERT_EQ(batches.size(), 1U);
    pending[0](Answers{11});
    EXPECT_EQ(out[0].value, 11);
    ASSERT_EQ(batches.size(), 2U);
    EXPECT_EQ(batches[1], (std::vector<int>{20, 30, 20}));
    pending[1](Answers{21, std::nullopt});  // one answer short: the last request gets none
    EXPECT_EQ(out[1].value, 21);
    EXPECT_TRUE(out[2].done);
    EXPECT_FALSE(out[2].value.has_value());
    EXPECT_TRUE(out[3].done);
    EXPECT_FALSE(out[3].value.has_value());
    EXPECT_TRUE(out[3].error.empty());
}

}  // namespace

namespace {
TEST(Coalescer, AFetchThatSuspendsStillHasItsKeysAfterwards) {
    std::vector<std::function<void(int)>> pending;
    std::vector<std::string> seen_after;
    om::Coalescer<std::string, int> c([&](std::vector<std::string> keys) -> om::Task<Map> {
        om::CallbackAwaiter<int> later([&pending](std::function<void(int)> done) { pending.push_back(std::move(done)); });
        const int v = co_await later;
        Map m;
        for (const auto& k : keys) {
            seen_after.push_back(k);
            m[k] = v;
        }
        co_return m;
    });
    Result a;
    ask(c, "alpha", a);
    ASSERT_EQ(pending.size(), 1U);
    pending[0](5);
    EXPECT_EQ(seen_after, std::vector<std::string>{"alpha"});
    EXPECT_EQ(a.value, 5);
}
}  // namespace
