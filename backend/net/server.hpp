#pragma once
// The sharded HTTP/1.1 server (design §3): N shards, each a thread with its own io_context, its own
// SO_REUSEPORT listening socket, its own PostgreSQL pool and Redis connection. Nothing mutable is shared on
// the request path. Several processes may listen on the same port.

#include <functional>
#include <memory>
#include <string>

#include "core/app.hpp"
#include "core/config.hpp"

namespace boost::asio {
class io_context;
}

namespace om::pg {
class Pool;
}
namespace om::redis {
class Client;
}

namespace om::net {

class Offload;
class Metrics;

// Per-shard resources handed to the application when it builds the shard's routes.
struct ShardContext {
    int id;
    boost::asio::io_context& io;
    pg::Pool& db;
    redis::Client& redis;
    Offload& offload;
    Metrics& metrics;
    const Config& config;
    // The background shard (Config::background_shard): it serves no HTTP; the application runs its event
    // consumers and once-per-process jobs there. Its id follows the HTTP shards' ids.
    bool background = false;
};

using AppFactory = std::function<ShardApp(ShardContext&)>;

class Server {
public:
    Server(Config config, AppFactory factory);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds, serves until SIGINT/SIGTERM, shuts down gracefully. Returns the process exit code.
    int run();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace om::net
