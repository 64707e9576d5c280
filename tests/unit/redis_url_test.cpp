// om::redis::parse_url: redis://[:password@]host[:port][/db] and unix://[:password@]/path[?db=N]; om::redis::resp_command: a command on the wire.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "net/redis.hpp"

namespace {

using om::redis::parse_url;

TEST(RedisUrl, HostOnlyUsesDefaults) {
    const auto o = parse_url("redis://localhost");
    EXPECT_EQ(o.host, "localhost");
    EXPECT_EQ(o.port, 6379);
    EXPECT_EQ(o.db, 0);
    EXPECT_TRUE(o.password.empty());
}

TEST(RedisUrl, HostPortDb) {
    const auto o = parse_url("redis://127.0.0.1:6390/3");
    EXPECT_EQ(o.host, "127.0.0.1");
    EXPECT_EQ(o.port, 6390);
    EXPECT_EQ(o.db, 3);
    EXPECT_TRUE(o.password.empty());
}

TEST(RedisUrl, PasswordHostPortDb) {
    const auto o = parse_url("redis://:s3cret@cache.internal:7000/15");
    EXPECT_EQ(o.password, "s3cret");
    EXPECT_EQ(o.host, "cache.internal");
    EXPECT_EQ(o.port, 7000);
    EXPECT_EQ(o.db, 15);
}

TEST(RedisUrl, PasswordIsPercentDecodedAndMayContainAt) {
    EXPECT_EQ(parse_url("redis://:p%40ss%2Fw%3Ard@h").password, "p@ss/w:rd");
    EXPECT_EQ(parse_url("redis://:a@b@h:1").password, "a@b");
    EXPECT_EQ(parse_url("redis://:a@b@h:1").host, "h");
}

TEST(RedisUrl, TrailingSlashMeansDbZero) {
    const auto o = parse_url("redis://h:1234/");
    EXPECT_EQ(o.port, 1234);
    EXPECT_EQ(o.db, 0);
}

TEST(RedisUrl, Ipv6Literal) {
    const auto o = parse_url("redis://[::1]:6380/2");
    EXPECT_EQ(o.host, "::1");
    EXPECT_EQ(o.port, 6380);
    EXPECT_EQ(o.db, 2);
    EXPECT_EQ(parse_url("redis://[::1]").port, 6379);
}

TEST(RedisUrl, PortBounds) {
    EXPECT_EQ(parse_url("redis://h:1").port, 1);
    EXPECT_EQ(parse_url("redis://h:65535").port, 65535);
}

TEST(RedisUrl, KeepsDefaultTimeouts) {
    const auto o = parse_url("redis://h");
    EXPECT_EQ(o.command_timeout, om::redis::Options{}.command_timeout);
    EXPECT_EQ(o.connect_timeout, om::redis::Options{}.connect_timeout);
}

TEST(RedisUrl, UnixSocket) {
    const auto o = parse_url("unix:///run/redis/redis.sock");
    EXPECT_EQ(o.unix_socket, "/run/redis/redis.sock");
    EXPECT_EQ(o.db, 0);
    EXPECT_TRUE(o.password.empty());
    const auto p = parse_url("unix://:s%40cret@/tmp/r%20s.sock?db=7");
    EXPECT_EQ(p.unix_socket, "/tmp/r s.sock");
    EXPECT_EQ(p.password, "s@cret");
    EXPECT_EQ(p.db, 7);
    EXPECT_TRUE(parse_url("redis://h").unix_socket.empty());  // TCP
}

class RedisUrlInvalid : public ::testing::TestWithParam<std::string> {};

TEST_P(RedisUrlInvalid, Throws) { EXPECT_THROW((void)parse_url(GetParam()), std::invalid_argument); }

INSTANTIATE_TEST_SUITE_P(Malformed, RedisUrlInvalid,
                         ::testing::Values("",                           // empty
                                           "localhost:6379",             // no scheme
                                           "http://localhost:6379",      // wrong scheme
                                           "rediss://localhost",         // TLS not supported
                                           "REDIS://localhost",          // scheme is case-sensitive here
                                           "redis://",                   // no host
                                           "redis://:6379",              // no host
                                           "redis://:pw@",               // no host
                                           "redis://:pw@:6379/0",        // no host
                                           "redis://h:",                 // empty port
                                           "redis://h:0",                // port 0
                                           "redis://h:65536",            // port too large
                                           "redis://h:99999999999",      // port overflow
                                           "redis://h:-1",               // negative port
                                           "redis://h:+80",              // sign
                                           "redis://h:80a",              // trailing garbage
                                           "redis://h:abc",              // not a number
                                           "unix://",                    // no socket path
                                           "unix://run/redis.sock",      // relative path
                                           "unix:///r.sock?db=x",        // bad db
                                           "unix:///r.sock?db=-1",       // negative db
                                           "unix:///r.sock?timeout=1",   // unknown parameter
                                           "unix://user:pw@/r.sock",     // user names are not supported
                                           "redis://h:6379/x",           // bad db
                                           "redis://h:6379/-1",          // negative db
                                           "redis://h:6379/1/2",         // extra path
                                           "redis://h:6379/0?timeout=1", // query not supported
                                           "redis://h/99999999999",      // db overflow
                                           "redis://user:pw@h",          // user names not supported
                                           "redis://pw@h",               // missing ':' before password
                                           "redis://:p%zz@h",            // bad percent escape
                                           "redis://:p%4@h",             // truncated percent escape
                                           "redis://[::1",               // unterminated IPv6
                                           "redis://[::1]x",             // garbage after IPv6
                                           "redis://[]:6379"));          // empty IPv6

}  // namespace

// om::redis::resp_command: the wire form of a command (RESP array of bulk strings).
TEST(RespCommand, ArgumentsAreBulkStringsWithTheirByteLengths) {
    EXPECT_EQ(om::redis::resp_command({"SET", "k", "v"}), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    // Binary-safe: CR LF, NUL and UTF-8 inside an argument are counted in bytes and sent as they are.
    const std::string odd = std::string("a\r\nb") + '\0' + "한";
    EXPECT_EQ(om::redis::resp_command({"XADD", odd, ""}),
              "*3\r\n$4\r\nXADD\r\n$8\r\n" + odd + "\r\n$0\r\n\r\n");
    EXPECT_EQ(om::redis::resp_command({}), "*0\r\n");
    const std::string big(100000, 'x');
    EXPECT_EQ(om::redis::resp_command({big}), "*1\r\n$100000\r\n" + big + "\r\n");
}
