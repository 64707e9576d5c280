#pragma once
// Asynchronous Redis client for one shard: hiredis' async API plugged into the shard's io_context
// through an Asio adapter (redisAsyncContext ev.addRead/delRead/addWrite/delWrite/cleanup).
//
// Contract:
//  - A Client belongs to one shard and is used only from that shard's thread.
//  - command() sends one command (pipelined with other in-flight ones on the same connection) and
//    resumes the caller with the reply. Error replies from Redis come back as Reply::Type::error.
//  - Not connected, connection lost mid-command, or no reply within `command_timeout` →
//    throws om::Unavailable. The client reconnects by itself with backoff (capped at 1 s).
//  - EVAL goes out as EVALSHA once the client knows the script's digest (SCRIPT LOAD, the first time it runs
//    that script): Redis then neither reads nor hashes the script's text on every call. A Redis that lost its
//    scripts (restart, SCRIPT FLUSH) answers NOSCRIPT, and that call goes as EVAL, which caches it again.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/task.hpp"

namespace boost::asio {
class io_context;
}

namespace om::redis {

struct Reply {
    enum class Type : std::uint8_t { string, array, integer, nil, status, error };
    Type type = Type::nil;
    std::string str;  // string, status, error
    long long integer = 0;
    std::vector<Reply> elements;

    [[nodiscard]] bool is_nil() const noexcept { return type == Type::nil; }
    [[nodiscard]] bool is_error() const noexcept { return type == Type::error; }
};

struct Options {
    std::string host = "127.0.0.1";
    int port = 6379;
    // Not empty: Redis' Unix socket instead of host:port (Redis on the same machine, reachable by file
    // permissions rather than a port).
    std::string unix_socket;
    int db = 0;
    std::string password;  // empty: no AUTH
    std::chrono::milliseconds command_timeout{2000};
    std::chrono::milliseconds connect_timeout{2000};
};

// Builds a command's argument list. Use this rather than a braced list inside coroutines: GCC 12
// miscompiles initializer_list temporaries in co_await expressions ("array used as initializer").
template <class... A>
std::vector<std::string> args(A&&... a) {
    std::vector<std::string> v;
    v.reserve(sizeof...(A));
    (v.emplace_back(std::forward<A>(a)), ...);
    return v;
}

// Parses redis://[:password@]host[:port][/db] or unix://[:password@]/path/to/redis.sock[?db=N]. Throws
// std::invalid_argument on a malformed URL.
Options parse_url(std::string_view url);

// A command in RESP (an array of bulk strings; binary-safe), as it goes on the wire. hiredis' own formatting
// (redisAsyncCommandArgv: sdscatfmt per argument) cost ~5,700 instructions a command.
std::string resp_command(const std::vector<std::string>& args);

class Client;
// Releases a key that serves as a lock or a claim: deletes `key` only while it still holds `value` (one script),
// so that a holder whose key expired and was taken by someone else does not delete theirs. Failures are
// ignored: such keys carry an expiry.
Task<void> release_if_held(Client& redis, std::string key, std::string value);

class Client {
public:
    Client(boost::asio::io_context& io, Options options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Starts connecting (non-blocking). Safe to call once; reconnects are automatic afterwards.
    void start();
    // Disconnects and fails in-flight commands with Unavailable; no more reconnects.
    void stop();

    Task<Reply> command(std::vector<std::string> args);

    [[nodiscard]] bool connected() const noexcept;

    struct Impl;

private:
    Task<Reply> send(std::vector<std::string> args);
    Task<Reply> eval(std::vector<std::string> cmd);

    std::shared_ptr<Impl> impl_;
};

}  // namespace om::redis
