#pragma once
// Blocking runs of coroutine code for command-line tools (`openmarket-server events ...`), never on a shard:
// a private io_context and Redis client, driven on the calling thread until the job finishes.
#include <chrono>
#include <functional>
#include <string>

#include "core/task.hpp"

namespace om::redis {
class Client;
}

namespace om::net {

// Connects to `redis_url`, runs `job` to completion and returns. Rethrows the job's exception; throws
// om::Unavailable when Redis cannot be reached or the whole run takes longer than `timeout`.
void run_with_redis(const std::string& redis_url, const std::function<Task<void>(redis::Client&)>& job,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace om::net
