#pragma once
// The payment service's part of the order saga (events/saga.hpp): it consumes the order stream (group
// "payment"), charges each placed order once (PaymentService::process with the order as the idempotency key:
// one payment per order, UNIQUE(order_id)), refunds cancelled orders, and publishes the outcome on
// om:events:payment through payment.outbox.
#include <string>

#include "core/task.hpp"
#include "events/stream_consumer.hpp"

namespace om::pg {
class Pool;
}

namespace om::payment {

class PaymentService;

inline constexpr const char* kOutboxTable = "payment.outbox";

class PaymentSaga {
public:
    PaymentSaga(PaymentService& payments, pg::Pool& db) : payments_(payments), db_(db) {}
    // Handler of om:events:order entries.
    Task<events::HandlerResult> on_order_event(events::StreamEntry entry);

private:
    Task<events::HandlerResult> charge(std::string payload);
    Task<events::HandlerResult> refund(std::string payload);

    PaymentService& payments_;
    pg::Pool& db_;
};

}  // namespace om::payment
