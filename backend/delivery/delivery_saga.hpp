#pragma once
// The delivery service's part of the order saga (events/saga.hpp), consumer group "delivery":
//   om:events:payment  PaymentApproved → create_for_order (idempotent per order; DeliveryCreated follows)
//   om:events:order    OrderCancelled  → cancel_for_order (a READY delivery becomes CANCELLED)
#include <vector>

#include "core/task.hpp"
#include "events/stream_consumer.hpp"

namespace om::delivery {

class DeliveryService;

class DeliverySaga {
public:
    explicit DeliverySaga(DeliveryService& deliveries) : deliveries_(deliveries) {}
    Task<events::HandlerResult> on_payment_event(events::StreamEntry entry);
    // A batch of payment events: the deliveries of every PaymentApproved created in one transaction.
    Task<std::vector<events::HandlerResult>> on_payment_events(std::vector<events::StreamEntry> entries);
    Task<events::HandlerResult> on_order_event(events::StreamEntry entry);

private:
    DeliveryService& deliveries_;
};

}  // namespace om::delivery
