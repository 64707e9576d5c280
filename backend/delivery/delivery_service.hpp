#pragma once
// Delivery use cases: members' addresses, deliveries created for orders (with an address snapshot), their
// status lifecycle advanced by sellers, carriers (signed webhooks) and the courier simulator, and one outbox
// event per change (backend/events/outbox_relay.hpp). Coroutine parameters are taken by value (GCC 12).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/http.hpp"
#include "core/task.hpp"
#include "delivery/delivery_repository.hpp"
#include "delivery/lifecycle.hpp"
#include "events/outbox_relay.hpp"

namespace om::delivery {

// Who sells the given products: (productId, sellerId) for every id that exists. Wired to the product
// service's C++ interface (ProductService::sellers_of); see docs/architecture.md for why.
using SellerLookup = std::function<Task<std::vector<std::pair<std::string, std::string>>>(std::vector<std::string>)>;

inline constexpr const char* kOutboxTable = "delivery.outbox";
inline constexpr const char* kEventStream = "om:events:delivery";
inline constexpr std::int64_t kMaxAddressesPerMember = 20;

struct DeliveryPage {
    std::vector<DeliveryRow> items;
    std::optional<std::string> next_cursor;
};

// A status report from a seller, a carrier or the simulator.
struct StatusChange {
    Status status = Status::ready;
    std::optional<std::string> carrier;
    std::optional<std::string> tracking_number;
    std::optional<std::string> location;
    std::optional<std::string> note;
};

struct CarrierEvent {
    std::string event_id;
    std::string delivery_id;
    std::string occurred_at;  // RFC 3339
    StatusChange change;
};

struct CarrierOutcome {
    bool duplicate = false;  // the event id was seen before: nothing changed
    bool applied = false;    // the status moved (false: duplicate, or older than the current status)
    DeliveryRow delivery;
};

class DeliveryService {
public:
    DeliveryService(pg::Pool& db, SellerLookup sellers);

    // Addresses: only ever the caller's own (another member's id answers 404).
    // With an Idempotency-Key (scoped to the member): a repeat of the same request returns the address it created
    // (as it is now, 404 if deleted since); the same key with another request is IDEMPOTENCY_KEY_REUSED.
    Task<Result<AddressRow>> add_address(Principal who, NewAddress a, std::optional<std::string> idempotency_key,
                                         std::string request_hash);
    Task<std::vector<AddressRow>> addresses(Principal who);
    Task<Result<AddressRow>> address(Principal who, std::string id);
    Task<Result<AddressRow>> update_address(Principal who, std::string id, AddressPatch p);
    Task<Result<bool>> delete_address(Principal who, std::string id);

    // The C++ interface for the order service (issue 5): creates the delivery of an order on the buyer's behalf,
    // with a snapshot of the buyer's address and the sellers who may advance it. Idempotent per order: a repeat
    // by the same buyer returns the existing delivery; another buyer's order answers CONFLICT.
    // `created` (optional) tells whether this call created it.
    Task<Result<DeliveryRow>> create_for_order(std::string buyer_id, std::string order_id, std::string address_id,
                                               std::vector<std::string> seller_ids, bool* created = nullptr);
    struct OrderDelivery {
        std::string buyer_id;
        std::string order_id;
        std::string address_id;
        std::vector<std::string> seller_ids;
        // The approved payment that asked for the delivery: DeliveryCreated carries it, so that the order saga
        // can record the payment and confirm the order in one step.
        std::optional<std::string> payment_id;
    };
    // create_for_order for many orders in one transaction (the saga's batch). Per order: true = created now,
    // false = the order had a delivery already (ask create_for_order for it), or why it cannot have one.
    Task<std::vector<Result<bool>>> create_for_orders(std::vector<OrderDelivery> orders);
    // Publishes the saga's DeliveryCreated events at once after their commit (otherwise the relay does).
    void set_publisher(events::Publisher* publisher) noexcept { publisher_ = publisher; }
    // The order saga asked again for a delivery that exists (its DeliveryCreated may have been lost with Redis):
    // publishes DeliveryCreated once more, with the delivery's current status.
    Task<void> announce(DeliveryRow d);
    // The order saga: the order was cancelled, so its delivery is CANCELLED if it has not shipped yet. Returns the
    // delivery as it is now (nullopt: the order has no delivery yet).
    Task<std::optional<DeliveryRow>> cancel_for_order(std::string order_id);
    // POST /delivery/process-delivery: as above, with the sellers of `product_ids` (until orders exist).
    Task<Result<DeliveryRow>> process_delivery(Principal who, std::string order_id, std::string address_id,
                                               std::vector<std::string> product_ids);

    // The buyer or a seller of the delivery; 404 for everyone else.
    Task<Result<DeliveryRow>> get(Principal who, std::string id);
    Task<DeliveryPage> list(Principal who, std::optional<std::string> order_id, int limit,
                            std::optional<std::string> before);
    // A seller of the delivery advances it (the buyer: 403; anyone else: 404; illegal: ILLEGAL_TRANSITION).
    Task<Result<DeliveryRow>> seller_update(Principal who, std::string id, StatusChange change);
    // A verified carrier event: idempotent per event id; an event older than the current status is recorded in
    // the history without moving the status.
    Task<Result<CarrierOutcome>> carrier_event(CarrierEvent e);
    // The courier simulator: moves deliveries that stayed `interval_ms` in SHIPPED, IN_TRANSIT or
    // OUT_FOR_DELIVERY one step forward. Returns how many moved.
    Task<int> simulate_step(long interval_ms, int limit);

private:
    struct Applied {
        bool duplicate = false;
        bool applied = false;
    };
    struct ChangeRequest {
        std::string delivery_id;
        StatusChange change;
        std::string source;                     // SELLER, CARRIER, SIMULATOR
        std::optional<std::string> at;          // the carrier's occurredAt; nullopt: now
        std::optional<std::string> event_id;    // the carrier's event id
        std::optional<Status> expect;           // simulator: only from this status ...
        std::optional<std::string> due_before;  // ... and only when it has held since before this time
    };
    // The one write path of a status change: lock, check, history row, status, outbox event, commit.
    Task<Result<Applied>> change(ChangeRequest r);

    DeliveryRepository repo_;
    events::Publisher* publisher_ = nullptr;
    SellerLookup sellers_;
};

// The JSON representations (every endpoint returns these).
std::string address_json(const AddressRow& a);
std::string delivery_json(const DeliveryRow& d);

// Runs the courier simulator until stop(): every interval/4 (at least 50 ms), one simulate_step.
class CourierSimulator {
public:
    CourierSimulator(DeliveryService& service, std::function<Task<void>(long)> sleep, long interval_ms)
        : service_(service), sleep_(std::move(sleep)), interval_ms_(interval_ms) {}
    Task<void> run();
    void stop() noexcept { stopped_ = true; }

private:
    DeliveryService& service_;
    std::function<Task<void>(long)> sleep_;
    long interval_ms_;
    bool stopped_ = false;
};

}  // namespace om::delivery
