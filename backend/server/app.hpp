#pragma once
// Wires the services into one shard: routes, auth middleware, health, readiness and metrics endpoints.
#include "core/app.hpp"

namespace om::net {
struct ShardContext;
}

namespace om {
ShardApp build_shard_app(net::ShardContext& ctx);
// `openmarket-server gateway`: the test payment gateway served over HTTP (no database, no Redis needed).
ShardApp build_gateway_app(net::ShardContext& ctx);
}  // namespace om
