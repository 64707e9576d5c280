#pragma once
// Wake-ups for background loops (outbox relays, stream consumers) that otherwise poll.
//
// A Wakeup belongs to one loop on one io_context: wait(ms) sleeps until `ms` have passed or notify() was called
// (from any thread) since the previous wait ended. Loops subscribe their Wakeup to named topics on the process's
// board ("outbox:delivery.outbox", "stream:om:events:order"); whoever makes new work calls notify_topic() once
// it is visible (the transaction committed, the entry was added). Polling stays as the fallback for work made by
// other processes: a wake-up only shortens a pause, so a lost one costs latency, never correctness.
#include <memory>
#include <string>

#include "core/task.hpp"

namespace boost::asio {
class io_context;
}

namespace om::net {

class Wakeup {
public:
    explicit Wakeup(boost::asio::io_context& io);
    ~Wakeup();  // unsubscribes from every topic
    Wakeup(const Wakeup&) = delete;
    Wakeup& operator=(const Wakeup&) = delete;

    // Thread-safe; several notifications before the next wait count as one.
    void notify();
    // On the io_context's thread: returns after `ms` or as soon as notified (at once if notified already).
    Task<void> wait(long ms);
    // Wakes this loop whenever notify_topic(topic) is called. Subscribers of a topic with the same `team` (the
    // consumers of one group on the shards of this process) take turns: one of them is woken per notification.
    void subscribe(const std::string& topic, const std::string& team = "");

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

// Wakes one Wakeup of every team subscribed to `topic` in this process (no-op when none is). Thread-safe.
void notify_topic(const std::string& topic);

}  // namespace om::net
