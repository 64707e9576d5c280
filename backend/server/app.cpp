#include "server/app.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <mutex>

#include "delivery/delivery_routes.hpp"
#include "delivery/delivery_saga.hpp"
#include "delivery/delivery_service.hpp"
#include "events/outbox_relay.hpp"
#include "events/saga.hpp"
#include "events/stream_consumer.hpp"
#include "order/order_routes.hpp"
#include "order/order_service.hpp"
#include "member/member_routes.hpp"
#include "member/member_service.hpp"
#include "net/metrics.hpp"
#include "net/offload.hpp"
#include "payment/gateway_client.hpp"
#include "payment/gateway_server.hpp"
#include "payment/http_gateway.hpp"
#include "payment/payment_routes.hpp"
#include "payment/payment_saga.hpp"
#include "payment/payment_service.hpp"
#include "payment/test_gateway.hpp"
#include "product/product_routes.hpp"
#include "product/product_service.hpp"
#include "product/search_feed.hpp"
#include "product/stock_gate.hpp"
#include "net/pg.hpp"
#include "net/redis.hpp"
#include "net/server.hpp"
#include "server/migrate.hpp"

namespace om {

namespace {

void add_operational_routes(Router& router, net::ShardContext& ctx, const ProcessState& process) {
    router.get("/healthz", [](Request&) -> Task<Response> {
        co_return json_response(200, R"({"status":"ok"})");
    });

    router.get("/readyz", [&ctx, &process](Request& req) -> Task<Response> {
        nlohmann::json checks;
        bool ready = true;
        const int want = latest_version(embedded_migrations());
        try {
            auto r = co_await ctx.db.query("SELECT coalesce(max(version), 0) FROM om_meta.schema_migrations");
            const int have = std::stoi(std::string(r.get(0, 0)));
            checks["postgres"] = "ok";
            checks["migrations"] = {{"applied", have}, {"expected", want}};
            if (have < want) {
                ready = false;
            }
        } catch (const pg::SqlError&) {
            ready = false;
            checks["postgres"] = "ok";
            checks["migrations"] = {{"applied", 0}, {"expected", want}, {"error", "not migrated"}};
        } catch (const std::exception&) {
            ready = false;
            checks["postgres"] = "unavailable";
        }
        try {
            auto pong = co_await ctx.redis.command(redis::args("PING"));
            checks["redis"] = pong.is_error() ? "error" : "ok";
            ready = ready && !pong.is_error();
            // The stock gate must hold PostgreSQL's stock before orders are taken (design §4, invariant 5);
            // the maintenance loop rebuilds it within a second when Redis comes back empty.
            auto gate = co_await ctx.redis.command(redis::args("GET", product::kGateReadyKey));
            const bool gate_ready = gate.type == redis::Reply::Type::string;
            checks["stockGate"] = gate_ready ? "ready" : "rebuilding";
            ready = ready && gate_ready;
        } catch (const std::exception&) {
            ready = false;
            checks["redis"] = "unavailable";
        }
        const bool search_ready = process.search->index().ready();
        checks["search"] = search_ready ? "ready" : "loading";
        ready = ready && search_ready;
        if (ready) {
            co_return json_response(200, nlohmann::json{{"status", "ready"}, {"checks", checks}}.dump());
        }
        Error e{ErrorCode::service_unavailable, "Not ready: " + checks.dump()};
        e.with_header("Retry-After", "1");
        auto res = problem(e, req.path);
        co_return res;
    });

    router.get("/metrics", [&ctx](Request&) -> Task<Response> {
        Response r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = ctx.metrics.scrape();
        co_return r;
    });
}

// One test gateway per process, shared by the shards (it is thread-safe), so that a payment taken over by
// another shard meets the same idempotency keys.
std::shared_ptr<payment::TestGatewayEngine> test_gateway_engine(const Config& c) {
    static std::mutex mu;
    static std::shared_ptr<payment::TestGatewayEngine> engine;
    std::lock_guard lock(mu);
    if (!engine) {
        engine = std::make_shared<payment::TestGatewayEngine>(
            payment::TestGatewayOptions{c.payment_gateway_latency_ms, c.payment_gateway_error_rate});
    }
    return engine;
}

payment::Sleep shard_sleep(net::ShardContext& ctx) {
    return [&io = ctx.io](long ms) { return net::sleep_for(io, ms); };
}

}  // namespace

ProcessState::ProcessState(const Config& config)
    : search(std::make_unique<product::SearchFeed>(config.database_url)),
      settle_board(std::make_unique<order::SettleBoard>()),
      commit_hub(std::make_unique<order::CommitHub>()) {}

ProcessState::~ProcessState() = default;

ShardApp build_gateway_app(net::ShardContext& ctx) {
    ShardApp app;
    payment::add_gateway_routes(app.router, test_gateway_engine(ctx.config), shard_sleep(ctx));
    return app;
}

ShardApp build_shard_app(net::ShardContext& ctx, ProcessState& process) {
    ShardApp app;
    add_operational_routes(app.router, ctx, process);

    auto members = std::make_shared<member::MemberService>(
        ctx.db, ctx.redis, ctx.offload,
        member::SessionStore(ctx.redis, ctx.config.access_token_ttl, ctx.config.refresh_token_ttl,
                             ctx.config.session_cache));
    member::add_routes(app.router, *members);
    app.authenticate = [m = members.get()](const Request& req) { return m->authenticate(req); };
    app.owned.push_back(members);

    auto products = std::make_shared<product::ProductService>(ctx.db, ctx.redis, *process.search, ctx.offload);
    product::add_routes(app.router, *products);
    app.owned.push_back(products);

    std::shared_ptr<payment::PaymentGateway> gateway;
    if (ctx.config.payment_gateway_url.empty()) {
        gateway = std::make_shared<payment::TestGateway>(test_gateway_engine(ctx.config), shard_sleep(ctx));
    } else {
        gateway = std::make_shared<payment::HttpGateway>(ctx.io, ctx.config.payment_gateway_url);
    }
    payment::GatewayClientOptions gopt;
    gopt.timeout = ctx.config.payment_gateway_timeout;
    gopt.retries = ctx.config.payment_gateway_retries;
    gopt.breaker_failures = ctx.config.payment_breaker_failures;
    gopt.breaker_cooldown = ctx.config.payment_breaker_cooldown;
    auto client = std::make_shared<payment::GatewayClient>(std::move(gateway), gopt, shard_sleep(ctx));
    client->set_hooks({[&ctx](payment::CircuitBreaker::State st) { ctx.metrics.set_payment_breaker(ctx.id, static_cast<int>(st)); },
                       [&ctx](payment::Outcome o) { ctx.metrics.count_payment_gateway_call(ctx.id, payment::to_string(o)); }});
    auto payments = std::make_shared<payment::PaymentService>(ctx.db, std::move(client), shard_sleep(ctx));
    payment::add_routes(app.router, *payments);
    app.owned.push_back(payments);
    // Delivery reaches the product service only through this lookup (its C++ interface). When the order
    // service lands (issue 5) it passes the sellers of the order to create_for_order instead.
    delivery::SellerLookup sellers = [p = products.get()](std::vector<std::string> ids) {
        return p->sellers_of(std::move(ids));
    };
    auto deliveries = std::make_shared<delivery::DeliveryService>(ctx.db, std::move(sellers));
    delivery::add_routes(app.router, *deliveries, ctx.config.carrier_webhook_secret);
    app.owned.push_back(deliveries);

    auto orders = std::make_shared<order::OrderService>(
        ctx.db, ctx.redis, *products, shard_sleep(ctx), *process.settle_board,
        order::OrderOptions{ctx.config.order_settle_wait, ctx.config.order_reservation_ttl,
                            ctx.config.order_resume_after, ctx.config.order_approval_defer, ctx.config.order_linger,
                            static_cast<double>(ctx.config.order_linger_full_rate),
                            static_cast<std::size_t>(ctx.config.order_queue_max)},
        ctx.io, process.commit_hub.get());
    if (ctx.id == 0) {
        orders->own_commits();
    }
    orders->on_scan_age([&ctx](double seconds) { ctx.metrics.set_resumer_scan_age(seconds); });
    orders->on_group_commit(
        [&ctx](std::size_t n, double seconds) { ctx.metrics.observe_group_commit(ctx.id, n, seconds); });
    order::add_routes(app.router, *orders);
    app.owned.push_back(orders);

    // The saga's hot events (OrderPlaced, the payment outcome, DeliveryCreated) are published by whoever
    // committed them, at once; the relays below send only what that missed (rows older than a second).
    events::Publisher::route(order::kOutboxTable, events::kOrderStream);
    events::Publisher::route(payment::kOutboxTable, events::kPaymentStream);
    events::Publisher::route(delivery::kOutboxTable, delivery::kEventStream);
    // Published rows are deleted in one DELETE per table every 100 ms (the relays wait a second for them).
    auto publisher = std::make_shared<events::Publisher>(ctx.db, ctx.redis, shard_sleep(ctx), 100);
    app.owned.push_back(publisher);
    orders->set_publisher(publisher.get());
    deliveries->set_publisher(publisher.get());

    // Where the background work runs: the saga's consumers on the background shard, else on every HTTP shard
    // (consumer groups spread the entries over shards and processes); the once-per-process jobs below on the
    // background shard, else on shard 0.
    const bool consumes = ctx.background || !ctx.config.background_shard;
    const bool runs_jobs = ctx.background || (!ctx.config.background_shard && ctx.id == 0);
    auto payment_saga = std::make_shared<payment::PaymentSaga>(*payments, ctx.db);
    auto delivery_saga = std::make_shared<delivery::DeliverySaga>(*deliveries);
    payment_saga->set_publisher(publisher.get());
    app.owned.push_back(payment_saga);
    app.owned.push_back(delivery_saga);
    auto consume = [&ctx, &app](const char* stream, const char* group, auto handler,
                                std::vector<std::string> types = {}) {
        events::ConsumerOptions co;
        co.types = std::move(types);
        co.stream = stream;
        co.group = group;
        co.consumer = events::default_consumer_name(ctx.id);
        co.batch = 256;
        co.poll_ms = 20;
        co.claim_idle_ms = 15'000;
        co.concurrent = true;
        co.start_id = "0";
        co.linger_ms = static_cast<long>(ctx.config.saga_linger.count());
        // Each consuming shard has a consumer in the group, and the entries are shared among them.
        co.linger_full_rate = static_cast<double>(ctx.config.order_linger_full_rate) /
                              (ctx.background ? 1 : std::max(1, ctx.config.shards));
        auto consumer = std::make_shared<events::StreamConsumer>(ctx.io, ctx.redis, co, std::move(handler));
        app.background.emplace_back([c = consumer.get()] { return c->run(); });
        app.stop.emplace_back([c = consumer.get()] { c->stop(); });
        app.owned.push_back(consumer);
    };
    if (consumes) {
        consume(events::kOrderStream, "payment",
                events::BatchHandler([s = payment_saga.get()](std::vector<events::StreamEntry> batch) {
                    return s->on_order_events(std::move(batch));
                }));
        consume(events::kPaymentStream, "delivery",
                events::BatchHandler([s = delivery_saga.get()](std::vector<events::StreamEntry> batch) {
                    return s->on_payment_events(std::move(batch));
                }));
        consume(events::kOrderStream, "delivery",
                events::concurrently(
                    [s = delivery_saga.get()](const events::StreamEntry& e) { return s->on_order_event(e); }),
                {"OrderCancelled"});
        const events::BatchHandler order_events = [s = orders.get()](std::vector<events::StreamEntry> batch) {
            return s->on_events(std::move(batch));
        };
        consume(events::kPaymentStream, "orders", order_events);
        consume(events::kDeliveryStream, "orders", order_events);
    }

    // Once per process: one outbox relay per table (and one simulator, one maintenance loop). More processes are
    // safe: the relay claims rows with FOR UPDATE SKIP LOCKED under a per-table advisory lock, the simulator
    // re-checks each delivery under its row lock, and the maintenance steps are idempotent (the gate rebuild
    // takes a Redis lock).
    if (runs_jobs) {
        auto relay = [&ctx, &app](const char* table, const char* stream, long poll_ms) {
            events::RelayOptions ro;
            ro.table = table;
            ro.stream = stream;
            ro.poll_ms = poll_ms;
            ro.batch = 500;
            ro.min_age_ms = 1'000;
            auto r = std::make_shared<events::OutboxRelay>(ctx.io, ctx.db, ctx.redis, ro);
            app.background.emplace_back([p = r.get()] { return p->run(); });
            app.stop.emplace_back([p = r.get()] { p->stop(); });
            app.owned.push_back(r);
        };
        // The relays only send what a direct publish missed (rows a second old), so they need not look often:
        // every poll is a transaction of four statements (BEGIN, advisory lock, claim, COMMIT), and at 20 ms the
        // three relays cost ~2.4 statements per order at 250 orders/s (issue 6, docs/performance.md).
        relay(delivery::kOutboxTable, delivery::kEventStream, 500);
        relay(order::kOutboxTable, events::kOrderStream, 500);
        relay(payment::kOutboxTable, events::kPaymentStream, 500);
        app.background.emplace_back([o = orders.get()] { return o->run_maintenance(); });
        app.stop.emplace_back([o = orders.get()] { o->stop(); });
        if (ctx.config.courier_simulator) {
            auto sim = std::make_shared<delivery::CourierSimulator>(
                *deliveries, [&io = ctx.io](long ms) { return net::sleep_for(io, ms); },
                static_cast<long>(ctx.config.courier_interval.count()));
            app.background.emplace_back([s = sim.get()] { return s->run(); });
            app.stop.emplace_back([s = sim.get()] { s->stop(); });
            app.owned.push_back(sim);
        }
    }
    return app;
}

}  // namespace om
