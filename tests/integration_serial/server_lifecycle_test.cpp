// Process-level behaviour: graceful shutdown, PostgreSQL restarts, file-descriptor exhaustion, several
// processes on one port, concurrent migrations. These tests run alone (RUN_SERIAL): they stop shared services
// or starve the machine of descriptors.
#include <gtest/gtest.h>

#include <filesystem>

#include <csignal>
#include <future>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/migrate.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/test_env.hpp"

using nlohmann::json;
using om::test::HttpClient;
using om::test::raw_exchange;
using om::test::raw_status;
using om::test::ServerProcess;
using namespace std::chrono_literals;

namespace {

std::string email(const std::string& tag) {
    return tag + "." + std::to_string(::getpid()) + "." +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007) + "@example.com";
}

json registration(const std::string& e) {
    return {{"email", e}, {"password", "graceful-pass"}, {"name", "n"}, {"role", "BUYER"}};
}

TEST(ServerLifecycle, GracefulShutdownFinishesInFlightRequests) {
    om::test::ServerOptions o;
    o.shards = 2;
    ServerProcess s(o);
    // Requests that take a while: each registration hashes a password (~tens of ms) on a 2-thread pool.
    constexpr int n = 16;
    std::vector<std::future<int>> inflight;
    for (int i = 0; i < n; ++i) {
        inflight.push_back(std::async(std::launch::async, [&s, i] {
            HttpClient c(s.port());
            return c.post("/member/registration", registration(email("graceful" + std::to_string(i)))).status;
        }));
    }
    HttpClient idle(s.port());
    ASSERT_EQ(idle.get("/healthz").status, 200);  // an idle keep-alive connection
    std::this_thread::sleep_for(60ms);            // all requests are read by now, most still hashing
    s.signal(SIGTERM);
    int ok = 0;
    for (auto& f : inflight) {
        try {
            if (f.get() == 201) {
                ++ok;
            }
        } catch (const std::exception& e) {
            ADD_FAILURE() << "in-flight request failed during shutdown: " << e.what();
        }
    }
    EXPECT_EQ(ok, n);
    EXPECT_EQ(s.wait_exit(15s), 0) << s.log();
    // The listener is gone.
    EXPECT_THROW(raw_exchange(s.port(), "GET /healthz HTTP/1.1\r\n\r\n", 1s), std::exception);
    const auto log = s.log();
    EXPECT_NE(log.find("\"msg\":\"shutting down\""), std::string::npos);
    EXPECT_NE(log.find("\"forced\":false"), std::string::npos) << log;
}

TEST(ServerLifecycle, SurvivesAPostgresRestart) {
    ServerProcess s;
    HttpClient c(s.port());
    ASSERT_EQ(c.post("/member/registration", registration(email("before"))).status, 201);
    const auto script = om::test::env("OM_TEST_SERVICES_SCRIPT");
    const auto dir = om::test::env("OM_TEST_STATE_DIR");
    ASSERT_EQ(om::test::sh(script + " stop-pg " + dir + " > /dev/null"), 0);

    auto down = c.post("/member/registration", registration(email("during")));
    EXPECT_EQ(down.status, 503) << down.body;
    EXPECT_EQ(down.header("Retry-After"), "1");
    EXPECT_EQ(down.json()["code"], "SERVICE_UNAVAILABLE");
    EXPECT_EQ(c.get("/readyz").status, 503);
    EXPECT_EQ(c.get("/healthz").status, 200);  // alive, just not ready

    ASSERT_EQ(om::test::sh(script + " start-pg " + dir + " > /dev/null"), 0);
    int status = 0;
    for (int i = 0; i < 100 && status != 201; ++i) {
        status = c.post("/member/registration", registration(email("after" + std::to_string(i)))).status;
        if (status != 201) {
            std::this_thread::sleep_for(100ms);
        }
    }
    EXPECT_EQ(status, 201) << s.log();
    EXPECT_EQ(c.get("/readyz").status, 200);
    EXPECT_TRUE(s.running());
}

TEST(ServerLifecycle, AcceptLoopSurvivesFileDescriptorExhaustion) {
    om::test::ServerOptions o;
    o.shards = 1;
    o.max_open_files = 128;  // the same condition as the machine's 20,000 cap, reached quickly
    ServerProcess s(o);
    // Open more connections than the server has descriptors for.
    std::vector<int> fds;
    for (int i = 0; i < 300; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(s.port()));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
            fds.push_back(fd);
        } else {
            ::close(fd);
        }
    }
    std::this_thread::sleep_for(500ms);
    EXPECT_TRUE(s.running());
    const auto during = s.log();
    EXPECT_NE(during.find("accept failed"), std::string::npos) << "descriptors were never exhausted";
    for (int fd : fds) {
        ::close(fd);
    }
    // Accepting resumes once descriptors are free again.
    bool ok = false;
    for (int i = 0; i < 100 && !ok; ++i) {
        try {
            HttpClient c(s.port());
            c.set_timeout(1s);
            ok = c.get("/healthz").status == 200;
        } catch (const std::exception&) {
            std::this_thread::sleep_for(100ms);
        }
    }
    EXPECT_TRUE(ok) << s.log().substr(0, 4000);
    HttpClient c(s.port());
    auto m = c.get("/metrics");
    EXPECT_NE(m.body.find("openmarket_accept_errors_total"), std::string::npos);
}

TEST(ServerLifecycle, SeveralProcessesShareOnePort) {
    ServerProcess a;
    om::test::ServerOptions o;
    o.port = a.port();
    o.database_url = a.database_url();
    o.redis_url = a.redis_url();
    o.wait_ready = false;  // /readyz on the shared port could be answered by `a`: wait for b's own log line
    ServerProcess b(o);
    bool listening = false;
    for (int i = 0; i < 200 && !listening; ++i) {
        listening = b.log().find("\"msg\":\"listening\"") != std::string::npos;
        if (!listening) {
            std::this_thread::sleep_for(25ms);
        }
    }
    ASSERT_TRUE(listening) << b.log();
    auto healthz = [](int port) {
        try {
            return raw_status(raw_exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        } catch (const std::exception& e) {
            ADD_FAILURE() << e.what();
            return 0;
        }
    };
    // Both serve; with SO_REUSEPORT the kernel spreads new connections over both processes.
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(healthz(a.port()), 200) << "request " << i;
    }
    EXPECT_EQ(a.stop(), 0) << a.log();
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(healthz(b.port()), 200) << "request " << i << " after a stopped";
    }
    EXPECT_TRUE(b.running());
    if (HasFailure()) {
        ADD_FAILURE() << "log of a:\n" << a.log() << "\nlog of b:\n" << b.log();
    }
}

TEST(Migrations, ConcurrentRunsApplyEachMigrationOnce) {
    const auto url = om::test::fresh_database("om_migrate");
    std::vector<std::future<int>> runs;
    for (int i = 0; i < 4; ++i) {
        runs.push_back(std::async(std::launch::async, [&url] { return om::test::run_migrate(url); }));
    }
    for (auto& r : runs) {
        EXPECT_EQ(r.get(), 0);
    }
    // Versions need not be contiguous (services are developed in parallel branches and take numbers ahead).
    EXPECT_EQ(om::test::sql_value(url, "SELECT count(*) FROM om_meta.schema_migrations"),
              std::to_string(om::embedded_migrations().size()));
    EXPECT_EQ(om::test::sql_value(url, "SELECT count(DISTINCT version) FROM om_meta.schema_migrations"),
              std::to_string(om::embedded_migrations().size()));
    std::string out;
    EXPECT_EQ(om::test::run_migrate(url, &out), 0);
    EXPECT_NE(out.find("0 applied now"), std::string::npos) << out;
    // An applied migration that was edited afterwards is refused.
    om::test::sql_value(url, "UPDATE om_meta.schema_migrations SET checksum = 'tampered' WHERE version = 1");
    EXPECT_EQ(om::test::run_migrate(url, &out), 1);
    EXPECT_NE(out.find("checksum"), std::string::npos) << out;
}

}  // namespace
