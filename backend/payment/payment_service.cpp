#include "payment/payment_service.hpp"

#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "core/log.hpp"
#include "net/pg.hpp"
#include "payment/card.hpp"

namespace om::payment {

namespace {

Error not_found(std::string_view what) { return Error{ErrorCode::not_found, "No such " + std::string(what)}; }

// The payment's status for a gateway outcome, and the code that says why when it is not APPROVED.
std::pair<std::string, std::optional<std::string>> status_of(const GatewayResult& g) {
    switch (g.outcome) {
        case Outcome::approved:
            return {"APPROVED", std::nullopt};
        case Outcome::declined:
            return {"DECLINED", g.decline_code.empty() ? "card_declined" : g.decline_code};
        case Outcome::failed:
            return {"FAILED", g.decline_code.empty() ? "processing_error" : g.decline_code};
        case Outcome::timeout:
            return {"FAILED", "gateway_timeout"};
        case Outcome::unavailable:
            return {"FAILED", g.decline_code == kCircuitOpen ? std::string(kCircuitOpen) : "gateway_unavailable"};
    }
    return {"FAILED", "processing_error"};
}

std::optional<std::string> opt(const std::string& s) {
    if (s.empty()) {
        return std::nullopt;
    }
    return s;
}

}  // namespace

std::string request_hash(const ProcessPayment& cmd) {
    return sha256_hex(nlohmann::json{{"orderId", cmd.order_id},
                                     {"methodId", cmd.method_id},
                                     {"amount", cmd.amount},
                                     {"currency", cmd.currency}}
                          .dump());
}

PaymentService::PaymentService(pg::Pool& db, std::shared_ptr<GatewayClient> gateway, Sleep sleep)
    : repo_(db),
      methods_([this](std::vector<std::string> ids) -> Task<std::unordered_map<std::string, MethodRow>> {
          auto rows = co_await repo_.find_methods(std::move(ids));
          co_return by_id(std::move(rows));
      }, 256, [&db] { return db.next_turn(); }),
      gateway_(std::move(gateway)),
      sleep_(std::move(sleep)) {}

long PaymentService::lease_ms() const { return static_cast<long>(gateway_->max_charge_duration().count()) + 2000; }

// ---- methods ------------------------------------------------------------------------------------------

Task<Result<MethodRow>> PaymentService::add_method(Principal who, NewCard card) {
    if (who.role != "BUYER") {
        co_return std::unexpected(Error{ErrorCode::forbidden, "Only buyers keep payment methods"});
    }
    CardDetails details{card.number, card.cvc, card.expiry_month, card.expiry_year, card.holder_name};
    const std::string brand(detect_brand(card.number));
    const std::string last4 = card.number.substr(card.number.size() - 4);
    // The number and CVC leave this process once, here, and are dropped when this frame ends.
    auto token = co_await gateway_->tokenize(std::move(details));
    card.number.assign(card.number.size(), '0');
    card.cvc.assign(card.cvc.size(), '0');
    if (transient(token.outcome)) {
        throw Unavailable("payment gateway unavailable for tokenization (" + std::string(to_string(token.outcome)) +
                          (token.decline_code.empty() ? "" : ", " + token.decline_code) + ")");
    }
    if (token.outcome != Outcome::approved) {
        co_return std::unexpected(Error{ErrorCode::unprocessable,
                                        "The card was refused by the payment gateway: " + token.decline_code});
    }
    NewMethod m;
    m.id = new_uuid_v7();
    m.member_id = who.member_id;
    m.gateway_token = std::move(token.token);
    m.brand = brand;
    m.last4 = last4;
    m.expiry_month = card.expiry_month;
    m.expiry_year = card.expiry_year;
    m.holder_name = card.holder_name;
    m.nickname = card.nickname;
    auto tx = co_await repo_.begin_for_member(who.member_id);
    const int live = co_await repo_.count_live_methods(tx, who.member_id);
    if (live >= kMaxMethodsPerMember) {
        co_return std::unexpected(Error{ErrorCode::conflict, "A member keeps at most " +
                                                                 std::to_string(kMaxMethodsPerMember) +
                                                                 " payment methods; delete one first"});
    }
    // The first method is the default; a new default replaces the old one (one default, unique index).
    m.is_default = live == 0 || card.is_default.value_or(false);
    if (m.is_default) {
        co_await repo_.clear_default(tx, who.member_id);
    }
    auto row = co_await repo_.insert_method(tx, m);
    co_await repo_.commit(tx);
    co_return row;
}

Task<std::vector<MethodRow>> PaymentService::list_methods(Principal who) {
    co_return co_await repo_.list_methods(who.member_id);
}

Task<Result<MethodRow>> PaymentService::update_method(Principal who, std::string id, MethodPatch patch) {
    if (!is_uuid(id)) {
        co_return std::unexpected(not_found("payment method"));
    }
    auto tx = co_await repo_.begin_for_member(who.member_id);
    auto current = co_await repo_.lock_method(tx, id, who.member_id);
    if (!current) {
        co_return std::unexpected(not_found("payment method"));
    }
    const int month = patch.expiry_month.value_or(current->expiry_month);
    const int year = patch.expiry_year.value_or(current->expiry_year);
    if ((patch.expiry_month || patch.expiry_year) && !expiry_in_future(month, year, std::chrono::system_clock::now())) {
        co_return std::unexpected(Error{ErrorCode::validation_failed, "One or more fields are invalid",
                                        {{"expiryYear", "the expiry date is in the past"}}});
    }
    if (patch.is_default && !*patch.is_default && current->is_default) {
        co_return std::unexpected(Error{ErrorCode::conflict,
                                        "This is the default method; make another method the default instead"});
    }
    if (patch.is_default && *patch.is_default && !current->is_default) {
        co_await repo_.clear_default(tx, who.member_id);
    }
    auto row = co_await repo_.update_method(tx, id, patch);
    co_await repo_.commit(tx);
    co_return row;
}

Task<Result<bool>> PaymentService::delete_method(Principal who, std::string id) {
    if (!is_uuid(id)) {
        co_return std::unexpected(not_found("payment method"));
    }
    auto tx = co_await repo_.begin_for_member(who.member_id);
    auto current = co_await repo_.lock_method(tx, id, who.member_id);
    if (!current) {
        co_return std::unexpected(not_found("payment method"));
    }
    co_await repo_.soft_delete_method(tx, id);
    if (current->is_default) {
        co_await repo_.promote_newest(tx, who.member_id);
    }
    co_await repo_.commit(tx);
    co_return true;
}

// ---- payments -----------------------------------------------------------------------------------------

namespace {

AttemptRow attempt_row(std::string payment_id, std::string kind, std::string key, const Attempt& a) {
    AttemptRow row;
    row.payment_id = std::move(payment_id);
    row.kind = std::move(kind);
    row.attempt = a.number;
    row.gateway_key = std::move(key);
    row.outcome = a.result.outcome == Outcome::approved && row.kind == "REFUND" ? "REFUNDED"
                                                                                : std::string(to_string(a.result.outcome));
    row.decline_code = opt(a.result.decline_code);
    row.gateway_ref = opt(a.result.reference);
    row.duration_ms = a.duration_ms;
    return row;
}

}  // namespace

Task<void> PaymentService::record(std::string payment_id, std::string kind, std::string key, Attempt a) {
    co_await repo_.record_attempt(attempt_row(std::move(payment_id), std::move(kind), std::move(key), a));
}

Task<void> PaymentService::hold_attempt(std::shared_ptr<std::optional<AttemptRow>> slot, AttemptRow row) {
    if (*slot) {
        AttemptRow earlier = std::move(**slot);
        slot->reset();
        co_await repo_.record_attempt(std::move(earlier));
    }
    *slot = std::move(row);
}

Task<PaymentRow> PaymentService::drive(PaymentRow p, std::optional<std::string> token) {
    if (!token) {
        auto method = co_await method_of(p.method_id, p.member_id, true);
        if (!method) {
            throw std::runtime_error("payment method of a payment is missing: " + p.method_id);
        }
        token = method->gateway_token;
    }
    ChargeRequest req;
    req.token = *token;
    req.amount = p.amount;
    req.currency = p.currency;
    req.idempotency_key = "pay_" + p.id;  // the same for every retry and takeover: one charge per payment
    req.reference = p.id;
    const std::string key = req.idempotency_key;
    const std::string id = p.id;
    auto last_attempt = std::make_shared<std::optional<AttemptRow>>();
    AttemptObserver observe = [this, id, key, last_attempt](Attempt a) {
        return hold_attempt(last_attempt, attempt_row(id, "CHARGE", key, a));
    };
    GatewayResult result;
    std::exception_ptr failure;
    try {
        result = co_await gateway_->charge(std::move(req), std::move(observe));
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        if (*last_attempt) {
            co_await repo_.record_attempt(std::move(**last_attempt));
        }
        std::rethrow_exception(failure);
    }
    const auto sc = status_of(result);
    if (result.outcome == Outcome::timeout) {
        // The gateway may have charged after all; a reconciler could ask it again with the same key
        // (docs/payment-gateways.md). We report FAILED and never charge this payment again.
        log::warn("payment charge timed out", {{"payment_id", id}});
    }
    auto settled = co_await repo_.settle(id, sc.first, sc.second, opt(result.reference), std::move(*last_attempt));
    if (!settled) {
        auto now = co_await repo_.find_payment(id);  // settled by a request that took it over meanwhile
        co_return std::move(*now);
    }
    co_return std::move(*settled);
}

Task<Result<PaymentRow>> PaymentService::settled(PaymentRow p) {
    // Another request is charging this order: wait for the row to settle (bounded), taking it over if the
    // request that drove it has died (its lease expired).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(lease_ms());
    while (p.status == "PENDING") {
        if (p.lease_expired && co_await repo_.take_over(p.id, lease_ms())) {
            co_return co_await drive(std::move(p), std::nullopt);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            Error e{ErrorCode::conflict, "The payment for this order is still being processed; retry shortly"};
            e.with_header("Retry-After", "1");
            co_return std::unexpected(std::move(e));
        }
        co_await sleep_(25);
        auto again = co_await repo_.find_payment(p.id);
        if (!again) {
            throw std::runtime_error("payment vanished: " + p.id);
        }
        p = std::move(*again);
    }
    co_return p;
}

Task<Result<PaymentRow>> PaymentService::process(Principal who, ProcessPayment cmd,
                                                 std::optional<std::string> idempotency_key) {
    if (!is_uuid(cmd.method_id)) {
        co_return std::unexpected(not_found("payment method"));
    }
    const auto method = co_await method_of(cmd.method_id, who.member_id);
    if (!method) {
        // A retry for an order this member has paid still gets its payment, even if the method was deleted since.
        auto existing = co_await repo_.find_by_order(cmd.order_id);
        if (existing && existing->member_id == who.member_id && existing->method_id == cmd.method_id) {
            co_return co_await settled(std::move(*existing));
        }
        co_return std::unexpected(not_found("payment method"));
    }
    // The request's hash answers a retry that reuses an Idempotency-Key with another body; without a key (the
    // saga's charges: the order is their key) there is nothing to compare it with.
    const std::string hash = idempotency_key ? request_hash(cmd) : std::string();
    NewPayment np{new_uuid_v7(), cmd.order_id, who.member_id, cmd.method_id, cmd.amount, cmd.currency};
    const auto ins = co_await repo_.insert_payment(np, idempotency_key, hash, lease_ms());
    if (ins.key_hash && *ins.key_hash != hash) {
        co_return std::unexpected(
            Error{ErrorCode::idempotency_key_reused, "This Idempotency-Key was used for a different request"});
    }
    if (ins.created) {
        // The row as inserted; settle() returns it complete.
        PaymentRow p;
        p.id = np.id;
        p.order_id = np.order_id;
        p.member_id = np.member_id;
        p.method_id = np.method_id;
        p.amount = np.amount;
        p.currency = np.currency;
        p.status = "PENDING";
        co_return co_await drive(std::move(p), method->gateway_token);
    }
    auto existing = co_await repo_.find_by_order(cmd.order_id);
    if (!existing) {
        throw std::runtime_error("payment of order " + cmd.order_id + " is missing after a conflicting insert");
    }
    if (existing->member_id != who.member_id) {
        co_return std::unexpected(Error{ErrorCode::conflict, "This order already has a payment by another member"});
    }
    co_return co_await settled(std::move(*existing));
}

Task<Result<PaymentRow>> PaymentService::get(Principal who, std::string payment_id) {
    if (!is_uuid(payment_id)) {
        co_return std::unexpected(not_found("payment"));
    }
    auto p = co_await repo_.find_payment(payment_id);
    if (!p || p->member_id != who.member_id) {
        co_return std::unexpected(not_found("payment"));
    }
    co_return std::move(*p);
}

Task<std::optional<MethodRow>> PaymentService::method_of(std::string id, std::string member_id, bool include_deleted) {
    auto m = co_await methods_.get(std::move(id));
    if (!m || m->member_id != member_id || (m->deleted && !include_deleted)) {
        co_return std::nullopt;
    }
    co_return m;
}

Task<std::optional<PaymentRow>> PaymentService::for_order(std::string order_id) {
    co_return co_await repo_.find_by_order(std::move(order_id));
}

Task<Result<PaymentRow>> PaymentService::refund(Principal who, std::string payment_id) {
    auto p = co_await get(who, payment_id);
    if (!p) {
        co_return std::unexpected(p.error());
    }
    if (p->status == "REFUNDED") {
        co_return std::move(*p);
    }
    if (p->status != "APPROVED") {
        co_return std::unexpected(
            Error{ErrorCode::conflict, "Only an APPROVED payment can be refunded; this one is " + p->status});
    }
    RefundRequest req;
    req.charge_ref = p->gateway_ref.value_or("");
    req.amount = p->amount;
    req.idempotency_key = "refund_" + p->id;  // concurrent or repeated refunds move the money back once
    const std::string key = req.idempotency_key;
    const std::string id = p->id;
    AttemptObserver observe = [this, id, key](Attempt a) { return record(id, "REFUND", key, std::move(a)); };
    const auto result = co_await gateway_->refund(std::move(req), std::move(observe));
    const bool refunded = result.outcome == Outcome::approved ||
                          (result.outcome == Outcome::failed && result.decline_code == "charge_already_refunded");
    if (transient(result.outcome)) {
        throw Unavailable("payment gateway unavailable for a refund (" + std::string(to_string(result.outcome)) + ")");
    }
    if (!refunded) {
        co_return std::unexpected(
            Error{ErrorCode::conflict, "The payment gateway refused the refund: " + result.decline_code});
    }
    auto done = co_await repo_.mark_refunded(id, result.reference);
    if (!done) {
        done = co_await repo_.find_payment(id);  // a concurrent refund marked it first
    }
    co_return std::move(*done);
}

}  // namespace om::payment
