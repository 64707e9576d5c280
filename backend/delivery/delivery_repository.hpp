#pragma once
// SQL for schema `delivery`: addresses, deliveries, their history and the outbox. The only code that touches
// delivery.* tables (the outbox rows go through events::append).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include <utility>

#include "core/task.hpp"
#include "events/outbox_relay.hpp"

namespace om::pg {
class Pool;
class Result;
class Lease;
}  // namespace om::pg

namespace om::delivery {

struct AddressRow {
    std::string id;
    std::string member_id;
    std::string recipient_name;
    std::string phone;
    std::string postal_code;
    std::string address1;
    std::optional<std::string> address2;
    std::optional<std::string> label;
    bool is_default = false;
    std::string created_at;  // RFC 3339
    std::string updated_at;
};

struct NewAddress {
    std::string recipient_name;
    std::string phone;
    std::string postal_code;
    std::string address1;
    std::optional<std::string> address2;
    std::optional<std::string> label;
    bool is_default = false;
};

// Absent fields stay unchanged; an empty address2 or label clears it.
struct AddressPatch {
    std::optional<std::string> recipient_name;
    std::optional<std::string> phone;
    std::optional<std::string> postal_code;
    std::optional<std::string> address1;
    std::optional<std::string> address2;
    std::optional<std::string> label;
    std::optional<bool> is_default;
};

struct HistoryRow {
    std::string status;
    std::string at;  // RFC 3339
    std::optional<std::string> location;
    std::optional<std::string> note;
    std::string source;  // SYSTEM, SELLER, CARRIER, SIMULATOR
    bool applied = true;
};

struct DeliveryRow {
    std::string id;
    std::string order_id;
    std::string buyer_id;
    std::vector<std::string> seller_ids;
    std::string address_id;
    std::string address;  // the snapshot, a JSON object
    std::string status;
    std::optional<std::string> carrier;
    std::optional<std::string> tracking_number;
    std::string status_at;  // RFC 3339
    std::int64_t version = 1;
    std::string created_at;
    std::string updated_at;
    std::vector<HistoryRow> history;
    // Set by lock(): the compared event time is older than status_at / more than 5 minutes in the future.
    bool stale = false;
    bool future = false;
};

struct NewHistory {
    std::string delivery_id;
    std::string status;
    std::string at;  // timestamptz text
    std::optional<std::string> location;
    std::optional<std::string> note;
    std::string source;
    bool applied = true;
    std::optional<std::string> carrier_event_id;
};

class DeliveryRepository {
public:
    explicit DeliveryRepository(pg::Pool& db);

    // BEGIN, then an advisory lock on the member's addresses (serialises the "exactly one default" rule).
    Task<pg::Lease> begin_addresses(const std::string& member_id);
    // BEGIN only.
    Task<pg::Lease> begin();
    Task<void> commit(pg::Lease& tx);

    // (live addresses, whether one is the default)
    Task<std::pair<std::int64_t, bool>> address_stats(pg::Lease& tx, const std::string& member_id);
    // Clears the default flag of the member's addresses other than `except_id`.
    Task<void> clear_default(pg::Lease& tx, const std::string& member_id, const std::string& except_id);
    Task<AddressRow> insert_address(pg::Lease& tx, const std::string& id, const std::string& member_id,
                                    const NewAddress& a);
    // (address id, request hash) stored for the member's Idempotency-Key.
    Task<std::optional<std::pair<std::string, std::string>>> find_address_key(pg::Lease& tx, const std::string& member_id,
                                                                             const std::string& key);
    Task<void> insert_address_key(pg::Lease& tx, const std::string& member_id, const std::string& key,
                                  const std::string& request_hash, const std::string& address_id);
    Task<std::optional<AddressRow>> find_address(const std::string& member_id, const std::string& id);
    Task<std::optional<AddressRow>> find_address(pg::Lease& tx, const std::string& member_id, const std::string& id);
    Task<std::vector<AddressRow>> list_addresses(const std::string& member_id);
    Task<AddressRow> update_address(pg::Lease& tx, const std::string& member_id, const std::string& id,
                                    const AddressPatch& p);
    // Soft delete; nullopt when there was no such live address, else whether it was the default.
    Task<std::optional<bool>> delete_address(pg::Lease& tx, const std::string& member_id, const std::string& id);
    // Makes the member's newest live address the default (after the default was deleted).
    Task<void> promote_newest(pg::Lease& tx, const std::string& member_id);

    // Inserts the delivery and its READY history row unless the order already has one (then false).
    Task<bool> insert_delivery(pg::Lease& tx, const DeliveryRow& d);
    // Many at once, each with its READY history row and, in the same statement (no transaction of its own),
    // its DeliveryCreated in delivery.outbox (an event whose aggregate is a delivery id of `ds`, written only if
    // that delivery was created); returns the order ids whose delivery was created now.
    Task<std::vector<std::string>> insert_deliveries_announced(const std::vector<DeliveryRow>& ds,
                                                               const std::vector<events::OutboxEvent>& created_events);
    // The live addresses with these ids, whoever owns them (the caller checks the owner).
    Task<std::vector<AddressRow>> find_addresses(std::vector<std::string> ids);
    Task<std::optional<DeliveryRow>> find_delivery(const std::string& id);  // with history
    Task<std::optional<DeliveryRow>> find_by_order(const std::string& order_id);  // with history
    // SELECT ... FOR UPDATE; with `at`, also compares it (stale, future). No history.
    Task<std::optional<DeliveryRow>> lock_delivery(pg::Lease& tx, const std::string& id,
                                                   const std::optional<std::string>& at);
    Task<bool> carrier_event_seen(pg::Lease& tx, const std::string& event_id);
    // false when the carrier event id was recorded already (concurrently, for another delivery).
    Task<bool> insert_history(pg::Lease& tx, const NewHistory& h);
    // status, status_at = at, carrier/tracking when given, version + 1; returns the new version.
    Task<std::int64_t> apply_status(pg::Lease& tx, const std::string& id, const std::string& status,
                                    const std::string& at, const std::optional<std::string>& carrier,
                                    const std::optional<std::string>& tracking_number);
    // Deliveries the caller is the buyer or a seller of, newest first, ids below `before`.
    Task<std::vector<DeliveryRow>> list_visible(const std::string& member_id, const std::optional<std::string>& order_id,
                                                const std::optional<std::string>& before, int limit);
    // (id, status) of deliveries moving under a carrier whose status is older than `interval_ms`, oldest first.
    Task<std::vector<std::pair<std::string, std::string>>> due_for_simulation(long interval_ms, int limit);

    // For statements of other modules' helpers (the outbox).
    pg::Pool& pool() noexcept { return db_; }

private:
    Task<void> load_history(DeliveryRow& d);
    pg::Pool& db_;
};

}  // namespace om::delivery
