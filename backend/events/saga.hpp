#pragma once
// The order saga's streams and event types (docs/architecture.md, "The order flow"): the contract between the
// order, payment and delivery services. Every payload is a JSON object with at least eventId, type, orderId.
//
//   om:events:order    (orders.outbox)   OrderPlaced    {orderId, buyerId, paymentMethodId, amount, currency,
//                                                        addressId, sellerIds}
//                                        OrderCancelled {orderId, buyerId, reason}
//   om:events:payment  (payment.outbox)  PaymentApproved | PaymentDeclined | PaymentFailed | PaymentRefunded
//                                                       {orderId, buyerId, paymentId?, status, declineCode?,
//                                                        amount, currency, addressId, sellerIds}
//   om:events:delivery (delivery.outbox) DeliveryCreated | DeliveryStatusChanged {deliveryId, orderId, status, ...}
//                                        (DeliveryCreated made by the saga: paymentId, the approval that asked)
//
// Consumer groups: "payment" reads the order stream; "delivery" reads the payment and order streams;
// "orders" reads the payment and delivery streams. Handlers are idempotent (state machines that only move
// forward, one payment and one delivery per order), so a redelivered or replayed event changes nothing.
namespace om::events {

inline constexpr const char* kOrderStream = "om:events:order";
inline constexpr const char* kPaymentStream = "om:events:payment";
inline constexpr const char* kDeliveryStream = "om:events:delivery";

}  // namespace om::events
