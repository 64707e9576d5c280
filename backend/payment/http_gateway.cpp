#include "payment/http_gateway.hpp"

#include <charconv>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "net/http_client.hpp"

namespace om::payment {

namespace {

using nlohmann::json;

Outcome transport_outcome(const net::HttpOutcome& o) {
    if (o.kind == net::HttpOutcome::Kind::timeout) {
        return Outcome::timeout;
    }
    return Outcome::unavailable;
}

// A 200 answer of /v1/charges or /v1/refunds.
GatewayResult parse_result(const net::HttpOutcome& o) {
    GatewayResult g;
    if (o.kind != net::HttpOutcome::Kind::ok) {
        g.outcome = transport_outcome(o);
        return g;
    }
    if (o.status >= 500) {
        g.outcome = Outcome::unavailable;
        return g;
    }
    const auto j = json::parse(o.body, nullptr, false);
    if (o.status != 200 || !j.is_object()) {
        g.outcome = Outcome::failed;
        g.decline_code = "gateway_rejected";
        return g;
    }
    const std::string status = j.value("status", "");
    g.reference = j.value("id", "");
    g.decline_code = j.value("declineCode", "");
    if (status == "approved" || status == "refunded") {
        g.outcome = Outcome::approved;
    } else if (status == "declined") {
        g.outcome = Outcome::declined;
    } else {
        g.outcome = Outcome::failed;
    }
    return g;
}

}  // namespace

HttpGateway::HttpGateway(boost::asio::io_context& io, const std::string& url) : io_(io) {
    std::string_view s = url;
    if (!s.starts_with("http://")) {
        throw std::invalid_argument("payment gateway URL must start with http://");
    }
    s.remove_prefix(7);
    if (const auto slash = s.find('/'); slash != std::string_view::npos) {
        s = s.substr(0, slash);
    }
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) {
        host_ = std::string(s);
        return;
    }
    host_ = std::string(s.substr(0, colon));
    auto p = s.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port_);
    if (ec != std::errc{} || ptr != p.data() + p.size() || host_.empty()) {
        throw std::invalid_argument("payment gateway URL: bad host or port");
    }
}

Task<TokenResult> HttpGateway::tokenize(CardDetails card, std::chrono::milliseconds timeout) {
    net::HttpCall call;
    call.host = host_;
    call.port = port_;
    call.target = "/v1/tokens";
    call.timeout = timeout;
    call.body = json{{"number", card.number},
                     {"cvc", card.cvc},
                     {"expMonth", card.expiry_month},
                     {"expYear", card.expiry_year},
                     {"holderName", card.holder_name}}
                    .dump();
    const auto o = co_await net::http_call(io_, std::move(call));
    TokenResult t;
    if (o.kind != net::HttpOutcome::Kind::ok || o.status >= 500) {
        t.outcome = o.kind == net::HttpOutcome::Kind::ok ? Outcome::unavailable : transport_outcome(o);
        co_return t;
    }
    const auto j = json::parse(o.body, nullptr, false);
    if (o.status == 200 && j.is_object() && j.contains("token")) {
        t.outcome = Outcome::approved;
        t.token = j.value("token", "");
    } else {
        t.outcome = Outcome::declined;
        t.decline_code = j.is_object() ? j.value("declineCode", "card_declined") : "card_declined";
    }
    co_return t;
}

Task<GatewayResult> HttpGateway::charge(ChargeRequest req, std::chrono::milliseconds timeout) {
    net::HttpCall call;
    call.host = host_;
    call.port = port_;
    call.target = "/v1/charges";
    call.timeout = timeout;
    call.headers.emplace_back("Idempotency-Key", req.idempotency_key);
    call.body = json{{"token", req.token}, {"amount", req.amount}, {"currency", req.currency}, {"reference", req.reference}}
                    .dump();
    const auto o = co_await net::http_call(io_, std::move(call));
    co_return parse_result(o);
}

Task<GatewayResult> HttpGateway::refund(RefundRequest req, std::chrono::milliseconds timeout) {
    net::HttpCall call;
    call.host = host_;
    call.port = port_;
    call.target = "/v1/refunds";
    call.timeout = timeout;
    call.headers.emplace_back("Idempotency-Key", req.idempotency_key);
    call.body = json{{"charge", req.charge_ref}, {"amount", req.amount}}.dump();
    const auto o = co_await net::http_call(io_, std::move(call));
    co_return parse_result(o);
}

}  // namespace om::payment
