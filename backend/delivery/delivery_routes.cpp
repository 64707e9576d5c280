#include "delivery/delivery_routes.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <regex>

#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "core/app.hpp"
#include "core/json.hpp"
#include "delivery/carrier_signature.hpp"
#include "delivery/delivery_service.hpp"

namespace om::delivery {

namespace {

using nlohmann::json;

bool valid_phone(const std::string& s) {
    int digits = 0;
    for (char c : s) {
        if (c >= '0' && c <= '9') {
            ++digits;
        } else if (c != '+' && c != '-' && c != ' ' && c != '(' && c != ')') {
            return false;
        }
    }
    return digits >= 7 && digits <= 15;
}

bool valid_postal_code(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == ' ' || c == '-';
    });
}

// An empty optional text (address2, label) means "none".
std::optional<std::string> none_if_empty(std::optional<std::string> s) {
    if (s && s->empty()) {
        return std::nullopt;
    }
    return s;
}

void check_address_fields(Validator& v, const std::optional<std::string>& phone,
                          const std::optional<std::string>& postal_code) {
    if (phone && !phone->empty() && !valid_phone(*phone)) {
        v.fail("phone", "must be 7-15 digits, optionally with +, -, spaces and parentheses");
    }
    if (postal_code && !postal_code->empty() && !valid_postal_code(*postal_code)) {
        v.fail("postalCode", "may contain only letters, digits, spaces and -");
    }
}

Result<NewAddress> parse_new_address(const json& obj) {
    Validator v(obj);
    auto recipient = v.string("recipientName", {.max = 100});
    auto phone = v.string("phone", {.max = 30});
    auto postal = v.string("postalCode", {.max = 10});
    auto address1 = v.string("address1", {.max = 200});
    auto address2 = v.string("address2", {.required = false, .min = 0, .max = 200});
    auto label = v.string("label", {.required = false, .min = 0, .max = 50});
    auto is_default = v.boolean("isDefault");
    check_address_fields(v, phone, postal);
    if (!v.ok()) {
        return std::unexpected(v.error());
    }
    NewAddress a;
    a.recipient_name = std::move(*recipient);
    a.phone = std::move(*phone);
    a.postal_code = std::move(*postal);
    a.address1 = std::move(*address1);
    a.address2 = none_if_empty(std::move(address2));
    a.label = none_if_empty(std::move(label));
    a.is_default = is_default.value_or(false);
    return a;
}

Result<AddressPatch> parse_address_patch(const json& obj) {
    Validator v(obj);
    AddressPatch p;
    p.recipient_name = v.string("recipientName", {.required = false, .max = 100});
    p.phone = v.string("phone", {.required = false, .max = 30});
    p.postal_code = v.string("postalCode", {.required = false, .max = 10});
    p.address1 = v.string("address1", {.required = false, .max = 200});
    p.address2 = v.string("address2", {.required = false, .min = 0, .max = 200});
    p.label = v.string("label", {.required = false, .min = 0, .max = 50});
    p.is_default = v.boolean("isDefault");
    check_address_fields(v, p.phone, p.postal_code);
    if (v.ok() && !p.recipient_name && !p.phone && !p.postal_code && !p.address1 && !p.address2 && !p.label &&
        !p.is_default) {
        v.fail("", "nothing to update: give at least one of recipientName, phone, postalCode, address1, address2, "
                   "label, isDefault");
    }
    if (!v.ok()) {
        return std::unexpected(v.error());
    }
    return p;
}

std::optional<Status> parse_status_field(Validator& v) {
    std::optional<std::string> s = v.one_of("status", {"READY", "SHIPPED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED",
                                                       "FAILED", "RETURNED"});
    if (!s) {
        return std::nullopt;
    }
    return parse_status(*s);
}

StatusChange parse_change_fields(Validator& v, std::optional<Status>& status) {
    status = parse_status_field(v);
    StatusChange c;
    c.carrier = v.string("carrier", {.required = false, .max = 50});
    c.tracking_number = v.string("trackingNumber", {.required = false, .max = 50});
    c.location = none_if_empty(v.string("location", {.required = false, .min = 0, .max = 200}));
    c.note = none_if_empty(v.string("note", {.required = false, .min = 0, .max = 500}));
    if (status) {
        c.status = *status;
    }
    return c;
}

bool rfc3339(const std::string& s) {
    static const std::regex re(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$)");
    return std::regex_match(s, re);
}

Response delivery_response(int status, const DeliveryRow& d) { return json_response(status, delivery_json(d)); }

}  // namespace

void add_routes(Router& router, DeliveryService& svc, std::string carrier_secret) {
    // ---- addresses ----
    router.post("/delivery/addresses", [&svc](Request& req) -> Task<Response> {
        std::optional<std::string> key;
        if (auto k = req.idempotency_key()) {
            const bool ok = !k->empty() && k->size() <= 200 &&
                            std::all_of(k->begin(), k->end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
            if (!ok) {
                co_return problem(Error{ErrorCode::validation_failed, "Idempotency-Key must be 1-200 printable ASCII characters",
                                        {{"Idempotency-Key", "must be 1-200 printable ASCII characters"}}},
                                  req.path);
            }
            key = std::string(*k);
        }
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        auto a = parse_new_address(*obj);
        if (!a) {
            co_return problem(a.error(), req.path);
        }
        // The request's meaning, independent of spacing and field order: what the idempotency key protects.
        const std::string hash = sha256_hex(json{{"recipientName", a->recipient_name}, {"phone", a->phone},
                                                 {"postalCode", a->postal_code}, {"address1", a->address1},
                                                 {"address2", a->address2 ? json(*a->address2) : json(nullptr)},
                                                 {"label", a->label ? json(*a->label) : json(nullptr)},
                                                 {"isDefault", a->is_default}}
                                                .dump());
        auto row = co_await svc.add_address(req.member(), std::move(*a), std::move(key), hash);
        if (!row) {
            co_return problem(row.error(), req.path);
        }
        auto res = json_response(201, address_json(*row));
        res.headers.set("Location", "/delivery/addresses/" + row->id);
        co_return res;
    }, Auth::required);

    router.get("/delivery/addresses", [&svc](Request& req) -> Task<Response> {
        auto rows = co_await svc.addresses(req.member());
        std::vector<std::string> items;
        items.reserve(rows.size());
        for (const auto& a : rows) {
            items.push_back(address_json(a));
        }
        co_return json_response(200, page_json(items, std::nullopt));
    }, Auth::required);

    router.get("/delivery/addresses/{addressId}", [&svc](Request& req) -> Task<Response> {
        auto row = co_await svc.address(req.member(), std::string(req.param("addressId")));
        if (!row) {
            co_return problem(row.error(), req.path);
        }
        co_return json_response(200, address_json(*row));
    }, Auth::required);

    router.put("/delivery/addresses/{addressId}", [&svc](Request& req) -> Task<Response> {
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        auto p = parse_address_patch(*obj);
        if (!p) {
            co_return problem(p.error(), req.path);
        }
        auto row = co_await svc.update_address(req.member(), std::string(req.param("addressId")), std::move(*p));
        if (!row) {
            co_return problem(row.error(), req.path);
        }
        co_return json_response(200, address_json(*row));
    }, Auth::required);

    router.del("/delivery/addresses/{addressId}", [&svc](Request& req) -> Task<Response> {
        auto done = co_await svc.delete_address(req.member(), std::string(req.param("addressId")));
        if (!done) {
            co_return problem(done.error(), req.path);
        }
        co_return no_content();
    }, Auth::required);

    // ---- deliveries ----
    router.post("/delivery/process-delivery", [&svc](Request& req) -> Task<Response> {
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        Validator v(*obj);
        auto order_id = v.string("orderId", {.max = 36});
        auto address_id = v.string("addressId", {.max = 36});
        if (order_id && !is_uuid(*order_id)) {
            v.fail("orderId", "must be a UUID");
        }
        if (address_id && !is_uuid(*address_id)) {
            v.fail("addressId", "must be a UUID");
        }
        std::vector<std::string> product_ids;
        if (v.has("productIds")) {
            const json& ids = (*obj)["productIds"];
            if (!ids.is_array()) {
                v.fail("productIds", "must be an array of product ids");
            } else if (ids.size() > 100) {
                v.fail("productIds", "must have at most 100 entries");
            } else {
                for (std::size_t i = 0; i < ids.size(); ++i) {
                    if (!ids[i].is_string() || !is_uuid(ids[i].get<std::string>())) {
                        v.fail("productIds[" + std::to_string(i) + "]", "must be a product id (UUID)");
                    } else {
                        product_ids.push_back(ids[i].get<std::string>());
                    }
                }
            }
        }
        if (!v.ok()) {
            co_return problem(v.error(), req.path);
        }
        auto d = co_await svc.process_delivery(req.member(), std::move(*order_id), std::move(*address_id),
                                               std::move(product_ids));
        if (!d) {
            co_return problem(d.error(), req.path);
        }
        auto res = delivery_response(201, *d);
        res.headers.set("Location", "/delivery/deliveries/" + d->id);
        co_return res;
    }, Auth::required);

    router.get("/delivery/deliveries", [&svc](Request& req) -> Task<Response> {
        Validator v(json::object());
        const auto order_id = uuid_query(req.query_param("orderId"), "orderId", "must be a UUID", v);
        const int limit = page_limit(req.query_param("limit"), v);
        const auto before = uuid_query(req.query_param("cursor"), "cursor", "is not a cursor returned by this list", v);
        if (!v.ok()) {
            co_return problem(v.error(), req.path);
        }
        auto page = co_await svc.list(req.member(), order_id, limit, before);
        std::vector<std::string> items;
        items.reserve(page.items.size());
        for (const auto& d : page.items) {
            items.push_back(delivery_json(d));
        }
        co_return json_response(200, page_json(items, page.next_cursor));
    }, Auth::required);

    router.get("/delivery/deliveries/{deliveryId}", [&svc](Request& req) -> Task<Response> {
        auto d = co_await svc.get(req.member(), std::string(req.param("deliveryId")));
        if (!d) {
            co_return problem(d.error(), req.path);
        }
        co_return delivery_response(200, *d);
    }, Auth::required);

    router.post("/delivery/deliveries/{deliveryId}/status", [&svc](Request& req) -> Task<Response> {
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        Validator v(*obj);
        std::optional<Status> status;
        auto change = parse_change_fields(v, status);
        if (!v.ok()) {
            co_return problem(v.error(), req.path);
        }
        auto d = co_await svc.seller_update(req.member(), std::string(req.param("deliveryId")), std::move(change));
        if (!d) {
            co_return problem(d.error(), req.path);
        }
        co_return delivery_response(200, *d);
    }, Auth::required);

    // ---- carriers (no member token: an HMAC signature over the raw body) ----
    router.post("/delivery/carrier-events", [&svc, secret = std::move(carrier_secret)](Request& req) -> Task<Response> {
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        const auto check = verify_carrier_signature(secret, req.headers.get("X-Carrier-Signature"), req.body, now);
        if (check != SignatureCheck::ok) {
            co_return problem(Error{ErrorCode::unauthorized, std::string(describe(check))}, req.path);
        }
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        Validator v(*obj);
        auto event_id = v.string("eventId", {.max = 100});
        auto delivery_id = v.string("deliveryId", {.max = 36});
        auto occurred_at = v.string("occurredAt", {.max = 40});
        std::optional<Status> status;
        auto change = parse_change_fields(v, status);
        if (occurred_at && !occurred_at->empty() && !rfc3339(*occurred_at)) {
            v.fail("occurredAt", "must be an RFC 3339 date-time, e.g. 2026-11-25T06:16:00Z");
        }
        if (!v.ok()) {
            co_return problem(v.error(), req.path);
        }
        const std::string event_name = *event_id;
        CarrierEvent e;
        e.event_id = std::move(*event_id);
        e.delivery_id = std::move(*delivery_id);
        e.occurred_at = std::move(*occurred_at);
        e.change = std::move(change);
        auto out = co_await svc.carrier_event(std::move(e));
        if (!out) {
            co_return problem(out.error(), req.path);
        }
        co_return json_response(200, json{{"eventId", event_name},
                                          {"deliveryId", out->delivery.id},
                                          {"status", out->delivery.status},
                                          {"applied", out->applied},
                                          {"duplicate", out->duplicate}}
                                         .dump());
    });
}

}  // namespace om::delivery
