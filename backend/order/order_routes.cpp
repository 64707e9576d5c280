#include "order/order_routes.hpp"

#include <algorithm>
#include <chrono>
#include <set>

#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "core/app.hpp"
#include "core/json.hpp"
#include "order/order_service.hpp"

namespace om::order {

namespace {

using nlohmann::json;

// The longest `Prefer: wait` a GET of an order is held for.
constexpr long kMaxGetWaitSeconds = 20;

Response order_response(int status, const OrderRow& o, std::optional<long> waited = std::nullopt) {
    auto res = json_response(status, order_json(o));
    if (status == 202) {
        res.headers.set("Location", "/order/orders/" + o.id);
    }
    if (waited) {
        res.headers.set("Preference-Applied", "wait=" + std::to_string(*waited));
    }
    return res;
}

// The body of POST /order/process-order, every problem collected into one 400.
Result<PlaceOrder> parse_place(const json& obj) {
    Validator v(obj);
    PlaceOrder cmd;
    auto method = v.string("paymentMethodId", {.max = 36});
    auto address = v.string("addressId", {.max = 36});
    if (method && !is_uuid(*method)) {
        v.fail("paymentMethodId", "must be a payment method id (UUID)");
    }
    if (address && !is_uuid(*address)) {
        v.fail("addressId", "must be an address id (UUID)");
    }
    const auto it = obj.find("items");
    if (it == obj.end()) {
        v.fail("items", "is required");
    } else if (!it->is_array()) {
        v.fail("items", "must be an array of {productId, quantity}");
    } else if (it->empty() || it->size() > static_cast<std::size_t>(kMaxLines)) {
        v.fail("items", "must have 1-" + std::to_string(kMaxLines) + " lines");
    } else {
        std::set<std::string> seen;
        for (std::size_t i = 0; i < it->size(); ++i) {
            const json& line = (*it)[i];
            const std::string at = "items[" + std::to_string(i) + "]";
            if (!line.is_object()) {
                v.fail(at, "must be an object {productId, quantity}");
                continue;
            }
            OrderLine l;
            const auto pid = line.find("productId");
            if (pid == line.end() || !pid->is_string() || !is_uuid(pid->get<std::string>())) {
                v.fail(at + ".productId", "must be a product id (UUID)");
            } else {
                l.product_id = pid->get<std::string>();
                if (!seen.insert(l.product_id).second) {
                    v.fail(at + ".productId", "appears twice; give one line per product");
                }
            }
            const auto q = line.find("quantity");
            if (q == line.end() || !q->is_number_integer()) {
                v.fail(at + ".quantity", "must be an integer");
            } else {
                const auto n = q->get<std::int64_t>();
                if (n < 1 || n > kMaxQuantity) {
                    v.fail(at + ".quantity", "must be 1-" + std::to_string(kMaxQuantity));
                }
                l.quantity = n;
            }
            for (const auto& [k, _] : line.items()) {
                if (k != "productId" && k != "quantity") {
                    v.fail(at + "." + k, "is not a field of an order line");
                }
            }
            cmd.items.push_back(std::move(l));
        }
    }
    if (!v.ok()) {
        return std::unexpected(v.error());
    }
    cmd.payment_method_id = std::move(*method);
    cmd.address_id = std::move(*address);
    return cmd;
}

}  // namespace

void add_routes(Router& router, OrderService& svc) {
    router.post("/order/process-order", [&svc](Request& req) -> Task<Response> {
        if (req.member().role != "BUYER") {
            co_return problem(Error{ErrorCode::forbidden, "Only buyers place orders"}, req.path);
        }
        const auto key = req.idempotency_key();
        if (!key) {
            co_return problem(Error{ErrorCode::validation_failed, "An Idempotency-Key header is required",
                                    {{"Idempotency-Key", "is required: a retry with the same key never orders twice"}}},
                              req.path);
        }
        if (auto bad = check_idempotency_key(key)) {
            co_return problem(*bad, req.path);
        }
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        auto cmd = parse_place(*obj);
        if (!cmd) {
            co_return problem(cmd.error(), req.path);
        }
        // The request's meaning (line order included), independent of spacing and field order.
        json lines = json::array();
        for (const auto& l : cmd->items) {
            lines.push_back({l.product_id, l.quantity});
        }
        const std::string hash =
            sha256_hex(json{{"items", lines}, {"paymentMethodId", cmd->payment_method_id}, {"addressId", cmd->address_id}}
                           .dump());
        // `Prefer: wait=N` (RFC 7240): the client waits at most N seconds for the outcome (0: answer as soon as
        // the order is durable, 202 unless it has settled); never longer than the server's own bound.
        const auto wait = req.prefer_wait();
        if (wait) {
            cmd->wait = std::chrono::seconds(*wait);
        }
        auto placed = co_await svc.place(req.member(), std::move(*cmd), std::string(*key), hash);
        if (!placed) {
            co_return problem(placed.error(), req.path);
        }
        // Said applied only when it was as asked (a longer wait was cut to the server's bound).
        const bool applied = wait && std::chrono::seconds(*wait) <= svc.settle_wait();
        co_return order_response(placed->settled ? 201 : 202, placed->order, applied ? wait : std::nullopt);
    }, Auth::required);

    router.get("/order/orders/{orderId}", [&svc](Request& req) -> Task<Response> {
        // `Prefer: wait=N`: while the order has not settled, wait up to N seconds (at most 20) for it to.
        std::optional<long> wait = req.prefer_wait();
        if (wait) {
            wait = std::min(*wait, kMaxGetWaitSeconds);
        }
        const std::chrono::milliseconds waiting = std::chrono::seconds(wait.value_or(0));
        auto o = co_await svc.get(req.member(), std::string(req.param("orderId")), waiting);
        if (!o) {
            co_return problem(o.error(), req.path);
        }
        co_return order_response(200, *o, wait);
    }, Auth::required);

    router.post("/order/orders/{orderId}/cancel", [&svc](Request& req) -> Task<Response> {
        auto o = co_await svc.cancel(req.member(), std::string(req.param("orderId")));
        if (!o) {
            co_return problem(o.error(), req.path);
        }
        co_return order_response(200, *o);
    }, Auth::required);

    router.get("/order/orders", [&svc](Request& req) -> Task<Response> {
        Validator v(json::object());
        std::optional<std::string> status;
        if (auto s = req.query_param("status")) {
            if (!parse_status(*s)) {
                v.fail("status", "must be one of PENDING, PAID, CONFIRMED, SHIPPED, DELIVERED, CANCELLED");
            } else {
                status = std::string(*s);
            }
        }
        bool as_seller = false;
        if (auto r = req.query_param("role")) {
            if (*r == "seller") {
                as_seller = true;
            } else if (*r != "buyer") {
                v.fail("role", "must be buyer or seller");
            }
        }
        const int limit = page_limit(req.query_param("limit"), v);
        const auto before = uuid_query(req.query_param("cursor"), "cursor", "is not a cursor returned by this list", v);
        if (!v.ok()) {
            co_return problem(v.error(), req.path);
        }
        auto page = co_await svc.list(req.member(), as_seller, status, limit, before);
        std::vector<std::string> items;
        items.reserve(page.items.size());
        for (const auto& o : page.items) {
            items.push_back(order_json(o));
        }
        co_return json_response(200, page_json(items, page.next_cursor));
    }, Auth::required);
}

}  // namespace om::order
