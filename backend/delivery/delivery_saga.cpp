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

Task<std::vector<events::HandlerResult>> DeliverySaga::on_payment_events(std::vector<events::StreamEntry> entries) {
    std::vector<events::HandlerResult> results(entries.size(), events::HandlerResult::success());
    std::vector<DeliveryService::OrderDelivery> orders;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].type() != "PaymentApproved") {
            continue;
        }
        const json p = json::parse(entries[i].payload(), nullptr, false);
        if (!p.is_object() || !p.contains("buyerId") || !p["buyerId"].is_string() || !p.contains("orderId") ||
            !p["orderId"].is_string() || !p.contains("addressId") || !p["addressId"].is_string()) {
            results[i] = events::HandlerResult::failure("PaymentApproved without buyerId, orderId or addressId");
            continue;
        }
        std::optional<std::string> payment;
        if (p.contains("paymentId") && p["paymentId"].is_string()) {
            payment = p["paymentId"].get<std::string>();
        }
        orders.push_back({p["buyerId"].get<std::string>(), p["orderId"].get<std::string>(),
                          p["addressId"].get<std::string>(), p.value("sellerIds", std::vector<std::string>{}),
                          std::move(payment)});
        index.push_back(i);
    }
    if (orders.empty()) {
        co_return results;
    }
    auto created = co_await deliveries_.create_for_orders(orders);
    for (std::size_t k = 0; k < orders.size(); ++k) {
        const std::size_t i = index[k];
        if (!created[k]) {
            results[i] = events::HandlerResult::failure("delivery for order " + orders[k].order_id + ": " +
                                                        created[k].error().detail);
        } else if (!*created[k]) {
            results[i] = co_await on_payment_event(entries[i]);  // it exists: announce it again, one by one
        }
    }
    co_return results;
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
