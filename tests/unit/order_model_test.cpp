// The saga's decision table (order/order_model.hpp): orders only move forward, repeats change nothing,
// compensation returns the stock exactly when the order is cancelled by a failed payment.
#include <gtest/gtest.h>

#include "order/order_model.hpp"

using om::order::approval_settled;
using om::order::decide;
using om::order::Decision;
using om::order::OrderRow;
using om::order::SagaEvent;
using om::order::Status;
using K = SagaEvent::Kind;

namespace {

OrderRow order(Status s) {
    OrderRow o;
    o.id = "01a21295-cc46-7bd1-9503-4dc737aa531b";
    o.status = s;
    o.items = R"([{"productId":"p1","sellerId":"s1","name":"n","unitPrice":10,"quantity":2,"lineTotal":20}])";
    o.history = "[]";
    return o;
}

SagaEvent ev(K k, std::optional<std::string> delivery_status = std::nullopt) {
    SagaEvent e;
    e.kind = k;
    if (k != K::delivery_created && k != K::delivery_status) {
        e.payment_id = "pay-1";
    }
    e.delivery_id = "del-1";
    e.delivery_status = std::move(delivery_status);
    if (k == K::payment_declined) {
        e.decline_code = "card_declined";
    }
    return e;
}

// Applies a decision the way the repository does (coalesce), for repeat checks.
void apply(OrderRow& o, const Decision& d) {
    if (d.status) {
        o.status = *d.status;
    }
    if (d.cancel_reason) {
        o.cancel_reason = d.cancel_reason;
    }
    for (auto [field, value] : {std::pair{&o.payment_id, d.payment_id}, {&o.payment_status, d.payment_status},
                                {&o.decline_code, d.decline_code}, {&o.delivery_id, d.delivery_id},
                                {&o.delivery_status, d.delivery_status}}) {
        if (value) {
            *field = value;
        }
    }
}

}  // namespace

TEST(OrderSaga, TheHappyPathMovesForwardAndRepeatsChangeNothing) {
    auto o = order(Status::pending);
    auto d = decide(o, ev(K::payment_approved));
    EXPECT_EQ(d.status, Status::paid);
    EXPECT_EQ(d.payment_status, "APPROVED");
    EXPECT_FALSE(d.return_stock);
    apply(o, d);
    EXPECT_FALSE(decide(o, ev(K::payment_approved)).changes_anything()) << "a redelivered approval";

    d = decide(o, ev(K::delivery_created, "READY"));
    EXPECT_EQ(d.status, Status::confirmed);
    apply(o, d);
    EXPECT_FALSE(decide(o, ev(K::delivery_created, "READY")).changes_anything());

    d = decide(o, ev(K::delivery_status, "SHIPPED"));
    EXPECT_EQ(d.status, Status::shipped);
    apply(o, d);
    d = decide(o, ev(K::delivery_status, "IN_TRANSIT"));
    EXPECT_FALSE(d.status.has_value()) << "still SHIPPED";
    EXPECT_EQ(d.delivery_status, "IN_TRANSIT");
    apply(o, d);
    d = decide(o, ev(K::delivery_status, "DELIVERED"));
    EXPECT_EQ(d.status, Status::delivered);
    apply(o, d);
    EXPECT_FALSE(decide(o, ev(K::payment_approved)).status.has_value()) << "nothing moves back";
    EXPECT_TRUE(om::order::is_settled(o.status));
}

TEST(OrderSaga, TheDeliveryMayBeSeenBeforeThePayment) {
    auto o = order(Status::pending);
    auto d = decide(o, ev(K::delivery_created, "READY"));
    EXPECT_FALSE(d.status.has_value()) << "not CONFIRMED before the payment is known";
    EXPECT_EQ(d.delivery_id, "del-1") << "the delivery is recorded";
    apply(o, d);
    d = decide(o, ev(K::payment_approved));
    EXPECT_EQ(d.status, Status::confirmed) << "the approval completes it";
    EXPECT_EQ(d.payment_id, "pay-1");
    EXPECT_EQ(om::order::steps(o.status, *d.status), (std::vector<Status>{Status::paid, Status::confirmed}));
}

TEST(OrderSaga, ADeliveryNamingItsPaymentConfirmsAPendingOrderInOneStep) {
    auto o = order(Status::pending);
    auto created = ev(K::delivery_created, "READY");
    created.payment_id = "pay-1";  // the approval that asked for the delivery
    auto d = decide(o, created);
    EXPECT_EQ(d.status, Status::confirmed);
    EXPECT_EQ(d.payment_id, "pay-1");
    EXPECT_EQ(d.payment_status, "APPROVED") << "a CONFIRMED order shows its payment";
    EXPECT_EQ(d.delivery_id, "del-1");
    EXPECT_EQ(om::order::steps(o.status, *d.status), (std::vector<Status>{Status::paid, Status::confirmed}));
    apply(o, d);
    EXPECT_FALSE(decide(o, ev(K::payment_approved)).changes_anything()) << "the deferred approval is a repeat";
    EXPECT_FALSE(decide(o, created).changes_anything());

    auto declined = order(Status::cancelled);
    declined.payment_status = "DECLINED";
    declined.cancel_reason = "PAYMENT_DECLINED";
    EXPECT_FALSE(decide(declined, created).status.has_value()) << "a cancelled order stays cancelled";
}

TEST(OrderSaga, AFailedPaymentCancelsAndReturnsTheStockOnce) {
    for (auto kind : {K::payment_declined, K::payment_failed}) {
        auto o = order(Status::pending);
        auto d = decide(o, ev(kind));
        EXPECT_EQ(d.status, Status::cancelled);
        EXPECT_EQ(d.cancel_reason, kind == K::payment_declined ? "PAYMENT_DECLINED" : "PAYMENT_FAILED");
        EXPECT_TRUE(d.return_stock);
        EXPECT_FALSE(d.request_cancel) << "nothing to refund, no delivery";
        apply(o, d);
        d = decide(o, ev(kind));
        EXPECT_FALSE(d.return_stock) << "a repeat returns nothing twice";
        EXPECT_FALSE(d.changes_anything());
    }
}

TEST(OrderSaga, LateEffectsOfACancelledOrderAreUndone) {
    auto o = order(Status::cancelled);
    o.cancel_reason = "BUYER_CANCELLED";
    auto d = decide(o, ev(K::payment_approved));
    EXPECT_FALSE(d.status.has_value());
    EXPECT_TRUE(d.request_cancel) << "a charge after the cancellation is refunded";
    apply(o, d);
    o.payment_status = "REFUNDED";
    EXPECT_FALSE(decide(o, ev(K::payment_approved)).request_cancel) << "refunded already";

    d = decide(o, ev(K::delivery_created, "READY"));
    EXPECT_TRUE(d.request_cancel) << "a delivery created after the cancellation is cancelled";
    EXPECT_FALSE(d.status.has_value());
    apply(o, d);
    d = decide(o, ev(K::delivery_status, "CANCELLED"));
    apply(o, d);
    EXPECT_FALSE(decide(o, ev(K::delivery_created, "READY")).request_cancel);
    EXPECT_FALSE(decide(o, ev(K::delivery_status, "SHIPPED")).status.has_value()) << "CANCELLED is final";
}

TEST(OrderSaga, StatusNamesRoundTrip) {
    for (auto s : {Status::pending, Status::paid, Status::confirmed, Status::shipped, Status::delivered,
                   Status::cancelled}) {
        EXPECT_EQ(om::order::parse_status(om::order::to_string(s)), s);
    }
    EXPECT_FALSE(om::order::parse_status("pending").has_value());
    EXPECT_FALSE(om::order::is_settled(Status::paid));
    EXPECT_TRUE(om::order::is_settled(Status::confirmed));
}

TEST(OrderSaga, LinesComeFromTheItems) {
    auto lines = om::order::order_lines(order(Status::pending));
    ASSERT_EQ(lines.size(), 1U);
    EXPECT_EQ(lines[0].product_id, "p1");
    EXPECT_EQ(lines[0].quantity, 2);
}

TEST(OrderSaga, TheHistoryPassesThroughSkippedStatuses) {
    using V = std::vector<Status>;
    EXPECT_EQ(om::order::steps(Status::pending, Status::confirmed), (V{Status::paid, Status::confirmed}));
    EXPECT_EQ(om::order::steps(Status::confirmed, Status::delivered), (V{Status::shipped, Status::delivered}));
    EXPECT_EQ(om::order::steps(Status::pending, Status::paid), (V{Status::paid}));
    EXPECT_EQ(om::order::steps(Status::paid, Status::cancelled), (V{Status::cancelled}));
}

// A deferred approval is dropped unapplied when the order was committed approval_settled(): from such an order,
// and from every order a later event makes of it, the approval changes nothing (a cancellation only asks again
// for the refund that it asked for itself).
TEST(OrderSaga, AnApprovalOfAnApprovalSettledOrderChangesNothingLater) {
    auto o = order(Status::pending);
    EXPECT_FALSE(approval_settled(o));
    apply(o, decide(o, ev(K::payment_approved)));
    EXPECT_EQ(o.status, Status::paid);
    EXPECT_FALSE(approval_settled(o)) << "PAID: the delivery still confirms it";
    apply(o, decide(o, ev(K::delivery_created)));
    ASSERT_EQ(o.status, Status::confirmed);
    ASSERT_TRUE(approval_settled(o));
    EXPECT_FALSE(decide(o, ev(K::payment_approved)).changes_anything());
    EXPECT_FALSE(decide(o, ev(K::payment_approved)).request_cancel);
    for (const char* later : {"SHIPPED", "DELIVERED"}) {
        apply(o, decide(o, ev(K::delivery_status, std::string(later))));
        EXPECT_TRUE(approval_settled(o)) << later;
        const auto d = decide(o, ev(K::payment_approved));
        EXPECT_FALSE(d.changes_anything()) << later;
        EXPECT_FALSE(d.request_cancel) << later;
    }
    auto refunded = o;
    refunded.payment_status = "REFUNDED";
    EXPECT_TRUE(approval_settled(refunded));
    EXPECT_FALSE(decide(refunded, ev(K::payment_approved)).changes_anything()) << "a refund stays a refund";

    auto cancelled = o;
    cancelled.status = Status::cancelled;
    EXPECT_FALSE(approval_settled(cancelled)) << "a cancelled order is not remembered";
    auto no_payment = order(Status::confirmed);
    EXPECT_FALSE(approval_settled(no_payment));
    auto declined = order(Status::confirmed);
    declined.payment_id = "pay-1";
    declined.payment_status = "DECLINED";
    EXPECT_FALSE(approval_settled(declined));
}
