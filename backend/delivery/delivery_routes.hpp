#pragma once
#include <string>

#include "core/router.hpp"

namespace om::delivery {
class DeliveryService;
// Registers the /delivery routes. The service must outlive the router. `carrier_secret` signs carrier
// webhooks (empty: every carrier event is refused with 401).
void add_routes(Router& router, DeliveryService& service, std::string carrier_secret);
}  // namespace om::delivery
