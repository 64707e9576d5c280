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
namespace om::order {
class SettleBoard;
class CommitHub;
}

namespace om {

// What the shards of one process share: the product search index (thread-safe, read-mostly; see
// product/search_index.hpp), the board of orders that requests are waiting for (order/order_service.hpp) and
// the hub through which shard 0's group commit writes every shard's new orders (order/order_writer.hpp).
// Create before the server starts; it outlives every shard.
struct ProcessState {
    explicit ProcessState(const Config& config);
    ~ProcessState();
    std::unique_ptr<product::SearchFeed> search;
    std::unique_ptr<order::SettleBoard> settle_board;
    std::unique_ptr<order::CommitHub> commit_hub;  // shard 0's group commit writes every shard's orders
};

ShardApp build_shard_app(net::ShardContext& ctx, ProcessState& process);
// `openmarket-server gateway`: the test payment gateway served over HTTP (no database, no Redis needed).
ShardApp build_gateway_app(net::ShardContext& ctx);
}  // namespace om
