// om::parse_cli: defaults, precedence (command line > environment > config file > defaults), option forms,
// subcommands, and error messages.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace {

using Env = std::map<std::string, std::string>;
using Args = std::vector<std::string>;

om::Result<om::CliResult> parse(Args args, const Env& env = {}) {
    args.insert(args.begin(), "openmarket-server");
    return om::parse_cli(args, env);
}

class ConfigFile : public ::testing::Test {
protected:
    void TearDown() override {
        for (const auto& p : files_) {
            std::error_code ec;
            std::filesystem::remove(p, ec);
        }
    }
    std::string write(const std::string& content) {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        auto p = std::filesystem::temp_directory_path() /
                 ("om-config-" + std::to_string(::getpid()) + "-" + info->name() + "-" +
                  std::to_string(files_.size()) + ".conf");
        std::ofstream(p) << content;
        files_.push_back(p);
        return p.string();
    }

private:
    std::vector<std::filesystem::path> files_;
};

TEST(Config, Defaults) {
    const auto r = parse({});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_EQ(r->command, "serve");
    EXPECT_TRUE(r->migrations_dir.empty());
    const om::Config& c = r->config;
    const om::Config d;
    EXPECT_EQ(c.listen_host, "127.0.0.1");
    EXPECT_EQ(c.listen_port, 8080);
    EXPECT_EQ(c.shards, 0);
    EXPECT_EQ(c.database_url, d.database_url);
    EXPECT_EQ(c.redis_url, "redis://127.0.0.1:6379/0");
    EXPECT_EQ(c.body_limit, 1024U * 1024U);
    EXPECT_EQ(c.read_timeout, std::chrono::milliseconds(15'000));
    EXPECT_EQ(c.idle_timeout, std::chrono::milliseconds(60'000));
    EXPECT_EQ(c.shutdown_deadline, std::chrono::milliseconds(10'000));
    EXPECT_EQ(c.max_connections_per_shard, 10'000);
    EXPECT_EQ(c.pg_pool_size, 4);
    EXPECT_EQ(c.cpu_threads, 2);
    EXPECT_EQ(c.access_token_ttl, std::chrono::seconds(3600));
    EXPECT_EQ(c.refresh_token_ttl, std::chrono::seconds(30 * 24 * 3600));
    EXPECT_EQ(c.log_level, "info");
    EXPECT_TRUE(c.access_log);
}

TEST(Config, EqualsAndSeparateValueForms) {
    const auto a = parse({"--listen=0.0.0.0:9000", "--shards", "3", "--log-level=debug", "--access-log", "0"});
    ASSERT_TRUE(a.has_value()) << a.error().detail;
    EXPECT_EQ(a->config.listen_host, "0.0.0.0");
    EXPECT_EQ(a->config.listen_port, 9000);
    EXPECT_EQ(a->config.shards, 3);
    EXPECT_EQ(a->config.log_level, "debug");
    EXPECT_FALSE(a->config.access_log);

    const auto b = parse({"--listen", "10.1.2.3:81", "--shards=4"});
    ASSERT_TRUE(b.has_value()) << b.error().detail;
    EXPECT_EQ(b->config.listen_host, "10.1.2.3");
    EXPECT_EQ(b->config.listen_port, 81);
    EXPECT_EQ(b->config.shards, 4);
}

TEST(Config, ValueMayContainEqualsSign) {
    const auto r = parse({"--database-url=postgresql://u@h/db?sslmode=disable&application_name=om"});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_EQ(r->config.database_url, "postgresql://u@h/db?sslmode=disable&application_name=om");
}

TEST(Config, NumericAndDurationOptions) {
    const auto r = parse({"--body-limit=2048", "--read-timeout-ms=500", "--idle-timeout-ms", "700",
                          "--shutdown-deadline-ms=0", "--max-connections=5", "--pg-pool-size=8", "--cpu-threads=3",
                          "--access-token-ttl=60", "--refresh-token-ttl=120", "--access-log=true",
                          "--redis-url=redis://:pw@cache:6380/2"});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    const auto& c = r->config;
    EXPECT_EQ(c.body_limit, 2048U);
    EXPECT_EQ(c.read_timeout, std::chrono::milliseconds(500));
    EXPECT_EQ(c.idle_timeout, std::chrono::milliseconds(700));
    EXPECT_EQ(c.shutdown_deadline, std::chrono::milliseconds(0));
    EXPECT_EQ(c.max_connections_per_shard, 5);
    EXPECT_EQ(c.pg_pool_size, 8);
    EXPECT_EQ(c.cpu_threads, 3);
    EXPECT_EQ(c.access_token_ttl, std::chrono::seconds(60));
    EXPECT_EQ(c.refresh_token_ttl, std::chrono::seconds(120));
    EXPECT_TRUE(c.access_log);
    EXPECT_EQ(c.redis_url, "redis://:pw@cache:6380/2");
}

TEST(Config, ListenParsing) {
    struct Case {
        const char* in;
        const char* host;
        int port;
    };
    for (const Case& k : {Case{"[::1]:8080", "::1", 8080}, Case{"[::]:0", "::", 0}, Case{":9090", "0.0.0.0", 9090},
                          Case{"localhost:65535", "localhost", 65535}, Case{"192.168.0.1:1", "192.168.0.1", 1}}) {
        SCOPED_TRACE(k.in);
        const auto r = parse({std::string("--listen=") + k.in});
        ASSERT_TRUE(r.has_value()) << r.error().detail;
        EXPECT_EQ(r->config.listen_host, k.host);
        EXPECT_EQ(r->config.listen_port, k.port);
    }
}

TEST(Config, BadListenIsAnError) {
    for (const char* in : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:http",
                           "127.0.0.1:80x", "[::1]", "::1:8080"}) {
        SCOPED_TRACE(in);
        const auto r = parse({std::string("--listen=") + in});
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, om::ErrorCode::validation_failed);
        EXPECT_NE(r.error().detail.find("listen"), std::string::npos) << r.error().detail;
    }
}

TEST(Config, EnvironmentOverridesDefaults) {
    const auto r = parse({}, {{"OPENMARKET_LISTEN", "0.0.0.0:7000"},
                              {"OPENMARKET_SHARDS", "2"},
                              {"OPENMARKET_LOG_LEVEL", "warn"},
                              {"OPENMARKET_ACCESS_LOG", "false"},
                              {"OPENMARKET_MIGRATIONS_DIR", "/srv/migrations"},
                              {"UNRELATED", "x"}});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_EQ(r->config.listen_host, "0.0.0.0");
    EXPECT_EQ(r->config.listen_port, 7000);
    EXPECT_EQ(r->config.shards, 2);
    EXPECT_EQ(r->config.log_level, "warn");
    EXPECT_FALSE(r->config.access_log);
    EXPECT_EQ(r->migrations_dir, "/srv/migrations");
}

TEST(Config, CommandLineOverridesEnvironment) {
    const auto r = parse({"--shards=6", "--listen", "1.2.3.4:5"},
                         {{"OPENMARKET_SHARDS", "2"}, {"OPENMARKET_LISTEN", "0.0.0.0:7000"}});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_EQ(r->config.shards, 6);
    EXPECT_EQ(r->config.listen_host, "1.2.3.4");
    EXPECT_EQ(r->config.listen_port, 5);
}

TEST(Config, LaterCommandLineOptionWins) {
    const auto r = parse({"--shards=1", "--shards=9"});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_EQ(r->config.shards, 9);
}

TEST_F(ConfigFile, FullPrecedenceChain) {
    const auto path = write(
        "# OpenMarket test configuration\n"
        "\n"
        "listen = 10.0.0.1:1111\n"
        "  shards=3\n"
        "log-level = debug\t\n"
        "pg-pool-size = 7\r\n"
        "   # indented comment\n"
        "cpu-threads = 5\n");
    const auto r = parse({"--config", path, "--log-level=error"},
                         {{"OPENMARKET_SHARDS", "5"}, {"OPENMARKET_LOG_LEVEL", "warn"}, {"OPENMARKET_CPU_THREADS", "4"}});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    const auto& c = r->config;
    EXPECT_EQ(c.listen_host, "10.0.0.1");  // file only
    EXPECT_EQ(c.listen_port, 1111);
    EXPECT_EQ(c.pg_pool_size, 7);          // file only
    EXPECT_EQ(c.shards, 5);                // env beats file
    EXPECT_EQ(c.cpu_threads, 4);           // env beats file
    EXPECT_EQ(c.log_level, "error");       // command line beats env and file
    EXPECT_EQ(c.body_limit, om::Config{}.body_limit);  // default
}

TEST_F(ConfigFile, ConfigFileFromEnvironmentAndCommandLineBeatsIt) {
    const auto from_env = write("shards = 11\n");
    const auto from_cli = write("shards = 12\n");
    const auto a = parse({}, {{"OPENMARKET_CONFIG", from_env}});
    ASSERT_TRUE(a.has_value()) << a.error().detail;
    EXPECT_EQ(a->config.shards, 11);
    const auto b = parse({"--config=" + from_cli}, {{"OPENMARKET_CONFIG", from_env}});
    ASSERT_TRUE(b.has_value()) << b.error().detail;
    EXPECT_EQ(b->config.shards, 12);
}

TEST_F(ConfigFile, UnknownKeyMentionsFileAndLine) {
    const auto path = write("listen = 127.0.0.1:1\n# comment\nno-such-key = 1\n");
    const auto r = parse({"--config", path});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, om::ErrorCode::validation_failed);
    EXPECT_NE(r.error().detail.find(path + ":3"), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find("no-such-key"), std::string::npos) << r.error().detail;
}

TEST_F(ConfigFile, ConfigKeyInsideConfigFileIsRejected) {
    const auto path = write("config = /etc/other.conf\n");
    const auto r = parse({"--config", path});
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().detail.find(path + ":1"), std::string::npos) << r.error().detail;
}

TEST_F(ConfigFile, BadValueMentionsFileAndLine) {
    const auto path = write("shards = 2\nshards = many\n");
    const auto r = parse({"--config", path});
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().detail.find(path + ":2"), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find("shards"), std::string::npos) << r.error().detail;
}

TEST_F(ConfigFile, LineWithoutEqualsIsAnError) {
    const auto path = write("listen 127.0.0.1:80\n");
    const auto r = parse({"--config", path});
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().detail.find(path + ":1"), std::string::npos) << r.error().detail;
}

TEST(Config, MissingConfigFileIsAnError) {
    const auto r = parse({"--config=/nonexistent/dir/openmarket.conf"});
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().detail.find("/nonexistent/dir/openmarket.conf"), std::string::npos) << r.error().detail;
}

TEST(Config, MigrateSubcommand) {
    const auto r = parse({"migrate", "--database-url", "postgresql://u@db:5432/om", "--migrations-dir=/opt/sql"});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_EQ(r->command, "migrate");
    EXPECT_EQ(r->config.database_url, "postgresql://u@db:5432/om");
    EXPECT_EQ(r->migrations_dir, "/opt/sql");
}

TEST(Config, EventsSubcommand) {
    const auto r = parse({"events", "replay", "--stream", "om:events:delivery", "--id=1-0", "--redis-url",
                          "redis://r:6379/2"});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_EQ(r->command, "events");
    EXPECT_EQ(r->events_action, "replay");
    EXPECT_EQ(r->events_stream, "om:events:delivery");
    EXPECT_EQ(r->events_id, "1-0");
    EXPECT_EQ(r->config.redis_url, "redis://r:6379/2");
    const auto l = parse({"events", "dead-letters", "--stream=s", "--limit", "5"});
    ASSERT_TRUE(l.has_value()) << l.error().detail;
    EXPECT_EQ(l->events_action, "dead-letters");
    EXPECT_EQ(l->events_limit, 5);
    EXPECT_FALSE(parse({"events", "purge", "--stream", "s"}).has_value());
    EXPECT_FALSE(parse({"events", "dead-letters", "--limit", "0"}).has_value());
    EXPECT_FALSE(parse({"--stream", "s"}).has_value()) << "--stream belongs to the events command only";
}

TEST(Config, ExplicitServeSubcommand) {
    const auto r = parse({"serve", "--shards=1"});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_EQ(r->command, "serve");
    EXPECT_EQ(r->config.shards, 1);
}

TEST(Config, SubcommandOnlyInFirstPosition) {
    const auto r = parse({"--shards=1", "migrate"});
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().detail.find("migrate"), std::string::npos) << r.error().detail;
}

TEST(Config, Help) {
    for (const Args& a : {Args{"--help"}, Args{"-h"}, Args{"--shards=2", "--help"}, Args{"migrate", "--help"}}) {
        const auto r = parse(a);
        ASSERT_TRUE(r.has_value()) << r.error().detail;
        EXPECT_EQ(r->command, "help");
    }
}

TEST(Config, UsageListsEveryOptionAndItsEnvironmentVariable) {
    const std::string u = om::usage();
    for (const char* s : {"--listen", "OPENMARKET_LISTEN", "--shards", "OPENMARKET_SHARDS", "--database-url",
                          "OPENMARKET_DATABASE_URL", "--redis-url", "OPENMARKET_REDIS_URL", "--config",
                          "OPENMARKET_CONFIG", "--migrations-dir", "--help", "migrate"}) {
        EXPECT_NE(u.find(s), std::string::npos) << s;
    }
}

TEST(Config, UnknownOption) {
    const auto r = parse({"--shard=2"});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, om::ErrorCode::validation_failed);
    EXPECT_NE(r.error().detail.find("--shard"), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find("unknown"), std::string::npos) << r.error().detail;
}

TEST(Config, PositionalArgumentIsAnError) {
    const auto r = parse({"serve", "extra"});
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().detail.find("extra"), std::string::npos) << r.error().detail;
}

TEST(Config, MissingValue) {
    const auto r = parse({"--shards=2", "--listen"});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, om::ErrorCode::validation_failed);
    EXPECT_NE(r.error().detail.find("--listen"), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find("value"), std::string::npos) << r.error().detail;
}

TEST(Config, NonNumericOrOutOfRangeShards) {
    for (const char* v : {"four", "3x", "", "-1", "257", "1.5", " 2"}) {
        SCOPED_TRACE(v);
        const auto r = parse({std::string("--shards=") + v});
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, om::ErrorCode::validation_failed);
        EXPECT_NE(r.error().detail.find("shards"), std::string::npos) << r.error().detail;
    }
    const auto edge = parse({"--shards=256"});
    ASSERT_TRUE(edge.has_value()) << edge.error().detail;
    EXPECT_EQ(edge->config.shards, 256);
}

TEST(Config, BadRedisUrl) {
    for (const char* v : {"http://127.0.0.1:6379", "127.0.0.1:6379", ""}) {
        SCOPED_TRACE(v);
        const auto r = parse({std::string("--redis-url=") + v});
        ASSERT_FALSE(r.has_value());
        EXPECT_NE(r.error().detail.find("redis-url"), std::string::npos) << r.error().detail;
    }
}

TEST(Config, OrderQueueMax) {
    EXPECT_EQ(parse({})->config.order_queue_max, 4096);
    const auto r = parse({"--order-queue-max=1"});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_EQ(r->config.order_queue_max, 1);
    EXPECT_FALSE(parse({"--order-queue-max=0"}).has_value()) << "every queue has a bound";
    EXPECT_FALSE(parse({"--order-queue-max=1000001"}).has_value());
}

TEST(Config, BackgroundShard) {
    const auto d = parse({});
    ASSERT_TRUE(d.has_value());
    EXPECT_TRUE(d->config.background_shard);
    EXPECT_EQ(d->config.background_nice, 10);
    const auto r = parse({"--background-shard=0", "--background-nice", "19"});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_FALSE(r->config.background_shard);
    EXPECT_EQ(r->config.background_nice, 19);
    const auto e = parse({}, {{"OPENMARKET_BACKGROUND_SHARD", "false"}, {"OPENMARKET_BACKGROUND_NICE", "0"}});
    ASSERT_TRUE(e.has_value()) << e.error().detail;
    EXPECT_FALSE(e->config.background_shard);
    EXPECT_EQ(e->config.background_nice, 0);
    EXPECT_FALSE(parse({"--background-shard=2"}).has_value());
    EXPECT_FALSE(parse({"--background-nice=20"}).has_value());
    EXPECT_FALSE(parse({"--background-nice=-1"}).has_value()) << "a higher priority than the requests' is refused";
}

TEST(Config, OrderLinger) {
    const auto d = parse({});
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->config.order_linger, std::chrono::milliseconds(5));
    EXPECT_EQ(d->config.order_linger_full_rate, 1000);
    const auto r = parse({"--order-linger-ms=4", "--order-linger-full-rate=0"});
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_EQ(r->config.order_linger, std::chrono::milliseconds(4));
    EXPECT_EQ(r->config.order_linger_full_rate, 0);
    EXPECT_EQ(d->config.saga_linger, std::chrono::milliseconds(100)) << "the saga's steps wait longer for company";
    const auto s = parse({"--saga-linger-ms=20"});
    ASSERT_TRUE(s.has_value()) << s.error().detail;
    EXPECT_EQ(s->config.saga_linger, std::chrono::milliseconds(20));
    EXPECT_EQ(s->config.order_linger, std::chrono::milliseconds(5));
    EXPECT_EQ(parse({"--order-linger-ms=3"})->config.saga_linger, std::chrono::milliseconds(100)) << "apart";
    EXPECT_TRUE(parse({"--saga-linger-ms=1000"}).has_value());
    EXPECT_FALSE(parse({"--saga-linger-ms=1001"}).has_value());
    EXPECT_FALSE(parse({"--saga-linger-ms=-1"}).has_value());
    for (const Args& a : {Args{"--order-linger-full-rate=-1"}, Args{"--order-linger-full-rate=fast"},
                          Args{"--order-linger-full-rate=1000001"}}) {
        SCOPED_TRACE(a.front());
        const auto bad = parse(a);
        ASSERT_FALSE(bad.has_value());
        EXPECT_EQ(bad.error().code, om::ErrorCode::validation_failed);
    }
}

TEST(Config, OtherBadValues) {
    for (const Args& a : {Args{"--log-level=verbose"}, Args{"--access-log=yes"}, Args{"--body-limit=10"},
                          Args{"--pg-pool-size=0"}, Args{"--cpu-threads=65"}, Args{"--database-url="},
                          Args{"--access-token-ttl=5"}, Args{"--read-timeout-ms=abc"}}) {
        SCOPED_TRACE(a.front());
        const auto r = parse(a);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, om::ErrorCode::validation_failed);
    }
}

TEST(Config, BadEnvironmentValueNamesTheVariable) {
    const auto r = parse({}, {{"OPENMARKET_SHARDS", "lots"}});
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().detail.find("OPENMARKET_SHARDS"), std::string::npos) << r.error().detail;
}

TEST(Config, EnvironmentMapKeepsOnlyOpenMarketVariables) {
    ::setenv("OPENMARKET_UNIT_TEST_PROBE", "a=b", 1);
    const auto env = om::environment_map();
    ::unsetenv("OPENMARKET_UNIT_TEST_PROBE");
    ASSERT_TRUE(env.contains("OPENMARKET_UNIT_TEST_PROBE"));
    EXPECT_EQ(env.at("OPENMARKET_UNIT_TEST_PROBE"), "a=b");
    for (const auto& [k, v] : env) {
        EXPECT_TRUE(k.starts_with("OPENMARKET_")) << k;
    }
}

}  // namespace
