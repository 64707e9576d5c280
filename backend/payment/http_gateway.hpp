#pragma once
// PaymentGateway over HTTP: talks to `openmarket-server gateway` (the test gateway as its own process) with a
// small JSON protocol modelled on real providers (docs/payment-gateways.md). The transport is
// net/http_client; one connection per call. Belongs to one shard.
#include <string>

#include "payment/gateway.hpp"

namespace boost::asio {
class io_context;
}

namespace om::payment {

class HttpGateway final : public PaymentGateway {
public:
    // `url`: http://HOST:PORT (no path). Throws std::invalid_argument when malformed.
    HttpGateway(boost::asio::io_context& io, const std::string& url);
    Task<TokenResult> tokenize(CardDetails card, std::chrono::milliseconds timeout) override;
    Task<GatewayResult> charge(ChargeRequest req, std::chrono::milliseconds timeout) override;
    Task<GatewayResult> refund(RefundRequest req, std::chrono::milliseconds timeout) override;

private:
    boost::asio::io_context& io_;
    std::string host_;
    int port_ = 80;
};

}  // namespace om::payment
