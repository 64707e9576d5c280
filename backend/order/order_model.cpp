#include "order/order_model.hpp"

#include <array>

#include <nlohmann/json.hpp>

#include "core/json_out.hpp"

namespace om::order {

namespace {
constexpr std::array<std::string_view, 6> kNames{"PENDING", "PAID", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"};

int rank(Status s) noexcept { return static_cast<int>(s); }  // forward order, CANCELLED aside

std::optional<std::string> if_changed(const std::optional<std::string>& now, const std::optional<std::string>& next) {
    if (!next || now == next) {
        return std::nullopt;
    }
    return next;
}
}  // namespace

std::string_view to_string(Status s) noexcept { return kNames[static_cast<std::size_t>(s)]; }

std::optional<Status> parse_status(std::string_view s) noexcept {
    for (std::size_t i = 0; i < kNames.size(); ++i) {
        if (kNames[i] == s) {
            return static_cast<Status>(i);
        }
    }
    return std::nullopt;
}

bool is_settled(Status s) noexcept { return s == Status::cancelled || rank(s) >= rank(Status::confirmed); }

std::string order_json(const OrderRow& o) {
    // `items` and `history` are JSON as PostgreSQL printed them: copied, not parsed and printed again.
    JsonOut j;
    j.begin_object()
        .key("orderId").value(o.id)
        .key("buyerId").value(o.buyer_id)
        .key("status").value(to_string(o.status))
        .key("items").raw(o.items.empty() ? std::string_view("[]") : std::string_view(o.items))
        .key("totalAmount").value(o.total_amount)
        .key("currency").value(o.currency)
        .key("paymentMethodId").value(o.payment_method_id)
        .key("addressId").value(o.address_id)
        .key("paymentId").value(o.payment_id)
        .key("paymentStatus").value(o.payment_status)
        .key("declineCode").value(o.decline_code)
        .key("deliveryId").value(o.delivery_id)
        .key("deliveryStatus").value(o.delivery_status)
        .key("cancelReason").value(o.cancel_reason)
        .key("createdAt").value(o.created_at)
        .key("updatedAt").value(o.updated_at)
        .key("history").raw(o.history.empty() ? std::string_view("[]") : std::string_view(o.history))
        .end_object();
    return j.take();
}

std::vector<OrderLine> order_lines(const OrderRow& o) {
    std::vector<OrderLine> lines;
    for (const auto& item : nlohmann::json::parse(o.items)) {
        lines.push_back({item.at("productId").get<std::string>(), item.at("quantity").get<std::int64_t>()});
    }
    return lines;
}

std::vector<Status> steps(Status from, Status to) {
    if (to == Status::cancelled || from == Status::cancelled) {
        return {to};
    }
    std::vector<Status> out;
    for (int r = rank(from) + 1; r <= rank(to); ++r) {
        out.push_back(static_cast<Status>(r));
    }
    return out;
}

bool approval_settled(const OrderRow& o) noexcept {
    return o.status != Status::cancelled && is_settled(o.status) && o.payment_id &&
           (o.payment_status == "APPROVED" || o.payment_status == "REFUNDED");
}

Decision decide(const OrderRow& current, const SagaEvent& e) {
    Decision d;
    const Status s = current.status;
    const bool cancelled = s == Status::cancelled;
    using K = SagaEvent::Kind;
    switch (e.kind) {
        case K::payment_approved:
            d.payment_id = if_changed(current.payment_id, e.payment_id);
            // A refunded payment stays refunded (the approval is older news).
            if (current.payment_status != "REFUNDED") {
                d.payment_status = if_changed(current.payment_status, std::string("APPROVED"));
            }
            if (cancelled) {
                // Charged after the order was cancelled: ask for the refund (again, if need be).
                d.request_cancel = current.payment_status != "REFUNDED";
            } else if (s == Status::pending) {
                // The delivery may have been seen first: then the order is confirmed now.
                d.status = current.delivery_id ? Status::confirmed : Status::paid;
            }
            break;
        case K::payment_declined:
        case K::payment_failed: {
            const bool declined = e.kind == K::payment_declined;
            d.payment_id = if_changed(current.payment_id, e.payment_id);
            d.payment_status = if_changed(current.payment_status, std::string(declined ? "DECLINED" : "FAILED"));
            d.decline_code = if_changed(current.decline_code, e.decline_code);
            if (s == Status::pending || s == Status::paid) {
                d.status = Status::cancelled;
                d.cancel_reason = declined ? "PAYMENT_DECLINED" : "PAYMENT_FAILED";
                d.return_stock = true;
            }
            break;
        }
        case K::payment_refunded:
            d.payment_id = if_changed(current.payment_id, e.payment_id);
            d.payment_status = if_changed(current.payment_status, std::string("REFUNDED"));
            break;
        case K::delivery_created:
            d.delivery_id = if_changed(current.delivery_id, e.delivery_id);
            if (!current.delivery_status) {
                d.delivery_status = e.delivery_status;
            }
            if (cancelled) {
                d.request_cancel = current.delivery_status != "CANCELLED";
            } else if (s == Status::paid) {
                // CONFIRMED only once the payment is recorded too: a delivery seen before the approval (the two
                // streams are consumed independently) waits for it, so a CONFIRMED order always shows its payment.
                d.status = Status::confirmed;
            } else if (s == Status::pending && e.payment_id && current.payment_status.value_or("") != "DECLINED" &&
                       current.payment_status.value_or("") != "FAILED") {
                // The delivery names the approved payment that asked for it (a delivery is created only on an
                // approval): the payment is recorded and the order confirmed in one step, so the approval itself
                // needs no write of its own (OrderService defers it, issue 6).
                d.payment_id = if_changed(current.payment_id, e.payment_id);
                if (current.payment_status != "REFUNDED") {
                    d.payment_status = if_changed(current.payment_status, std::string("APPROVED"));
                }
                d.status = Status::confirmed;
            }
            break;
        case K::delivery_status: {
            d.delivery_id = if_changed(current.delivery_id, e.delivery_id);
            d.delivery_status = if_changed(current.delivery_status, e.delivery_status);
            if (cancelled || !e.delivery_status) {
                break;
            }
            const std::string& ds = *e.delivery_status;
            if (ds == "DELIVERED" && rank(s) < rank(Status::delivered)) {
                d.status = Status::delivered;
            } else if ((ds == "SHIPPED" || ds == "IN_TRANSIT" || ds == "OUT_FOR_DELIVERY") &&
                       rank(s) < rank(Status::shipped)) {
                d.status = Status::shipped;
            }
            break;
        }
    }
    return d;
}

}  // namespace om::order
