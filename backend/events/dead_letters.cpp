#include "events/dead_letters.hpp"

#include <exception>
#include <ostream>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "net/oneshot.hpp"
#include "net/redis.hpp"

namespace om::events {

namespace {

DeadLetter parse(const redis::Reply& r) {
    DeadLetter d;
    if (r.elements.empty()) {
        return d;
    }
    d.id = r.elements[0].str;
    if (r.elements.size() > 1) {
        const auto& kv = r.elements[1].elements;
        for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
            d.fields[kv[i].str] = kv[i + 1].str;
        }
    }
    return d;
}

void check(const redis::Reply& reply, const std::string& what) {
    if (reply.is_error()) {
        throw Unavailable("redis " + what + ": " + reply.str);
    }
}

}  // namespace

std::string dead_stream_name(const std::string& stream) {
    return stream.ends_with(":dead") ? stream : stream + ":dead";
}

Task<std::vector<DeadLetter>> list_dead(redis::Client& redis, std::string stream, int limit) {
    const std::string dead = dead_stream_name(stream);
    const std::string count = std::to_string(limit > 0 ? limit : 1);
    auto reply = co_await redis.command(redis::args("XRANGE", dead, "-", "+", "COUNT", count));
    check(reply, "XRANGE " + dead);
    std::vector<DeadLetter> out;
    out.reserve(reply.elements.size());
    for (const auto& e : reply.elements) {
        out.push_back(parse(e));
    }
    co_return out;
}

Task<std::optional<std::string>> replay_dead(redis::Client& redis, std::string stream, std::string entry_id) {
    const std::string dead = dead_stream_name(stream);
    auto found = co_await redis.command(redis::args("XRANGE", dead, entry_id, entry_id));
    check(found, "XRANGE " + dead);
    if (found.elements.empty()) {
        co_return std::nullopt;
    }
    const DeadLetter letter = parse(found.elements[0]);
    std::string target;
    if (const auto it = letter.fields.find("dead.stream"); it != letter.fields.end() && !it->second.empty()) {
        target = it->second;
    } else {
        target = dead.substr(0, dead.size() - std::string(":dead").size());
    }
    std::vector<std::string> cmd = redis::args("XADD", target, "*");
    for (const auto& [k, v] : letter.fields) {
        if (!k.starts_with("dead.")) {
            cmd.push_back(k);
            cmd.push_back(v);
        }
    }
    if (cmd.size() == 3) {  // XADD needs at least one field
        cmd.emplace_back("replayedFrom");
        cmd.push_back(letter.id);
    }
    auto added = co_await redis.command(std::move(cmd));
    check(added, "XADD " + target);
    auto deleted = co_await redis.command(redis::args("XDEL", dead, entry_id));
    check(deleted, "XDEL " + dead);
    co_return added.str;
}

int run_events_command(const std::string& redis_url, const std::string& action, const std::string& stream,
                       const std::string& id, int limit, std::ostream& out, std::ostream& err) {
    if (stream.empty()) {
        err << "openmarket-server events " << action << ": --stream is required\n";
        return 2;
    }
    try {
        if (action == "dead-letters") {
            std::vector<DeadLetter> letters;
            net::run_with_redis(redis_url, [&](redis::Client& c) -> Task<void> {
                letters = co_await list_dead(c, stream, limit);
            });
            // One JSON object per line: {"id": ..., "fields": {...}}.
            for (const auto& d : letters) {
                nlohmann::json j;
                j["id"] = d.id;
                j["fields"] = d.fields;
                out << j.dump() << "\n";
            }
            err << letters.size() << " dead letter(s) in " << dead_stream_name(stream) << "\n";
            return 0;
        }
        if (action == "replay") {
            if (id.empty()) {
                err << "openmarket-server events replay: --id is required\n";
                return 2;
            }
            std::optional<std::string> new_id;
            net::run_with_redis(redis_url, [&](redis::Client& c) -> Task<void> {
                new_id = co_await replay_dead(c, stream, id);
            });
            if (!new_id) {
                err << "openmarket-server events replay: no dead letter " << id << " in " << dead_stream_name(stream)
                    << "\n";
                return 3;
            }
            out << "replayed " << id << " as " << *new_id << "\n";
            return 0;
        }
        err << "openmarket-server events: unknown action '" << action << "' (dead-letters or replay)\n";
        return 2;
    } catch (const std::exception& e) {
        err << "openmarket-server events " << action << ": " << e.what() << "\n";
        return 1;
    }
}

}  // namespace om::events
