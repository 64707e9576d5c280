#include "net/wakeup.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/task.hpp"

namespace om::net {

struct Wakeup::Impl {
    explicit Impl(boost::asio::io_context& context) : io(context), timer(context) {}
    boost::asio::io_context& io;
    boost::asio::steady_timer timer;
    std::atomic<bool> pending{false};
    bool waiting = false;
    bool subscribed = false;  // on the board of topics
};

namespace {

struct Team {
    std::vector<std::weak_ptr<Wakeup::Impl>> members;
    std::size_t next = 0;  // whose turn it is
};

struct Board {
    std::mutex mutex;
    std::map<std::string, std::map<std::string, Team>> topics;  // topic → team → members
};

Board& board() {
    static Board b;
    return b;
}

void wake(const std::shared_ptr<Wakeup::Impl>& impl) {
    if (impl->pending.exchange(true)) {
        return;  // already on its way
    }
    boost::asio::post(impl->io, [impl] {
        if (impl->waiting) {
            impl->timer.cancel();
        }
    });
}

}  // namespace

Wakeup::Wakeup(boost::asio::io_context& io) : impl_(std::make_shared<Impl>(io)) {}

Wakeup::~Wakeup() {
    if (!impl_->subscribed) {
        return;  // a request's wake-up: never on the board
    }
    Board& b = board();
    std::lock_guard lock(b.mutex);
    for (auto& [topic, teams] : b.topics) {
        for (auto& [name, team] : teams) {
            std::erase_if(team.members, [this](const std::weak_ptr<Impl>& w) {
                auto s = w.lock();
                return !s || s == impl_;
            });
        }
    }
}

void Wakeup::notify() { wake(impl_); }

void Wakeup::subscribe(const std::string& topic, const std::string& team) {
    Board& b = board();
    std::lock_guard lock(b.mutex);
    impl_->subscribed = true;
    b.topics[topic][team].members.push_back(impl_);
}

Task<void> Wakeup::wait(long ms) {
    auto impl = impl_;
    if (!impl->pending.exchange(false)) {
        impl->timer.expires_after(std::chrono::milliseconds(ms));
        impl->waiting = true;
        CallbackAwaiter<int> sleeping([impl](std::function<void(int)> done) {
            impl->timer.async_wait([done = std::move(done)](const boost::system::error_code&) mutable { done(0); });
        });
        co_await sleeping;
        impl->waiting = false;
        // Whatever notified us is visible now; the round that follows sees it.
        impl->pending.store(false);
    }
}

void notify_topic(const std::string& topic) {
    std::vector<std::shared_ptr<Wakeup::Impl>> targets;
    {
        Board& b = board();
        std::lock_guard lock(b.mutex);
        const auto it = b.topics.find(topic);
        if (it == b.topics.end()) {
            return;
        }
        for (auto& [name, team] : it->second) {
            const std::size_t n = team.members.size();
            for (std::size_t k = 0; k < n; ++k) {  // the next living member
                auto s = team.members[(team.next + k) % n].lock();
                if (s) {
                    team.next = (team.next + k + 1) % n;
                    targets.push_back(std::move(s));
                    break;
                }
            }
        }
    }
    for (const auto& t : targets) {
        wake(t);
    }
}

}  // namespace om::net
