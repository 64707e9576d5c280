// om::Task<T>, om::CallbackAwaiter and om::start_detached, driven without any event loop.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/task.hpp"

namespace {

using om::Task;

template <class T>
struct Done {
    bool called = false;
    int calls = 0;
    std::exception_ptr error;
    std::optional<T> value;
};

template <class T>
void run(Task<T> t, Done<T>& d) {
    om::start_detached(std::move(t), [&d](std::exception_ptr e, std::optional<T> v) {
        d.called = true;
        ++d.calls;
        d.error = e;
        d.value = std::move(v);
    });
}

std::string what(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "?";
    }
}

Task<int> answer() { co_return 42; }

Task<int> fails() {
    throw std::runtime_error("inner failure");
    co_return 0;
}

Task<int> add(int a, int b) { co_return co_await answer() + a + b; }

Task<int> nested() {
    const int x = co_await add(1, 2);  // 45
    const int y = co_await add(x, 0);  // 87
    co_return x + y;
}

Task<int> depth(int n) {
    if (n == 0) {
        co_return 0;
    }
    co_return 1 + co_await depth(n - 1);
}

TEST(Task, ValueViaStartDetached) {
    Done<int> d;
    run(answer(), d);
    ASSERT_TRUE(d.called);
    EXPECT_EQ(d.calls, 1);
    EXPECT_FALSE(d.error);
    EXPECT_EQ(d.value, 42);
}

TEST(Task, ExceptionPropagatesToStartDetached) {
    Done<int> d;
    run(fails(), d);
    ASSERT_TRUE(d.called);
    ASSERT_TRUE(d.error);
    EXPECT_FALSE(d.value.has_value());
    EXPECT_EQ(what(d.error), "inner failure");
}

TEST(Task, ExceptionPropagatesThroughAwaitAndCanBeCaught) {
    auto outer = []() -> Task<std::string> {
        try {
            (void)co_await fails();
        } catch (const std::runtime_error& e) {
            co_return std::string("caught: ") + e.what();
        }
        co_return std::string("not thrown");
    };
    Done<std::string> d;
    run(outer(), d);
    ASSERT_TRUE(d.called);
    EXPECT_FALSE(d.error);
    EXPECT_EQ(d.value, "caught: inner failure");
}

TEST(Task, UncaughtExceptionPropagatesThroughSeveralLevels) {
    auto mid = []() -> Task<int> { co_return 1 + co_await fails(); };
    auto top = [mid]() -> Task<int> { co_return 1 + co_await mid(); };
    Done<int> d;
    run(top(), d);
    ASSERT_TRUE(d.called);
    EXPECT_EQ(what(d.error), "inner failure");
}

TEST(Task, NestedAwaits) {
    Done<int> d;
    run(nested(), d);
    ASSERT_TRUE(d.called);
    EXPECT_EQ(d.value, 87 + 45);
}

TEST(Task, DeepRecursion) {
    Done<int> d;
    run(depth(2000), d);
    ASSERT_TRUE(d.called);
    EXPECT_EQ(d.value, 2000);
}

TEST(Task, IsLazyUntilStarted) {
    bool ran = false;
    auto body = [](bool& flag) -> Task<int> {
        flag = true;
        co_return 1;
    };
    Task<int> t = body(ran);
    EXPECT_FALSE(ran);
    Done<int> d;
    run(std::move(t), d);
    EXPECT_TRUE(ran);
    EXPECT_EQ(d.value, 1);
}

TEST(Task, UnstartedTaskFreesItsFrame) {
    auto token = std::make_shared<int>(5);
    auto body = [](std::shared_ptr<int> p) -> Task<int> { co_return *p; };
    {
        Task<int> t = body(token);
        EXPECT_EQ(token.use_count(), 2);  // the frame holds a copy
    }
    EXPECT_EQ(token.use_count(), 1);
}

TEST(Task, MoveAssignmentDestroysPreviousFrame) {
    auto token = std::make_shared<int>(5);
    auto body = [](std::shared_ptr<int> p) -> Task<int> { co_return *p; };
    Task<int> t = body(token);
    EXPECT_EQ(token.use_count(), 2);
    t = answer();
    EXPECT_EQ(token.use_count(), 1);
    Done<int> d;
    run(std::move(t), d);
    EXPECT_EQ(d.value, 42);
}

TEST(Task, CompletedFramesAreReleased) {
    auto token = std::make_shared<int>(5);
    auto body = [](std::shared_ptr<int> p) -> Task<int> { co_return *p * 2; };
    Done<int> d;
    run(body(token), d);
    EXPECT_EQ(d.value, 10);
    EXPECT_EQ(token.use_count(), 1);
}

TEST(Task, MoveOnlyResult) {
    auto body = []() -> Task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); };
    auto outer = [body]() -> Task<int> {
        auto p = co_await body();
        co_return *p;
    };
    Done<int> d;
    run(outer(), d);
    EXPECT_EQ(d.value, 7);
}

// ---- Task<void> -------------------------------------------------------------------------------------

TEST(TaskVoid, RunsAndReportsCompletion) {
    std::vector<int> trace;
    auto step = [](std::vector<int>& tr, int v) -> Task<void> {
        tr.push_back(v);
        co_return;
    };
    auto all = [step](std::vector<int>& tr) -> Task<> {
        co_await step(tr, 1);
        co_await step(tr, 2);
        tr.push_back(3);
    };
    bool called = false;
    std::exception_ptr err;
    om::start_detached(all(trace), [&](std::exception_ptr e) {
        called = true;
        err = e;
    });
    EXPECT_TRUE(called);
    EXPECT_FALSE(err);
    EXPECT_EQ(trace, (std::vector<int>{1, 2, 3}));
}

TEST(TaskVoid, ExceptionPropagates) {
    auto inner = []() -> Task<void> {
        throw std::logic_error("void failure");
        co_return;
    };
    auto outer = [inner]() -> Task<void> { co_await inner(); };
    std::exception_ptr err;
    bool called = false;
    om::start_detached(outer(), [&](std::exception_ptr e) {
        called = true;
        err = e;
    });
    ASSERT_TRUE(called);
    EXPECT_EQ(what(err), "void failure");
}

// ---- CallbackAwaiter --------------------------------------------------------------------------------

TEST(CallbackAwaiter, CompletesSynchronously) {
    int initiations = 0;
    auto body = [&initiations]() -> Task<int> {
        const int v = co_await om::CallbackAwaiter<int>([&initiations](std::function<void(int)> cb) {
            ++initiations;
            cb(11);
        });
        co_return v + 1;
    };
    Done<int> d;
    run(body(), d);
    ASSERT_TRUE(d.called);  // no suspension: finished inside start_detached
    EXPECT_EQ(d.value, 12);
    EXPECT_EQ(initiations, 1);
}

TEST(CallbackAwaiter, CompletesAsynchronously) {
    std::function<void(std::string)> pending;
    auto body = [&pending]() -> Task<std::string> {
        auto v = co_await om::CallbackAwaiter<std::string>([&pending](std::function<void(std::string)> cb) {
            pending = std::move(cb);
        });
        co_return v + "!";
    };
    Done<std::string> d;
    run(body(), d);
    EXPECT_FALSE(d.called);
    ASSERT_TRUE(static_cast<bool>(pending));
    auto cb = std::move(pending);
    cb("later");
    ASSERT_TRUE(d.called);
    EXPECT_EQ(d.calls, 1);
    EXPECT_EQ(d.value, "later!");
}

TEST(CallbackAwaiter, SeveralSequentialAsyncSteps) {
    std::vector<std::function<void(int)>> queue;
    auto wait_for = [&queue]() {
        return om::CallbackAwaiter<int>([&queue](std::function<void(int)> cb) { queue.push_back(std::move(cb)); });
    };
    auto body = [wait_for]() -> Task<int> {
        int sum = 0;
        for (int i = 0; i < 3; ++i) {
            sum += co_await wait_for();
        }
        co_return sum;
    };
    Done<int> d;
    run(body(), d);
    for (int i = 1; i <= 3; ++i) {
        ASSERT_FALSE(d.called);
        ASSERT_EQ(queue.size(), static_cast<std::size_t>(i));
        auto cb = queue.back();
        cb(i * 10);
    }
    ASSERT_TRUE(d.called);
    EXPECT_EQ(d.value, 60);
}

TEST(CallbackAwaiter, MixedSyncAndAsyncInsideNestedTasks) {
    std::function<void(int)> pending;
    auto async_leaf = [&pending]() -> Task<int> {
        co_return co_await om::CallbackAwaiter<int>([&pending](std::function<void(int)> cb) { pending = cb; });
    };
    auto sync_leaf = []() -> Task<int> {
        co_return co_await om::CallbackAwaiter<int>([](std::function<void(int)> cb) { cb(1); });
    };
    auto top = [&]() -> Task<int> {
        const int a = co_await sync_leaf();
        const int b = co_await async_leaf();
        const int c = co_await sync_leaf();
        co_return a * 100 + b * 10 + c;
    };
    Done<int> d;
    run(top(), d);
    ASSERT_FALSE(d.called);
    auto cb = pending;
    cb(5);
    ASSERT_TRUE(d.called);
    EXPECT_EQ(d.value, 151);
}

TEST(CallbackAwaiter, ExceptionAfterAsyncResumeReachesStartDetached) {
    std::function<void(int)> pending;
    auto body = [&pending]() -> Task<int> {
        const int v = co_await om::CallbackAwaiter<int>([&pending](std::function<void(int)> cb) { pending = cb; });
        if (v < 0) {
            throw std::runtime_error("negative");
        }
        co_return v;
    };
    Done<int> d;
    run(body(), d);
    ASSERT_FALSE(d.called);
    auto cb = pending;
    cb(-1);
    ASSERT_TRUE(d.called);
    EXPECT_EQ(what(d.error), "negative");
    EXPECT_FALSE(d.value.has_value());
}

}  // namespace

namespace {

// A task that suspends until the test resumes it, to check that when_both interleaves two tasks.
struct Gate {
    std::function<void(int)> resume;
};

Task<int> wait_on(Gate& g, int value, std::vector<int>& order) {
    order.push_back(value);
    co_await om::CallbackAwaiter<int>([&g](std::function<void(int)> done) { g.resume = std::move(done); });
    order.push_back(-value);
    co_return value;
}

TEST(WhenBoth, RunsBothConcurrentlyAndReturnsBothResults) {
    Gate g1;
    Gate g2;
    std::vector<int> order;
    Done<std::pair<int, int>> d;
    run(om::when_both(wait_on(g1, 1, order), wait_on(g2, 2, order)), d);
    // Both started before either finished.
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    EXPECT_FALSE(d.called);
    g2.resume(0);  // the second finishes first
    EXPECT_FALSE(d.called);
    g1.resume(0);
    ASSERT_TRUE(d.called);
    ASSERT_TRUE(d.value.has_value());
    EXPECT_EQ(d.value->first, 1);
    EXPECT_EQ(d.value->second, 2);
    EXPECT_EQ(order, (std::vector<int>{1, 2, -2, -1}));
}

TEST(WhenBoth, CompletesSynchronouslyAndPropagatesErrors) {
    Done<std::pair<int, int>> ok;
    run(om::when_both(answer(), add(1, 1)), ok);
    ASSERT_TRUE(ok.called);
    EXPECT_EQ(ok.value->first, 42);
    EXPECT_EQ(ok.value->second, 44);

    Done<std::pair<int, int>> bad;
    run(om::when_both(answer(), fails()), bad);
    ASSERT_TRUE(bad.called);
    ASSERT_TRUE(bad.error);
    EXPECT_EQ(what(bad.error), "inner failure");
}

}  // namespace
