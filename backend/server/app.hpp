#pragma once
// Wires the services into one shard: routes, auth middleware, health, readiness and metrics endpoints.
#include <memory>

#include "core/app.hpp"
#include "core/config.hpp"

namespace om::net {
struct ShardContext;
}
namespace om::product {
class SearchFeed;
}

namespace om {

// What the shards of one process share: the product search index (thread-safe, read-mostly; see
// product/search_index.hpp). Create before the server starts; it outlives every shard.
struct ProcessState {
    explicit ProcessState(const Config& config);
    ~ProcessState();
    std::unique_ptr<product::SearchFeed> search;
};

ShardApp build_shard_app(net::ShardContext& ctx, ProcessState& process);
// `openmarket-server gateway`: the test payment gateway served over HTTP (no database, no Redis needed).
ShardApp build_gateway_app(net::ShardContext& ctx);
}  // namespace om
