#include "delivery/delivery_saga.hpp"

#include <nlohmann/json.hpp>

#include "core/log.hpp"
#include "delivery/delivery_service.hpp"

namespace om::delivery {

using json = nlohmann::json;

Task<events::HandlerResult> DeliverySaga::on_payment_event(events::StreamEntry entry) {
    if (entry.type() != "PaymentApproved") {
        co_return events::HandlerResult::success();
    }
    const json p = json::parse(entry.payload());
    std::vector<std::string> sellers = p.value("sellerIds", std::vector<std::string>{});
    bool created = false;
    auto d = co_await deliveries_.create_for_order(p.at("buyerId").get<std::string>(), p.at("orderId").get<std::string>(),
                                                   p.at("addressId").get<std::string>(), std::move(sellers), &created);
    if (!d) {
        // The address was deleted after the order was placed, or the order id is taken: retried, then parked
        // in the dead-letter stream for an operator.
        co_return events::HandlerResult::failure("delivery for order " + p.value("orderId", "") + ": " +
                                                 d.error().detail);
    }
    if (!created) {
        // Asked again (a redelivery, or the order saga resumed because its events were lost): say it again, the
        // order service ignores what it knows already.
        co_await deliveries_.announce(std::move(*d));
    }
    co_return events::HandlerResult::success();
}

Task<events::HandlerResult> DeliverySaga::on_order_event(events::StreamEntry entry) {
    if (entry.type() != "OrderCancelled") {
        co_return events::HandlerResult::success();
    }
    const json p = json::parse(entry.payload());
    const std::string order_id = p.at("orderId").get<std::string>();
    auto d = co_await deliveries_.cancel_for_order(order_id);
    if (d && d->status != "CANCELLED") {
        log::warn("cancelled order's delivery has moved on; not cancelled",
                  {{"order_id", order_id}, {"delivery_id", d->id}, {"status", d->status}});
    }
    co_return events::HandlerResult::success();
}

}  // namespace om::delivery
