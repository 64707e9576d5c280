#pragma once
// Group commit of new orders, per shard: concurrent POST /order/process-order requests of a shard share one
// PostgreSQL statement and one commit (orders.place_orders), so throughput is not bounded by one commit per
// order. While a batch is being written the next requests queue; when it commits, everything queued meanwhile
// goes in the next batch (up to max_batch). If a batch fails, its orders are written one by one so that one
// bad order fails alone.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/linger.hpp"
#include "core/task.hpp"
#include "events/outbox_relay.hpp"
#include "order/order_repository.hpp"

namespace boost::asio {
class io_context;
}

namespace om::order {

struct WriteResult {
    enum class Kind : std::uint8_t {
        created,
        duplicate,       // (buyer, key) holds existing_id already
        out_of_stock,    // PostgreSQL refused the stock (the gate was above it): nothing written
        stale,           // the reservation is too old, or from an earlier gate epoch: nothing written
        invalid,         // the payment method or the address is not the buyer's (bad_method, bad_address)
        changed,         // a product changed since the order was priced: nothing written, price it again
        overloaded,      // max_pending orders were waiting for the group commit already: nothing written
        unknown          // the database failed; the order may or may not have committed
    };
    Kind kind = Kind::unknown;
    std::optional<std::string> existing_id;
    std::string error;
    bool bad_method = false;   // with invalid
    bool bad_address = false;  // with invalid
};

class OrderWriter {
public:
    using Sleep = std::function<Task<void>(long ms)>;
    // `linger_ms` (with `sleep`): while orders keep coming in company (the last batch is less than 20 ms old and
    // held more than one order), a batch waits up to this long for more before it is written, so that commits
    // are shared by more orders; at a low rate (single-order batches) and after a quiet spell orders go at once.
    // How long exactly grows with the rate of orders (om::Linger): all of it from `linger_full_rate` orders a
    // second (0: always all of it).
    // At most `max_pending` orders wait for it at a time (queued or in the batch being written): one more is
    // refused at once (overloaded), so that under overload the requests answer 503 instead of queueing for
    // seconds (docs/architecture.md, "Limits and timeouts").
    OrderWriter(OrderRepository& repo, std::int64_t max_age_ms, std::size_t max_batch = 64, Sleep sleep = {},
                long linger_ms = 0, double linger_full_rate = 0, std::size_t max_pending = 4096)
        : repo_(repo), max_age_ms_(max_age_ms), max_batch_(max_batch), max_pending_(max_pending),
          sleep_(std::move(sleep)), linger_(linger_ms, linger_full_rate) {}

    // `order_json`: one element of orders.place_orders' batch (see db/migrations/0007_order_saga.sql), whose
    // OrderPlaced is `placed` (published right after the commit, once the batch is answered, when a publisher is set).
    Task<WriteResult> write(std::string order_json, events::OutboxEvent placed);
    // Whether write() would refuse an order now (any thread: a request asks before it reserves stock).
    [[nodiscard]] bool full() const noexcept { return pending_.load(std::memory_order_relaxed) >= max_pending_; }
    void set_publisher(events::Publisher* publisher) noexcept { publisher_ = publisher; }
    // Called with the ids of each batch's created orders once their requests are answered (their stock
    // reservations' records are no longer needed). Not awaited by anyone; a failure is logged, and the
    // sweeper drops what it left.
    using Forget = std::function<Task<void>(std::vector<std::string> order_ids)>;
    void set_forget(Forget forget) { forget_ = std::move(forget); }
    // Called after each batch's statement with the batch's size and the statement's seconds (the commit
    // included), when it succeeded: for metrics.
    using Observe = std::function<void(std::size_t orders, double seconds)>;
    void set_observer(Observe observe) { observe_ = std::move(observe); }

private:
    struct Pending {
        std::string json;
        events::OutboxEvent placed;
        std::function<void(WriteResult)> done;
    };
    Task<void> drain();
    Task<void> write_batch(std::deque<Pending> batch);
    Task<WriteResult> write_one(Pending& p);
    Task<void> publish(std::vector<events::OutboxEvent> placed);
    void forget(std::vector<std::string> order_ids);

    OrderRepository& repo_;
    std::int64_t max_age_ms_;
    std::size_t max_batch_;
    std::size_t max_pending_;
    std::atomic<std::size_t> pending_{0};  // written on the writer's thread, read by full() from any
    Sleep sleep_;
    Linger linger_;
    std::chrono::steady_clock::time_point last_batch_{};
    std::size_t last_batch_size_ = 0;
    std::deque<Pending> queue_;
    bool draining_ = false;
    events::Publisher* publisher_ = nullptr;
    Forget forget_;
    Observe observe_;
};

// One group commit per process (issue 6): the new orders of every shard go to the writer of the shard that
// owns the hub, so that they share its batches. With a writer per shard, each commit was half as large and the
// shards' batches queued on the same product rows' locks. The owning shard writes; the asking shard resumes on
// its own thread with the outcome. Thread-safe.
class CommitHub {
public:
    // `writer` (used only on the thread of `io`) writes every shard's orders from now on.
    void own(OrderWriter& writer, boost::asio::io_context& io);
    // Before that writer goes away: the shards write their own orders again.
    void disown(OrderWriter& writer);
    // From the shard of `from`: the owner writes the order, or `local` when no writer owns the hub or when it
    // is this shard's.
    Task<WriteResult> write(boost::asio::io_context& from, OrderWriter& local, std::string order_json,
                            events::OutboxEvent placed);
    // Whether the writer that write() would use (the owner's, else `local`) refuses orders now.
    [[nodiscard]] bool full(const OrderWriter& local);

private:
    std::mutex mu_;
    OrderWriter* owner_ = nullptr;
    boost::asio::io_context* owner_io_ = nullptr;
};

}  // namespace om::order
