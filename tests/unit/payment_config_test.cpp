// Payment options and the `gateway` command of openmarket-server.
#include <gtest/gtest.h>

#include "core/config.hpp"

namespace {

using om::parse_cli;

TEST(PaymentConfig, DefaultsAndCommandLine) {
    auto d = parse_cli({"openmarket-server"}, {});
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->config.payment_gateway_url.empty());
    EXPECT_EQ(d->config.payment_gateway_timeout.count(), 2000);
    EXPECT_EQ(d->config.payment_gateway_retries, 2);
    EXPECT_EQ(d->config.payment_breaker_failures, 5);
    EXPECT_EQ(d->config.payment_breaker_cooldown.count(), 5000);
    auto r = parse_cli({"openmarket-server", "--payment-gateway-url", "http://127.0.0.1:9400", "--payment-gateway-retries",
                        "0", "--payment-gateway-error-rate=0.25"},
                       {{"OPENMARKET_PAYMENT_GATEWAY_LATENCY_MS", "80"}, {"OPENMARKET_PAYMENT_GATEWAY_RETRIES", "7"}});
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->config.payment_gateway_url, "http://127.0.0.1:9400");
    EXPECT_EQ(r->config.payment_gateway_retries, 0);  // command line beats environment
    EXPECT_EQ(r->config.payment_gateway_latency_ms, 80);
    EXPECT_DOUBLE_EQ(r->config.payment_gateway_error_rate, 0.25);
}

TEST(PaymentConfig, RejectsBadValues) {
    EXPECT_FALSE(parse_cli({"s", "--payment-gateway-url", "https://x"}, {}));
    EXPECT_FALSE(parse_cli({"s", "--payment-gateway-error-rate", "1.5"}, {}));
    EXPECT_FALSE(parse_cli({"s", "--payment-gateway-error-rate", "abc"}, {}));
    EXPECT_FALSE(parse_cli({"s", "--payment-gateway-error-rate", "0.5x"}, {}));
    EXPECT_FALSE(parse_cli({"s", "--payment-gateway-timeout-ms", "0"}, {}));
    EXPECT_FALSE(parse_cli({"s", "--payment-breaker-failures", "0"}, {}));
    EXPECT_FALSE(parse_cli({"s", "--payment-gateway-retries", "11"}, {}));
}

TEST(PaymentConfig, GatewayCommand) {
    auto r = parse_cli({"openmarket-server", "gateway", "--listen", "127.0.0.1:9400"}, {});
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->command, "gateway");
    EXPECT_EQ(r->config.listen_port, 9400);
}

}  // namespace
