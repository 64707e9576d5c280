#include "order/order_repository.hpp"

#include "common/clock.hpp"
#include "core/json_out.hpp"
#include "net/pg.hpp"

namespace om::order {

namespace {

// Orders the resumer's sweep looks at per call at most (a call every 0.5-5 s): 50,000 a call is far above any
// rate the service takes, so the scan keeps up; after a long stop it catches up in steps.
constexpr int kUnsettledScanLimit = 50000;

const std::string kCols =
    "o.id::text, o.buyer_id::text, o.status, o.cancel_reason, o.items::text, o.total_amount, o.currency, "
    "o.payment_method_id::text, o.address_id::text, o.payment_id::text, o.payment_status, o.decline_code, "
    "o.delivery_id::text, o.delivery_status, o.history::text, o.request_hash, o.gate_epoch, o.gate_pending, "
    "(o.created_at AT TIME ZONE 'UTC')::text, (o.updated_at AT TIME ZONE 'UTC')::text";

OrderRow order_from_row(const pg::Result& r, int i) {
    OrderRow o;
    o.id = r.get(i, 0);
    o.buyer_id = r.get(i, 1);
    o.status = parse_status(r.get(i, 2)).value_or(Status::pending);
    o.cancel_reason = r.get_opt(i, 3);
    o.items = r.get(i, 4);
    o.total_amount = std::stoll(std::string(r.get(i, 5)));
    o.currency = r.get(i, 6);
    o.payment_method_id = r.get(i, 7);
    o.address_id = r.get(i, 8);
    o.payment_id = r.get_opt(i, 9);
    o.payment_status = r.get_opt(i, 10);
    o.decline_code = r.get_opt(i, 11);
    o.delivery_id = r.get_opt(i, 12);
    o.delivery_status = r.get_opt(i, 13);
    o.history = r.get(i, 14);
    o.request_hash = r.get(i, 15);
    o.gate_epoch = r.get(i, 16);
    o.gate_pending = r.get(i, 17) == "t";
    o.created_at = pg_utc_to_rfc3339(r.get(i, 18));
    o.updated_at = pg_utc_to_rfc3339(r.get(i, 19));
    return o;
}

std::vector<OrderRow> rows(const pg::Result& r) {
    std::vector<OrderRow> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        out.push_back(order_from_row(r, i));
    }
    return out;
}

}  // namespace

OrderRepository::OrderRepository(pg::Pool& db) : db_(db) {
    db_.prepare("orders.place",
                "SELECT order_id::text, outcome, existing_id::text FROM orders.place_orders($1::jsonb, $2::bigint)");
    db_.prepare("orders.find", "SELECT " + kCols + " FROM orders.orders o WHERE o.id = $1::uuid");
    db_.prepare("orders.lock", "SELECT " + kCols + " FROM orders.orders o WHERE o.id = $1::uuid FOR UPDATE");
    db_.prepare("orders.by_key",
                "SELECT " + kCols + " FROM orders.orders o WHERE o.buyer_id = $1::uuid AND o.idempotency_key = $2");
    db_.prepare("orders.is_seller",
                "SELECT 1 FROM orders.order_sellers WHERE seller_id = $1::uuid AND order_id = $2::uuid");
    db_.prepare("orders.list_buyer",
                "SELECT " + kCols + " FROM orders.orders o WHERE o.buyer_id = $1::uuid "
                "AND ($2::text IS NULL OR o.status = $2) AND ($3::uuid IS NULL OR o.id < $3::uuid) "
                "ORDER BY o.id DESC LIMIT $4::integer");
    db_.prepare("orders.list_seller",
                "SELECT " + kCols + " FROM orders.order_sellers s JOIN orders.orders o ON o.id = s.order_id "
                "WHERE s.seller_id = $1::uuid AND ($2::text IS NULL OR o.status = $2) "
                "AND ($3::uuid IS NULL OR s.order_id < $3::uuid) ORDER BY s.order_id DESC LIMIT $4::integer");
    db_.prepare("orders.return_stock", "SELECT product.return_stock($1::uuid)");
    db_.prepare("orders.apply",
                "UPDATE orders.orders SET status = coalesce($2, status), cancel_reason = coalesce($3, cancel_reason), "
                "payment_id = coalesce($4::uuid, payment_id), payment_status = coalesce($5, payment_status), "
                "decline_code = coalesce($6, decline_code), delivery_id = coalesce($7::uuid, delivery_id), "
                "delivery_status = coalesce($8, delivery_status), "
                "history = history || $9::jsonb, "
                "gate_epoch = coalesce($10, gate_epoch), gate_pending = gate_pending OR $11::boolean, "
                "updated_at = now() WHERE id = $1::uuid");
    db_.prepare("orders.lock_many", "SELECT " + kCols +
                                        " FROM orders.orders o WHERE o.id = " + pg::any_uuid("$1") + " ORDER BY o.id FOR UPDATE");
    db_.prepare("orders.apply_many",
                "UPDATE orders.orders o SET status = coalesce(c.status, o.status), "
                "cancel_reason = coalesce(c.cancel_reason, o.cancel_reason), "
                "payment_id = coalesce(c.payment_id, o.payment_id), "
                "payment_status = coalesce(c.payment_status, o.payment_status), "
                "decline_code = coalesce(c.decline_code, o.decline_code), "
                "delivery_id = coalesce(c.delivery_id, o.delivery_id), "
                "delivery_status = coalesce(c.delivery_status, o.delivery_status), "
                "history = o.history || c.history, gate_epoch = coalesce(c.gate_epoch, o.gate_epoch), "
                "gate_pending = o.gate_pending OR c.gate_pending, updated_at = now() "
                "FROM jsonb_to_recordset($1::jsonb) AS c (id uuid, status text, cancel_reason text, payment_id uuid, "
                "payment_status text, decline_code text, delivery_id uuid, delivery_status text, history jsonb, "
                "gate_epoch text, gate_pending boolean) WHERE o.id = c.id "
                // The ids again as an array, so that the plan finds the orders through the primary key whatever
                // the statistics say; a plain join estimates 100 rows of the recordset and, while the table is
                // young, read all of it for every batch (issue 6).
                "AND o.id = ANY (ARRAY(SELECT (e ->> 'id')::uuid FROM jsonb_array_elements($1::jsonb) AS e)) "
                "RETURNING " + kCols);
    db_.prepare("orders.gate_done", "UPDATE orders.orders SET gate_pending = false WHERE id = $1::uuid");
    db_.prepare("orders.gate_pending",
                "SELECT " + kCols + " FROM orders.orders o WHERE o.gate_pending "
                "AND o.updated_at < now() - interval '2 seconds' ORDER BY o.updated_at LIMIT $1::integer");
    // The scan behind these two and why it is not an index on updated_at: migration 0021.
    db_.prepare("orders.raise_unsettled_mark", "SELECT orders.raise_unsettled_mark($1::bigint)");
    db_.prepare("orders.unsettled_scan_age", "SELECT extract(epoch FROM now() - moved_at)::float8 FROM orders.unsettled_scan");
    db_.prepare("orders.unsettled",
                "SELECT " + kCols + " FROM orders.sweep_unsettled($1::bigint, $2::integer, $3::integer) AS s (id) "
                "JOIN orders.orders o ON o.id = s.id ORDER BY o.updated_at");
    db_.prepare("orders.touch_resumed",
                "UPDATE orders.orders SET resumed = resumed + 1, updated_at = now() WHERE id = $1::uuid");
    db_.prepare("orders.existing", "SELECT id::text FROM orders.orders WHERE id = " + pg::any_uuid("$1"));
}

Task<std::vector<PlaceOutcome>> OrderRepository::place(std::string batch_json, std::int64_t max_age_ms) {
    auto r = co_await db_.query_prepared("orders.place", pg::params(batch_json, std::to_string(max_age_ms)));
    std::vector<PlaceOutcome> out;
    for (int i = 0; i < r.rows(); ++i) {
        PlaceOutcome p;
        p.order_id = r.get(i, 0);
        const std::string_view outcome = r.get(i, 1);
        p.created = outcome == "CREATED";
        if (outcome.starts_with("INVALID:")) {
            p.bad_method = outcome.find("method") != std::string_view::npos;
            p.bad_address = outcome.find("address") != std::string_view::npos;
        }
        p.changed = outcome == "CHANGED";
        p.existing_id = r.get_opt(i, 2);
        out.push_back(std::move(p));
    }
    co_return out;
}

Task<std::optional<OrderRow>> OrderRepository::find(std::string id) {
    auto r = co_await db_.query_prepared("orders.find", pg::params(id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return order_from_row(r, 0);
}

Task<std::optional<OrderRow>> OrderRepository::find_by_key(std::string buyer_id, std::string key) {
    auto r = co_await db_.query_prepared("orders.by_key", pg::params(buyer_id, key));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return order_from_row(r, 0);
}

Task<bool> OrderRepository::is_seller_of(std::string seller_id, std::string order_id) {
    auto r = co_await db_.query_prepared("orders.is_seller", pg::params(seller_id, order_id));
    co_return !r.empty();
}

Task<std::vector<OrderRow>> OrderRepository::list_for_buyer(std::string buyer_id, std::optional<std::string> status,
                                                            std::optional<std::string> before, int limit) {
    auto r = co_await db_.query_prepared("orders.list_buyer",
                                         pg::params(buyer_id, status, before, std::to_string(limit)));
    co_return rows(r);
}

Task<std::vector<OrderRow>> OrderRepository::list_for_seller(std::string seller_id, std::optional<std::string> status,
                                                             std::optional<std::string> before, int limit) {
    auto r = co_await db_.query_prepared("orders.list_seller",
                                         pg::params(seller_id, status, before, std::to_string(limit)));
    co_return rows(r);
}

Task<pg::Lease> OrderRepository::begin() {
    auto tx = co_await db_.acquire();
    co_await tx.exec("BEGIN");
    co_return tx;
}

Task<std::optional<OrderRow>> OrderRepository::lock(pg::Lease& tx, std::string id) {
    auto r = co_await tx.exec_prepared("orders.lock", pg::params(id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return order_from_row(r, 0);
}

Task<std::string> OrderRepository::return_stock(pg::Lease& tx, std::string order_id) {
    auto r = co_await tx.exec_prepared("orders.return_stock", pg::params(order_id));
    co_return std::string(r.get(0, 0));
}

namespace {
// The history gains every status passed through: the saga's events may arrive out of order (a delivery
// before the payment's approval), and the order then moves PENDING → PAID → CONFIRMED at once.
void write_history(JsonOut& j, const OrderChange& c) {
    j.begin_array();
    for (const auto step : c.steps) {
        j.begin_object().key("at").value(c.at).key("status").value(to_string(step)).end_object();
    }
    j.end_array();
}

std::string history_of(const OrderChange& c) {
    JsonOut j;
    write_history(j, c);
    return j.take();
}

}  // namespace

Task<std::vector<OrderRow>> OrderRepository::lock_many(pg::Lease& tx, std::vector<std::string> ids) {
    // One order takes the single-row statement, a plain index lookup; more take pg::any_uuid, planned once.
    pg::Result r;
    if (ids.size() == 1) {
        r = co_await tx.exec_prepared("orders.lock", pg::params(ids.front()));
    } else {
        r = co_await tx.exec_prepared("orders.lock_many", pg::params(pg::uuid_array(ids)));
    }
    co_return rows(r);
}

Task<std::vector<OrderRow>> OrderRepository::apply_many(pg::Lease& tx,
                                                       std::vector<std::pair<std::string, OrderChange>> changes) {
    std::vector<OrderRow> out;
    if (changes.empty()) {
        co_return out;
    }
    JsonOut all;
    all.begin_array();
    for (const auto& [id, c] : changes) {
        // Keys in jsonb's order (JsonOut, json_out.hpp).
        all.begin_object().key("id").value(id).key("status");
        if (c.status) {
            all.value(to_string(*c.status));
        } else {
            all.null();
        }
        all.key("history");
        write_history(all, c);
        all.key("gate_epoch").value(c.gate_epoch)
            .key("payment_id").value(c.payment_id)
            .key("delivery_id").value(c.delivery_id)
            .key("decline_code").value(c.decline_code)
            .key("gate_pending").value(c.gate_pending)
            .key("cancel_reason").value(c.cancel_reason)
            .key("payment_status").value(c.payment_status)
            .key("delivery_status").value(c.delivery_status)
            .end_object();
    }
    all.end_array();
    auto r = co_await tx.exec_prepared("orders.apply_many", pg::params(all.take()));
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        out.push_back(order_from_row(r, i));
    }
    co_return out;
}

Task<void> OrderRepository::apply(pg::Lease& tx, std::string id, OrderChange c) {
    std::optional<std::string> status;
    if (c.status) {
        status = std::string(to_string(*c.status));
    }
    const std::string history = history_of(c);
    co_await tx.exec_prepared("orders.apply",
                              pg::params(id, status, c.cancel_reason, c.payment_id, c.payment_status, c.decline_code,
                                         c.delivery_id, c.delivery_status, history, c.gate_epoch,
                                         std::string(c.gate_pending ? "true" : "false")));
}

Task<void> OrderRepository::commit(pg::Lease& tx) { co_await tx.exec("COMMIT"); }

Task<void> OrderRepository::gate_given_back(std::string id) {
    co_await db_.query_prepared("orders.gate_done", pg::params(id));
}

Task<std::vector<OrderRow>> OrderRepository::gate_pending(int limit) {
    auto r = co_await db_.query_prepared("orders.gate_pending", pg::params(std::to_string(limit)));
    co_return rows(r);
}

Task<std::vector<OrderRow>> OrderRepository::unsettled(long quiet_ms, int limit) {
    // Two transactions: the sweep must begin after the raise of the mark committed.
    co_await db_.query_prepared("orders.raise_unsettled_mark", pg::params(std::to_string(quiet_ms)));
    auto r = co_await db_.query_prepared("orders.unsettled",
                                         pg::params(std::to_string(quiet_ms), std::to_string(kUnsettledScanLimit),
                                                    std::to_string(limit)));
    co_return rows(r);
}

Task<double> OrderRepository::unsettled_scan_age() {
    auto r = co_await db_.query_prepared("orders.unsettled_scan_age", {});
    co_return r.rows() > 0 ? std::stod(std::string(r.get(0, 0))) : 0.0;
}

Task<void> OrderRepository::touch_resumed(pg::Lease& tx, std::string id) {
    co_await tx.exec_prepared("orders.touch_resumed", pg::params(id));
}

Task<std::vector<std::string>> OrderRepository::existing(std::vector<std::string> ids) {
    auto r = co_await db_.query_prepared("orders.existing", pg::params(pg::uuid_array(ids)));
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) {
        out.emplace_back(r.get(i, 0));
    }
    co_return out;
}

}  // namespace om::order
