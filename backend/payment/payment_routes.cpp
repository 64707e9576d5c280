#include "payment/payment_routes.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "core/app.hpp"
#include "core/json.hpp"
#include "payment/card.hpp"
#include "payment/payment_service.hpp"

namespace om::payment {

namespace {

using nlohmann::json;

constexpr std::int64_t max_amount = 1'000'000'000'000;

json method_json(const MethodRow& m) {
    return json{{"methodId", m.id},
                {"type", m.type},
                {"brand", m.brand},
                {"last4", m.last4},
                {"expiryMonth", m.expiry_month},
                {"expiryYear", m.expiry_year},
                {"holderName", m.holder_name},
                {"nickname", m.nickname ? json(*m.nickname) : json(nullptr)},
                {"isDefault", m.is_default},
                {"createdAt", m.created_at}};
}

json payment_json(const PaymentRow& p) {
    json j{{"paymentId", p.id},     {"orderId", p.order_id}, {"methodId", p.method_id}, {"amount", p.amount},
           {"currency", p.currency}, {"status", p.status},    {"createdAt", p.created_at}};
    if (p.decline_code) {
        j["declineCode"] = *p.decline_code;
    }
    if (p.approved_at) {
        j["approvedAt"] = *p.approved_at;
    }
    if (p.refunded_at) {
        j["refundedAt"] = *p.refunded_at;
    }
    return j;
}

Response payment_response(int status, const PaymentRow& p) {
    auto r = json_response(status, payment_json(p).dump());
    r.headers.set("Location", "/payments/payments/" + p.id);
    return r;
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void validate_expiry(Validator& v, const std::optional<std::int64_t>& month, const std::optional<std::int64_t>& year) {
    if (month && year &&
        !expiry_in_future(static_cast<int>(*month), static_cast<int>(*year), std::chrono::system_clock::now())) {
        v.fail("expiryYear", "the card has expired (expiryMonth/expiryYear is in the past)");
    }
}

// Error messages never repeat the card number or CVC.
Result<NewCard> parse_card(const json& obj) {
    Validator v(obj);
    NewCard c;
    v.one_of("type", {"CARD"});
    auto number = v.string("cardNumber", {.max = 40});
    auto month = v.integer("expiryMonth", {.min = 1, .max = 12});
    auto year = v.integer("expiryYear", {.min = 2000, .max = 2200});
    auto holder = v.string("holderName", {.max = 100});
    auto cvc = v.string("cvc", {.max = 4, .trim = false});
    c.nickname = v.string("nickname", {.required = false, .max = 50});
    c.is_default = v.boolean("isDefault");
    std::optional<std::string> digits;
    if (number) {
        digits = normalize_card_number(*number);
        if (!digits) {
            v.fail("cardNumber", "must be 12-19 digits (spaces and dashes between groups are allowed)");
        } else if (!luhn_valid(*digits)) {
            v.fail("cardNumber", "is not a valid card number (check digit)");
        }
    }
    if (cvc) {
        const std::size_t want = digits ? cvc_length(detect_brand(*digits)) : 0;
        if (!all_digits(*cvc) || (want != 0 && cvc->size() != want) || cvc->size() < 3) {
            v.fail("cvc", "must be 3 digits (4 for American Express)");
        }
    }
    validate_expiry(v, month, year);
    if (!v.ok()) {
        return std::unexpected(v.error());
    }
    c.number = std::move(*digits);
    c.cvc = std::move(*cvc);
    c.expiry_month = static_cast<int>(*month);
    c.expiry_year = static_cast<int>(*year);
    c.holder_name = std::move(*holder);
    return c;
}

Result<MethodPatch> parse_patch(const json& obj) {
    Validator v(obj);
    MethodPatch p;
    p.nickname = v.string("nickname", {.required = false, .max = 50});
    auto month = v.integer("expiryMonth", {.required = false, .min = 1, .max = 12});
    auto year = v.integer("expiryYear", {.required = false, .min = 2000, .max = 2200});
    p.is_default = v.boolean("isDefault");
    for (const char* f : {"cardNumber", "cvc", "holderName", "type"}) {
        if (obj.contains(f)) {
            v.fail(f, "cannot be changed; add a new payment method instead");
        }
    }
    validate_expiry(v, month, year);
    if (month) {
        p.expiry_month = static_cast<int>(*month);
    }
    if (year) {
        p.expiry_year = static_cast<int>(*year);
    }
    if (v.ok() && !p.nickname && !p.expiry_month && !p.expiry_year && !p.is_default) {
        v.fail("", "nothing to update: give at least one of nickname, expiryMonth, expiryYear, isDefault");
    }
    if (!v.ok()) {
        return std::unexpected(v.error());
    }
    return p;
}

Result<ProcessPayment> parse_process(const json& obj) {
    Validator v(obj);
    ProcessPayment p;
    auto order = v.string("orderId", {.max = 36});
    auto method = v.string("methodId", {.max = 100});
    auto amount = v.integer("amount", {.min = 1, .max = max_amount});
    auto currency = v.string("currency", {.required = false, .max = 3});
    if (order && !is_uuid(*order)) {
        v.fail("orderId", "must be a UUID");
    }
    if (currency && (currency->size() != 3 ||
                     !std::all_of(currency->begin(), currency->end(), [](char x) { return x >= 'A' && x <= 'Z'; }))) {
        v.fail("currency", "must be a 3-letter upper-case ISO 4217 code, e.g. KRW");
    }
    if (!v.ok()) {
        return std::unexpected(v.error());
    }
    p.order_id = *order;
    std::transform(p.order_id.begin(), p.order_id.end(), p.order_id.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    p.method_id = *method;
    p.amount = *amount;
    p.currency = currency.value_or("KRW");
    return p;
}

Error buyers_only() { return Error{ErrorCode::forbidden, "Only buyers keep payment methods"}; }

}  // namespace

void add_routes(Router& router, PaymentService& svc) {
    router.post("/payments/method", [&svc](Request& req) -> Task<Response> {
        if (req.member().role != "BUYER") {
            co_return problem(buyers_only(), req.path);
        }
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        auto card = parse_card(*obj);
        req.body.assign(req.body.size(), ' ');  // the card number and CVC do not outlive this handler
        if (!card) {
            co_return problem(card.error(), req.path);
        }
        auto m = co_await svc.add_method(req.member(), std::move(*card));
        if (!m) {
            co_return problem(m.error(), req.path);
        }
        auto res = json_response(201, method_json(*m).dump());
        res.headers.set("Location", "/payments/method/" + m->id);
        co_return res;
    }, Auth::required);

    router.get("/payments/method", [&svc](Request& req) -> Task<Response> {
        if (req.member().role != "BUYER") {
            co_return problem(buyers_only(), req.path);
        }
        auto rows = co_await svc.list_methods(req.member());
        json items = json::array();
        for (const auto& m : rows) {
            items.push_back(method_json(m));
        }
        co_return json_response(200, json{{"items", items}, {"nextCursor", nullptr}}.dump());
    }, Auth::required);

    router.put("/payments/method/{methodId}", [&svc](Request& req) -> Task<Response> {
        if (req.member().role != "BUYER") {
            co_return problem(buyers_only(), req.path);
        }
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        auto patch = parse_patch(*obj);
        if (!patch) {
            co_return problem(patch.error(), req.path);
        }
        auto m = co_await svc.update_method(req.member(), std::string(req.param("methodId")), std::move(*patch));
        if (!m) {
            co_return problem(m.error(), req.path);
        }
        co_return json_response(200, method_json(*m).dump());
    }, Auth::required);

    router.del("/payments/method/{methodId}", [&svc](Request& req) -> Task<Response> {
        if (req.member().role != "BUYER") {
            co_return problem(buyers_only(), req.path);
        }
        auto r = co_await svc.delete_method(req.member(), std::string(req.param("methodId")));
        if (!r) {
            co_return problem(r.error(), req.path);
        }
        co_return no_content();
    }, Auth::required);

    router.post("/payments/process-payment", [&svc](Request& req) -> Task<Response> {
        const auto key = req.idempotency_key();
        if (auto bad = check_idempotency_key(key)) {
            co_return problem(*bad, req.path);
        }
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        auto cmd = parse_process(*obj);
        if (!cmd) {
            co_return problem(cmd.error(), req.path);
        }
        std::optional<std::string> k;
        if (key) {
            k = std::string(*key);
        }
        auto p = co_await svc.process(req.member(), std::move(*cmd), std::move(k));
        if (!p) {
            co_return problem(p.error(), req.path);
        }
        co_return payment_response(201, *p);
    }, Auth::required);

    router.get("/payments/payments/{paymentId}", [&svc](Request& req) -> Task<Response> {
        auto p = co_await svc.get(req.member(), std::string(req.param("paymentId")));
        if (!p) {
            co_return problem(p.error(), req.path);
        }
        co_return json_response(200, payment_json(*p).dump());
    }, Auth::required);

    router.post("/payments/payments/{paymentId}/refund", [&svc](Request& req) -> Task<Response> {
        auto p = co_await svc.refund(req.member(), std::string(req.param("paymentId")));
        if (!p) {
            co_return problem(p.error(), req.path);
        }
        co_return json_response(200, payment_json(*p).dump());
    }, Auth::required);
}

}  // namespace om::payment
