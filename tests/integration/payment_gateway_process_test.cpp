// The payment service against the test gateway running as its own process (`openmarket-server gateway`) over
// HTTP: the test cards across the network, timeouts, and the circuit breaker opening when the gateway process
// is killed and closing again after it is restarted.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/ids.hpp"
#include "support/api_test.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/test_env.hpp"

using nlohmann::json;
using om::test::Account;
using om::test::HttpClient;
using om::test::HttpResponse;
using om::test::ServerOptions;
using om::test::ServerProcess;

namespace {

// GET on the gateway process without recording the exchange (the gateway's own API is not part of
// docs/openapi.yaml, which the recorded responses are checked against). Returns {status, body}.
std::pair<int, std::string> gateway_get(int port, const std::string& path) {
    const auto raw = om::test::raw_exchange(port, "GET " + path + " HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n",
                                            std::chrono::milliseconds(1000));
    const auto body = raw.find("\r\n\r\n");
    return {om::test::raw_status(raw), body == std::string::npos ? std::string() : raw.substr(body + 4)};
}

// `openmarket-server gateway` on a fixed port, started and killed by the test.
class GatewayProcess {
public:
    explicit GatewayProcess(int port) : port_(port) {
        log_path_ = om::test::env("OM_TEST_STATE_DIR") + "/gateway-" + std::to_string(::getpid()) + "-" +
                    std::to_string(port) + ".log";
        start();
    }
    ~GatewayProcess() { kill9(); }
    GatewayProcess(const GatewayProcess&) = delete;
    GatewayProcess& operator=(const GatewayProcess&) = delete;

    void start() {
        std::vector<std::string> args{OM_SERVER_BINARY, "gateway", "--listen", "127.0.0.1:" + std::to_string(port_),
                                      "--shards", "1", "--redis-url", om::test::env("OM_TEST_REDIS_URL"),
                                      "--shutdown-deadline-ms", "100"};
        pid_ = ::fork();
        if (pid_ == 0) {
            const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                ::dup2(fd, STDOUT_FILENO);
                ::dup2(fd, STDERR_FILENO);
                ::close(fd);
            }
            std::vector<char*> argv;
            for (auto& a : args) {
                argv.push_back(a.data());
            }
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            try {
                if (gateway_get(port_, "/healthz").first == 200) {
                    return;
                }
            } catch (const std::exception&) {
                // not listening yet
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
        }
        throw std::runtime_error("the gateway process did not start");
    }
    void kill9() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }
    long charges_executed() {
        const auto [status, body] = gateway_get(port_, "/v1/stats");
        EXPECT_EQ(status, 200) << body;
        return json::parse(body, nullptr, false).value("chargesExecuted", -1L);
    }

private:
    int port_;
    pid_t pid_ = -1;
    std::string log_path_;
};

int next_year() {
    const auto ymd = std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
    return static_cast<int>(ymd.year()) + 1;
}

class PaymentGatewayProcess : public ::testing::Test {
protected:
    void start(std::vector<std::string> extra) {
        gateway_port_ = om::test::free_port();
        gateway_ = std::make_unique<GatewayProcess>(gateway_port_);
        ServerOptions o;
        o.shards = 1;  // one shard, one breaker: deterministic
        o.extra_args = {"--payment-gateway-url", "http://127.0.0.1:" + std::to_string(gateway_port_)};
        o.extra_args.insert(o.extra_args.end(), extra.begin(), extra.end());
        server_ = std::make_unique<ServerProcess>(o);
        client_ = std::make_unique<HttpClient>(server_->port());
        buyer_ = om::test::sign_up(*client_, "BUYER");
    }

    HttpResponse send(const std::string& method, const std::string& target, const json& body) {
        return client_->request(method, target, body.is_null() ? std::string() : body.dump(),
                                {{"Authorization", "Bearer " + buyer_.token}});
    }
    std::string add_card(const std::string& number) {
        auto r = send("POST", "/payments/method",
                      {{"type", "CARD"}, {"cardNumber", number}, {"expiryMonth", 12}, {"expiryYear", next_year()},
                       {"holderName", "Kim Minji"}, {"cvc", "123"}});
        EXPECT_EQ(r.status, 201) << r.body;
        return r.json().value("methodId", "");
    }
    json pay(const std::string& method) {
        auto r = send("POST", "/payments/process-payment",
                      {{"orderId", om::new_uuid_v7()}, {"methodId", method}, {"amount", 32000}, {"currency", "KRW"}});
        EXPECT_EQ(r.status, 201) << r.body;
        return r.json();
    }
    int attempts(const std::string& payment_id) {
        return std::stoi(om::test::sql_value(server_->database_url(),
                                             "SELECT count(*) FROM payment.payment_attempts WHERE payment_id = '" +
                                                 payment_id + "'"));
    }

    int gateway_port_ = 0;
    std::unique_ptr<GatewayProcess> gateway_;
    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<HttpClient> client_;
    Account buyer_;
};

TEST_F(PaymentGatewayProcess, TestCardsOverHttp) {
    start({"--payment-gateway-timeout-ms", "400", "--payment-gateway-retries", "1", "--payment-breaker-failures", "10"});
    auto ok = pay(add_card("4242424242424242"));
    EXPECT_EQ(ok["status"], "APPROVED");
    auto declined = pay(add_card("4000000000000002"));
    EXPECT_EQ(declined["status"], "DECLINED");
    EXPECT_EQ(declined["declineCode"], "card_declined");
    auto nofunds = pay(add_card("4000000000009995"));
    EXPECT_EQ(nofunds["declineCode"], "insufficient_funds");
    auto procerr = pay(add_card("4000000000000119"));
    EXPECT_EQ(procerr["status"], "FAILED");
    EXPECT_EQ(procerr["declineCode"], "processing_error");
    auto hang = pay(add_card("4000000000000341"));
    EXPECT_EQ(hang["status"], "FAILED");
    EXPECT_EQ(hang["declineCode"], "gateway_timeout");
    EXPECT_EQ(attempts(hang["paymentId"]), 2);
    EXPECT_EQ(gateway_->charges_executed(), 1);
    // Refund over HTTP, twice: one refund.
    const std::string pid = ok["paymentId"];
    auto r1 = send("POST", "/payments/payments/" + pid + "/refund", nullptr);
    auto r2 = send("POST", "/payments/payments/" + pid + "/refund", nullptr);
    EXPECT_EQ(r1.status, 200) << r1.body;
    EXPECT_EQ(r2.json(), r1.json());
    EXPECT_EQ(r1.json()["status"], "REFUNDED");
}

TEST_F(PaymentGatewayProcess, BreakerOpensWhenTheGatewayDiesAndClosesAfterRestart) {
    start({"--payment-gateway-timeout-ms", "500", "--payment-gateway-retries", "1", "--payment-breaker-failures", "2",
           "--payment-breaker-cooldown-ms", "1000"});
    const auto method = add_card("4242424242424242");
    EXPECT_EQ(pay(method)["status"], "APPROVED");
    EXPECT_EQ(gateway_->charges_executed(), 1);

    gateway_->kill9();  // the port is closed now: connections are refused
    auto down = pay(method);
    EXPECT_EQ(down["status"], "FAILED");
    EXPECT_EQ(down["declineCode"], "gateway_unavailable");
    EXPECT_EQ(attempts(down["paymentId"]), 2);  // tried, retried once, then the breaker opened

    // Open: fails fast, without calling the gateway.
    const auto t0 = std::chrono::steady_clock::now();
    auto fast = pay(method);
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(fast["status"], "FAILED");
    EXPECT_EQ(fast["declineCode"], "gateway_circuit_open");
    EXPECT_EQ(attempts(fast["paymentId"]), 0);
    EXPECT_LT(took, std::chrono::milliseconds(1000));  // generous: the machine may be busy; attempts == 0 is the proof
    const auto open_metrics = client_->get("/metrics").body;
    EXPECT_NE(open_metrics.find("openmarket_payment_gateway_breaker_state{shard=\"0\"} 1"), std::string::npos)
        << open_metrics;
    EXPECT_NE(open_metrics.find("openmarket_payment_gateway_calls_total{outcome=\"UNAVAILABLE\",shard=\"0\"} 2"),
              std::string::npos);
    // Adding a card needs the gateway too: 503 while it is open.
    auto card = send("POST", "/payments/method",
                     {{"type", "CARD"}, {"cardNumber", "4242424242424242"}, {"expiryMonth", 12},
                      {"expiryYear", next_year()}, {"holderName", "Kim Minji"}, {"cvc", "123"}});
    EXPECT_EQ(card.status, 503) << card.body;
    EXPECT_FALSE(card.header("Retry-After").empty());

    // The gateway comes back; after the cool-down a trial call closes the breaker.
    gateway_->start();
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    auto back = pay(method);
    EXPECT_EQ(back["status"], "APPROVED") << back.dump();
    EXPECT_EQ(attempts(back["paymentId"]), 1);
    EXPECT_EQ(pay(method)["status"], "APPROVED");
    EXPECT_NE(client_->get("/metrics").body.find("openmarket_payment_gateway_breaker_state{shard=\"0\"} 0"),
              std::string::npos);
}

TEST_F(PaymentGatewayProcess, InjectedGatewayErrorsAreRetriedWithTheSameKey) {
    // The built-in (in-process) test gateway with a 50 % error rate; no gateway process here.
    gateway_port_ = om::test::free_port();
    ServerOptions o;
    o.shards = 1;
    o.extra_args = {"--payment-gateway-error-rate", "0.5", "--payment-gateway-retries", "9",
                    "--payment-gateway-timeout-ms", "1000", "--payment-breaker-failures", "100"};
    server_ = std::make_unique<ServerProcess>(o);
    client_ = std::make_unique<HttpClient>(server_->port());
    buyer_ = om::test::sign_up(*client_, "BUYER");
    std::string method;
    for (int i = 0; i < 10 && method.empty(); ++i) {  // tokenization may fail 10 times in a row (p = 1/1024)
        auto r = send("POST", "/payments/method",
                      {{"type", "CARD"}, {"cardNumber", "4242424242424242"}, {"expiryMonth", 12},
                       {"expiryYear", next_year()}, {"holderName", "Kim Minji"}, {"cvc", "123"}});
        if (r.status == 201) {
            method = r.json().value("methodId", "");
        }
    }
    ASSERT_FALSE(method.empty());
    int approved = 0;
    int retried = 0;
    for (int i = 0; i < 10; ++i) {
        auto p = pay(method);
        approved += p["status"] == "APPROVED" ? 1 : 0;
        const std::string pid = p["paymentId"];
        retried += attempts(pid) > 1 ? 1 : 0;
        EXPECT_EQ(om::test::sql_value(server_->database_url(),
                                      "SELECT count(DISTINCT gateway_key) FROM payment.payment_attempts WHERE payment_id = '" +
                                          pid + "'"),
                  "1");
    }
    EXPECT_GE(approved, 9);
    EXPECT_GE(retried, 1);
}

}  // namespace
