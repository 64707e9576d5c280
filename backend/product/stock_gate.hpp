#pragma once
// The Redis stock gate: om:gate:<productId> holds the units buyers may still reserve right now.
//
// Invariant (design §4): gate = PostgreSQL stock − units reserved by orders that are not yet durable.
// Decreases go through the gate first (one Lua script, atomic, never below zero) and then to PostgreSQL;
// increases go to PostgreSQL first and then to the gate. So the gate is never above what PostgreSQL can
// honour, and a seller's change and an order's reservation are atomic with respect to each other: both are
// decided by Redis scripts on the same key.
//
// Epochs. `om:gate:ready` holds the gate's epoch, which PostgreSQL also records (product.gate_state). Every
// script checks it: when Redis lost its data the key is gone, reservations answer `not_ready`, seller changes
// go to PostgreSQL only, and ProductService::rebuild_gate() sets a new epoch in PostgreSQL (waiting for every
// transaction that holds the old one), copies all stock into the gate and sets the key again. An order
// commits only under the epoch it reserved in (product.take_stock), so a reservation lost with Redis can
// never become a sale that the rebuilt gate does not know about. See docs/architecture.md, "The stock gate".
//
// Reservations of orders not yet durable are recorded (om:resv sorted by time, om:resv:<orderId> = its
// lines) so that a sweeper can release those whose order never reached PostgreSQL.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/task.hpp"

namespace om::redis {
class Client;
}

namespace om::product {

std::string gate_key(const std::string& product_id);
inline constexpr const char* kGateReadyKey = "om:gate:ready";

struct GateResult {
    bool applied = false;
    bool off = false;        // the gate is not in the caller's epoch (being rebuilt): nothing was changed
    std::int64_t value = 0;  // gate after the change (or current value when not applied)
    std::int64_t delta = 0;  // for lower_to(): the change applied
};

struct GateLine {
    std::string product_id;
    std::int64_t quantity = 0;
};

struct Reserved {
    enum class Status : std::uint8_t { reserved, short_of_stock, not_ready, missing, claimed };
    Status status = Status::reserved;
    std::string epoch;   // reserved: the epoch of the reservation
    std::string holder;  // claimed: the value the claim holds (another request's); nothing was reserved
    // short_of_stock: (line index, units available) of each line that cannot be served; missing: the lines
    // whose gate key does not exist (available 0).
    std::vector<std::pair<std::size_t, std::int64_t>> lines;
};

class StockGate {
public:
    explicit StockGate(redis::Client& redis) : redis_(redis) {}

    // ---- seller changes (under the product's row lock and the epoch's share lock) ----
    // gate += delta unless the result would be negative. `init` seeds a missing key.
    Task<GateResult> adjust(std::string product_id, std::int64_t delta, std::int64_t init, std::string epoch);
    // When quantity < gate: sets gate = quantity and returns the (negative) delta applied.
    // Otherwise changes nothing and returns the (non-negative) delta the caller must apply to PostgreSQL first
    // and then to the gate with adjust().
    Task<GateResult> lower_to(std::string product_id, std::int64_t quantity, std::int64_t init, std::string epoch);
    // Sets a missing key to `value` while the gate is in `epoch` (product creation; a key found missing).
    // Returns whether it did.
    Task<bool> seed(std::string product_id, std::int64_t value, std::string epoch);

    // ---- orders ----
    // A key the caller takes together with its reservation, in the same script (the order service's
    // Idempotency-Key: one round trip for both). Held by another value: nothing is reserved (`claimed`).
    struct Claim {
        std::string key;
        std::string value;
        long ttl_seconds = 0;  // how long the key lives once taken
    };
    // Reserves every line or none (one script), and records the reservation under `order_id`: only if the claim
    // is free or already holds its value, and then the claim is taken with the reservation.
    Task<Reserved> reserve(std::string order_id, std::vector<GateLine> lines, std::int64_t now_ms,
                           const Claim& claim);
    // The orders are durable (their stock left PostgreSQL): drop their reservation records (one script).
    Task<void> forget(std::vector<std::string> order_ids);
    // The order will never be durable: give its reserved units back (once; only within the epoch of the
    // reservation). Returns false when there was no such reservation (released already, or lost with Redis).
    Task<bool> release(std::string order_id);
    // Stock of a durable order was given back in PostgreSQL under `epoch`: add it to the gate, once per order
    // (a marker key), and only while the gate is still in that epoch (a rebuild read PostgreSQL afterwards).
    // Returns false when the gate is in another epoch or the units were given back already.
    Task<bool> give_back(std::string order_id, std::vector<GateLine> lines, std::string epoch);
    // Reservations recorded before `before_ms`, oldest first (the sweeper's work).
    Task<std::vector<std::string>> stale_reservations(std::int64_t before_ms, int limit);
    // The epoch of the gate, empty when it is not ready.
    Task<std::string> epoch();

private:
    redis::Client& redis_;
};

}  // namespace om::product
