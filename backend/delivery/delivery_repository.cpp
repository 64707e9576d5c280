#include "delivery/delivery_repository.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "common/clock.hpp"
#include "common/ids.hpp"
#include "core/json_out.hpp"
#include "net/pg.hpp"

namespace om::delivery {

namespace {

constexpr const char* kAddressColumns =
    "id::text, member_id::text, recipient_name, phone, postal_code, address1, address2, label, is_default, "
    "created_at AT TIME ZONE 'UTC' AS created_utc, updated_at AT TIME ZONE 'UTC' AS updated_utc";

AddressRow address_from_row(const pg::Result& r, int i) {
    AddressRow a;
    a.id = r.get(i, 0);
    a.member_id = r.get(i, 1);
    a.recipient_name = r.get(i, 2);
    a.phone = r.get(i, 3);
    a.postal_code = r.get(i, 4);
    a.address1 = r.get(i, 5);
    a.address2 = r.get_opt(i, 6);
    a.label = r.get_opt(i, 7);
    a.is_default = r.get(i, 8) == "t";
    a.created_at = pg_utc_to_rfc3339(r.get(i, 9));
    a.updated_at = pg_utc_to_rfc3339(r.get(i, 10));
    return a;
}

constexpr const char* kDeliveryColumns =
    "d.id::text AS delivery_id, d.order_id::text, d.buyer_id::text, array_to_string(d.seller_ids, ',') AS sellers, "
    "d.address_id::text, d.address::text AS snapshot, d.status, d.carrier, d.tracking_number, "
    "d.status_at AT TIME ZONE 'UTC' AS status_utc, d.version, d.created_at AT TIME ZONE 'UTC' AS created_utc, "
    "d.updated_at AT TIME ZONE 'UTC' AS updated_utc";

std::vector<std::string> split_ids(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        const auto comma = s.find(',');
        out.emplace_back(s.substr(0, comma));
        s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    }
    return out;
}

DeliveryRow delivery_from_row(const pg::Result& r, int i) {
    DeliveryRow d;
    d.id = r.get(i, 0);
    d.order_id = r.get(i, 1);
    d.buyer_id = r.get(i, 2);
    d.seller_ids = split_ids(r.get(i, 3));
    d.address_id = r.get(i, 4);
    d.address = r.get(i, 5);
    d.status = r.get(i, 6);
    d.carrier = r.get_opt(i, 7);
    d.tracking_number = r.get_opt(i, 8);
    d.status_at = pg_utc_to_rfc3339(r.get(i, 9));
    d.version = parse_i64(r.get(i, 10));
    d.created_at = pg_utc_to_rfc3339(r.get(i, 11));
    d.updated_at = pg_utc_to_rfc3339(r.get(i, 12));
    return d;
}

}  // namespace

DeliveryRepository::DeliveryRepository(pg::Pool& db) : db_(db) {
    const std::string acols = kAddressColumns;
    const std::string dcols = kDeliveryColumns;
    db_.prepare("delivery.addr_lock", "SELECT pg_advisory_xact_lock(hashtextextended('delivery.addresses:' || $1, 0))");
    db_.prepare("delivery.addr_stats",
                "SELECT count(*), coalesce(bool_or(is_default), false) FROM delivery.addresses "
                "WHERE member_id = $1::uuid AND deleted_at IS NULL");
    db_.prepare("delivery.addr_clear_default",
                "UPDATE delivery.addresses SET is_default = false, updated_at = now() "
                "WHERE member_id = $1::uuid AND is_default AND id <> $2::uuid");
    db_.prepare("delivery.addr_insert",
                "INSERT INTO delivery.addresses (id, member_id, recipient_name, phone, postal_code, address1, address2, "
                "label, is_default) VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9::boolean) RETURNING " + acols);
    db_.prepare("delivery.addr_find", "SELECT " + acols + " FROM delivery.addresses "
                                      "WHERE id = $1::uuid AND member_id = $2::uuid AND deleted_at IS NULL");
    db_.prepare("delivery.addr_key_find",
                "SELECT address_id::text, request_hash FROM delivery.address_keys WHERE member_id = $1::uuid AND key = $2");
    db_.prepare("delivery.addr_key_insert",
                "INSERT INTO delivery.address_keys (member_id, key, request_hash, address_id) "
                "VALUES ($1::uuid, $2, $3, $4::uuid)");
    db_.prepare("delivery.addr_list", "SELECT " + acols + " FROM delivery.addresses "
                                      "WHERE member_id = $1::uuid AND deleted_at IS NULL "
                                      "ORDER BY is_default DESC, created_at DESC, id DESC");
    db_.prepare("delivery.addr_update",
                "UPDATE delivery.addresses SET recipient_name = coalesce($3, recipient_name), "
                "phone = coalesce($4, phone), postal_code = coalesce($5, postal_code), address1 = coalesce($6, address1), "
                "address2 = CASE WHEN $7::text IS NULL THEN address2 ELSE nullif($7, '') END, "
                "label = CASE WHEN $8::text IS NULL THEN label ELSE nullif($8, '') END, "
                "is_default = coalesce($9::boolean, is_default), updated_at = now() "
                "WHERE id = $1::uuid AND member_id = $2::uuid AND deleted_at IS NULL RETURNING " + acols);
    db_.prepare("delivery.addr_delete",
                "WITH old AS (SELECT id, is_default AS was_default FROM delivery.addresses "
                "             WHERE id = $1::uuid AND member_id = $2::uuid AND deleted_at IS NULL FOR UPDATE) "
                "UPDATE delivery.addresses a SET deleted_at = now(), is_default = false, updated_at = now() "
                "FROM old WHERE a.id = old.id RETURNING old.was_default");
    db_.prepare("delivery.addr_promote",
                "UPDATE delivery.addresses SET is_default = true, updated_at = now() WHERE id = "
                "(SELECT id FROM delivery.addresses WHERE member_id = $1::uuid AND deleted_at IS NULL "
                " ORDER BY created_at DESC, id DESC LIMIT 1)");

    db_.prepare("delivery.insert",
                "WITH d AS (INSERT INTO delivery.deliveries (id, order_id, buyer_id, seller_ids, address_id, address, "
                "           status_at, created_at, updated_at) "
                "           VALUES ($1::uuid, $2::uuid, $3::uuid, $4::uuid[], $5::uuid, $6::jsonb, $7::timestamptz, "
                "                   $7::timestamptz, $7::timestamptz) "
                "           ON CONFLICT (order_id) DO NOTHING RETURNING id), "
                "h AS (INSERT INTO delivery.history (delivery_id, status, at, source, applied) "
                "      SELECT id, 'READY', $7::timestamptz, 'SYSTEM', true FROM d) "
                "SELECT id::text FROM d");
    // Many deliveries at once, each with its READY history row and its DeliveryCreated (the event whose aggregate
    // is the delivery) in delivery.outbox, as one autocommit statement; returns the order ids whose delivery was
    // created now.
    db_.prepare("delivery.insert_many_announced",
                "WITH c AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS c (id uuid, order_id uuid, buyer_id uuid, "
                "           seller_ids uuid[], address_id uuid, address jsonb, at timestamptz)), "
                "d AS (INSERT INTO delivery.deliveries (id, order_id, buyer_id, seller_ids, address_id, address, "
                "           status_at, created_at, updated_at) "
                "      SELECT id, order_id, buyer_id, seller_ids, address_id, address, at, at, at FROM c ORDER BY order_id "
                "      ON CONFLICT (order_id) DO NOTHING RETURNING id, order_id, created_at), "
                "h AS (INSERT INTO delivery.history (delivery_id, status, at, source, applied) "
                "      SELECT id, 'READY', created_at, 'SYSTEM', true FROM d), "
                "o AS (INSERT INTO delivery.outbox (id, event_type, aggregate_id, payload) "
                "      SELECT x.id, x.type, x.aggregate, x.payload "
                "      FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (id uuid, type text, aggregate text, "
                "           payload jsonb)) WITH ORDINALITY AS x (id, type, aggregate, payload, n) "
                "      WHERE x.aggregate IN (SELECT id::text FROM d) ORDER BY x.n) "
                "SELECT order_id::text FROM d");
    db_.prepare("delivery.addr_find_many", "SELECT " + acols + " FROM delivery.addresses "
                                           "WHERE id = " + pg::any_uuid("$1") + " AND deleted_at IS NULL");
    db_.prepare("delivery.find", "SELECT " + dcols + " FROM delivery.deliveries d WHERE d.id = $1::uuid");
    db_.prepare("delivery.by_order", "SELECT " + dcols + " FROM delivery.deliveries d WHERE d.order_id = $1::uuid");
    db_.prepare("delivery.lock",
                "SELECT " + dcols + ", ($2::timestamptz IS NOT NULL AND $2::timestamptz < d.status_at) AS stale, "
                "($2::timestamptz IS NOT NULL AND $2::timestamptz > now() + interval '5 minutes') AS future "
                "FROM delivery.deliveries d WHERE d.id = $1::uuid FOR UPDATE");
    db_.prepare("delivery.history",
                "SELECT status, at AT TIME ZONE 'UTC' AS at_utc, location, note, source, applied FROM delivery.history "
                "WHERE delivery_id = $1::uuid ORDER BY at, id");
    db_.prepare("delivery.histories",
                "SELECT delivery_id::text, status, at AT TIME ZONE 'UTC' AS at_utc, location, note, source, applied "
                "FROM delivery.history WHERE delivery_id = " + pg::any_uuid("$1") + " ORDER BY delivery_id, at, id");
    db_.prepare("delivery.event_seen", "SELECT 1 FROM delivery.history WHERE carrier_event_id = $1");
    db_.prepare("delivery.history_insert",
                "INSERT INTO delivery.history (delivery_id, status, at, location, note, source, applied, carrier_event_id) "
                "VALUES ($1::uuid, $2, $3::timestamptz, $4, $5, $6, $7::boolean, $8) "
                "ON CONFLICT (carrier_event_id) WHERE carrier_event_id IS NOT NULL DO NOTHING RETURNING id");
    db_.prepare("delivery.apply",
                "UPDATE delivery.deliveries SET status = $2, status_at = $3::timestamptz, "
                "carrier = coalesce($4, carrier), tracking_number = coalesce($5, tracking_number), "
                "version = version + 1, updated_at = now() WHERE id = $1::uuid RETURNING version");
    db_.prepare("delivery.list",
                "SELECT " + dcols + " FROM delivery.deliveries d "
                "WHERE (d.buyer_id = $1::uuid OR d.seller_ids @> ARRAY[$1::uuid]) "
                "AND ($2::uuid IS NULL OR d.order_id = $2::uuid) AND ($3::uuid IS NULL OR d.id < $3::uuid) "
                "ORDER BY d.id DESC LIMIT $4::integer");
    db_.prepare("delivery.due",
                "SELECT id::text, status FROM delivery.deliveries "
                "WHERE status IN ('SHIPPED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY') "
                "AND status_at < now() - $1::bigint * interval '1 millisecond' ORDER BY status_at LIMIT $2::integer");
}

Task<pg::Lease> DeliveryRepository::begin() {
    auto tx = co_await db_.acquire();
    co_await tx.exec("BEGIN");
    co_return tx;
}

Task<pg::Lease> DeliveryRepository::begin_addresses(const std::string& member_id) {
    auto tx = co_await db_.acquire();
    co_await tx.exec("BEGIN");
    co_await tx.exec_prepared("delivery.addr_lock", pg::params(member_id));
    co_return tx;
}

Task<void> DeliveryRepository::commit(pg::Lease& tx) { co_await tx.exec("COMMIT"); }

Task<std::pair<std::int64_t, bool>> DeliveryRepository::address_stats(pg::Lease& tx, const std::string& member_id) {
    auto r = co_await tx.exec_prepared("delivery.addr_stats", pg::params(member_id));
    co_return std::make_pair(parse_i64(r.get(0, 0)), r.get(0, 1) == "t");
}

Task<void> DeliveryRepository::clear_default(pg::Lease& tx, const std::string& member_id, const std::string& except_id) {
    co_await tx.exec_prepared("delivery.addr_clear_default", pg::params(member_id, except_id));
}

Task<AddressRow> DeliveryRepository::insert_address(pg::Lease& tx, const std::string& id, const std::string& member_id,
                                                    const NewAddress& a) {
    const std::string def = a.is_default ? "true" : "false";
    auto r = co_await tx.exec_prepared("delivery.addr_insert",
                                       pg::params(id, member_id, a.recipient_name, a.phone, a.postal_code, a.address1,
                                                  a.address2, a.label, def));
    co_return address_from_row(r, 0);
}

Task<std::optional<std::pair<std::string, std::string>>> DeliveryRepository::find_address_key(
    pg::Lease& tx, const std::string& member_id, const std::string& key) {
    auto r = co_await tx.exec_prepared("delivery.addr_key_find", pg::params(member_id, key));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return std::make_pair(std::string(r.get(0, 0)), std::string(r.get(0, 1)));
}

Task<void> DeliveryRepository::insert_address_key(pg::Lease& tx, const std::string& member_id, const std::string& key,
                                                  const std::string& request_hash, const std::string& address_id) {
    co_await tx.exec_prepared("delivery.addr_key_insert", pg::params(member_id, key, request_hash, address_id));
}

Task<std::optional<AddressRow>> DeliveryRepository::find_address(const std::string& member_id, const std::string& id) {
    auto r = co_await db_.query_prepared("delivery.addr_find", pg::params(id, member_id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return address_from_row(r, 0);
}

Task<std::optional<AddressRow>> DeliveryRepository::find_address(pg::Lease& tx, const std::string& member_id,
                                                                 const std::string& id) {
    auto r = co_await tx.exec_prepared("delivery.addr_find", pg::params(id, member_id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return address_from_row(r, 0);
}

Task<std::vector<AddressRow>> DeliveryRepository::list_addresses(const std::string& member_id) {
    auto r = co_await db_.query_prepared("delivery.addr_list", pg::params(member_id));
    std::vector<AddressRow> out;
    for (int i = 0; i < r.rows(); ++i) {
        out.push_back(address_from_row(r, i));
    }
    co_return out;
}

Task<AddressRow> DeliveryRepository::update_address(pg::Lease& tx, const std::string& member_id, const std::string& id,
                                                    const AddressPatch& p) {
    std::optional<std::string> def;
    if (p.is_default) {
        def = *p.is_default ? "true" : "false";
    }
    auto r = co_await tx.exec_prepared("delivery.addr_update",
                                       pg::params(id, member_id, p.recipient_name, p.phone, p.postal_code, p.address1,
                                                  p.address2, p.label, def));
    if (r.empty()) {
        throw std::runtime_error("address vanished under its member lock: " + id);
    }
    co_return address_from_row(r, 0);
}

Task<std::optional<bool>> DeliveryRepository::delete_address(pg::Lease& tx, const std::string& member_id,
                                                             const std::string& id) {
    auto r = co_await tx.exec_prepared("delivery.addr_delete", pg::params(id, member_id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return r.get(0, 0) == "t";
}

Task<void> DeliveryRepository::promote_newest(pg::Lease& tx, const std::string& member_id) {
    co_await tx.exec_prepared("delivery.addr_promote", pg::params(member_id));
}

Task<std::vector<std::string>> DeliveryRepository::insert_deliveries_announced(
    const std::vector<DeliveryRow>& ds, const std::vector<events::OutboxEvent>& created_events) {
    std::vector<std::string> created;
    if (ds.empty()) {
        co_return created;
    }
    JsonOut rows;
    rows.begin_array();
    for (const auto& d : ds) {
        rows.begin_object()  // keys in jsonb's order (JsonOut, json_out.hpp)
            .key("at").value(d.created_at)
            .key("id").value(d.id)
            .key("address").raw(d.address)  // the snapshot is a JSON object
            .key("buyer_id").value(d.buyer_id)
            .key("order_id").value(d.order_id)
            .key("address_id").value(d.address_id)
            .key("seller_ids").strings(d.seller_ids)
            .end_object();
    }
    rows.end_array();
    auto r = co_await db_.query_prepared("delivery.insert_many_announced",
                                         pg::params(rows.take(), events::rows_json(created_events)));
    for (int i = 0; i < r.rows(); ++i) {
        created.emplace_back(r.get(i, 0));
    }
    co_return created;
}

Task<std::vector<AddressRow>> DeliveryRepository::find_addresses(std::vector<std::string> ids) {
    auto r = co_await db_.query_prepared("delivery.addr_find_many", pg::params(pg::uuid_array(ids)));
    std::vector<AddressRow> out;
    for (int i = 0; i < r.rows(); ++i) {
        out.push_back(address_from_row(r, i));
    }
    co_return out;
}

Task<bool> DeliveryRepository::insert_delivery(pg::Lease& tx, const DeliveryRow& d) {
    auto r = co_await tx.exec_prepared("delivery.insert", pg::params(d.id, d.order_id, d.buyer_id, pg::uuid_array(d.seller_ids),
                                                                     d.address_id, d.address, d.created_at));
    co_return !r.empty();
}

Task<void> DeliveryRepository::load_history(DeliveryRow& d) {
    auto r = co_await db_.query_prepared("delivery.history", pg::params(d.id));
    d.history.clear();
    for (int i = 0; i < r.rows(); ++i) {
        HistoryRow h;
        h.status = r.get(i, 0);
        h.at = pg_utc_to_rfc3339(r.get(i, 1));
        h.location = r.get_opt(i, 2);
        h.note = r.get_opt(i, 3);
        h.source = r.get(i, 4);
        h.applied = r.get(i, 5) == "t";
        d.history.push_back(std::move(h));
    }
}

Task<std::optional<DeliveryRow>> DeliveryRepository::find_delivery(const std::string& id) {
    auto r = co_await db_.query_prepared("delivery.find", pg::params(id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    auto d = delivery_from_row(r, 0);
    co_await load_history(d);
    co_return d;
}

Task<std::optional<DeliveryRow>> DeliveryRepository::find_by_order(const std::string& order_id) {
    auto r = co_await db_.query_prepared("delivery.by_order", pg::params(order_id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    auto d = delivery_from_row(r, 0);
    co_await load_history(d);
    co_return d;
}

Task<std::optional<DeliveryRow>> DeliveryRepository::lock_delivery(pg::Lease& tx, const std::string& id,
                                                                   const std::optional<std::string>& at) {
    auto r = co_await tx.exec_prepared("delivery.lock", pg::params(id, at));
    if (r.empty()) {
        co_return std::nullopt;
    }
    auto d = delivery_from_row(r, 0);
    d.stale = r.get(0, 13) == "t";
    d.future = r.get(0, 14) == "t";
    co_return d;
}

Task<bool> DeliveryRepository::carrier_event_seen(pg::Lease& tx, const std::string& event_id) {
    auto r = co_await tx.exec_prepared("delivery.event_seen", pg::params(event_id));
    co_return !r.empty();
}

Task<bool> DeliveryRepository::insert_history(pg::Lease& tx, const NewHistory& h) {
    const std::string applied = h.applied ? "true" : "false";
    auto r = co_await tx.exec_prepared("delivery.history_insert",
                                       pg::params(h.delivery_id, h.status, h.at, h.location, h.note, h.source, applied,
                                                  h.carrier_event_id));
    co_return !r.empty();
}

Task<std::int64_t> DeliveryRepository::apply_status(pg::Lease& tx, const std::string& id, const std::string& status,
                                                    const std::string& at, const std::optional<std::string>& carrier,
                                                    const std::optional<std::string>& tracking_number) {
    auto r = co_await tx.exec_prepared("delivery.apply", pg::params(id, status, at, carrier, tracking_number));
    co_return parse_i64(r.get(0, 0));
}

Task<std::vector<DeliveryRow>> DeliveryRepository::list_visible(const std::string& member_id,
                                                                const std::optional<std::string>& order_id,
                                                                const std::optional<std::string>& before, int limit) {
    auto r = co_await db_.query_prepared("delivery.list", pg::params(member_id, order_id, before, std::to_string(limit)));
    std::vector<DeliveryRow> out;
    std::vector<std::string> ids;
    for (int i = 0; i < r.rows(); ++i) {
        out.push_back(delivery_from_row(r, i));
        ids.push_back(out.back().id);
    }
    if (out.empty()) {
        co_return out;
    }
    // One statement for the histories of the whole page.
    auto h = co_await db_.query_prepared("delivery.histories", pg::params(pg::uuid_array(ids)));
    for (int i = 0; i < h.rows(); ++i) {
        const std::string_view owner = h.get(i, 0);
        auto d = std::find_if(out.begin(), out.end(), [&](const DeliveryRow& x) { return x.id == owner; });
        if (d == out.end()) {
            continue;
        }
        HistoryRow row;
        row.status = h.get(i, 1);
        row.at = pg_utc_to_rfc3339(h.get(i, 2));
        row.location = h.get_opt(i, 3);
        row.note = h.get_opt(i, 4);
        row.source = h.get(i, 5);
        row.applied = h.get(i, 6) == "t";
        d->history.push_back(std::move(row));
    }
    co_return out;
}

Task<std::vector<std::pair<std::string, std::string>>> DeliveryRepository::due_for_simulation(long interval_ms,
                                                                                             int limit) {
    auto r = co_await db_.query_prepared("delivery.due", pg::params(std::to_string(interval_ms), std::to_string(limit)));
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = 0; i < r.rows(); ++i) {
        out.emplace_back(std::string(r.get(i, 0)), std::string(r.get(i, 1)));
    }
    co_return out;
}

}  // namespace om::delivery
