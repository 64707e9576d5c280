#pragma once
// The order: its row, its statuses, and the saga's decision table (a pure function, unit-tested).
//
//   PENDING (stock reserved, order durable) → PAID → CONFIRMED (delivery requested) → SHIPPED → DELIVERED
//   PENDING, PAID, CONFIRMED → CANCELLED (PAYMENT_DECLINED, PAYMENT_FAILED, BUYER_CANCELLED)
//
// Saga events only move an order forward; a repeated event finds nothing left to do (idempotent handlers).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace om::order {

enum class Status : std::uint8_t { pending, paid, confirmed, shipped, delivered, cancelled };

std::string_view to_string(Status s) noexcept;
std::optional<Status> parse_status(std::string_view s) noexcept;
// CONFIRMED or later, or CANCELLED: what POST /order/process-order waits for.
bool is_settled(Status s) noexcept;

struct OrderRow {
    std::string id;
    std::string buyer_id;
    Status status = Status::pending;
    std::optional<std::string> cancel_reason;
    std::string items;  // JSON array [{productId, sellerId, name, unitPrice, quantity, lineTotal}]
    std::int64_t total_amount = 0;
    std::string currency;
    std::string payment_method_id;
    std::string address_id;
    std::optional<std::string> payment_id;
    std::optional<std::string> payment_status;
    std::optional<std::string> decline_code;
    std::optional<std::string> delivery_id;
    std::optional<std::string> delivery_status;
    std::string history;  // JSON array [{status, at}]
    std::string request_hash;
    std::string gate_epoch;
    bool gate_pending = false;
    std::string created_at;  // RFC 3339
    std::string updated_at;
};

// The public JSON representation.
std::string order_json(const OrderRow& o);

struct OrderLine {
    std::string product_id;
    std::int64_t quantity = 0;
};
// (productId, quantity) of each item of the order.
std::vector<OrderLine> order_lines(const OrderRow& o);

// A saga event as the order service sees it.
struct SagaEvent {
    enum class Kind : std::uint8_t {
        payment_approved,
        payment_declined,
        payment_failed,
        payment_refunded,
        delivery_created,
        delivery_status
    };
    Kind kind = Kind::payment_approved;
    std::optional<std::string> payment_id;
    std::optional<std::string> decline_code;
    std::optional<std::string> delivery_id;
    std::optional<std::string> delivery_status;
};

// What to do with an order when an event arrives.
struct Decision {
    std::optional<Status> status;              // move to (and add to the history)
    std::optional<std::string> cancel_reason;  // with status CANCELLED
    bool return_stock = false;                 // give the order's stock back (PostgreSQL, then the gate)
    bool request_cancel = false;               // publish OrderCancelled: refund a late charge, cancel a delivery
    // Facts to record (nullopt: unchanged).
    std::optional<std::string> payment_id;
    std::optional<std::string> payment_status;
    std::optional<std::string> decline_code;
    std::optional<std::string> delivery_id;
    std::optional<std::string> delivery_status;

    [[nodiscard]] bool changes_anything() const noexcept {
        return status || payment_id || payment_status || decline_code || delivery_id || delivery_status;
    }
};

Decision decide(const OrderRow& current, const SagaEvent& e);

// Whether an approval of the order's payment can no longer change the order, now or after any later step: it is
// CONFIRMED or further (not CANCELLED) and its payment (one an order) is recorded as approved or refunded. From
// such an order decide() changes nothing for the approval, and after a later cancellation it only asks again for
// the refund that the cancellation asked for itself. OrderService drops such deferred approvals unapplied.
bool approval_settled(const OrderRow& o) noexcept;

// The statuses an order passes through from `from` to `to`, `to` included: every forward status in between
// (PENDING → CONFIRMED passes PAID), or just CANCELLED.
std::vector<Status> steps(Status from, Status to);

}  // namespace om::order
