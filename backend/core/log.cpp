#include "core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"

namespace om::log {

namespace {
std::atomic<int> min_level{static_cast<int>(Level::info)};

std::shared_ptr<spdlog::logger>& logger() {
    static std::shared_ptr<spdlog::logger> l = [] {
        auto lg = spdlog::stderr_logger_mt("openmarket");
        lg->set_pattern("%v");
        lg->set_level(spdlog::level::trace);
        lg->flush_on(spdlog::level::trace);
        return lg;
    }();
    return l;
}

constexpr std::string_view names[] = {"trace", "debug", "info", "warn", "error"};
}  // namespace

void init(std::string_view level) {
    for (int i = 0; i < 5; ++i) {
        if (names[i] == level) {
            min_level = i;
        }
    }
    (void)logger();
}

bool enabled(Level l) noexcept { return static_cast<int>(l) >= min_level.load(std::memory_order_relaxed); }

void write(Level l, std::string_view msg, std::initializer_list<Field> fields) {
    if (!enabled(l)) {
        return;
    }
    nlohmann::json j;
    j["ts"] = now_rfc3339();
    j["level"] = names[static_cast<int>(l)];
    j["msg"] = msg;
    for (const auto& f : fields) {
        std::visit([&](const auto& v) { j[std::string(f.key)] = v; }, f.value);
    }
    logger()->info(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace om::log
