#include "payment/payment_saga.hpp"

#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "core/json_out.hpp"
#include "core/log.hpp"
#include "events/outbox_relay.hpp"
#include "net/pg.hpp"
#include "payment/payment_service.hpp"

namespace om::payment {

namespace {

using json = nlohmann::json;

std::string event_type_for(const std::string& status) {
    if (status == "APPROVED") {
        return "PaymentApproved";
    }
    if (status == "DECLINED") {
        return "PaymentDeclined";
    }
    if (status == "REFUNDED") {
        return "PaymentRefunded";
    }
    return "PaymentFailed";
}

// The outcome event: the payment's facts plus the order's context that the next step (delivery) needs.
events::OutboxEvent outcome_event(const json& order, const std::string& status, const std::optional<PaymentRow>& p,
                                  const std::optional<std::string>& decline_code) {
    events::OutboxEvent e;
    e.id = new_uuid_v7();
    e.type = event_type_for(status);
    e.aggregate_id = order.value("orderId", "");
    JsonOut payload;
    payload.begin_object()
        .key("type").value(e.type)  // keys in jsonb's order (JsonOut, json_out.hpp)
        .key("amount").value(order.value("amount", std::int64_t{0}))
        .key("status").value(status)
        .key("buyerId").value(order.value("buyerId", ""))
        .key("eventId").value(e.id)
        .key("orderId").value(order.value("orderId", ""))
        .key("currency").value(order.value("currency", "KRW"))
        .key("addressId").value(order.value("addressId", ""))
        .key("paymentId").value(p ? std::optional<std::string>(p->id) : std::nullopt)
        .key("sellerIds").raw(order.value("sellerIds", json::array()).dump())
        .key("declineCode").value(decline_code)
        .end_object();
    e.payload = payload.take();
    return e;
}

}  // namespace

PaymentSaga::PaymentSaga(PaymentService& payments, pg::Pool& db) : payments_(payments), db_(db) {
    events::prepare_outbox(db, kOutboxTable);
}

Task<events::HandlerResult> PaymentSaga::handle(const events::StreamEntry& entry,
                                                std::vector<events::OutboxEvent>& out) {
    if (entry.type() == "OrderPlaced") {
        co_return co_await charge(entry.payload(), out);
    }
    if (entry.type() == "OrderCancelled") {
        co_return co_await refund(entry.payload(), out);
    }
    co_return events::HandlerResult::success();  // not for us
}

Task<void> PaymentSaga::emit(std::vector<events::OutboxEvent> events) {
    if (events.empty()) {
        co_return;
    }
    {
        auto lease = co_await db_.acquire();  // one autocommit statement
        auto copy = events;
        co_await events::append_many(lease, kOutboxTable, std::move(copy));
    }
    if (publisher_ != nullptr) {
        co_await publisher_->publish(kOutboxTable, std::move(events));
    } else {
        events::announce(kOutboxTable);
    }
}

Task<events::HandlerResult> PaymentSaga::on_order_event(events::StreamEntry entry) {
    std::vector<events::StreamEntry> one{std::move(entry)};
    auto results = co_await on_order_events(std::move(one));
    co_return results.at(0);
}

Task<std::vector<events::HandlerResult>> PaymentSaga::on_order_events(std::vector<events::StreamEntry> entries) {
    std::vector<events::HandlerResult> results(entries.size());
    std::vector<std::vector<events::OutboxEvent>> outs(entries.size());
    std::vector<Task<void>> running;
    running.reserve(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
        auto one = [](PaymentSaga& saga, const events::StreamEntry& e, std::vector<events::OutboxEvent>& out,
                      events::HandlerResult& result) -> Task<void> {
            try {
                result = co_await saga.handle(e, out);
            } catch (const std::exception& ex) {
                result = events::HandlerResult::failure(*ex.what() != '\0' ? ex.what() : "handler threw");
                out.clear();
            }
        };
        running.push_back(one(*this, entries[i], outs[i], results[i]));
    }
    co_await when_all(std::move(running));
    std::vector<events::OutboxEvent> all;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (results[i].ok) {
            for (auto& e : outs[i]) {
                all.push_back(std::move(e));
            }
        }
    }
    std::string failed;
    try {
        co_await emit(std::move(all));
    } catch (const std::exception& e) {
        failed = *e.what() != '\0' ? e.what() : "outbox write failed";
    }
    if (!failed.empty()) {
        // Nothing of the batch was announced: every entry that had something to say is retried (the charge and the
        // refund are idempotent per order, so a retry finds the same payment).
        for (std::size_t i = 0; i < entries.size(); ++i) {
            if (!outs[i].empty()) {
                results[i] = events::HandlerResult::failure("payment outbox: " + failed);
            }
        }
    }
    co_return results;
}

Task<events::HandlerResult> PaymentSaga::charge(std::string payload, std::vector<events::OutboxEvent>& out) {
    const json order = json::parse(payload);
    ProcessPayment cmd;
    cmd.order_id = order.at("orderId").get<std::string>();
    cmd.method_id = order.at("paymentMethodId").get<std::string>();
    cmd.amount = order.at("amount").get<std::int64_t>();
    cmd.currency = order.at("currency").get<std::string>();
    const Principal buyer{order.at("buyerId").get<std::string>(), "BUYER", ""};
    // The order is the idempotency key (one payment per order, payments_one_per_order): a redelivered OrderPlaced
    // (or a resumed saga) finds the same payment. No Idempotency-Key row: it would only repeat that constraint.
    auto r = co_await payments_.process(buyer, cmd, std::nullopt);
    if (!r) {
        if (r.error().code == ErrorCode::conflict || r.error().code == ErrorCode::service_unavailable) {
            co_return events::HandlerResult::failure("payment in progress elsewhere: " + r.error().detail);
        }
        // The method vanished or the charge is invalid: the order cannot be paid.
        log::warn("order cannot be charged", {{"order_id", cmd.order_id}, {"error", r.error().detail}});
        out.push_back(outcome_event(order, "FAILED", std::nullopt, std::string("payment_method_unavailable")));
        co_return events::HandlerResult::success();
    }
    if (r->status == "PENDING") {
        co_return events::HandlerResult::failure("payment " + r->id + " is still pending");
    }
    out.push_back(outcome_event(order, r->status, *r, r->decline_code));
    co_return events::HandlerResult::success();
}

Task<events::HandlerResult> PaymentSaga::refund(std::string payload, std::vector<events::OutboxEvent>& out) {
    const json order = json::parse(payload);
    const std::string order_id = order.at("orderId").get<std::string>();
    auto p = co_await payments_.for_order(order_id);
    if (!p || p->status == "DECLINED" || p->status == "FAILED") {
        // Nothing was charged (yet: should a charge still succeed, the order service asks again).
        co_return events::HandlerResult::success();
    }
    if (p->status == "PENDING") {
        co_return events::HandlerResult::failure("payment " + p->id + " is still pending");
    }
    const bool was_refunded = p->status == "REFUNDED";
    if (!was_refunded) {
        const Principal buyer{p->member_id, "BUYER", ""};
        auto r = co_await payments_.refund(buyer, p->id);
        if (!r) {
            co_return events::HandlerResult::failure("refund of " + p->id + " failed: " + r.error().detail);
        }
        p = std::move(*r);
    }
    json context = order;
    context["amount"] = p->amount;
    context["currency"] = p->currency;
    out.push_back(outcome_event(context, p->status, p, std::nullopt));
    co_return events::HandlerResult::success();
}

}  // namespace om::payment
