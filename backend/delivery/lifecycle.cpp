#include "delivery/lifecycle.hpp"

#include <array>

namespace om::delivery {

namespace {
constexpr std::array<std::string_view, 8> kNames{"READY",     "SHIPPED", "IN_TRANSIT", "OUT_FOR_DELIVERY",
                                                 "DELIVERED", "FAILED",  "RETURNED",   "CANCELLED"};

constexpr std::uint8_t bit(Status s) { return static_cast<std::uint8_t>(1U << static_cast<unsigned>(s)); }

// allowed[from] = set of statuses reachable in one step.
constexpr std::array<std::uint8_t, 8> kAllowed{
    /* READY */ static_cast<std::uint8_t>(bit(Status::shipped) | bit(Status::failed) | bit(Status::cancelled)),
    /* SHIPPED */
    static_cast<std::uint8_t>(bit(Status::in_transit) | bit(Status::out_for_delivery) | bit(Status::delivered) |
                              bit(Status::failed) | bit(Status::returned)),
    /* IN_TRANSIT */
    static_cast<std::uint8_t>(bit(Status::in_transit) | bit(Status::out_for_delivery) | bit(Status::delivered) |
                              bit(Status::failed) | bit(Status::returned)),
    /* OUT_FOR_DELIVERY */
    static_cast<std::uint8_t>(bit(Status::delivered) | bit(Status::failed) | bit(Status::returned)),
    /* DELIVERED */ 0,
    /* FAILED */ bit(Status::returned),
    /* RETURNED */ 0,
    /* CANCELLED */ 0,
};
}  // namespace

std::string_view to_string(Status s) noexcept { return kNames[static_cast<std::size_t>(s)]; }

std::optional<Status> parse_status(std::string_view s) noexcept {
    for (std::size_t i = 0; i < kNames.size(); ++i) {
        if (kNames[i] == s) {
            return static_cast<Status>(i);
        }
    }
    return std::nullopt;
}

const std::vector<std::string_view>& status_names() {
    static const std::vector<std::string_view> names(kNames.begin(), kNames.end());
    return names;
}

bool can_transition(Status from, Status to) noexcept {
    return (kAllowed[static_cast<std::size_t>(from)] & bit(to)) != 0;
}

bool is_final(Status s) noexcept { return kAllowed[static_cast<std::size_t>(s)] == 0; }

bool needs_tracking(Status to) noexcept {
    return to == Status::shipped || to == Status::in_transit || to == Status::out_for_delivery ||
           to == Status::delivered;
}

std::optional<Status> simulated_next(Status s) noexcept {
    switch (s) {
        case Status::shipped:
            return Status::in_transit;
        case Status::in_transit:
            return Status::out_for_delivery;
        case Status::out_for_delivery:
            return Status::delivered;
        default:
            return std::nullopt;
    }
}

}  // namespace om::delivery
