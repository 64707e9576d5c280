#pragma once
// The order use cases (issue 5, design §4): placing an order (validate, reserve in the stock gate, group-commit
// the order with its stock movements and its OrderPlaced event, wait a bounded time for the saga), reading and
// listing orders, the buyer's cancellation, the saga's event handlers, and the maintenance loop (gate rebuild,
// reservation sweeper, stock give-backs, saga resumption). Coroutine parameters are taken by value (GCC 12).
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/http.hpp"
#include "core/task.hpp"
#include "events/stream_consumer.hpp"
#include "order/order_model.hpp"
#include "order/order_repository.hpp"
#include "order/order_writer.hpp"

namespace boost::asio {
class io_context;
}
namespace om::net {
class Wakeup;
}
namespace om::pg {
class Pool;
}
namespace om::redis {
class Client;
}
namespace om::product {
class ProductService;
}

namespace om::order {

inline constexpr const char* kOutboxTable = "orders.outbox";
inline constexpr int kMaxLines = 50;
inline constexpr std::int64_t kMaxQuantity = 1000;

using Sleep = std::function<Task<void>(long ms)>;

struct PlaceOrder {
    std::vector<OrderLine> items;
    std::string payment_method_id;
    std::string address_id;
    // How long the client waits for the outcome (its `Prefer: wait`), within OrderOptions::settle_wait; 0
    // answers as soon as the order is durable.
    std::optional<std::chrono::milliseconds> wait;
};

struct Placed {
    OrderRow order;
    bool settled = false;
};

struct OrderPage {
    std::vector<OrderRow> items;
    std::optional<std::string> next_cursor;
};

struct OrderOptions {
    std::chrono::milliseconds settle_wait{2000};
    std::chrono::milliseconds reservation_ttl{10000};
    std::chrono::milliseconds resume_after{30000};
    // How long a PaymentApproved waits before it is applied on its own (0: at once). The DeliveryCreated that
    // follows an approval names the payment and confirms the order in one write, so an approval applied only
    // when that has not happened by then saves one order transaction per order (issue 6).
    std::chrono::milliseconds approval_defer{500};
    // While orders keep coming, a group commit waits up to this long for more orders before it is written: all
    // of it from `linger_full_rate` orders a second in this process, in proportion below (0: always all of it).
    std::chrono::milliseconds commit_linger{0};
    double linger_full_rate{0};
    // At most this many new orders wait for the group commit at a time (per process); the next are refused with
    // 503 + Retry-After before any stock is reserved.
    std::size_t commit_queue_max{4096};
};

// Orders that a request of this process is waiting for, and whether they have settled: the saga's handlers (on
// any shard of the process) mark them and wake the waiting request, which asks PostgreSQL only rarely (the
// handler may run in another process). Thread-safe.
class SettleBoard {
public:
    SettleBoard();
    ~SettleBoard();
    SettleBoard(const SettleBoard&) = delete;
    SettleBoard& operator=(const SettleBoard&) = delete;
    // `wake` (may be null) is notified when the order settles, from the settling handler's thread, until
    // unwatch(id, wake) has returned.
    void watch(const std::string& id, net::Wakeup* wake = nullptr);
    void unwatch(const std::string& id, net::Wakeup* wake = nullptr);
    void settled(const std::string& id);  // no-op unless watched
    // The same with the order as it stands after its settling commit: the waiting request answers with it
    // instead of reading it back.
    void settled(OrderRow row);
    [[nodiscard]] bool is_settled(const std::string& id) const;
    [[nodiscard]] std::optional<OrderRow> settled_row(const std::string& id) const;

    // Orders that this process committed in a state where an approval of their payment changes nothing any more
    // (approval_settled(), order_model.hpp): a deferred approval of one is dropped without a transaction (issue 6).
    // Remembered for `ttl` (the same for every call: they expire in the order they came); a process that does not
    // remember an order applies its approval as usual.
    void approval_settled(const std::string& id, std::chrono::milliseconds ttl);
    // True, and forgotten, if `id` was remembered.
    [[nodiscard]] bool take_approval_settled(const std::string& id);

    // A request that answered 202 hands its watched order over for `ttl`: the board keeps the order as it was
    // written and, should it settle, as it committed, so that the buyer's next read of it (a long poll) needs
    // no query. The caller still watches it.
    void hand_over(const OrderRow& written, std::chrono::milliseconds ttl);
    // Takes a handed-over order of `buyer_id` and watches it with `wake` (as watch()): the order as it settled,
    // or as it was written. nullopt (and nothing watched) when the board does not hold it for this buyer.
    [[nodiscard]] std::optional<OrderRow> take_over(const std::string& id, const std::string& buyer_id,
                                                    net::Wakeup* wake);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class OrderService {
public:
    OrderService(pg::Pool& db, redis::Client& redis, product::ProductService& products, Sleep sleep,
                 SettleBoard& board, OrderOptions options,
                 boost::asio::io_context& io, CommitHub* hub = nullptr);
    ~OrderService();
    OrderService(const OrderService&) = delete;
    OrderService& operator=(const OrderService&) = delete;
    // This shard's group commit writes the orders of every shard sharing the hub (until stop()).
    void own_commits();

    // POST /order/process-order. `request_hash`: the digest of the request's meaning (items, method, address).
    Task<Result<Placed>> place(Principal who, PlaceOrder cmd, std::string idempotency_key, std::string request_hash);
    // The longest a request waits for its order to settle (PlaceOrder::wait beyond it is cut to it).
    [[nodiscard]] std::chrono::milliseconds settle_wait() const noexcept { return options_.settle_wait; }
    // The buyer, or a seller of one of its products; NOT_FOUND for anyone else. While the order has not settled,
    // waits up to `wait` for it to (woken by this process's saga), then answers it as it stands.
    Task<Result<OrderRow>> get(Principal who, std::string id, std::chrono::milliseconds wait = {});
    // The buyer's orders, or (seller) the orders containing the caller's products; newest first.
    Task<OrderPage> list(Principal who, bool as_seller, std::optional<std::string> status, int limit,
                         std::optional<std::string> before);
    // The buyer cancels before SHIPPED: stock back, refund and delivery cancellation follow through the saga.
    Task<Result<OrderRow>> cancel(Principal who, std::string id);

    // ---- the saga (consumer group "orders") ----
    Task<events::HandlerResult> on_event(events::StreamEntry entry);
    // Publishes OrderPlaced at once after each group commit (otherwise the relay does).
    void set_publisher(events::Publisher* publisher) noexcept { writer_.set_publisher(publisher); }
    // Told the age of the resumer's scan after each sweep (for /metrics).
    void on_scan_age(std::function<void(double)> f) { scan_age_ = std::move(f); }
    // Each group commit this shard writes: its orders and seconds (metrics).
    void on_group_commit(OrderWriter::Observe f) { writer_.set_observer(std::move(f)); }
    // The same for a batch of entries in one transaction; one result per entry. PaymentApproved entries are
    // deferred (OrderOptions::approval_defer): answered at once, applied later unless the delivery came first.
    Task<std::vector<events::HandlerResult>> on_events(std::vector<events::StreamEntry> entries);

    // ---- maintenance (one loop per process) ----
    // One round: rebuild the gate if Redis lost it, release abandoned reservations, finish stock give-backs,
    // restart quiet sagas. Returns how many things it did. Throws om::Unavailable.
    Task<int> maintain_once();
    Task<void> run_maintenance();
    void stop() noexcept;

private:
    // The request's Idempotency-Key in Redis, taken by the stock reservation's script (see place()).
    struct KeyClaim;
    // place_new, and on a refusal the order an earlier request committed (unless another request holds the key).
    Task<Result<Placed>> place_owned(Principal who, const PlaceOrder& cmd, std::string key, std::string hash,
                                     std::string order_id, KeyClaim& claim);
    // `price_from_database`: not from the product service's copies (after the group commit found one changed).
    Task<Result<Placed>> place_new(Principal who, const PlaceOrder& cmd, std::string key, std::string hash,
                                   std::string order_id, bool price_from_database, KeyClaim& claim);
    Task<Result<Placed>> replay(OrderRow existing, std::string hash, std::chrono::milliseconds wait);
    // Waits up to `wait` for the order to settle and answers it as it stands then. `written`: the order as it was
    // just committed (PENDING), answered as is if nothing happens in time; without it the order is read (after
    // the watch begins, so that no settlement is missed).
    Task<Placed> wait_settled(std::string id, std::optional<OrderRow> written, std::chrono::milliseconds wait);
    // The wait itself, for a request already watching the order on the board with `wake`.
    Task<Placed> settle(OrderRow known, net::Wakeup& wake, std::chrono::milliseconds wait);
    std::chrono::milliseconds wait_for(const PlaceOrder& cmd) const noexcept;
    Task<bool> ensure_gate();
    // on_events without deferral.
    Task<std::vector<events::HandlerResult>> apply_events(std::vector<events::StreamEntry> entries);
    void defer(events::StreamEntry entry);
    Task<void> drain_deferred();
    Task<void> give_back(OrderRow o, std::string epoch);
    Task<void> publish_placed(pg::Lease& tx, const OrderRow& o);
    Task<int> sweep_reservations();
    Task<int> finish_give_backs();
    Task<int> resume_sagas();

    boost::asio::io_context& io_;  // the shard's: a waiting request's wake-ups
    pg::Pool& db_;
    redis::Client& redis_;
    product::ProductService& products_;
    Sleep sleep_;
    SettleBoard& board_;
    OrderOptions options_;
    OrderRepository repo_;
    OrderWriter writer_;
    CommitHub* hub_;
    struct Deferred {
        std::int64_t due_ms;
        events::StreamEntry entry;
    };
    std::deque<Deferred> deferred_;  // this shard's deferred approvals, oldest first
    bool draining_deferred_ = false;
    std::chrono::steady_clock::time_point next_resume_sweep_{};  // when resume_sagas looks for quiet orders again
    std::function<void(double)> scan_age_;
    bool stopped_ = false;
};

}  // namespace om::order
