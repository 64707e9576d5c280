// Raw bytes over a socket: malformed, oversized and hostile requests get a 4xx (or a closed connection),
// never a crash; limits and timeouts hold; pipelined requests are answered in order.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "support/http_client.hpp"
#include "support/server_process.hpp"

using om::test::HttpClient;
using om::test::raw_exchange;
using om::test::raw_status;
using om::test::ServerProcess;
using namespace std::chrono_literals;

namespace {

class HttpRobustness : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        om::test::ServerOptions o;
        o.extra_args = {"--read-timeout-ms", "1500", "--idle-timeout-ms", "1500"};
        server_ = new ServerProcess(o);
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    void TearDown() override {
        // Whatever the test sent, the server is still alive and serving.
        ASSERT_TRUE(server_->running()) << server_->log();
        HttpClient c(server_->port());
        EXPECT_EQ(c.get("/healthz").status, 200);
    }
    static int port() { return server_->port(); }
    static ServerProcess* server_;
};

ServerProcess* HttpRobustness::server_ = nullptr;

bool is_problem(const std::string& raw) { return raw.find("application/problem+json") != std::string::npos; }

TEST_F(HttpRobustness, GarbageIsRejected) {
    auto r = raw_exchange(port(), "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello garbage\r\n\r\n");
    EXPECT_EQ(raw_status(r), 400) << r;
    EXPECT_TRUE(is_problem(r));
}

TEST_F(HttpRobustness, NegativeContentLengthIsRejected) {
    auto r = raw_exchange(port(), "POST /member/login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nhello");
    EXPECT_EQ(raw_status(r), 400) << r;
}

TEST_F(HttpRobustness, ConflictingContentLengthsAreRejected) {
    auto r = raw_exchange(port(), "POST /member/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
    EXPECT_EQ(raw_status(r), 400) << r;
}

TEST_F(HttpRobustness, BadChunkingIsRejected) {
    auto r = raw_exchange(port(), "POST /member/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "zz\r\nhello\r\n0\r\n\r\n");
    EXPECT_EQ(raw_status(r), 400) << r;
    r = raw_exchange(port(), "POST /member/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5\r\nhelloXX0\r\n\r\n");
    EXPECT_EQ(raw_status(r), 400) << r;
}

TEST_F(HttpRobustness, HugeRequestLineGets431) {
    const std::string target = "/" + std::string(70 * 1024, 'a');
    auto r = raw_exchange(port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(raw_status(r), 431) << r.substr(0, 200);
    EXPECT_TRUE(is_problem(r));
}

TEST_F(HttpRobustness, HugeHeaderGets431) {
    auto r = raw_exchange(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(17 * 1024, 'b') + "\r\n\r\n");
    EXPECT_EQ(raw_status(r), 431) << r.substr(0, 200);
}

TEST_F(HttpRobustness, UnknownHttpVersionIsRejected) {
    auto r = raw_exchange(port(), "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n");
    EXPECT_EQ(raw_status(r), 400) << r;
    r = raw_exchange(port(), "GET /healthz HTTX/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(raw_status(r), 400) << r;
}

TEST_F(HttpRobustness, OversizedBodyGets413BeforeItIsRead) {
    // Only the header is sent: the server answers from Content-Length alone.
    auto r = raw_exchange(port(), "POST /member/registration HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                  "Content-Length: 2000000\r\n\r\n{\"email\":");
    EXPECT_EQ(raw_status(r), 413) << r;
    EXPECT_TRUE(is_problem(r));
}

TEST_F(HttpRobustness, OversizedChunkedBodyGets413) {
    std::string req = "POST /member/registration HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string chunk(64 * 1024, 'x');
    for (int i = 0; i < 20; ++i) {  // 1.25 MiB in chunks
        req += "10000\r\n" + chunk + "\r\n";
    }
    req += "0\r\n\r\n";
    auto r = raw_exchange(port(), req);
    EXPECT_EQ(raw_status(r), 413) << r.substr(0, 300);
}

TEST_F(HttpRobustness, AbsoluteFormAndAsteriskTargetsAreRejected) {
    EXPECT_EQ(raw_status(raw_exchange(port(), "GET http://evil.example/healthz HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
    EXPECT_EQ(raw_status(raw_exchange(port(), "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
}

TEST_F(HttpRobustness, BadEscapesInPathOrQueryAreClientErrors) {
    auto r = raw_exchange(port(), "GET /member/members/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(raw_status(r) / 100, 4) << r;
    r = raw_exchange(port(), "GET /healthz?a=%G1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(raw_status(r), 400) << r;
}

TEST_F(HttpRobustness, PipelinedRequestsAreAnsweredInOrder) {
    std::string req;
    for (int i = 0; i < 5; ++i) {
        req += "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-" + std::to_string(i) + "\r\n\r\n";
    }
    req += "GET /nowhere HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-5\r\nConnection: close\r\n\r\n";
    auto r = raw_exchange(port(), req);
    std::size_t pos = 0;
    for (int i = 0; i <= 5; ++i) {
        const auto at = r.find("X-Request-Id: pipe-" + std::to_string(i), pos);
        ASSERT_NE(at, std::string::npos) << "response " << i << " missing or out of order:\n" << r;
        pos = at;
    }
    EXPECT_NE(r.find("HTTP/1.1 404"), std::string::npos);
}

TEST_F(HttpRobustness, SlowRequestIsCutOffByTheReadTimeout) {
    const auto start = std::chrono::steady_clock::now();
    auto r = raw_exchange(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n", 10s);  // never finishes the header
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, 6s);
    EXPECT_GE(took, 1s);
}

TEST_F(HttpRobustness, IdleKeepAliveConnectionIsClosed) {
    const auto start = std::chrono::steady_clock::now();
    auto r = raw_exchange(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 10s);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(raw_status(r), 200);
    EXPECT_LT(took, 6s);  // closed by the server's idle timeout, not by our 10 s read timeout
}

TEST_F(HttpRobustness, HeadHasNoBody) {
    auto r = raw_exchange(port(), "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(raw_status(r), 200) << r;
    EXPECT_TRUE(r.ends_with("\r\n\r\n")) << r;
    EXPECT_NE(r.find("Content-Length: 15"), std::string::npos) << r;
}

TEST_F(HttpRobustness, RandomBytesNeverCrashTheServer) {
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> len(1, 3000);
    std::uniform_int_distribution<int> byte(0, 255);
    const std::vector<std::string> prefixes{"", "GET / HTTP/1.1\r\n", "POST /member/login HTTP/1.1\r\nContent-Length: 10\r\n",
                                            "GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"};
    for (int i = 0; i < 60; ++i) {
        std::string s = prefixes[static_cast<std::size_t>(i) % prefixes.size()];
        const int n = len(rng);
        for (int k = 0; k < n; ++k) {
            s.push_back(static_cast<char>(byte(rng)));
        }
        auto r = raw_exchange(port(), s, 3s, true);
        const int st = raw_status(r);
        EXPECT_TRUE(st == 0 || (st >= 400 && st < 500) || st == 200) << "input " << i << " got " << st;
    }
}

TEST(HttpLimits, ConfiguredBodyLimitAndConnectionBound) {
    om::test::ServerOptions o;
    o.shards = 1;
    o.extra_args = {"--body-limit", "4096", "--max-connections", "3"};
    ServerProcess s(o);
    std::string body(5000, 'x');
    auto r = raw_exchange(s.port(), "POST /member/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + body);
    EXPECT_EQ(raw_status(r), 413) << r;

    // Three idle keep-alive connections fill the shard; the fourth is refused with 503 + Retry-After.
    std::vector<std::unique_ptr<HttpClient>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(std::make_unique<HttpClient>(s.port()));
        EXPECT_EQ(held.back()->get("/healthz").status, 200);
    }
    auto refused = raw_exchange(s.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 3s);
    EXPECT_EQ(raw_status(refused), 503) << refused;
    EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos);
    held.pop_back();
    // A slot is free again once a connection closes.
    bool ok = false;
    for (int i = 0; i < 50 && !ok; ++i) {
        std::this_thread::sleep_for(20ms);
        ok = raw_status(raw_exchange(s.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 200;
    }
    EXPECT_TRUE(ok);
}

}  // namespace
