#pragma once
// Every SQL statement on orders.* (and the calls into the product service's stock functions, which run inside
// the order's transactions: product.take_stock / product.return_stock, db/migrations/0007_order_saga.sql).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/task.hpp"
#include "order/order_model.hpp"

namespace om::pg {
class Pool;
class Lease;
class Result;
}  // namespace om::pg

namespace om::order {

struct PlaceOutcome {
    std::string order_id;
    bool created = false;                    // false: DUPLICATE of existing_id, or refused (below)
    std::optional<std::string> existing_id;  // the order already holding (buyer, key)
    bool bad_method = false;                 // refused: the payment method is not the buyer's, or deleted
    bool bad_address = false;                // refused: the address is not the buyer's, or deleted
    bool changed = false;                    // refused: a product has another version than the order was priced from
};

// Fields written by a saga step or a cancellation (nullopt: unchanged).
struct OrderChange {
    std::optional<Status> status;
    std::vector<Status> steps;  // the history entries to add (the statuses passed through, ending with `status`)
    std::optional<std::string> cancel_reason;
    std::optional<std::string> payment_id;
    std::optional<std::string> payment_status;
    std::optional<std::string> decline_code;
    std::optional<std::string> delivery_id;
    std::optional<std::string> delivery_status;
    std::optional<std::string> gate_epoch;  // set with gate_pending when the stock was given back
    bool gate_pending = false;
    std::string at;  // RFC 3339, the history entry's time
};

class OrderRepository {
public:
    explicit OrderRepository(pg::Pool& db);

    // Group commit: one statement (orders.place_orders) for a batch given as a JSON array. Throws pg::SqlError
    // when any order of the batch fails (then nothing of the batch was written).
    Task<std::vector<PlaceOutcome>> place(std::string batch_json, std::int64_t max_age_ms);

    Task<std::optional<OrderRow>> find(std::string id);
    Task<std::optional<OrderRow>> find_by_key(std::string buyer_id, std::string key);
    Task<bool> is_seller_of(std::string seller_id, std::string order_id);
    // Newest first; `before`: an order id (keyset).
    Task<std::vector<OrderRow>> list_for_buyer(std::string buyer_id, std::optional<std::string> status,
                                               std::optional<std::string> before, int limit);
    Task<std::vector<OrderRow>> list_for_seller(std::string seller_id, std::optional<std::string> status,
                                                std::optional<std::string> before, int limit);

    // ---- transactions of saga steps and cancellations ----
    Task<pg::Lease> begin();
    Task<std::optional<OrderRow>> lock(pg::Lease& tx, std::string id);
    // product.return_stock: gives back what the order took (idempotent); returns the gate epoch it ran under.
    Task<std::string> return_stock(pg::Lease& tx, std::string order_id);
    Task<void> apply(pg::Lease& tx, std::string id, OrderChange c);
    // The same for many orders at once: locks them in id order (concurrent batches queue, never deadlock)…
    Task<std::vector<OrderRow>> lock_many(pg::Lease& tx, std::vector<std::string> ids);
    // …and applies one change per order in one statement; returns the orders as they stand after the changes
    // (in no particular order).
    Task<std::vector<OrderRow>> apply_many(pg::Lease& tx, std::vector<std::pair<std::string, OrderChange>> changes);
    Task<void> commit(pg::Lease& tx);

    // ---- maintenance ----
    Task<void> gate_given_back(std::string id);
    // Cancelled orders whose stock is back in PostgreSQL but not yet in the gate (for more than a few seconds).
    Task<std::vector<OrderRow>> gate_pending(int limit);
    // Orders still PENDING or PAID whose last change is older than `quiet_ms`.
    Task<std::vector<OrderRow>> unsettled(long quiet_ms, int limit);
    // Seconds since the resumer's scan last moved (orders.unsettled_scan.moved_at).
    Task<double> unsettled_scan_age();
    Task<void> touch_resumed(pg::Lease& tx, std::string id);
    // Which of these order ids exist.
    Task<std::vector<std::string>> existing(std::vector<std::string> ids);

private:
    pg::Pool& db_;
};

}  // namespace om::order
