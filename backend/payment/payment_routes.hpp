#pragma once
#include "core/router.hpp"

namespace om::payment {
class PaymentService;
// POST/GET /payments/method, PUT/DELETE /payments/method/{methodId}, POST /payments/process-payment,
// GET /payments/payments/{paymentId}, POST /payments/payments/{paymentId}/refund.
void add_routes(Router& router, PaymentService& svc);
}  // namespace om::payment
