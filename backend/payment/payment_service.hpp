#pragma once
// The payment use cases, independent of HTTP: stored payment methods (gateway tokens), payments with exactly
// one charge per order, refunds. The order service (issue 5) calls process() and refund() on the buyer's behalf.
// Coroutine parameters are taken by value (GCC 12 coroutine bug with references to temporaries).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/http.hpp"
#include "core/coalescer.hpp"
#include "core/task.hpp"
#include "payment/gateway_client.hpp"
#include "payment/payment_repository.hpp"

namespace om::pg {
class Pool;
}

namespace om::payment {

// A card as entered by the buyer; goes to the gateway once and is never stored.
struct NewCard {
    std::string number;  // digits only, Luhn-valid
    std::string cvc;
    int expiry_month = 0;
    int expiry_year = 0;
    std::string holder_name;
    std::optional<std::string> nickname;
    std::optional<bool> is_default;
};

struct ProcessPayment {
    std::string order_id;  // UUID
    std::string method_id;
    std::int64_t amount = 0;  // minor unit, > 0
    std::string currency;     // ISO 4217
};

// The digest of a process-payment request's meaning (what an Idempotency-Key protects).
std::string request_hash(const ProcessPayment& cmd);

inline constexpr int kMaxMethodsPerMember = 20;

class PaymentService {
public:
    PaymentService(pg::Pool& db, std::shared_ptr<GatewayClient> gateway, Sleep sleep);

    // ---- payment methods (BUYER only; another member's method is NOT_FOUND) ----
    Task<Result<MethodRow>> add_method(Principal who, NewCard card);
    Task<std::vector<MethodRow>> list_methods(Principal who);
    Task<Result<MethodRow>> update_method(Principal who, std::string id, MethodPatch patch);
    Task<Result<bool>> delete_method(Principal who, std::string id);

    // ---- payments ----
    // Charges `cmd.amount` for `cmd.order_id` with the caller's method. At most one payment exists per order: a
    // repeated or concurrent call returns that payment (settled) and never charges again. The same
    // `idempotency_key` with a different request is IDEMPOTENCY_KEY_REUSED. Outcomes of the charge (declined,
    // failed) are payments with that status, not errors. CONFLICT (with Retry-After) when another request is still
    // charging the order after the wait; NOT_FOUND for a method that is not the caller's.
    Task<Result<PaymentRow>> process(Principal who, ProcessPayment cmd, std::optional<std::string> idempotency_key);
    // APPROVED → REFUNDED; idempotent (a REFUNDED payment is returned as is); other states are CONFLICT.
    Task<Result<PaymentRow>> refund(Principal who, std::string payment_id);
    // The payer's own payment; NOT_FOUND otherwise.
    Task<Result<PaymentRow>> get(Principal who, std::string payment_id);

    // ---- for the order saga (C++ interface) ----
    // The payment of an order, if one exists.
    Task<std::optional<PaymentRow>> for_order(std::string order_id);

    [[nodiscard]] const GatewayClient& gateway() const noexcept { return *gateway_; }

private:
    // Charges a PENDING payment this request owns and settles it. `token`: the method's gateway token when the
    // caller has it already (saves a query).
    Task<PaymentRow> drive(PaymentRow p, std::optional<std::string> token);
    Task<Result<PaymentRow>> settled(PaymentRow p);
    Task<void> record(std::string payment_id, std::string kind, std::string key, Attempt a);
    // Keeps a charge's latest attempt in `slot` so that settle() writes it with the outcome (one statement less
    // per payment); an earlier attempt (a retry followed) is written at once.
    Task<void> hold_attempt(std::shared_ptr<std::optional<AttemptRow>> slot, AttemptRow row);
    long lease_ms() const;

    PaymentRepository repo_;
    // Method lookups of concurrent requests and saga steps of this shard, one query per round trip.
    Coalescer<std::string, MethodRow> methods_;
    // The member's method (deleted ones only with include_deleted), through methods_.
    Task<std::optional<MethodRow>> method_of(std::string id, std::string member_id, bool include_deleted = false);
    std::shared_ptr<GatewayClient> gateway_;
    Sleep sleep_;
};

}  // namespace om::payment
