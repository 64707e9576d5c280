#pragma once
#include "core/router.hpp"

namespace om::order {

class OrderService;

// POST /order/process-order, GET /order/orders/{orderId}, GET /order/orders, POST /order/orders/{orderId}/cancel.
void add_routes(Router& router, OrderService& svc);

}  // namespace om::order
