#include "delivery/delivery_service.hpp"

#include <algorithm>
#include <unordered_set>
#include <unordered_map>
#include <chrono>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/ids.hpp"
#include "core/json.hpp"
#include "core/json_out.hpp"
#include "core/log.hpp"
#include "events/outbox_relay.hpp"
#include "net/pg.hpp"

namespace om::delivery {

namespace {

using nlohmann::json;

Error address_not_found() { return Error{ErrorCode::not_found, "No such address"}; }
Error delivery_not_found() { return Error{ErrorCode::not_found, "No such delivery"}; }

// The copy of the address kept in the delivery (later edits of the address do not reach it).
std::string snapshot_json(const AddressRow& a) {
    JsonOut j;
    j.begin_object()  // keys in jsonb's order (JsonOut, json_out.hpp), as PostgreSQL stores and shows them
        .key("label").value(a.label)
        .key("phone").value(a.phone)
        .key("address1").value(a.address1)
        .key("address2").value(a.address2)
        .key("addressId").value(a.id)
        .key("postalCode").value(a.postal_code)
        .key("recipientName").value(a.recipient_name)
        .end_object();
    return j.take();
}

bool visible_to(const DeliveryRow& d, const std::string& member_id) {
    return d.buyer_id == member_id ||
           std::find(d.seller_ids.begin(), d.seller_ids.end(), member_id) != d.seller_ids.end();
}

events::OutboxEvent make_event(const DeliveryRow& d, const std::string& type, const std::optional<std::string>& previous,
                               const std::string& status, const std::string& at, std::int64_t version,
                               const std::string& source, const std::optional<std::string>& carrier,
                               const std::optional<std::string>& tracking, const StatusChange* c,
                               const std::optional<std::string>& payment_id = std::nullopt) {
    events::OutboxEvent e;
    e.id = new_uuid_v7();
    e.type = type;
    e.aggregate_id = d.id;
    JsonOut p;
    // Keys in jsonb's order (JsonOut, json_out.hpp); the optional ones fall in between.
    p.begin_object().key("at").value(at);
    if (c) {
        p.key("note").value(c->note);
    }
    p.key("type").value(type)
        .key("source").value(source)
        .key("status").value(status)
        .key("buyerId").value(d.buyer_id)
        .key("carrier").value(carrier)
        .key("eventId").value(e.id)
        .key("orderId").value(d.order_id)
        .key("version").value(version);
    if (c) {
        p.key("location").value(c->location);
    }
    if (payment_id) {
        p.key("paymentId").value(*payment_id);
    }
    p.key("sellerIds").strings(d.seller_ids)
        .key("deliveryId").value(d.id)
        .key("previousStatus").value(previous)
        .key("trackingNumber").value(tracking)
        .end_object();
    e.payload = p.take();
    return e;
}

}  // namespace

std::string address_json(const AddressRow& a) {
    return json{{"addressId", a.id},          {"recipientName", a.recipient_name}, {"phone", a.phone},
                {"postalCode", a.postal_code}, {"address1", a.address1},           {"address2", or_null(a.address2)},
                {"label", or_null(a.label)},       {"isDefault", a.is_default},        {"createdAt", a.created_at},
                {"updatedAt", a.updated_at}}
        .dump();
}

std::string delivery_json(const DeliveryRow& d) {
    json history = json::array();
    for (const auto& h : d.history) {
        json e{{"status", h.status}, {"at", h.at}, {"source", h.source}, {"applied", h.applied}};
        if (h.location) {
            e["location"] = *h.location;
        }
        if (h.note) {
            e["note"] = *h.note;
        }
        history.push_back(std::move(e));
    }
    return json{{"deliveryId", d.id},
                {"orderId", d.order_id},
                {"buyerId", d.buyer_id},
                {"sellerIds", d.seller_ids},
                {"status", d.status},
                {"address", json::parse(d.address)},
                {"carrier", or_null(d.carrier)},
                {"trackingNumber", or_null(d.tracking_number)},
                {"version", d.version},
                {"createdAt", d.created_at},
                {"updatedAt", d.updated_at},
                {"history", std::move(history)}}
        .dump();
}

DeliveryService::DeliveryService(pg::Pool& db, SellerLookup sellers)
    : repo_(db), sellers_(std::move(sellers)) {
    events::prepare_outbox(db, kOutboxTable);
}

// ---- addresses ------------------------------------------------------------------------------------

Task<Result<AddressRow>> DeliveryService::add_address(Principal who, NewAddress a,
                                                     std::optional<std::string> idempotency_key,
                                                     std::string request_hash) {
    // The member's advisory lock also serialises retries with one key, so the lookup below cannot race.
    auto tx = co_await repo_.begin_addresses(who.member_id);
    if (idempotency_key) {
        auto earlier = co_await repo_.find_address_key(tx, who.member_id, *idempotency_key);
        if (earlier) {
            if (earlier->second != request_hash) {
                co_return std::unexpected(Error{ErrorCode::idempotency_key_reused,
                                                "This Idempotency-Key was used for a different request"});
            }
            auto row = co_await repo_.find_address(tx, who.member_id, earlier->first);
            if (!row) {
                co_return std::unexpected(Error{ErrorCode::not_found,
                                                "The address this Idempotency-Key created has been deleted"});
            }
            co_return std::move(*row);
        }
    }
    const auto stats = co_await repo_.address_stats(tx, who.member_id);
    if (stats.first >= kMaxAddressesPerMember) {
        co_return std::unexpected(Error{ErrorCode::conflict, "A member keeps at most " +
                                                                 std::to_string(kMaxAddressesPerMember) +
                                                                 " addresses; delete one first"});
    }
    const std::string id = new_uuid_v7();
    if (!stats.second) {
        a.is_default = true;  // the first (or only remaining) address is the default
    } else if (a.is_default) {
        co_await repo_.clear_default(tx, who.member_id, id);
    }
    auto row = co_await repo_.insert_address(tx, id, who.member_id, a);
    if (idempotency_key) {
        co_await repo_.insert_address_key(tx, who.member_id, *idempotency_key, request_hash, id);
    }
    co_await repo_.commit(tx);
    co_return row;
}

Task<std::vector<AddressRow>> DeliveryService::addresses(Principal who) {
    co_return co_await repo_.list_addresses(who.member_id);
}

Task<Result<AddressRow>> DeliveryService::address(Principal who, std::string id) {
    if (!is_uuid(id)) {
        co_return std::unexpected(address_not_found());
    }
    auto row = co_await repo_.find_address(who.member_id, id);
    if (!row) {
        co_return std::unexpected(address_not_found());
    }
    co_return std::move(*row);
}

Task<Result<AddressRow>> DeliveryService::update_address(Principal who, std::string id, AddressPatch p) {
    if (!is_uuid(id)) {
        co_return std::unexpected(address_not_found());
    }
    auto tx = co_await repo_.begin_addresses(who.member_id);
    auto current = co_await repo_.find_address(tx, who.member_id, id);
    if (!current) {
        co_return std::unexpected(address_not_found());
    }
    if (p.is_default && !*p.is_default && current->is_default) {
        co_return std::unexpected(Error{ErrorCode::conflict,
                                        "A member always has one default address: make another address the default "
                                        "instead"});
    }
    if (p.is_default && *p.is_default && !current->is_default) {
        co_await repo_.clear_default(tx, who.member_id, id);
    }
    auto row = co_await repo_.update_address(tx, who.member_id, id, p);
    co_await repo_.commit(tx);
    co_return row;
}

Task<Result<bool>> DeliveryService::delete_address(Principal who, std::string id) {
    if (!is_uuid(id)) {
        co_return std::unexpected(address_not_found());
    }
    auto tx = co_await repo_.begin_addresses(who.member_id);
    auto was_default = co_await repo_.delete_address(tx, who.member_id, id);
    if (!was_default) {
        co_return std::unexpected(address_not_found());
    }
    if (*was_default) {
        co_await repo_.promote_newest(tx, who.member_id);
    }
    co_await repo_.commit(tx);
    co_return true;
}

// ---- deliveries -----------------------------------------------------------------------------------

Task<Result<DeliveryRow>> DeliveryService::create_for_order(std::string buyer_id, std::string order_id,
                                                            std::string address_id,
                                                            std::vector<std::string> seller_ids, bool* created_now) {
    if (!is_uuid(order_id)) {
        co_return std::unexpected(Error{ErrorCode::validation_failed, "orderId must be a UUID",
                                        {{"orderId", "must be a UUID"}}});
    }
    if (!is_uuid(address_id)) {
        co_return std::unexpected(address_not_found());
    }
    auto addr = co_await repo_.find_address(buyer_id, address_id);
    if (!addr) {
        co_return std::unexpected(address_not_found());
    }
    std::sort(seller_ids.begin(), seller_ids.end());
    seller_ids.erase(std::unique(seller_ids.begin(), seller_ids.end()), seller_ids.end());

    DeliveryRow d;
    d.id = new_uuid_v7();
    d.order_id = order_id;
    d.buyer_id = buyer_id;
    d.seller_ids = std::move(seller_ids);
    d.address_id = address_id;
    d.address = snapshot_json(*addr);
    d.status = "READY";
    d.created_at = now_rfc3339();
    bool created = false;
    {
        auto tx = co_await repo_.begin();
        created = co_await repo_.insert_delivery(tx, d);
        if (created) {
            const std::string type = "DeliveryCreated";
            const std::string source = "SYSTEM";
            auto event = make_event(d, type, std::nullopt, d.status, d.created_at, 1, source, std::nullopt,
                                    std::nullopt, nullptr);
            const std::string table = kOutboxTable;
            co_await events::append(tx, table, std::move(event));
            co_await repo_.commit(tx);
            events::announce(table);
        }
        // Otherwise the order has a delivery already; the lease rolls back.
    }
    if (created_now) {
        *created_now = created;
    }
    auto existing = co_await repo_.find_by_order(order_id);
    if (!existing) {
        throw std::runtime_error("delivery of order " + order_id + " vanished");
    }
    if (existing->buyer_id != buyer_id) {
        co_return std::unexpected(Error{ErrorCode::conflict, "This order already has a delivery of another member"});
    }
    co_return std::move(*existing);
}

Task<std::vector<Result<bool>>> DeliveryService::create_for_orders(std::vector<OrderDelivery> orders) {
    std::vector<Result<bool>> out(orders.size(), false);
    std::vector<std::string> address_ids;
    for (std::size_t i = 0; i < orders.size(); ++i) {
        if (!is_uuid(orders[i].order_id)) {
            out[i] = std::unexpected(
                Error{ErrorCode::validation_failed, "orderId must be a UUID", {{"orderId", "must be a UUID"}}});
        } else if (!is_uuid(orders[i].address_id)) {
            out[i] = std::unexpected(address_not_found());
        } else {
            address_ids.push_back(orders[i].address_id);
        }
    }
    std::unordered_map<std::string, AddressRow> addresses;
    if (!address_ids.empty()) {
        auto found = co_await repo_.find_addresses(std::move(address_ids));
        for (auto& a : found) {
            std::string id = a.id;
            addresses.emplace(std::move(id), std::move(a));
        }
    }
    std::vector<DeliveryRow> rows;
    std::vector<std::size_t> row_of;  // rows[k] is orders[row_of[k]]
    std::unordered_set<std::string> seen;
    const std::string at = now_rfc3339();
    for (std::size_t i = 0; i < orders.size(); ++i) {
        if (!out[i]) {
            continue;
        }
        auto& o = orders[i];
        const auto a = addresses.find(o.address_id);
        if (a == addresses.end() || a->second.member_id != o.buyer_id) {
            out[i] = std::unexpected(address_not_found());
            continue;
        }
        if (!seen.insert(o.order_id).second) {
            continue;  // the same order twice in one batch: the second one finds the first's delivery
        }
        std::sort(o.seller_ids.begin(), o.seller_ids.end());
        o.seller_ids.erase(std::unique(o.seller_ids.begin(), o.seller_ids.end()), o.seller_ids.end());
        DeliveryRow d;
        d.id = new_uuid_v7();
        d.order_id = o.order_id;
        d.buyer_id = o.buyer_id;
        d.seller_ids = o.seller_ids;
        d.address_id = o.address_id;
        d.address = snapshot_json(a->second);
        d.status = "READY";
        d.created_at = at;
        rows.push_back(std::move(d));
        row_of.push_back(i);
    }
    if (rows.empty()) {
        co_return out;
    }
    // Every delivery with its DeliveryCreated in one statement; the events of orders that had a delivery already
    // are not written.
    std::vector<events::OutboxEvent> events;
    events.reserve(rows.size());
    const std::string type = "DeliveryCreated";
    const std::string source = "SYSTEM";
    for (std::size_t k = 0; k < rows.size(); ++k) {
        events.push_back(make_event(rows[k], type, std::nullopt, rows[k].status, rows[k].created_at, 1, source,
                                    std::nullopt, std::nullopt, nullptr, orders[row_of[k]].payment_id));
    }
    auto inserted = co_await repo_.insert_deliveries_announced(rows, events);
    std::unordered_set<std::string> created;
    for (auto& id : inserted) {
        created.insert(std::move(id));
    }
    std::vector<events::OutboxEvent> announced;
    for (std::size_t k = 0; k < rows.size(); ++k) {
        if (created.contains(rows[k].order_id)) {
            announced.push_back(std::move(events[k]));
            out[row_of[k]] = true;
        }
    }
    if (!announced.empty()) {
        if (publisher_ != nullptr) {
            co_await publisher_->publish(kOutboxTable, std::move(announced));
        } else {
            events::announce(kOutboxTable);
        }
    }
    co_return out;
}

Task<void> DeliveryService::announce(DeliveryRow d) {
    const std::string type = "DeliveryCreated";
    const std::string source = "SYSTEM";
    auto event = make_event(d, type, std::nullopt, d.status, now_rfc3339(), 1, source, d.carrier, d.tracking_number,
                            nullptr);
    co_await events::append(repo_.pool(), kOutboxTable, std::move(event));
}

Task<std::optional<DeliveryRow>> DeliveryService::cancel_for_order(std::string order_id) {
    auto d = co_await repo_.find_by_order(order_id);
    if (!d || d->status != "READY") {
        co_return d;
    }
    ChangeRequest r;
    r.delivery_id = d->id;
    r.change.status = Status::cancelled;
    r.change.note = "order cancelled";
    r.source = "SYSTEM";
    r.expect = Status::ready;
    auto applied = co_await change(std::move(r));
    if (!applied && applied.error().code != ErrorCode::illegal_transition) {
        throw std::runtime_error("cancelling delivery " + d->id + ": " + applied.error().detail);
    }
    co_return co_await repo_.find_by_order(order_id);
}

Task<Result<DeliveryRow>> DeliveryService::process_delivery(Principal who, std::string order_id, std::string address_id,
                                                            std::vector<std::string> product_ids) {
    std::vector<std::string> sellers;
    if (!product_ids.empty()) {
        auto found = co_await sellers_(product_ids);
        std::vector<FieldError> unknown;
        for (std::size_t i = 0; i < product_ids.size(); ++i) {
            auto it = std::find_if(found.begin(), found.end(), [&](const auto& p) { return p.first == product_ids[i]; });
            if (it == found.end()) {
                unknown.push_back({"productIds[" + std::to_string(i) + "]", "no such product"});
            } else {
                sellers.push_back(it->second);
            }
        }
        if (!unknown.empty()) {
            co_return std::unexpected(Error{ErrorCode::validation_failed, "Unknown products", std::move(unknown)});
        }
    }
    co_return co_await create_for_order(who.member_id, std::move(order_id), std::move(address_id), std::move(sellers));
}

Task<Result<DeliveryRow>> DeliveryService::get(Principal who, std::string id) {
    if (!is_uuid(id)) {
        co_return std::unexpected(delivery_not_found());
    }
    auto d = co_await repo_.find_delivery(id);
    if (!d || !visible_to(*d, who.member_id)) {
        co_return std::unexpected(delivery_not_found());
    }
    co_return std::move(*d);
}

Task<DeliveryPage> DeliveryService::list(Principal who, std::optional<std::string> order_id, int limit,
                                         std::optional<std::string> before) {
    auto rows = co_await repo_.list_visible(who.member_id, order_id, before, limit + 1);
    DeliveryPage page;
    if (static_cast<int>(rows.size()) > limit) {
        rows.resize(static_cast<std::size_t>(limit));
        page.next_cursor = rows.back().id;
    }
    page.items = std::move(rows);
    co_return page;
}

Task<Result<DeliveryService::Applied>> DeliveryService::change(ChangeRequest r) {
    auto tx = co_await repo_.begin();
    const std::optional<std::string> compare = r.at ? r.at : r.due_before;
    std::optional<DeliveryRow> row;
    bool bad_time = false;
    try {
        row = co_await repo_.lock_delivery(tx, r.delivery_id, compare);
    } catch (const pg::SqlError& e) {
        if (!e.sqlstate().starts_with("22")) {
            throw;
        }
        bad_time = true;  // a timestamp PostgreSQL does not accept (e.g. month 13); the lease rolls back
    }
    if (bad_time) {
        co_return std::unexpected(Error{ErrorCode::validation_failed, "occurredAt is not a valid time",
                                        {{"occurredAt", "must be an RFC 3339 date-time"}}});
    }
    if (!row) {
        co_return std::unexpected(delivery_not_found());
    }
    if (r.event_id) {
        const bool seen = co_await repo_.carrier_event_seen(tx, *r.event_id);
        if (seen) {
            co_return Applied{true, false};
        }
    }
    if (r.at && row->future) {
        co_return std::unexpected(Error{ErrorCode::validation_failed, "occurredAt is in the future",
                                        {{"occurredAt", "must not be more than 5 minutes in the future"}}});
    }
    const auto from = parse_status(row->status);
    if (!from) {
        throw std::runtime_error("unknown delivery status in the database: " + row->status);
    }
    const Status to = r.change.status;
    if (r.expect && (*from != *r.expect || row->stale)) {
        co_return Applied{false, false};  // the simulator's view is outdated: someone else moved it
    }
    const bool stale = r.at.has_value() && row->stale;
    const std::string at = r.at.value_or(now_rfc3339());
    const std::string to_name(to_string(to));
    if (!stale) {
        if (!can_transition(*from, to)) {
            co_return std::unexpected(Error{ErrorCode::illegal_transition,
                                            "A delivery cannot go from " + row->status + " to " + to_name});
        }
        if (needs_tracking(to)) {
            std::vector<FieldError> missing;
            if (!r.change.carrier && !row->carrier) {
                missing.push_back({"carrier", "is required to ship"});
            }
            if (!r.change.tracking_number && !row->tracking_number) {
                missing.push_back({"trackingNumber", "is required to ship"});
            }
            if (!missing.empty()) {
                co_return std::unexpected(Error{ErrorCode::validation_failed,
                                                "carrier and trackingNumber are required from " + to_name + " on",
                                                std::move(missing)});
            }
        }
    }
    NewHistory h;
    h.delivery_id = row->id;
    h.status = to_name;
    h.at = at;
    h.location = r.change.location;
    h.note = r.change.note;
    h.source = r.source;
    h.applied = !stale;
    h.carrier_event_id = r.event_id;
    const bool inserted = co_await repo_.insert_history(tx, h);
    if (!inserted) {
        co_return Applied{true, false};  // the same event id, recorded concurrently (for another delivery)
    }
    if (!stale) {
        const auto version = co_await repo_.apply_status(tx, row->id, to_name, at, r.change.carrier,
                                                         r.change.tracking_number);
        const std::optional<std::string> carrier = r.change.carrier ? r.change.carrier : row->carrier;
        const std::optional<std::string> tracking =
            r.change.tracking_number ? r.change.tracking_number : row->tracking_number;
        const std::optional<std::string> previous = row->status;
        const std::string type = "DeliveryStatusChanged";
        auto event = make_event(*row, type, previous, to_name, at, version, r.source, carrier, tracking, &r.change);
        const std::string table = kOutboxTable;
        co_await events::append(tx, table, std::move(event));
    }
    co_await repo_.commit(tx);
    if (!stale) {
        events::announce(kOutboxTable);
    }
    co_return Applied{false, !stale};
}

Task<Result<DeliveryRow>> DeliveryService::seller_update(Principal who, std::string id, StatusChange change) {
    if (!is_uuid(id)) {
        co_return std::unexpected(delivery_not_found());
    }
    auto d = co_await repo_.find_delivery(id);
    if (!d) {
        co_return std::unexpected(delivery_not_found());
    }
    const bool seller = std::find(d->seller_ids.begin(), d->seller_ids.end(), who.member_id) != d->seller_ids.end();
    if (!seller) {
        if (d->buyer_id == who.member_id) {
            co_return std::unexpected(
                Error{ErrorCode::forbidden, "Only a seller of the order advances its delivery; buyers follow it"});
        }
        co_return std::unexpected(delivery_not_found());
    }
    ChangeRequest r;
    r.delivery_id = id;
    r.change = std::move(change);
    r.source = "SELLER";
    auto done = co_await this->change(std::move(r));
    if (!done) {
        co_return std::unexpected(done.error());
    }
    auto fresh = co_await repo_.find_delivery(id);
    if (!fresh) {
        throw std::runtime_error("delivery vanished: " + id);
    }
    co_return std::move(*fresh);
}

Task<Result<CarrierOutcome>> DeliveryService::carrier_event(CarrierEvent e) {
    if (!is_uuid(e.delivery_id)) {
        co_return std::unexpected(delivery_not_found());
    }
    ChangeRequest r;
    r.delivery_id = e.delivery_id;
    r.change = std::move(e.change);
    r.source = "CARRIER";
    r.at = e.occurred_at;
    r.event_id = e.event_id;
    auto done = co_await change(std::move(r));
    if (!done) {
        co_return std::unexpected(done.error());
    }
    auto fresh = co_await repo_.find_delivery(e.delivery_id);
    if (!fresh) {
        co_return std::unexpected(delivery_not_found());
    }
    CarrierOutcome out;
    out.duplicate = done->duplicate;
    out.applied = done->applied;
    out.delivery = std::move(*fresh);
    co_return out;
}

Task<int> DeliveryService::simulate_step(long interval_ms, int limit) {
    auto due = co_await repo_.due_for_simulation(interval_ms, limit);
    const std::string due_before = rfc3339(std::chrono::system_clock::now() - std::chrono::milliseconds(interval_ms));
    int moved = 0;
    for (const auto& item : due) {
        const std::string& id = item.first;
        const auto from = parse_status(item.second);
        const auto next = from ? simulated_next(*from) : std::nullopt;
        if (!next) {
            continue;
        }
        ChangeRequest r;
        r.delivery_id = id;
        r.change.status = *next;
        r.change.location = *next == Status::in_transit         ? "Hub (simulated)"
                            : *next == Status::out_for_delivery ? "Local depot (simulated)"
                                                                : "Recipient's door (simulated)";
        r.change.note = "courier simulator";
        r.source = "SIMULATOR";
        r.expect = from;
        r.due_before = due_before;
        auto done = co_await change(std::move(r));
        if (done && done->applied) {
            ++moved;
        }
    }
    co_return moved;
}

Task<void> CourierSimulator::run() {
    const long pause = std::max(50L, interval_ms_ / 4);
    while (!stopped_) {
        std::string error;
        try {
            co_await service_.simulate_step(interval_ms_, 100);
        } catch (const std::exception& e) {
            error = e.what();
        }
        if (!error.empty() && !stopped_) {
            log::warn("courier simulator step failed", {{"error", error}});
        }
        for (long left = pause; left > 0 && !stopped_; left -= 100) {
            co_await sleep_(std::min(left, 100L));
        }
    }
}

}  // namespace om::delivery
