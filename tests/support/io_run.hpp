#pragma once
// Driving om::Task coroutines on a test's own io_context: run it until a condition holds, launch a task
// detached and look at its outcome, or await it. Shared by the tests of the PostgreSQL pool, the outbox
// relay and the stream consumer.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>

#include "core/task.hpp"

namespace om::test {

// Runs the io_context until pred() holds or `timeout` passes. Returns pred().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(std::chrono::milliseconds(5));
        if (io.stopped() && !pred()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));  // no work at all: do not spin
        }
    }
    return pred();
}

inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds d) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    run_until(io, [&] { return std::chrono::steady_clock::now() >= deadline; }, d + std::chrono::seconds(1));
}

// The outcome of a detached task; shared so that a task outliving a failed test stays harmless.
template <class T>
struct Pending {
    using Value = std::conditional_t<std::is_void_v<T>, bool, T>;
    bool done = false;
    std::optional<Value> value;
    std::exception_ptr error;
};

template <class T>
std::shared_ptr<Pending<T>> launch(Task<T> t) {
    auto p = std::make_shared<Pending<T>>();
    if constexpr (std::is_void_v<T>) {
        start_detached(std::move(t), [p](std::exception_ptr e) {
            p->done = true;
            p->error = e;
        });
    } else {
        start_detached(std::move(t), [p](std::exception_ptr e, std::optional<T> v) {
            p->done = true;
            p->error = e;
            p->value = std::move(v);
        });
    }
    return p;
}

// Runs a task until it finishes (a failed expectation if not within 10 s) and returns its outcome.
template <class T>
std::shared_ptr<Pending<T>> run(boost::asio::io_context& io, Task<T> t) {
    auto p = launch(std::move(t));
    EXPECT_TRUE(run_until(io, [&] { return p->done; }));
    return p;
}

// Runs a task to completion on `io`; rethrows its exception.
template <class T>
T await(boost::asio::io_context& io, Task<T> t, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto p = launch(std::move(t));
    if (!run_until(io, [&] { return p->done; }, timeout)) {
        throw std::runtime_error("task did not finish in time");
    }
    if (p->error) {
        std::rethrow_exception(p->error);
    }
    if constexpr (!std::is_void_v<T>) {
        return std::move(*p->value);
    }
}

}  // namespace om::test
