#include "net/oneshot.hpp"

#include <exception>
#include <memory>
#include <thread>

// Boost 1.81 + GCC 12 at -O2: -Wnull-dereference false positive inside Asio headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#pragma GCC diagnostic pop

#include "core/error.hpp"
#include "net/redis.hpp"

namespace om::net {

void run_with_redis(const std::string& redis_url, const std::function<Task<void>(redis::Client&)>& job,
                    std::chrono::milliseconds timeout) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + timeout;
    boost::asio::io_context io;
    redis::Client client(io, redis::parse_url(redis_url));
    client.start();
    const auto drive = [&](const std::function<bool()>& done) {
        while (!done() && Clock::now() < deadline) {
            io.restart();
            io.run_for(std::chrono::milliseconds(10));
            if (io.stopped() && !done()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }
        return done();
    };
    if (!drive([&] { return client.connected(); })) {
        client.stop();
        throw Unavailable("cannot connect to Redis at " + redis_url);
    }
    struct State {
        bool done = false;
        std::exception_ptr error;
    };
    auto state = std::make_shared<State>();
    start_detached(job(client), [state](std::exception_ptr e) {
        state->done = true;
        state->error = e;
    });
    const bool finished = drive([&] { return state->done; });
    client.stop();
    io.restart();
    io.run_for(std::chrono::milliseconds(20));
    if (!finished) {
        throw Unavailable("timed out after " + std::to_string(timeout.count()) + " ms");
    }
    if (state->error) {
        std::rethrow_exception(state->error);
    }
}

}  // namespace om::net
