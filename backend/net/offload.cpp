#include "net/offload.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>

#include "core/error.hpp"

namespace om::net {

struct CpuPool::Impl {
    Impl(int threads, int max) : pool(static_cast<std::size_t>(threads)), max_queued(max) {}
    boost::asio::thread_pool pool;
    std::atomic<int> queued{0};
    int max_queued;
};

CpuPool::CpuPool(int threads, int max_queued) : impl_(std::make_unique<Impl>(threads, max_queued)) {}
CpuPool::~CpuPool() { stop(); }
void CpuPool::stop() {
    impl_->pool.stop();
    impl_->pool.join();
}

Task<void> Offload::run(std::function<void()> work) {
    auto& pool = pool_.impl();
    if (pool.queued.fetch_add(1) >= pool.max_queued) {
        pool.queued.fetch_sub(1);
        throw Unavailable("CPU pool queue is full");
    }
    auto& io = io_;
    std::exception_ptr err = co_await CallbackAwaiter<std::exception_ptr>(
        [&pool, &io, &work](std::function<void(std::exception_ptr)> done) {
            boost::asio::post(pool.pool, [&pool, &io, &work, done = std::move(done)]() mutable {
                std::exception_ptr e;
                try {
                    work();
                } catch (...) {
                    e = std::current_exception();
                }
                pool.queued.fetch_sub(1);
                boost::asio::post(io, [done = std::move(done), e]() mutable { done(e); });
            });
        });
    if (err) {
        std::rethrow_exception(err);
    }
}

void post_to(boost::asio::io_context& io, std::function<void()> f) { boost::asio::post(io, std::move(f)); }

Task<void> sleep_for(boost::asio::io_context& io, long ms) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(ms));
    // Named awaiter: see when_both in core/task.hpp (GCC 12 and lambda temporaries in co_await).
    CallbackAwaiter<int> wait([timer](std::function<void(int)> done) {
        timer->async_wait([done = std::move(done)](const boost::system::error_code&) mutable { done(0); });
    });
    co_await wait;
}

}  // namespace om::net
