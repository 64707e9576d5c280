#pragma once
// SQL for schema `payment`: methods, payments, idempotency keys, attempts and events.
// The only code that touches payment.* tables.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/coalescer.hpp"
#include "core/task.hpp"

namespace om::pg {
class Pool;
class Result;
class Lease;
}  // namespace om::pg

namespace om::payment {

struct MethodRow {
    std::string id;
    std::string member_id;
    std::string type;
    std::string gateway_token;
    std::string brand;
    std::string last4;
    int expiry_month = 0;
    int expiry_year = 0;
    std::string holder_name;
    std::optional<std::string> nickname;
    bool is_default = false;
    std::string created_at;  // RFC 3339
    bool deleted = false;
};

struct NewMethod {
    std::string id;
    std::string member_id;
    std::string gateway_token;
    std::string brand;
    std::string last4;
    int expiry_month = 0;
    int expiry_year = 0;
    std::string holder_name;
    std::optional<std::string> nickname;
    bool is_default = false;
};

struct MethodPatch {
    std::optional<std::string> nickname;
    std::optional<int> expiry_month;
    std::optional<int> expiry_year;
    std::optional<bool> is_default;
};

struct PaymentRow {
    std::string id;
    std::string order_id;
    std::string member_id;
    std::string method_id;
    std::int64_t amount = 0;
    std::string currency;
    std::string status;
    std::optional<std::string> decline_code;
    std::optional<std::string> gateway_ref;
    std::optional<std::string> approved_at;
    std::optional<std::string> refunded_at;
    std::string created_at;
    bool lease_expired = false;  // PENDING and nobody drives it any more
};

struct NewPayment {
    std::string id;
    std::string order_id;
    std::string member_id;
    std::string method_id;
    std::int64_t amount = 0;
    std::string currency;
};

struct InsertOutcome {
    bool created = false;                       // this call inserted the PENDING payment
    std::optional<std::string> key_hash;        // the key existed: the request hash stored with it
    std::optional<std::string> key_order_id;    // ... and the order it paid
};

struct AttemptRow {
    std::string payment_id;
    std::string kind;  // CHARGE, REFUND
    int attempt = 0;
    std::string gateway_key;
    std::string outcome;
    std::optional<std::string> decline_code;
    std::optional<std::string> gateway_ref;
    long duration_ms = 0;
};

class PaymentRepository {
public:
    explicit PaymentRepository(pg::Pool& db);

    // ---- methods: every change runs in a transaction holding the member's advisory lock ----
    Task<pg::Lease> begin_for_member(std::string member_id);
    Task<void> commit(pg::Lease& tx);
    Task<int> count_live_methods(pg::Lease& tx, const std::string& member_id);
    Task<void> clear_default(pg::Lease& tx, const std::string& member_id);
    Task<MethodRow> insert_method(pg::Lease& tx, const NewMethod& m);
    // A live method of this member, locked.
    Task<std::optional<MethodRow>> lock_method(pg::Lease& tx, const std::string& id, const std::string& member_id);
    Task<MethodRow> update_method(pg::Lease& tx, const std::string& id, const MethodPatch& patch);
    Task<void> soft_delete_method(pg::Lease& tx, const std::string& id);
    // Makes the member's newest live method the default (after the default was deleted).
    Task<void> promote_newest(pg::Lease& tx, const std::string& member_id);
    Task<std::vector<MethodRow>> list_methods(std::string member_id);
    // A method of this member; deleted ones only with include_deleted.
    Task<std::optional<MethodRow>> find_method(std::string id, std::string member_id, bool include_deleted = false);
    // The methods with these ids, deleted ones included, whoever owns them (the caller checks).
    Task<std::vector<MethodRow>> find_methods(std::vector<std::string> ids);

    // ---- payments ----
    // Inserts the PENDING payment (and the key, when given) unless the order already has a payment or the key
    // was used before. `lease_ms`: how long this request drives the charge.
    Task<InsertOutcome> insert_payment(const NewPayment& p, const std::optional<std::string>& key,
                                       const std::string& request_hash, long lease_ms);
    Task<std::optional<PaymentRow>> find_payment(std::string id);
    Task<std::optional<PaymentRow>> find_by_order(std::string order_id);
    // Takes over a PENDING payment whose lease expired; true when this caller now drives it.
    Task<bool> take_over(std::string id, long lease_ms);
    Task<void> record_attempt(AttemptRow a);
    // PENDING → status (APPROVED, DECLINED, FAILED) with its event; nullopt if it was not PENDING. `attempt`, when
    // given, is recorded in the same statement whether or not the payment was still PENDING.
    Task<std::optional<PaymentRow>> settle(std::string id, std::string status, std::optional<std::string> decline_code,
                                           std::optional<std::string> gateway_ref,
                                           std::optional<AttemptRow> attempt = std::nullopt);
    // APPROVED → REFUNDED with its event; nullopt if it was not APPROVED.
    Task<std::optional<PaymentRow>> mark_refunded(std::string id, std::string refund_ref);
    Task<void> record_event(std::string payment_id, std::optional<std::string> from, std::string to, std::string detail);

private:
    // insert_payment and settle are shared by the payments of a shard in flight at once (the saga charges a
    // batch of orders concurrently): one statement per round trip instead of one per payment.
    struct KeyedInsert {
        NewPayment payment;
        std::optional<std::string> key;  // none: the order alone makes the payment unique
        std::string hash;
        long lease_ms = 0;
    };
    struct Inserted {
        bool created = false;
        bool key_new = false;
    };
    struct Settle {
        std::string id;
        std::string status;
        std::optional<std::string> decline_code;
        std::optional<std::string> gateway_ref;
        std::optional<AttemptRow> attempt;
    };
    Task<std::vector<std::optional<Inserted>>> insert_many(std::vector<KeyedInsert> batch);
    // nullopt for a payment that was not PENDING.
    Task<std::vector<std::optional<PaymentRow>>> settle_many(std::vector<Settle> batch);

    pg::Pool& db_;
    Batcher<KeyedInsert, Inserted> inserts_;
    Batcher<Settle, PaymentRow> settles_;
};

}  // namespace om::payment
