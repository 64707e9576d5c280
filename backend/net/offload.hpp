#pragma once
// Runs CPU-heavy work (password hashing) on a small shared thread pool and resumes the awaiting
// coroutine on its shard's thread. The pool's queue is bounded: when full, run() throws
// om::Unavailable (503) instead of queueing forever.

#include <functional>
#include <memory>

#include "core/task.hpp"

namespace boost::asio {
class io_context;
}

namespace om::net {

class CpuPool {
public:
    CpuPool(int threads, int max_queued);
    ~CpuPool();
    CpuPool(const CpuPool&) = delete;
    CpuPool& operator=(const CpuPool&) = delete;
    void stop();

    struct Impl;
    Impl& impl() noexcept { return *impl_; }

private:
    std::unique_ptr<Impl> impl_;
};

class Offload {
public:
    Offload(boost::asio::io_context& shard_io, CpuPool& pool) : io_(shard_io), pool_(pool) {}
    // `work` runs on the pool; exceptions it throws are rethrown in the awaiting coroutine.
    Task<void> run(std::function<void()> work);

private:
    boost::asio::io_context& io_;
    CpuPool& pool_;
};

// Runs `f` on the thread of `io` (another shard's, say). Thread-safe.
void post_to(boost::asio::io_context& io, std::function<void()> f);

// Suspends the coroutine for `ms` milliseconds on the shard's io_context.
Task<void> sleep_for(boost::asio::io_context& io, long ms);

}  // namespace om::net
