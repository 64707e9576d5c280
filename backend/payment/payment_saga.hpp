#pragma once
// The payment service's part of the order saga (events/saga.hpp): it consumes the order stream (group
// "payment"), charges each placed order once (PaymentService::process with the order as the idempotency key:
// one payment per order, UNIQUE(order_id)), refunds cancelled orders, and publishes the outcome on
// om:events:payment through payment.outbox.
#include <string>
#include <vector>

#include "core/task.hpp"
#include "events/outbox_relay.hpp"
#include "events/stream_consumer.hpp"

namespace om::pg {
class Pool;
}

namespace om::payment {

class PaymentService;

inline constexpr const char* kOutboxTable = "payment.outbox";

class PaymentSaga {
public:
    PaymentSaga(PaymentService& payments, pg::Pool& db);
    // Handler of om:events:order entries.
    Task<events::HandlerResult> on_order_event(events::StreamEntry entry);
    // The same for a batch: the entries are handled concurrently, and their outcome events written in one
    // statement and published at once.
    Task<std::vector<events::HandlerResult>> on_order_events(std::vector<events::StreamEntry> entries);
    void set_publisher(events::Publisher* publisher) noexcept { publisher_ = publisher; }

private:
    // Each puts the outcome event to publish (if any) in `out`.
    Task<events::HandlerResult> handle(const events::StreamEntry& entry, std::vector<events::OutboxEvent>& out);
    Task<events::HandlerResult> charge(std::string payload, std::vector<events::OutboxEvent>& out);
    Task<events::HandlerResult> refund(std::string payload, std::vector<events::OutboxEvent>& out);
    // Writes the events to payment.outbox (one statement) and publishes them.
    Task<void> emit(std::vector<events::OutboxEvent> events);

    PaymentService& payments_;
    pg::Pool& db_;
    events::Publisher* publisher_ = nullptr;
};

}  // namespace om::payment
