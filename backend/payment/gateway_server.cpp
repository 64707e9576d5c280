#include "payment/gateway_server.hpp"

#include <nlohmann/json.hpp>

#include "core/app.hpp"
#include "core/json.hpp"

namespace om::payment {

namespace {

using nlohmann::json;

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

Response gateway_json(int status, const json& body) { return json_response(status, body.dump()); }

Response result_response(const GatewayResult& g) {
    if (g.outcome == Outcome::unavailable) {
        return gateway_json(503, json{{"error", "temporarily_unavailable"}});
    }
    std::string status = lower(to_string(g.outcome));
    json body{{"id", g.reference}, {"status", status}};
    if (!g.decline_code.empty()) {
        body["declineCode"] = g.decline_code;
    }
    return gateway_json(200, body);
}

}  // namespace

void add_gateway_routes(Router& router, std::shared_ptr<TestGatewayEngine> engine, Sleep sleep, long hang_ms) {
    router.get("/healthz", [](Request&) -> Task<Response> { co_return json_response(200, R"({"status":"ok"})"); });

    router.get("/v1/stats", [engine](Request&) -> Task<Response> {
        co_return gateway_json(200, json{{"chargesExecuted", engine->charges_executed()}});
    });

    router.post("/v1/tokens", [engine, sleep](Request& req) -> Task<Response> {
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return gateway_json(400, json{{"error", "malformed_json"}});
        }
        Validator v(*obj);
        CardDetails card;
        auto number = v.string("number", {.max = 19});
        auto cvc = v.string("cvc", {.max = 4});
        auto month = v.integer("expMonth", {.min = 1, .max = 12});
        auto year = v.integer("expYear", {.min = 2000, .max = 2200});
        auto holder = v.string("holderName", {.required = false, .min = 0, .max = 200});
        req.body.assign(req.body.size(), ' ');
        if (!v.ok()) {
            co_return gateway_json(400, json{{"error", "invalid_request"}});
        }
        card.number = *number;
        card.cvc = *cvc;
        card.expiry_month = static_cast<int>(*month);
        card.expiry_year = static_cast<int>(*year);
        card.holder_name = holder.value_or("");
        const auto reply = engine->tokenize(card);
        if (reply.latency_ms > 0) {
            co_await sleep(reply.latency_ms);
        }
        if (reply.token.outcome == Outcome::unavailable) {
            co_return gateway_json(503, json{{"error", "temporarily_unavailable"}});
        }
        if (reply.token.outcome != Outcome::approved) {
            co_return gateway_json(402, json{{"declineCode", reply.token.decline_code}});
        }
        co_return gateway_json(200, json{{"token", reply.token.token}});
    });

    router.post("/v1/charges", [engine, sleep, hang_ms](Request& req) -> Task<Response> {
        auto obj = parse_object(req.body);
        const auto key = req.idempotency_key();
        if (!obj || !key || key->empty()) {
            co_return gateway_json(400, json{{"error", "invalid_request"}});
        }
        Validator v(*obj);
        ChargeRequest c;
        auto token = v.string("token", {.max = 200});
        auto amount = v.integer("amount", {.min = 0});
        auto currency = v.string("currency", {.max = 3});
        auto reference = v.string("reference", {.required = false, .max = 200});
        if (!v.ok()) {
            co_return gateway_json(400, json{{"error", "invalid_request"}});
        }
        c.token = *token;
        c.amount = *amount;
        c.currency = *currency;
        c.reference = reference.value_or("");
        c.idempotency_key = std::string(*key);
        const auto reply = engine->charge(c);
        if (reply.hang) {
            co_await sleep(hang_ms);
            co_return gateway_json(504, json{{"error", "timeout"}});
        }
        if (reply.latency_ms > 0) {
            co_await sleep(reply.latency_ms);
        }
        co_return result_response(reply.result);
    });

    router.post("/v1/refunds", [engine, sleep](Request& req) -> Task<Response> {
        auto obj = parse_object(req.body);
        const auto key = req.idempotency_key();
        if (!obj || !key || key->empty()) {
            co_return gateway_json(400, json{{"error", "invalid_request"}});
        }
        Validator v(*obj);
        RefundRequest r;
        auto charge = v.string("charge", {.required = false, .min = 0, .max = 200});
        auto amount = v.integer("amount", {.required = false, .min = 0});
        if (!v.ok()) {
            co_return gateway_json(400, json{{"error", "invalid_request"}});
        }
        r.charge_ref = charge.value_or("");
        r.amount = amount.value_or(0);
        r.idempotency_key = std::string(*key);
        const auto reply = engine->refund(r);
        if (reply.latency_ms > 0) {
            co_await sleep(reply.latency_ms);
        }
        co_return result_response(reply.result);
    });
}

}  // namespace om::payment
