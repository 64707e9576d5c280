#pragma once
// The Redis stock gate: om:gate:<productId> holds the units buyers may still reserve right now.
//
// Invariant (design §4): gate = PostgreSQL stock − units reserved by orders that are not yet durable.
// Decreases go through the gate first (one Lua script, atomic, never below zero) and then to PostgreSQL;
// increases go to PostgreSQL first and then to the gate. So the gate is never above what PostgreSQL can
// honour, and a seller's change and an order's reservation are atomic with respect to each other: both are
// decided by the same Redis script on the same key. A missing key (Redis restarted empty) is initialised
// from the PostgreSQL stock passed by the caller.
#include <cstdint>
#include <string>

#include "core/task.hpp"

namespace om::redis {
class Client;
}

namespace om::product {

std::string gate_key(const std::string& product_id);

struct GateResult {
    bool applied = false;
    std::int64_t value = 0;  // gate after the change (or current value when not applied)
    std::int64_t delta = 0;  // for set(): the change applied
};

class StockGate {
public:
    explicit StockGate(redis::Client& redis) : redis_(redis) {}

    // gate += delta unless the result would be negative. `init` seeds a missing key.
    Task<GateResult> adjust(const std::string& product_id, std::int64_t delta, std::int64_t init);
    // When quantity < gate: sets gate = quantity and returns the (negative) delta applied.
    // Otherwise changes nothing and returns the (non-negative) delta the caller must apply to PostgreSQL first
    // and then to the gate with adjust().
    Task<GateResult> lower_to(const std::string& product_id, std::int64_t quantity, std::int64_t init);
    // Sets the gate to `value` (initialisation at product creation).
    Task<void> set(const std::string& product_id, std::int64_t value);

private:
    redis::Client& redis_;
};

}  // namespace om::product
