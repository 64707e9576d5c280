#include "order/order_service.hpp"

#include <algorithm>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/ids.hpp"
#include "core/json_out.hpp"
#include "core/log.hpp"
#include "events/backoff.hpp"
#include "events/outbox_relay.hpp"
#include "net/pg.hpp"
#include "net/redis.hpp"
#include "net/wakeup.hpp"
#include "product/product_service.hpp"

namespace om::order {

using json = nlohmann::json;

// ---- SettleBoard ---------------------------------------------------------------------------------------------

struct SettleBoard::Impl {
    using Clock = std::chrono::steady_clock;
    mutable std::mutex mu;
    struct Watch {
        int watchers = 0;
        bool settled = false;
        std::optional<OrderRow> row;  // as committed by the settling step, when it said so
        std::vector<net::Wakeup*> wakes;
        std::optional<OrderRow> handed;  // hand_over(): the order as written (counts as one watcher)
    };
    std::unordered_map<std::string, Watch> watched;
    std::deque<std::pair<Clock::time_point, std::string>> handed;  // in the order of their expiry
    std::unordered_set<std::string> approvals;                          // approval_settled()
    std::deque<std::pair<Clock::time_point, std::string>> approvals_by_expiry;

    void drop_watcher(std::unordered_map<std::string, Watch>::iterator it) {
        if (--it->second.watchers <= 0) {
            watched.erase(it);
        }
    }
    // Releases the hand-overs that expired (nobody came for them).
    void expire(Clock::time_point now) {
        while (!handed.empty() && handed.front().first <= now) {
            auto it = watched.find(handed.front().second);
            if (it != watched.end() && it->second.handed) {
                it->second.handed.reset();
                drop_watcher(it);
            }
            handed.pop_front();
        }
    }

    // Under `mu`: unwatch() waits for it, so a woken Wakeup is alive.
    void mark(Watch& w) {
        w.settled = true;
        for (auto* wake : w.wakes) {
            wake->notify();
        }
    }
};

SettleBoard::SettleBoard() : impl_(std::make_unique<Impl>()) {}
SettleBoard::~SettleBoard() = default;

void SettleBoard::watch(const std::string& id, net::Wakeup* wake) {
    std::lock_guard lock(impl_->mu);
    auto& w = impl_->watched[id];
    ++w.watchers;
    if (wake != nullptr) {
        w.wakes.push_back(wake);
    }
}

void SettleBoard::unwatch(const std::string& id, net::Wakeup* wake) {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->watched.find(id);
    if (it == impl_->watched.end()) {
        return;
    }
    std::erase(it->second.wakes, wake);
    impl_->drop_watcher(it);
}

void SettleBoard::hand_over(const OrderRow& written, std::chrono::milliseconds ttl) {
    const auto now = Impl::Clock::now();
    std::lock_guard lock(impl_->mu);
    impl_->expire(now);
    auto it = impl_->watched.find(written.id);
    if (it == impl_->watched.end() || it->second.handed) {
        return;  // not watched by the caller (cannot be), or handed over already
    }
    it->second.handed = written;
    ++it->second.watchers;
    impl_->handed.emplace_back(now + ttl, written.id);
}

std::optional<OrderRow> SettleBoard::take_over(const std::string& id, const std::string& buyer_id, net::Wakeup* wake) {
    std::lock_guard lock(impl_->mu);
    impl_->expire(Impl::Clock::now());
    auto it = impl_->watched.find(id);
    if (it == impl_->watched.end() || !it->second.handed || it->second.handed->buyer_id != buyer_id) {
        return std::nullopt;
    }
    Impl::Watch& w = it->second;
    std::optional<OrderRow> now = w.settled && w.row ? w.row : std::move(w.handed);
    w.handed.reset();  // the hand-over's watcher becomes the caller's
    if (wake != nullptr) {
        w.wakes.push_back(wake);
        if (w.settled) {
            wake->notify();
        }
    }
    return now;
}

void SettleBoard::settled(const std::string& id) {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->watched.find(id);
    if (it != impl_->watched.end()) {
        it->second.row.reset();
        impl_->mark(it->second);
    }
}

void SettleBoard::settled(OrderRow row) {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->watched.find(row.id);
    if (it != impl_->watched.end()) {
        it->second.row = std::move(row);
        impl_->mark(it->second);
    }
}

void SettleBoard::approval_settled(const std::string& id, std::chrono::milliseconds ttl) {
    const auto now = Impl::Clock::now();
    std::lock_guard lock(impl_->mu);
    auto& by_expiry = impl_->approvals_by_expiry;
    while (!by_expiry.empty() && by_expiry.front().first <= now) {
        impl_->approvals.erase(by_expiry.front().second);
        by_expiry.pop_front();
    }
    if (impl_->approvals.insert(id).second) {
        by_expiry.emplace_back(now + ttl, id);
    }
}

bool SettleBoard::take_approval_settled(const std::string& id) {
    std::lock_guard lock(impl_->mu);
    return impl_->approvals.erase(id) > 0;  // its expiry entry finds nothing to erase later
}

bool SettleBoard::is_settled(const std::string& id) const {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->watched.find(id);
    return it != impl_->watched.end() && it->second.settled;
}

std::optional<OrderRow> SettleBoard::settled_row(const std::string& id) const {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->watched.find(id);
    if (it == impl_->watched.end() || !it->second.settled) {
        return std::nullopt;
    }
    return it->second.row;
}

// ---- helpers -------------------------------------------------------------------------------------------------

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Error not_found() { return Error{ErrorCode::not_found, "No such order"}; }

Error unavailable(std::string detail) {
    Error e{ErrorCode::service_unavailable, std::move(detail)};
    e.with_header("Retry-After", "1");
    return e;
}

Error queue_full() {
    return unavailable("Too many orders are waiting to be saved; try again in a moment.");
}

std::string idem_key(const std::string& buyer, const std::string& key) { return "om:oidem:" + buyer + ":" + key; }

// Sorted, each once: an order's sellers as OrderPlaced and orders.order_sellers name them.
std::vector<std::string> distinct(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

std::vector<std::string> seller_ids(const OrderRow& o) {
    std::vector<std::string> ids;
    for (const auto& item : json::parse(o.items)) {
        ids.push_back(item.at("sellerId").get<std::string>());
    }
    return distinct(std::move(ids));
}

// `sellers`: the order's sellers, distinct().
events::OutboxEvent placed_event(const OrderRow& o, const std::vector<std::string>& sellers) {
    events::OutboxEvent e;
    e.id = new_uuid_v7();
    e.type = "OrderPlaced";
    e.aggregate_id = o.id;
    JsonOut j;  // keys in jsonb's order (JsonOut, json_out.hpp)
    j.begin_object()
        .key("type").value(e.type)
        .key("amount").value(o.total_amount)
        .key("buyerId").value(o.buyer_id)
        .key("eventId").value(e.id)
        .key("orderId").value(o.id)
        .key("currency").value(o.currency)
        .key("addressId").value(o.address_id)
        .key("sellerIds").strings(sellers)
        .key("paymentMethodId").value(o.payment_method_id)
        .end_object();
    e.payload = j.take();
    return e;
}

events::OutboxEvent placed_event(const OrderRow& o) { return placed_event(o, seller_ids(o)); }

events::OutboxEvent cancelled_event(const OrderRow& o, const std::string& reason) {
    events::OutboxEvent e;
    e.id = new_uuid_v7();
    e.type = "OrderCancelled";
    e.aggregate_id = o.id;
    e.payload = json{{"eventId", e.id}, {"type", e.type}, {"orderId", o.id}, {"buyerId", o.buyer_id}, {"reason", reason}}
                    .dump();
    return e;
}

std::vector<product::GateLine> gate_lines(const OrderRow& o) {
    std::vector<product::GateLine> lines;
    for (const auto& l : order_lines(o)) {
        lines.push_back({l.product_id, l.quantity});
    }
    return lines;
}

std::optional<SagaEvent> saga_event(const std::string& type, const json& p) {
    auto str = [&](const char* k) -> std::optional<std::string> {
        auto it = p.find(k);
        if (it == p.end() || !it->is_string()) {
            return std::nullopt;
        }
        return it->get<std::string>();
    };
    SagaEvent e;
    using K = SagaEvent::Kind;
    if (type == "PaymentApproved") {
        e.kind = K::payment_approved;
    } else if (type == "PaymentDeclined") {
        e.kind = K::payment_declined;
    } else if (type == "PaymentFailed") {
        e.kind = K::payment_failed;
    } else if (type == "PaymentRefunded") {
        e.kind = K::payment_refunded;
    } else if (type == "DeliveryCreated") {
        e.kind = K::delivery_created;
    } else if (type == "DeliveryStatusChanged") {
        e.kind = K::delivery_status;
    } else {
        return std::nullopt;
    }
    e.payment_id = str("paymentId");
    e.decline_code = str("declineCode");
    if (type.starts_with("Delivery")) {
        e.delivery_id = str("deliveryId");
        e.delivery_status = str("status");
    }
    return e;
}

FieldError method_problem() { return {"paymentMethodId", "no such payment method"}; }
FieldError address_problem() { return {"addressId", "no such address"}; }
// 422 naming the fields, whether found before the reservation or refused by the group commit.
Error unplaceable(std::vector<FieldError> problems) {
    return Error{ErrorCode::unprocessable, "The order cannot be placed as requested", std::move(problems)};
}

}  // namespace

// ---- OrderService --------------------------------------------------------------------------------------------

OrderService::OrderService(pg::Pool& db, redis::Client& redis, product::ProductService& products,
                           Sleep sleep, SettleBoard& board, OrderOptions options, boost::asio::io_context& io,
                           CommitHub* hub)
    : io_(io),
      db_(db),
      redis_(redis),
      products_(products),
      sleep_(std::move(sleep)),
      board_(board),
      options_(options),
      repo_(db),
      writer_(repo_, options.reservation_ttl.count(), 256, sleep_, static_cast<long>(options.commit_linger.count()),
              options.linger_full_rate, options.commit_queue_max),
      hub_(hub) {
    events::prepare_outbox(db, kOutboxTable);
    writer_.set_forget([this](std::vector<std::string> ids) { return products_.gate().forget(std::move(ids)); });
}

OrderService::~OrderService() {
    if (hub_ != nullptr) {
        hub_->disown(writer_);
    }
}

void OrderService::own_commits() {
    if (hub_ != nullptr) {
        hub_->own(writer_, io_);
    }
}

void OrderService::stop() noexcept {
    stopped_ = true;
    if (hub_ != nullptr) {
        hub_->disown(writer_);  // the other shards write their own orders while this one stops
    }
}

struct OrderService::KeyClaim {
    product::StockGate::Claim claim;
    bool taken = false;                 // the reservation took it: this request owns the key
    std::optional<std::string> holder;  // another request holds it ("<order id>|<request hash>"): nothing reserved
};

Task<Result<Placed>> OrderService::place(Principal who, PlaceOrder cmd, std::string idempotency_key,
                                         std::string request_hash) {
    // One request per (buyer, key) at a time: the request whose stock reservation takes the key in Redis (in the
    // reservation's own script: no round trip of its own) owns the order id; the others wait for that order to
    // exist and answer with it. A request that reserves nothing holds nothing. PostgreSQL's UNIQUE (buyer_id,
    // idempotency_key) is the final arbiter (Redis may lose the key).
    const std::string order_id = new_uuid_v7();
    KeyClaim claim;
    claim.claim = {idem_key(who.member_id, idempotency_key), order_id + "|" + request_hash, 86400};
    const auto give_up_at = now_ms() + options_.settle_wait.count() + options_.reservation_ttl.count();
    long pause = 5;
    while (true) {
        Result<Placed> placed;
        std::exception_ptr failure;
        claim.holder.reset();
        try {
            placed = co_await place_owned(who, cmd, idempotency_key, request_hash, order_id, claim);
        } catch (...) {
            failure = std::current_exception();
        }
        if (!failure && claim.holder) {
            const std::string& held = *claim.holder;
            const auto bar = held.find('|');
            if (bar == std::string::npos || held.substr(bar + 1) != request_hash) {
                co_return std::unexpected(Error{ErrorCode::idempotency_key_reused,
                                                "This Idempotency-Key was used for a different order request"});
            }
            auto existing = co_await repo_.find(held.substr(0, bar));
            if (existing) {
                co_return co_await replay(std::move(*existing), request_hash, wait_for(cmd));
            }
            if (now_ms() > give_up_at) {
                Error e{ErrorCode::conflict, "A request with this Idempotency-Key is still being processed"};
                e.with_header("Retry-After", "1");
                co_return std::unexpected(std::move(e));
            }
            co_await sleep_(pause);
            pause = std::min(pause * 2, 100L);
            continue;
        }
        if (claim.taken && (failure || !placed)) {
            // Nothing was ordered (or, after a database failure, maybe it was): free the key so that a retry, or
            // a waiting duplicate, tries again by itself. Should the earlier write still commit, the retry's write
            // meets UNIQUE (buyer_id, idempotency_key) and answers that order.
            co_await redis::release_if_held(redis_, claim.claim.key, claim.claim.value);
        }
        if (failure) {
            std::rethrow_exception(failure);
        }
        co_return placed;
    }
}

std::chrono::milliseconds OrderService::wait_for(const PlaceOrder& cmd) const noexcept {
    return cmd.wait ? std::clamp(*cmd.wait, std::chrono::milliseconds(0), options_.settle_wait) : options_.settle_wait;
}

Task<Result<Placed>> OrderService::replay(OrderRow existing, std::string hash, std::chrono::milliseconds wait) {
    if (existing.request_hash != hash) {
        co_return std::unexpected(
            Error{ErrorCode::idempotency_key_reused, "This Idempotency-Key was used for a different order request"});
    }
    co_return co_await wait_settled(existing.id, std::nullopt, wait);
}

Task<Result<Placed>> OrderService::place_owned(Principal who, const PlaceOrder& cmd, std::string key,
                                               std::string hash, std::string order_id, KeyClaim& claim) {
    const std::string buyer = who.member_id;
    const auto wait = wait_for(cmd);
    auto placed = co_await place_new(std::move(who), cmd, key, hash, std::move(order_id), false, claim);
    if (!placed && !claim.holder) {
        // Refused before anything was written: an earlier request with this key may have committed (its Redis key
        // lost or expired), and a retry must get that order, not this refusal. Asked only on this path, so that
        // a successful order costs no extra query (a commit meets UNIQUE (buyer_id, idempotency_key) anyway).
        auto earlier = co_await repo_.find_by_key(buyer, key);
        if (earlier) {
            co_return co_await replay(std::move(*earlier), hash, wait);
        }
    }
    co_return placed;
}

Task<Result<Placed>> OrderService::place_new(Principal who, const PlaceOrder& cmd, std::string key,
                                             std::string hash, std::string order_id, bool price_from_database,
                                             KeyClaim& claim) {
    std::vector<std::string> ids;
    for (const auto& l : cmd.items) {
        ids.push_back(l.product_id);
    }
    // Priced from the shard's copies of the product rows unless told otherwise. Should a copy be out of date, the
    // group commit refuses the order (CHANGED) and it is priced again, from PostgreSQL.
    auto rows = co_await products_.price_rows(ids, price_from_database);
    std::unordered_map<std::string, const product::ProductRow*> by_id;
    for (const auto& r : rows) {
        by_id.emplace(r.id, &r);
    }
    std::vector<FieldError> problems;
    JsonOut items;  // the order's items as stored and shown
    items.begin_array();
    std::vector<std::string> sellers;
    std::int64_t total = 0;
    std::string currency;
    for (std::size_t i = 0; i < cmd.items.size(); ++i) {
        const auto& line = cmd.items[i];
        const std::string field = "items[" + std::to_string(i) + "].productId";
        auto it = by_id.find(line.product_id);
        if (it == by_id.end()) {
            problems.push_back({field, "no such product"});
            continue;
        }
        const auto& p = *it->second;
        if (p.status != "ACTIVE") {
            problems.push_back({field, "this product is not on sale"});
            continue;
        }
        if (currency.empty()) {
            currency = p.currency;
        } else if (p.currency != currency) {
            problems.push_back({field, "all items of an order must have the same currency (" + currency + ")"});
            continue;
        }
        std::int64_t line_total = 0;
        if (__builtin_mul_overflow(p.price, line.quantity, &line_total) ||
            __builtin_add_overflow(total, line_total, &total)) {
            problems.push_back({"items[" + std::to_string(i) + "].quantity", "the amount is too large"});
            continue;
        }
        items.begin_object()  // keys in jsonb's order, as PostgreSQL stores and shows them
            .key("name").value(p.name)
            .key("quantity").value(line.quantity)
            .key("sellerId").value(p.seller_id)
            .key("lineTotal").value(line_total)
            .key("productId").value(p.id)
            .key("unitPrice").value(p.price)
            .end_object();
        sellers.push_back(p.seller_id);
    }
    items.end_array();
    sellers = distinct(std::move(sellers));
    if (!price_from_database && (!problems.empty() || total <= 0)) {
        // A copy can be out of date the other way too (a product back on sale, a new price): an order is refused
        // for its products only as they are in PostgreSQL.
        products_.forget_copies(ids);
        co_return co_await place_new(std::move(who), cmd, std::move(key), std::move(hash), std::move(order_id), true,
                                     claim);
    }
    // That the payment method and the address are the buyer's and live is checked by the group commit
    // (orders.place_orders asks the payment and delivery services' functions), in the transaction that writes
    // the order: no lookups before it. Here only their form.
    if (!is_uuid(cmd.payment_method_id)) {
        problems.push_back(method_problem());
    }
    if (!is_uuid(cmd.address_id)) {
        problems.push_back(address_problem());
    }
    if (!problems.empty()) {
        co_return std::unexpected(unplaceable(std::move(problems)));
    }
    if (total <= 0) {
        co_return std::unexpected(Error{ErrorCode::unprocessable, "The order's total must be above zero",
                                        {{"items", "every product of this order is free"}}});
    }

    // Overload: refused before anything is reserved, rather than queued behind thousands of orders.
    if (hub_ != nullptr ? hub_->full(writer_) : writer_.full()) {
        co_return std::unexpected(queue_full());
    }
    // Reserve every line or none.
    std::vector<product::GateLine> lines;
    for (const auto& l : cmd.items) {
        lines.push_back({l.product_id, l.quantity});
    }
    auto& gate = products_.gate();
    product::Reserved reserved;
    for (int attempt = 0; attempt < 3; ++attempt) {
        const std::int64_t reserved_at = now_ms();
        reserved = co_await gate.reserve(order_id, lines, reserved_at, claim.claim);
        if (reserved.status == product::Reserved::Status::claimed) {
            claim.holder = std::move(reserved.holder);
            co_return std::unexpected(Error{ErrorCode::conflict, "Another request holds this Idempotency-Key"});
        }
        if (reserved.status == product::Reserved::Status::reserved) {
            claim.taken = true;
        }
        if (reserved.status == product::Reserved::Status::not_ready) {
            const bool ready = co_await ensure_gate();
            if (!ready) {
                co_return std::unexpected(unavailable("The stock gate is being rebuilt; try again in a moment."));
            }
            continue;
        }
        if (reserved.status == product::Reserved::Status::missing) {
            std::vector<std::string> missing;
            for (const auto& [index, available] : reserved.lines) {
                missing.push_back(cmd.items[index].product_id);
            }
            co_await products_.seed_gate(std::move(missing));
            continue;
        }
        break;
    }
    if (reserved.status == product::Reserved::Status::short_of_stock ||
        reserved.status == product::Reserved::Status::missing) {
        std::vector<FieldError> short_lines;
        for (const auto& [index, available] : reserved.lines) {
            short_lines.push_back({"items[" + std::to_string(index) + "].quantity",
                                   "only " + std::to_string(available) + " in stock"});
        }
        co_return std::unexpected(
            Error{ErrorCode::out_of_stock, "Not enough stock for some items; nothing was reserved", std::move(short_lines)});
    }
    if (reserved.status != product::Reserved::Status::reserved) {
        co_return std::unexpected(unavailable("The stock gate is being rebuilt; try again in a moment."));
    }

    // Durable: the order, its stock movements and OrderPlaced, in a group commit.
    const std::string at = now_rfc3339();
    OrderRow draft;
    draft.id = order_id;
    draft.buyer_id = who.member_id;
    draft.items = items.take();
    draft.total_amount = total;
    draft.currency = currency;
    draft.payment_method_id = cmd.payment_method_id;
    draft.address_id = cmd.address_id;
    events::OutboxEvent placed = placed_event(draft, sellers);
    // One element of orders.place_orders' batch.
    // Keys in jsonb's order (JsonOut, json_out.hpp).
    JsonOut element;
    element.begin_object()
        .key("at").value(at)
        .key("id").value(order_id)
        .key("key").value(key)
        .key("hash").value(hash)
        .key("epoch").value(reserved.epoch)
        .key("event").raw(placed.payload)
        .key("items").raw(draft.items)
        .key("lines").begin_array();
    for (const auto& l : cmd.items) {
        // The version of the row this line was priced from, checked by the group commit.
        element.begin_object()
            .key("version").value(by_id.at(l.product_id)->version)
            .key("quantity").value(l.quantity)
            .key("productId").value(l.product_id)
            .end_object();
    }
    element.end_array()
        .key("total").value(total)
        .key("buyerId").value(who.member_id)
        .key("sellers").strings(sellers)
        .key("currency").value(currency)
        .key("methodId").value(cmd.payment_method_id)
        .key("addressId").value(cmd.address_id)
        .key("reservedAtMs").value(now_ms())
        .end_object();
    std::string element_json = element.take();
    WriteResult written;
    if (hub_ != nullptr) {
        written = co_await hub_->write(io_, writer_, std::move(element_json), std::move(placed));
    } else {
        written = co_await writer_.write(std::move(element_json), std::move(placed));
    }
    using Kind = WriteResult::Kind;
    if (written.kind == Kind::unknown) {
        // The commit may have happened: keep the reservation; the sweeper releases it if the order never
        // appears in PostgreSQL.
        log::error("order write failed", {{"order_id", order_id}, {"error", written.error}});
        throw Unavailable("the order could not be saved: " + written.error);
    }
    if (written.kind != Kind::created) {
        try {
            co_await gate.release(order_id);
        } catch (const std::exception& e) {
            log::warn("reservation release failed; the sweeper will release it",
                      {{"order_id", order_id}, {"error", e.what()}});
        }
    }
    if (written.kind == Kind::changed) {
        products_.forget_copies(ids);
        if (!price_from_database) {
            co_return co_await place_new(std::move(who), cmd, std::move(key), std::move(hash), std::move(order_id),
                                         true, claim);
        }
        // Changed again between a fresh read and the commit: the product is being edited right now.
        co_return std::unexpected(unavailable("A product of this order is being changed; try again in a moment."));
    }
    if (written.kind == Kind::duplicate) {
        std::optional<OrderRow> existing;
        if (written.existing_id) {
            existing = co_await repo_.find(*written.existing_id);
        }
        if (!existing) {
            throw std::runtime_error("order of a duplicate idempotency key vanished");
        }
        co_return co_await replay(std::move(*existing), hash, wait_for(cmd));
    }
    if (written.kind == Kind::invalid) {
        std::vector<FieldError> refused;
        if (written.bad_method) {
            refused.push_back(method_problem());
        }
        if (written.bad_address) {
            refused.push_back(address_problem());
        }
        co_return std::unexpected(unplaceable(std::move(refused)));
    }
    if (written.kind == Kind::out_of_stock) {
        co_return std::unexpected(Error{ErrorCode::out_of_stock, "Not enough stock for some items; nothing was reserved"});
    }
    if (written.kind == Kind::overloaded) {
        co_return std::unexpected(queue_full());
    }
    if (written.kind == Kind::stale) {
        co_return std::unexpected(unavailable("The stock reservation expired before the order could be saved."));
    }
    // The reservation's record is dropped by the group commit, for its whole batch, after the answers.
    // The order as orders.place_orders wrote it.
    draft.status = Status::pending;
    draft.history = R"([{"at": ")" + at + R"(", "status": "PENDING"}])";
    draft.created_at = at;
    draft.updated_at = at;
    draft.request_hash = hash;
    draft.gate_epoch = reserved.epoch;
    co_return co_await wait_settled(order_id, std::move(draft), wait_for(cmd));
}

namespace {

// How long an order answered 202 stays on the board for the buyer's next read.
constexpr std::chrono::milliseconds kHandOver{5000};

// A request's interest in one order on the settle board, for as long as it lives.
class Watching {
public:
    enum class Begin : std::uint8_t { now, taken_over };
    Watching(SettleBoard& board, std::string id, net::Wakeup& wake, Begin begin = Begin::now)
        : board_(board), id_(std::move(id)), wake_(wake) {
        if (begin == Begin::now) {
            board_.watch(id_, &wake_);
        }
    }
    ~Watching() { board_.unwatch(id_, &wake_); }
    Watching(const Watching&) = delete;
    Watching& operator=(const Watching&) = delete;

private:
    SettleBoard& board_;
    std::string id_;
    net::Wakeup& wake_;
};

}  // namespace

Task<Placed> OrderService::wait_settled(std::string id, std::optional<OrderRow> written,
                                        std::chrono::milliseconds wait) {
    net::Wakeup wake(io_);
    Watching watching(board_, id, wake);
    // A fresh order is PENDING: no need to read it before its saga moves (it takes several hops, so it cannot
    // settle before the watch begins).
    const bool fresh = written.has_value();
    std::optional<OrderRow> row = std::move(written);
    if (!row) {
        row = co_await repo_.find(id);
    }
    if (!row) {
        throw std::runtime_error("order " + id + " vanished");
    }
    auto placed = co_await settle(std::move(*row), wake, wait);
    if (fresh && !placed.settled) {
        board_.hand_over(placed.order, kHandOver);  // the 202's Location is read next: from the board
    }
    co_return placed;
}

Task<Placed> OrderService::settle(OrderRow known, net::Wakeup& wake, std::chrono::milliseconds wait) {
    // The board wakes this request when this process's saga settled the order; PostgreSQL is asked then, and
    // after 500 ms, 1.5 s, 3.5 s ... in case another process settled it.
    const std::string id = known.id;
    std::optional<OrderRow> row = std::move(known);
    const auto start = now_ms();
    const auto deadline = start + wait.count();
    std::int64_t ask_every = 500;  // doubles: under overload, waiting requests must not add much reading
    auto next_ask = start + ask_every;
    while (row && !is_settled(row->status) && now_ms() < deadline) {
        co_await wake.wait(static_cast<long>(std::max<std::int64_t>(1, std::min(deadline, next_ask) - now_ms())));
        if (auto committed = board_.settled_row(id)) {
            row = std::move(*committed);  // this process's saga settled it: the row as it committed
        } else if (board_.is_settled(id) || now_ms() >= next_ask) {
            ask_every *= 2;
            next_ask = now_ms() + ask_every;
            row = co_await repo_.find(id);
        }
    }
    if (!row) {
        throw std::runtime_error("order " + id + " vanished");
    }
    const bool settled = is_settled(row->status);
    co_return Placed{std::move(*row), settled};
}

Task<bool> OrderService::ensure_gate() {
    const auto give_up_at = now_ms() + 3000;
    while (now_ms() < give_up_at) {
        const bool rebuilt = co_await products_.rebuild_gate();
        if (rebuilt) {
            co_return true;
        }
        co_await sleep_(50);  // another shard or process is rebuilding
        auto epoch = co_await products_.gate().epoch();
        if (!epoch.empty()) {
            co_return true;
        }
    }
    co_return false;
}

Task<Result<OrderRow>> OrderService::get(Principal who, std::string id, std::chrono::milliseconds wait) {
    if (!is_uuid(id)) {
        co_return std::unexpected(not_found());
    }
    std::optional<net::Wakeup> wake;  // (declared before the watch, which refers to it)
    std::optional<Watching> watching;
    if (wait.count() > 0) {
        wake.emplace(io_);
        // An order this buyer's POST answered with 202 a moment ago: waited for without a query.
        if (auto known = board_.take_over(id, who.member_id, &*wake)) {
            Watching taken(board_, id, *wake, Watching::Begin::taken_over);
            auto now = co_await settle(std::move(*known), *wake, wait);
            co_return std::move(now.order);
        }
        // Watched before it is read, so that a settlement between the read and the wait wakes it.
        watching.emplace(board_, id, *wake);
    }
    auto o = co_await repo_.find(id);
    if (!o) {
        co_return std::unexpected(not_found());
    }
    if (o->buyer_id != who.member_id) {
        const bool seller = co_await repo_.is_seller_of(who.member_id, id);
        if (!seller) {
            co_return std::unexpected(not_found());
        }
    }
    if (!watching || is_settled(o->status)) {
        co_return std::move(*o);
    }
    auto now = co_await settle(std::move(*o), *wake, wait);
    co_return std::move(now.order);
}

Task<OrderPage> OrderService::list(Principal who, bool as_seller, std::optional<std::string> status, int limit,
                                   std::optional<std::string> before) {
    std::vector<OrderRow> rows;  // (no co_await inside ?: — GCC 12)
    if (as_seller) {
        rows = co_await repo_.list_for_seller(who.member_id, status, before, limit + 1);
    } else {
        rows = co_await repo_.list_for_buyer(who.member_id, status, before, limit + 1);
    }
    OrderPage page;
    if (static_cast<int>(rows.size()) > limit) {
        rows.resize(static_cast<std::size_t>(limit));
        page.next_cursor = rows.back().id;
    }
    page.items = std::move(rows);
    co_return page;
}

Task<Result<OrderRow>> OrderService::cancel(Principal who, std::string id) {
    if (!is_uuid(id)) {
        co_return std::unexpected(not_found());
    }
    std::string epoch;
    {
        auto tx = co_await repo_.begin();
        auto o = co_await repo_.lock(tx, id);
        if (!o || o->buyer_id != who.member_id) {
            co_return std::unexpected(not_found());
        }
        if (o->status == Status::cancelled) {
            co_return std::move(*o);  // cancelled already: nothing more to do (the lease rolls back)
        }
        if (o->status == Status::shipped || o->status == Status::delivered) {
            co_return std::unexpected(Error{ErrorCode::illegal_transition,
                                            "An order that has " + std::string(to_string(o->status)) +
                                                " can no longer be cancelled"});
        }
        epoch = co_await repo_.return_stock(tx, id);
        OrderChange c;
        c.status = Status::cancelled;
        c.steps = {Status::cancelled};
        c.cancel_reason = "BUYER_CANCELLED";
        c.gate_epoch = epoch;
        c.gate_pending = true;
        c.at = now_rfc3339();
        co_await repo_.apply(tx, id, c);
        co_await events::append(tx, kOutboxTable, cancelled_event(*o, "BUYER_CANCELLED"));
        co_await repo_.commit(tx);
        events::announce(kOutboxTable);
    }
    auto o = co_await repo_.find(id);
    if (!o) {
        throw std::runtime_error("cancelled order vanished");
    }
    co_await give_back(*o, epoch);
    board_.settled(id);
    co_return std::move(*o);
}

Task<void> OrderService::give_back(OrderRow o, std::string epoch) {
    try {
        co_await products_.gate().give_back(o.id, gate_lines(o), epoch);
        co_await repo_.gate_given_back(o.id);
    } catch (const std::exception& e) {
        // The maintenance loop finishes it (orders.gate_pending).
        log::warn("stock give-back to the gate postponed", {{"order_id", o.id}, {"error", e.what()}});
    }
}

Task<events::HandlerResult> OrderService::on_event(events::StreamEntry entry) {
    std::vector<events::StreamEntry> one{std::move(entry)};
    auto results = co_await on_events(std::move(one));
    co_return results.at(0);
}

Task<std::vector<events::HandlerResult>> OrderService::on_events(std::vector<events::StreamEntry> entries) {
    if (options_.approval_defer.count() <= 0) {
        co_return co_await apply_events(std::move(entries));
    }
    std::vector<events::HandlerResult> results(entries.size(), events::HandlerResult::success());
    std::vector<events::StreamEntry> now;
    std::vector<std::size_t> now_index;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].type() == "PaymentApproved") {
            defer(std::move(entries[i]));
        } else {
            now.push_back(std::move(entries[i]));
            now_index.push_back(i);
        }
    }
    if (!now.empty()) {
        auto applied = co_await apply_events(std::move(now));
        for (std::size_t k = 0; k < applied.size(); ++k) {
            results[now_index[k]] = std::move(applied[k]);
        }
    }
    co_return results;
}

// A deferred approval is acknowledged in its stream before it is applied. Should this process die before that,
// the order still gets there: the DeliveryCreated that follows names the payment, and an order left PENDING
// has its saga resumed (OrderPlaced again, answered by the same payment's approval) after resume_after.
void OrderService::defer(events::StreamEntry entry) {
    deferred_.push_back({now_ms() + options_.approval_defer.count(), std::move(entry)});
    if (!draining_deferred_) {
        draining_deferred_ = true;
        start_detached(drain_deferred(), [](std::exception_ptr) {});
    }
}

Task<void> OrderService::drain_deferred() {
    while (!deferred_.empty() && !stopped_) {
        const std::int64_t wait = deferred_.front().due_ms - now_ms();
        if (wait > 0) {
            co_await sleep_(static_cast<long>(wait));
            continue;
        }
        std::vector<events::StreamEntry> due;
        const std::int64_t t = now_ms();
        while (!deferred_.empty() && deferred_.front().due_ms <= t) {
            // Mostly repeats by now: the order was confirmed with the payment (by this process: nothing to do).
            // A payment event's aggregate is its order.
            if (!board_.take_approval_settled(deferred_.front().entry.aggregate_id())) {
                due.push_back(std::move(deferred_.front().entry));
            }
            deferred_.pop_front();
        }
        if (due.empty()) {
            continue;
        }
        std::string failed;
        try {
            // The others: one lock of the batch, and a write where the approval still changes the order.
            auto results = co_await apply_events(due);
            for (std::size_t i = 0; i < results.size(); ++i) {
                if (!results[i].ok) {
                    log::warn("deferred payment approval not applied",
                              {{"entry", due[i].id}, {"error", results[i].error}});
                }
            }
        } catch (const std::exception& e) {
            failed = *e.what() != '\0' ? e.what() : "unknown error";
        }
        if (!failed.empty()) {
            log::warn("deferred payment approvals failed; retrying in 1 s", {{"entries", due.size()}, {"error", failed}});
            for (auto& e : due) {
                deferred_.push_back({now_ms() + 1000, std::move(e)});
            }
            co_await sleep_(1000);
        }
    }
    draining_deferred_ = false;
}

// A batch of saga events in one transaction: the orders they name locked in id order, each event decided against
// its order as it stands (decide(), order_model.cpp), every change written by one statement. An order named by
// several events of the batch takes the first here; the others go through a second round after the commit.
Task<std::vector<events::HandlerResult>> OrderService::apply_events(std::vector<events::StreamEntry> entries) {
    std::vector<events::HandlerResult> results(entries.size(), events::HandlerResult::success());
    struct Item {
        std::size_t index;
        std::string order_id;
        SagaEvent event;
    };
    std::vector<Item> items;
    std::vector<events::StreamEntry> later;  // a second event for an order of this round
    std::vector<std::size_t> later_index;
    std::unordered_map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const json p = json::parse(entries[i].payload(), nullptr, false);
        if (p.is_discarded() || !p.is_object()) {
            results[i] = events::HandlerResult::failure("the payload is not a JSON object");
            continue;
        }
        auto ev = saga_event(entries[i].type(), p);
        if (!ev || !p.contains("orderId") || !p["orderId"].is_string()) {
            continue;
        }
        std::string id = p["orderId"].get<std::string>();
        if (!is_uuid(id)) {
            continue;
        }
        if (seen.contains(id)) {
            later.push_back(entries[i]);
            later_index.push_back(i);
            continue;
        }
        seen.emplace(id, items.size());
        items.push_back({i, std::move(id), std::move(*ev)});
    }
    if (items.empty()) {
        co_return results;
    }
    struct After {
        OrderRow order;
        std::optional<std::string> epoch;
    };
    std::vector<After> after;
    std::vector<OrderRow> committed;  // the changed orders as they stand after the commit
    bool cancels = false;
    {
        std::vector<std::string> ids;
        ids.reserve(items.size());
        for (const auto& it : items) {
            ids.push_back(it.order_id);
        }
        auto tx = co_await repo_.begin();
        auto locked = co_await repo_.lock_many(tx, std::move(ids));
        std::unordered_map<std::string, OrderRow*> by_id;
        for (auto& o : locked) {
            by_id.emplace(o.id, &o);
        }
        std::vector<std::pair<std::string, OrderChange>> changes;
        const std::string at = now_rfc3339();
        for (const auto& it : items) {
            const auto found = by_id.find(it.order_id);
            if (found == by_id.end()) {
                continue;  // a delivery made through POST /delivery/process-delivery for an id that is not an order
            }
            OrderRow& o = *found->second;
            const Decision d = decide(o, it.event);
            if (!d.changes_anything() && !d.request_cancel) {
                continue;  // a repeat: nothing left to do
            }
            OrderChange c;
            c.status = d.status;
            if (d.status) {
                c.steps = steps(o.status, *d.status);
            }
            c.cancel_reason = d.cancel_reason;
            c.payment_id = d.payment_id;
            c.payment_status = d.payment_status;
            c.decline_code = d.decline_code;
            c.delivery_id = d.delivery_id;
            c.delivery_status = d.delivery_status;
            c.at = at;
            std::optional<std::string> epoch;
            if (d.return_stock) {
                epoch = co_await repo_.return_stock(tx, o.id);
                c.gate_epoch = epoch;
                c.gate_pending = true;
            }
            if (d.request_cancel) {
                co_await events::append(tx, kOutboxTable, cancelled_event(o, o.cancel_reason.value_or("CANCELLED")));
                cancels = true;
            }
            if (d.status || d.return_stock) {
                OrderRow a = o;
                a.status = d.status.value_or(a.status);
                after.push_back({std::move(a), std::move(epoch)});
            }
            changes.emplace_back(o.id, std::move(c));
        }
        committed = co_await repo_.apply_many(tx, std::move(changes));
        co_await repo_.commit(tx);
    }
    if (cancels) {
        events::announce(kOutboxTable);
    }
    for (auto& a : after) {
        if (a.epoch) {
            co_await give_back(a.order, *a.epoch);
        }
    }
    for (auto& o : committed) {
        if (options_.approval_defer.count() > 0 && approval_settled(o)) {
            board_.approval_settled(o.id, options_.approval_defer * 4 + std::chrono::seconds(5));
        }
        if (is_settled(o.status)) {
            board_.settled(std::move(o));
        }
    }
    if (!later.empty()) {
        auto more = co_await apply_events(std::move(later));
        for (std::size_t k = 0; k < more.size(); ++k) {
            results[later_index[k]] = std::move(more[k]);
        }
    }
    co_return results;
}

// ---- maintenance ---------------------------------------------------------------------------------------------

Task<int> OrderService::maintain_once() {
    int done = 0;
    auto epoch = co_await products_.gate().epoch();
    if (epoch.empty()) {
        const bool rebuilt = co_await products_.rebuild_gate();
        done += rebuilt ? 1 : 0;
    }
    done += co_await sweep_reservations();
    done += co_await finish_give_backs();
    done += co_await resume_sagas();
    co_return done;
}

Task<int> OrderService::sweep_reservations() {
    // A reservation this old can no longer commit (orders.place_orders refuses it), so whether its order exists
    // in PostgreSQL is final.
    const std::int64_t before = now_ms() - options_.reservation_ttl.count() - 5000;
    auto& gate = products_.gate();
    auto ids = co_await gate.stale_reservations(before, 200);
    if (ids.empty()) {
        co_return 0;
    }
    auto durable = co_await repo_.existing(ids);
    for (const auto& id : ids) {
        if (std::find(durable.begin(), durable.end(), id) == durable.end()) {
            const bool released = co_await gate.release(id);
            if (released) {
                log::warn("released an abandoned stock reservation", {{"order_id", id}});
            }
        }
    }
    co_await gate.forget(std::move(durable));  // the records of orders that did commit, in one script
    co_return static_cast<int>(ids.size());
}

Task<int> OrderService::finish_give_backs() {
    auto rows = co_await repo_.gate_pending(100);
    for (auto& o : rows) {
        const std::string epoch = o.gate_epoch;
        co_await give_back(o, epoch);
    }
    co_return static_cast<int>(rows.size());
}

Task<int> OrderService::resume_sagas() {
    // The sweep behind it scans the orders created since its last scan (migration 0021): every sixth of
    // resume-after (every 5 s at the default 30 s), not every round.
    const auto now = std::chrono::steady_clock::now();
    if (now < next_resume_sweep_) {
        co_return 0;
    }
    next_resume_sweep_ = now + std::chrono::milliseconds(
                                   std::clamp<std::int64_t>(options_.resume_after.count() / 6, 500, 5000));
    auto rows = co_await repo_.unsettled(static_cast<long>(options_.resume_after.count()), 100);
    if (scan_age_) {
        scan_age_(co_await repo_.unsettled_scan_age());
    }
    for (const auto& o : rows) {
        // OrderPlaced again: the payment is idempotent per order, so this charges at most once and re-announces
        // the outcome; delivery creation is idempotent per order too.
        auto tx = co_await repo_.begin();
        auto locked = co_await repo_.lock(tx, o.id);
        if (locked && (locked->status == Status::pending || locked->status == Status::paid)) {
            co_await events::append(tx, kOutboxTable, placed_event(*locked));
            co_await repo_.touch_resumed(tx, o.id);
            log::warn("resuming a quiet order saga", {{"order_id", o.id}, {"status", to_string(locked->status)}});
        }
        co_await repo_.commit(tx);
        events::announce(kOutboxTable);
    }
    co_return static_cast<int>(rows.size());
}

Task<void> OrderService::run_maintenance() {
    // Every 500 ms; after a failure (Redis or PostgreSQL not reachable yet, e.g. at start) again after 50 ms,
    // doubling up to 5 s, so that the gate is ready as soon as Redis is.
    events::Backoff backoff(50, 5000);
    while (!stopped_) {
        long pause = 500;
        try {
            co_await maintain_once();
            backoff.succeeded();
        } catch (const std::exception& e) {
            const auto p = backoff.failed();
            if (p.log) {
                log::warn("order maintenance failed", {{"error", e.what()}, {"retry_ms", p.ms}});
            }
            pause = p.ms;
        }
        co_await events::pause_unless_stopped(sleep_, pause, stopped_);
    }
}

}  // namespace om::order
