#pragma once
// A lazy coroutine task that knows nothing about Asio, so that services, handlers and repositories
// can be written as coroutines without including Asio/Beast headers (design §3, "Layers").
//
// Contract: a Task<T> starts when it is co_awaited (symmetric transfer, no extra allocation besides the
// frame) or when handed to start_detached(). An exception thrown inside propagates to the awaiter.
// Not thread-safe: a task and its awaiter run on the same shard thread.

#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <vector>
#include <utility>
#include <variant>

namespace om {

template <class T>
class Task;

namespace detail {

struct promise_base {
    std::coroutine_handle<> continuation_{};
    std::exception_ptr error_{};

    std::suspend_always initial_suspend() noexcept { return {}; }

    struct final_awaiter {
        bool await_ready() noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            auto cont = h.promise().continuation_;
            if (cont) {
                return cont;
            }
            return std::noop_coroutine();
        }
        void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { error_ = std::current_exception(); }
};

template <class T>
struct promise final : promise_base {
    std::optional<T> value_;
    Task<T> get_return_object() noexcept;
    template <class U>
    void return_value(U&& v) {
        value_.emplace(std::forward<U>(v));
    }
    T take() {
        if (error_) {
            std::rethrow_exception(error_);
        }
        return std::move(*value_);
    }
};

template <>
struct promise<void> final : promise_base {
    Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take() {
        if (error_) {
            std::rethrow_exception(error_);
        }
    }
};

}  // namespace detail

template <class T = void>
class [[nodiscard]] Task {
public:
    using promise_type = detail::promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;

    Task() noexcept = default;
    explicit Task(handle_type h) noexcept : h_(h) {}
    Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    Task& operator=(Task&& o) noexcept {
        if (this != &o) {
            destroy();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    ~Task() { destroy(); }

    bool await_ready() const noexcept { return !h_ || h_.done(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        h_.promise().continuation_ = awaiting;
        return h_;
    }
    T await_resume() { return h_.promise().take(); }

    handle_type release() noexcept { return std::exchange(h_, {}); }

private:
    void destroy() noexcept {
        if (h_) {
            h_.destroy();
        }
    }
    handle_type h_{};
};

namespace detail {
template <class T>
Task<T> promise<T>::get_return_object() noexcept {
    return Task<T>{std::coroutine_handle<promise<T>>::from_promise(*this)};
}
inline Task<void> promise<void>::get_return_object() noexcept {
    return Task<void>{std::coroutine_handle<promise<void>>::from_promise(*this)};
}

// Fire-and-forget frame used by start_detached: destroys itself at the end.
struct detached {
    struct promise_type {
        detached get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { std::terminate(); }
    };
};

template <class T, class F>
detached run_detached(Task<T> t, F done) {
    if constexpr (std::is_void_v<T>) {
        std::exception_ptr err;
        try {
            co_await std::move(t);
        } catch (...) {
            err = std::current_exception();
        }
        done(err);
    } else {
        std::exception_ptr err;
        std::optional<T> value;
        try {
            value.emplace(co_await std::move(t));
        } catch (...) {
            err = std::current_exception();
        }
        done(err, std::move(value));
    }
}
}  // namespace detail

// Runs `t` to completion on the calling thread (until its first real suspension) and calls
// done(exception_ptr[, std::optional<T>]) when it finishes. `done` must not throw.
template <class T, class F>
void start_detached(Task<T> t, F done) {
    detail::run_detached(std::move(t), std::move(done));
}

// Awaiter for callback-style asynchronous operations. `initiate` receives a completion function
// `void(T)` that must be called exactly once, from the thread that owns the awaiting coroutine.
// Calling it synchronously inside initiate is allowed (the coroutine then does not suspend).
template <class T>
class CallbackAwaiter {
public:
    using Initiate = std::function<void(std::function<void(T)>)>;
    explicit CallbackAwaiter(Initiate initiate) : initiate_(std::move(initiate)) {}

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        handle_ = h;
        initiate_([this](T v) {
            result_.emplace(std::move(v));
            if (suspended_) {
                handle_.resume();
            }
        });
        if (result_) {
            return false;  // completed synchronously: do not suspend
        }
        suspended_ = true;
        return true;
    }
    T await_resume() { return std::move(*result_); }

private:
    Initiate initiate_;
    std::coroutine_handle<> handle_{};
    std::optional<T> result_{};
    bool suspended_ = false;
};

// Runs two tasks concurrently on the current thread (each proceeds while the other waits on I/O) and
// returns both results. If either throws, the exception is rethrown after both have finished.
template <class A, class B>
Task<std::pair<A, B>> when_both(Task<A> a, Task<B> b) {
    struct State {
        std::optional<A> a;
        std::optional<B> b;
        std::exception_ptr error;
        int pending = 2;
        std::function<void(int)> done;
    };
    auto st = std::make_shared<State>();
    // A named awaiter, not a temporary: GCC 12 loses writes made through copies captured by a lambda that is
    // a temporary inside a co_await expression.
    CallbackAwaiter<int> both([st, &a, &b](std::function<void(int)> done) {
        st->done = std::move(done);
        auto finish = [st] {
            if (--st->pending == 0) {
                auto d = std::move(st->done);
                d(0);
            }
        };
        start_detached(std::move(a), [st, finish](std::exception_ptr e, std::optional<A> v) {
            if (e) {
                st->error = e;
            } else {
                st->a = std::move(v);
            }
            finish();
        });
        start_detached(std::move(b), [st, finish](std::exception_ptr e, std::optional<B> v) {
            if (e) {
                st->error = e;
            } else {
                st->b = std::move(v);
            }
            finish();
        });
    });
    co_await both;
    if (st->error) {
        std::rethrow_exception(st->error);
    }
    co_return std::make_pair(std::move(*st->a), std::move(*st->b));
}

// Runs the tasks concurrently on the current thread and returns when all have finished. If any throws, one of the
// exceptions is rethrown after all have finished.
inline Task<void> when_all(std::vector<Task<void>> tasks) {
    if (tasks.empty()) {
        co_return;
    }
    struct State {
        std::size_t pending = 0;
        std::exception_ptr error;
        std::function<void(int)> done;
    };
    auto st = std::make_shared<State>();
    st->pending = tasks.size();
    CallbackAwaiter<int> all([st, &tasks](std::function<void(int)> done) {
        st->done = std::move(done);
        for (auto& t : tasks) {
            start_detached(std::move(t), [st](std::exception_ptr e) {
                if (e) {
                    st->error = e;
                }
                if (--st->pending == 0) {
                    auto d = std::move(st->done);
                    d(0);
                }
            });
        }
    });
    co_await all;
    if (st->error) {
        std::rethrow_exception(st->error);
    }
}

}  // namespace om
