#pragma once
// The delivery lifecycle: statuses and the one transition table (docs/architecture.md, "Delivery lifecycle").
//
//   READY            → SHIPPED (carrier and tracking number required), FAILED, CANCELLED (the order was
//                      cancelled: only the order saga sets it)
//   SHIPPED          → IN_TRANSIT, OUT_FOR_DELIVERY, DELIVERED, FAILED, RETURNED
//   IN_TRANSIT       → IN_TRANSIT (another scan), OUT_FOR_DELIVERY, DELIVERED, FAILED, RETURNED
//   OUT_FOR_DELIVERY → DELIVERED, FAILED, RETURNED
//   FAILED           → RETURNED
//   DELIVERED, RETURNED, CANCELLED: final
//
// Forward steps may be skipped (carriers miss scans); nothing ever moves backwards.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace om::delivery {

enum class Status : std::uint8_t { ready, shipped, in_transit, out_for_delivery, delivered, failed, returned, cancelled };

std::string_view to_string(Status s) noexcept;
std::optional<Status> parse_status(std::string_view s) noexcept;
// Every status name, in lifecycle order (for validation messages and the OpenAPI enum).
const std::vector<std::string_view>& status_names();

bool can_transition(Status from, Status to) noexcept;
bool is_final(Status s) noexcept;
// Whether reaching `to` requires a carrier and a tracking number on the delivery.
bool needs_tracking(Status to) noexcept;
// The courier simulator's next step: SHIPPED → IN_TRANSIT → OUT_FOR_DELIVERY → DELIVERED; nullopt otherwise.
std::optional<Status> simulated_next(Status s) noexcept;

}  // namespace om::delivery
