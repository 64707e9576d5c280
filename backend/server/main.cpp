// openmarket-server: serve (default), migrate, gateway or events. See --help.
#include <iostream>

#include "core/config.hpp"
#include "core/log.hpp"
#include "events/dead_letters.hpp"
#include "net/server.hpp"
#include "server/app.hpp"
#include "server/migrate.hpp"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv, argv + argc);
    auto cli = om::parse_cli(args, om::environment_map());
    if (!cli) {
        std::cerr << "openmarket-server: " << cli.error().detail << "\n";
        return 2;
    }
    if (cli->command == "help") {
        std::cout << om::usage();
        return 0;
    }
    om::log::init(cli->config.log_level);
    if (cli->command == "migrate") {
        try {
            const auto migrations = cli->migrations_dir.empty() ? om::embedded_migrations()
                                                                : om::load_migrations(cli->migrations_dir);
            auto report = om::migrate(cli->config.database_url, migrations);
            for (const auto& name : report.applied) {
                std::cout << "applied " << name << "\n";
            }
            std::cout << "schema at version " << report.current_version << " (" << report.applied.size()
                      << " applied now)\n";
            return 0;
        } catch (const std::exception& e) {
            std::cerr << "openmarket-server migrate: " << e.what() << "\n";
            return 1;
        }
    }
    if (cli->command == "events") {
        return om::events::run_events_command(cli->config.redis_url, cli->events_action, cli->events_stream,
                                              cli->events_id, cli->events_limit, std::cout, std::cerr);
    }
    if (cli->command == "gateway") {
        try {
            om::net::Server server(cli->config, [](om::net::ShardContext& ctx) { return om::build_gateway_app(ctx); });
            return server.run();
        } catch (const std::exception& e) {
            om::log::error("fatal", {{"error", e.what()}});
            return 1;
        }
    }
    try {
        om::ProcessState process(cli->config);
        om::net::Server server(cli->config,
                               [&process](om::net::ShardContext& ctx) { return om::build_shard_app(ctx, process); });
        return server.run();
    } catch (const std::exception& e) {
        om::log::error("fatal", {{"error", e.what()}});
        return 1;
    }
}
