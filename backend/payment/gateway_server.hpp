#pragma once
// The routes of `openmarket-server gateway`: the test gateway (test_gateway.hpp) served over HTTP, so that the
// payment service can be tested against a gateway in another process (killed, restarted, port closed).
//   POST /v1/tokens   {number, cvc, expMonth, expYear, holderName} → 200 {token} | 402 {declineCode}
//   POST /v1/charges  Idempotency-Key; {token, amount, currency, reference} → 200 {id, status, declineCode?}
//   POST /v1/refunds  Idempotency-Key; {charge, amount} → 200 {id, status, declineCode?}
//   GET  /v1/stats    {chargesExecuted}
//   GET  /healthz
// Injected errors answer 503; the "never answers" card holds the request for `hang_ms`, then answers 504.
#include <memory>

#include "core/router.hpp"
#include "payment/test_gateway.hpp"

namespace om::payment {

void add_gateway_routes(Router& router, std::shared_ptr<TestGatewayEngine> engine, Sleep sleep, long hang_ms = 60'000);

}  // namespace om::payment
