#include "payment/payment_repository.hpp"

#include <charconv>
#include <set>

#include "common/clock.hpp"
#include "common/ids.hpp"
#include "core/json_out.hpp"
#include "net/pg.hpp"

namespace om::payment {

namespace {

constexpr const char* kMethodColumns =
    "id::text, member_id::text, type, gateway_token, brand, last4, expiry_month, expiry_year, holder_name, nickname, "
    "is_default, created_at AT TIME ZONE 'UTC', deleted_at IS NOT NULL";

constexpr const char* kPaymentColumns =
    "id::text, order_id::text, member_id::text, method_id::text, amount, currency, status, decline_code, gateway_ref, "
    "approved_at AT TIME ZONE 'UTC', refunded_at AT TIME ZONE 'UTC', created_at AT TIME ZONE 'UTC', "
    "(status = 'PENDING' AND lease_until < now())";

MethodRow method_from_row(const pg::Result& r, int i) {
    MethodRow m;
    m.id = r.get(i, 0);
    m.member_id = r.get(i, 1);
    m.type = r.get(i, 2);
    m.gateway_token = r.get(i, 3);
    m.brand = r.get(i, 4);
    m.last4 = r.get(i, 5);
    m.expiry_month = static_cast<int>(parse_i64(r.get(i, 6)));
    m.expiry_year = static_cast<int>(parse_i64(r.get(i, 7)));
    m.holder_name = r.get(i, 8);
    m.nickname = r.get_opt(i, 9);
    m.is_default = r.get(i, 10) == "t";
    m.created_at = pg_utc_to_rfc3339(r.get(i, 11));
    m.deleted = r.get(i, 12) == "t";
    return m;
}

std::optional<std::string> ts_opt(const pg::Result& r, int i, int c) {
    if (r.is_null(i, c)) {
        return std::nullopt;
    }
    return pg_utc_to_rfc3339(r.get(i, c));
}

PaymentRow payment_from_row(const pg::Result& r, int i) {
    PaymentRow p;
    p.id = r.get(i, 0);
    p.order_id = r.get(i, 1);
    p.member_id = r.get(i, 2);
    p.method_id = r.get(i, 3);
    p.amount = parse_i64(r.get(i, 4));
    p.currency = r.get(i, 5);
    p.status = r.get(i, 6);
    p.decline_code = r.get_opt(i, 7);
    p.gateway_ref = r.get_opt(i, 8);
    p.approved_at = ts_opt(r, i, 9);
    p.refunded_at = ts_opt(r, i, 10);
    p.created_at = pg_utc_to_rfc3339(r.get(i, 11));
    p.lease_expired = r.get(i, 12) == "t";
    return p;
}

}  // namespace

PaymentRepository::PaymentRepository(pg::Pool& db)
    : db_(db),
      inserts_([this](std::vector<KeyedInsert> batch) { return insert_many(std::move(batch)); }, 256,
               [&db] { return db.next_turn(); }),
      settles_([this](std::vector<Settle> batch) { return settle_many(std::move(batch)); }, 256,
               [&db] { return db.next_turn(); }) {
    const std::string mcols = kMethodColumns;
    const std::string pcols = kPaymentColumns;
    db_.prepare("payment.member_lock", "SELECT pg_advisory_xact_lock(hashtextextended('payment.methods:' || $1, 0))");
    db_.prepare("payment.count_methods",
                "SELECT count(*) FROM payment.methods WHERE member_id = $1::uuid AND deleted_at IS NULL");
    db_.prepare("payment.clear_default",
                "UPDATE payment.methods SET is_default = false, updated_at = now() "
                "WHERE member_id = $1::uuid AND is_default AND deleted_at IS NULL");
    db_.prepare("payment.insert_method",
                "INSERT INTO payment.methods (id, member_id, type, gateway_token, brand, last4, expiry_month, "
                "expiry_year, holder_name, nickname, is_default) "
                "VALUES ($1::uuid, $2::uuid, 'CARD', $3, $4, $5, $6::integer, $7::integer, $8, $9, $10::boolean) "
                "RETURNING " + mcols);
    db_.prepare("payment.lock_method",
                "SELECT " + mcols + " FROM payment.methods "
                "WHERE id = $1::uuid AND member_id = $2::uuid AND deleted_at IS NULL FOR UPDATE");
    db_.prepare("payment.update_method",
                "UPDATE payment.methods SET nickname = coalesce($2, nickname), "
                "expiry_month = coalesce($3::integer, expiry_month), expiry_year = coalesce($4::integer, expiry_year), "
                "is_default = coalesce($5::boolean, is_default), updated_at = now() "
                "WHERE id = $1::uuid RETURNING " + mcols);
    db_.prepare("payment.delete_method",
                "UPDATE payment.methods SET deleted_at = now(), is_default = false, updated_at = now() WHERE id = $1::uuid");
    db_.prepare("payment.promote_newest",
                "UPDATE payment.methods SET is_default = true, updated_at = now() WHERE id = ("
                "  SELECT id FROM payment.methods WHERE member_id = $1::uuid AND deleted_at IS NULL "
                "  ORDER BY created_at DESC, id DESC LIMIT 1)");
    db_.prepare("payment.list_methods",
                "SELECT " + mcols + " FROM payment.methods WHERE member_id = $1::uuid AND deleted_at IS NULL "
                "ORDER BY created_at DESC, id DESC LIMIT 100");
    db_.prepare("payment.find_methods", "SELECT " + mcols + " FROM payment.methods WHERE id = " + pg::any_uuid("$1"));
    db_.prepare("payment.find_method_id", "SELECT " + mcols + " FROM payment.methods WHERE id = $1::uuid");
    db_.prepare("payment.find_method",
                "SELECT " + mcols + " FROM payment.methods WHERE id = $1::uuid AND member_id = $2::uuid "
                "AND ($3::boolean OR deleted_at IS NULL)");

    // A new payment with its Idempotency-Key (if it has one: the saga's payments have none, the order is their
    // key), and PENDING → APPROVED/DECLINED/FAILED with its event and last attempt, for many payments at once
    // (insert_many, settle_many below).
    db_.prepare("payment.insert_many",
                "WITH b AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS b (pid uuid, oid uuid, mid uuid, meth uuid, "
                "           amount bigint, currency text, ikey text, hash text, lease_ms bigint, n integer)), "
                "k AS (INSERT INTO payment.idempotency_keys (member_id, key, request_hash, order_id) "
                "      SELECT mid, ikey, hash, oid FROM b WHERE ikey IS NOT NULL ORDER BY n "
                "      ON CONFLICT DO NOTHING RETURNING member_id, key), "
                "p AS (INSERT INTO payment.payments (id, order_id, member_id, method_id, amount, currency, status, "
                "      lease_until) "
                "      SELECT b.pid, b.oid, b.mid, b.meth, b.amount, b.currency, 'PENDING', "
                "             now() + b.lease_ms * interval '1 millisecond' "
                "      FROM b WHERE b.ikey IS NULL OR EXISTS (SELECT 1 FROM k WHERE k.member_id = b.mid AND k.key = b.ikey) "
                "      ORDER BY b.n "
                "      ON CONFLICT (order_id) DO NOTHING RETURNING id AS created_id), "
                "e AS (INSERT INTO payment.payment_events (payment_id, from_status, to_status, detail) "
                "      SELECT created_id, NULL, 'PENDING', 'created' FROM p) "
                "SELECT b.pid::text, EXISTS (SELECT 1 FROM p WHERE p.created_id = b.pid), "
                "       b.ikey IS NULL OR EXISTS (SELECT 1 FROM k WHERE k.member_id = b.mid AND k.key = b.ikey) FROM b");
    db_.prepare("payment.settle_many",
                "WITH b AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS b (pid uuid, st text, dc text, gref text, "
                "           kind text, attempt integer, gkey text, outcome text, adc text, aref text, dur integer)), "
                "u AS (UPDATE payment.payments SET status = b.st, decline_code = b.dc, gateway_ref = b.gref, "
                "      approved_at = CASE WHEN b.st = 'APPROVED' THEN now() END, updated_at = now() "
                "      FROM b WHERE id = b.pid AND status = 'PENDING' "
                // By primary key whatever the statistics say (see orders.apply_many).
                "      AND id = ANY (ARRAY(SELECT pid FROM b)) RETURNING " + pcols + "), "
                "e AS (INSERT INTO payment.payment_events (payment_id, from_status, to_status, detail) "
                "      SELECT b.pid, 'PENDING', b.st, b.dc FROM b WHERE b.pid::text IN (SELECT u.id FROM u)), "
                "a AS (INSERT INTO payment.payment_attempts (payment_id, kind, attempt, gateway_key, outcome, "
                "      decline_code, gateway_ref, duration_ms) "
                "      SELECT b.pid, b.kind, b.attempt, b.gkey, b.outcome, b.adc, b.aref, b.dur FROM b "
                "      WHERE b.kind IS NOT NULL) "
                "SELECT * FROM u");
    db_.prepare("payment.key_lookup",
                "SELECT request_hash, order_id::text FROM payment.idempotency_keys WHERE member_id = $1::uuid AND key = $2");
    db_.prepare("payment.find_payment", "SELECT " + pcols + " FROM payment.payments WHERE id = $1::uuid");
    db_.prepare("payment.find_by_order", "SELECT " + pcols + " FROM payment.payments WHERE order_id = $1::uuid");
    db_.prepare("payment.take_over",
                "WITH t AS (UPDATE payment.payments SET lease_until = now() + $2::bigint * interval '1 millisecond', "
                "           updated_at = now() "
                "           WHERE id = $1::uuid AND status = 'PENDING' AND lease_until < now() RETURNING id AS tid), "
                "e AS (INSERT INTO payment.payment_events (payment_id, from_status, to_status, detail) "
                "      SELECT tid, 'PENDING', 'PENDING', 'taken over after the lease expired' FROM t) "
                "SELECT count(*) FROM t");
    db_.prepare("payment.record_attempt",
                "INSERT INTO payment.payment_attempts (payment_id, kind, attempt, gateway_key, outcome, decline_code, "
                "gateway_ref, duration_ms) VALUES ($1::uuid, $2, $3::integer, $4, $5, $6, $7, $8::integer)");
    db_.prepare("payment.refunded",
                "WITH u AS (UPDATE payment.payments SET status = 'REFUNDED', refunded_at = now(), updated_at = now() "
                "           WHERE id = $1::uuid AND status = 'APPROVED' RETURNING " + pcols + "), "
                "e AS (INSERT INTO payment.payment_events (payment_id, from_status, to_status, detail) "
                "      SELECT $1::uuid, 'APPROVED', 'REFUNDED', $2 FROM u) "
                "SELECT * FROM u");
    db_.prepare("payment.event",
                "INSERT INTO payment.payment_events (payment_id, from_status, to_status, detail) "
                "VALUES ($1::uuid, $2, $3, $4)");
}

Task<pg::Lease> PaymentRepository::begin_for_member(std::string member_id) {
    auto tx = co_await db_.acquire();
    co_await tx.exec("BEGIN");
    co_await tx.exec_prepared("payment.member_lock", pg::params(member_id));
    co_return tx;
}

Task<void> PaymentRepository::commit(pg::Lease& tx) { co_await tx.exec("COMMIT"); }

Task<int> PaymentRepository::count_live_methods(pg::Lease& tx, const std::string& member_id) {
    auto r = co_await tx.exec_prepared("payment.count_methods", pg::params(member_id));
    co_return static_cast<int>(parse_i64(r.get(0, 0)));
}

Task<void> PaymentRepository::clear_default(pg::Lease& tx, const std::string& member_id) {
    co_await tx.exec_prepared("payment.clear_default", pg::params(member_id));
}

Task<MethodRow> PaymentRepository::insert_method(pg::Lease& tx, const NewMethod& m) {
    auto r = co_await tx.exec_prepared(
        "payment.insert_method",
        pg::params(m.id, m.member_id, m.gateway_token, m.brand, m.last4, std::to_string(m.expiry_month),
                   std::to_string(m.expiry_year), m.holder_name, m.nickname, std::string(m.is_default ? "true" : "false")));
    co_return method_from_row(r, 0);
}

Task<std::optional<MethodRow>> PaymentRepository::lock_method(pg::Lease& tx, const std::string& id,
                                                              const std::string& member_id) {
    auto r = co_await tx.exec_prepared("payment.lock_method", pg::params(id, member_id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return method_from_row(r, 0);
}

Task<MethodRow> PaymentRepository::update_method(pg::Lease& tx, const std::string& id, const MethodPatch& patch) {
    std::optional<std::string> month;
    std::optional<std::string> year;
    std::optional<std::string> def;
    if (patch.expiry_month) {
        month = std::to_string(*patch.expiry_month);
    }
    if (patch.expiry_year) {
        year = std::to_string(*patch.expiry_year);
    }
    if (patch.is_default) {
        def = *patch.is_default ? "true" : "false";
    }
    auto r = co_await tx.exec_prepared("payment.update_method", pg::params(id, patch.nickname, month, year, def));
    co_return method_from_row(r, 0);
}

Task<void> PaymentRepository::soft_delete_method(pg::Lease& tx, const std::string& id) {
    co_await tx.exec_prepared("payment.delete_method", pg::params(id));
}

Task<void> PaymentRepository::promote_newest(pg::Lease& tx, const std::string& member_id) {
    co_await tx.exec_prepared("payment.promote_newest", pg::params(member_id));
}

Task<std::vector<MethodRow>> PaymentRepository::list_methods(std::string member_id) {
    auto r = co_await db_.query_prepared("payment.list_methods", pg::params(member_id));
    std::vector<MethodRow> out;
    for (int i = 0; i < r.rows(); ++i) {
        out.push_back(method_from_row(r, i));
    }
    co_return out;
}

Task<std::optional<MethodRow>> PaymentRepository::find_method(std::string id, std::string member_id,
                                                              bool include_deleted) {
    auto r = co_await db_.query_prepared("payment.find_method",
                                         pg::params(id, member_id, std::string(include_deleted ? "true" : "false")));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return method_from_row(r, 0);
}

Task<std::vector<MethodRow>> PaymentRepository::find_methods(std::vector<std::string> ids) {
    // One id (a lone charge) takes the single-row statement, a plain index lookup; more take
    // pg::any_uuid, planned once (`= ANY($1)` was planned on every call: issue 6, 85 µs of planning for 19 µs of
    // execution).
    pg::Result r;
    if (ids.size() == 1) {
        r = co_await db_.query_prepared("payment.find_method_id", pg::params(ids.front()));
    } else {
        r = co_await db_.query_prepared("payment.find_methods", pg::params(pg::uuid_array(ids)));
    }
    std::vector<MethodRow> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        out.push_back(method_from_row(r, i));
    }
    co_return out;
}

Task<InsertOutcome> PaymentRepository::insert_payment(const NewPayment& p, const std::optional<std::string>& key,
                                                      const std::string& request_hash, long lease_ms) {
    InsertOutcome out;
    // Named, not a temporary: GCC 12 mishandles temporaries inside a co_await'ed call's arguments.
    KeyedInsert request{p, key, request_hash, lease_ms};
    auto r = co_await inserts_.submit(std::move(request));
    if (!r) {
        throw std::runtime_error("payment.insert_many answered nothing for " + p.id);
    }
    out.created = r->created;
    if (key && !r->key_new) {
        auto k = co_await db_.query_prepared("payment.key_lookup", pg::params(p.member_id, *key));
        if (!k.empty()) {
            out.key_hash = std::string(k.get(0, 0));
            out.key_order_id = std::string(k.get(0, 1));
        }
    }
    co_return out;
}

Task<std::optional<PaymentRow>> PaymentRepository::find_payment(std::string id) {
    auto r = co_await db_.query_prepared("payment.find_payment", pg::params(id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return payment_from_row(r, 0);
}

Task<std::optional<PaymentRow>> PaymentRepository::find_by_order(std::string order_id) {
    auto r = co_await db_.query_prepared("payment.find_by_order", pg::params(order_id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return payment_from_row(r, 0);
}

Task<bool> PaymentRepository::take_over(std::string id, long lease_ms) {
    auto r = co_await db_.query_prepared("payment.take_over", pg::params(id, std::to_string(lease_ms)));
    co_return parse_i64(r.get(0, 0)) == 1;
}

Task<void> PaymentRepository::record_attempt(AttemptRow a) {
    co_await db_.query_prepared("payment.record_attempt",
                                pg::params(a.payment_id, a.kind, std::to_string(a.attempt), a.gateway_key, a.outcome,
                                           a.decline_code, a.gateway_ref, std::to_string(a.duration_ms)));
}

Task<std::optional<PaymentRow>> PaymentRepository::settle(std::string id, std::string status,
                                                          std::optional<std::string> decline_code,
                                                          std::optional<std::string> gateway_ref,
                                                          std::optional<AttemptRow> attempt) {
    Settle request{std::move(id), std::move(status), std::move(decline_code), std::move(gateway_ref),
                   std::move(attempt)};  // named: see insert_payment
    auto row = co_await settles_.submit(std::move(request));
    co_return row;
}

Task<std::vector<std::optional<PaymentRepository::Inserted>>> PaymentRepository::insert_many(
    std::vector<KeyedInsert> batch) {
    // A (member, key) named twice in one batch goes in once: the other finds the key taken, as it would one
    // statement later, and looks up what it holds (same request: the payment; another: 422). Without a key, an
    // order named twice goes in once too (ON CONFLICT (order_id)); the other finds the payment.
    std::vector<std::optional<Inserted>> out(batch.size());
    std::set<std::pair<std::string, std::string>> keys;
    std::unordered_map<std::string, std::size_t> index;  // payment id → position in the batch
    JsonOut rows;
    rows.begin_array();
    std::int64_t n = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const KeyedInsert& k = batch[i];
        if (k.key && !keys.emplace(k.payment.member_id, *k.key).second) {
            out[i] = Inserted{false, false};
            continue;
        }
        index.emplace(k.payment.id, i);
        rows.begin_object()  // keys in jsonb's order (JsonOut, json_out.hpp)
            .key("n").value(n++)
            .key("mid").value(k.payment.member_id)
            .key("oid").value(k.payment.order_id)
            .key("pid").value(k.payment.id)
            .key("hash").value(k.key ? std::optional<std::string>(k.hash) : std::nullopt)
            .key("ikey").value(k.key)
            .key("meth").value(k.payment.method_id)
            .key("amount").value(k.payment.amount)
            .key("currency").value(k.payment.currency)
            .key("lease_ms").value(static_cast<std::int64_t>(k.lease_ms))
            .end_object();
    }
    if (n == 0) {
        co_return out;
    }
    rows.end_array();
    auto r = co_await db_.query_prepared("payment.insert_many", pg::params(rows.take()));
    for (int i = 0; i < r.rows(); ++i) {
        if (auto it = index.find(std::string(r.get(i, 0))); it != index.end()) {
            out[it->second] = Inserted{r.get(i, 1) == "t", r.get(i, 2) == "t"};
        }
    }
    co_return out;
}

Task<std::vector<std::optional<PaymentRow>>> PaymentRepository::settle_many(std::vector<Settle> batch) {
    JsonOut rows;
    rows.begin_array();
    std::unordered_map<std::string, std::size_t> index;  // payment id → position in the batch
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const Settle& st = batch[i];
        index.emplace(st.id, i);
        // Keys in jsonb's order (JsonOut, json_out.hpp), with or without an attempt (its keys interleave).
        rows.begin_object().key("dc").value(st.decline_code).key("st").value(st.status);
        if (st.attempt) {
            const AttemptRow& a = *st.attempt;
            rows.key("adc").value(a.decline_code)
                .key("dur").value(static_cast<std::int64_t>(a.duration_ms))
                .key("pid").value(st.id)
                .key("aref").value(a.gateway_ref)
                .key("gkey").value(a.gateway_key)
                .key("gref").value(st.gateway_ref)
                .key("kind").value(a.kind)
                .key("attempt").value(static_cast<std::int64_t>(a.attempt))
                .key("outcome").value(a.outcome);
        } else {
            rows.key("pid").value(st.id).key("gref").value(st.gateway_ref);
        }
        rows.end_object();
    }
    rows.end_array();
    std::vector<std::optional<PaymentRow>> out(batch.size());
    if (batch.empty()) {
        co_return out;
    }
    auto r = co_await db_.query_prepared("payment.settle_many", pg::params(rows.take()));
    for (int i = 0; i < r.rows(); ++i) {
        auto p = payment_from_row(r, i);
        if (auto it = index.find(p.id); it != index.end()) {
            out[it->second] = std::move(p);
        }
    }
    co_return out;
}

Task<std::optional<PaymentRow>> PaymentRepository::mark_refunded(std::string id, std::string refund_ref) {
    auto r = co_await db_.query_prepared("payment.refunded", pg::params(id, "refund " + refund_ref));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return payment_from_row(r, 0);
}

Task<void> PaymentRepository::record_event(std::string payment_id, std::optional<std::string> from, std::string to,
                                           std::string detail) {
    co_await db_.query_prepared("payment.event", pg::params(payment_id, from, to, detail));
}

}  // namespace om::payment
