#include "events/stream_consumer.hpp"

#include "events/backoff.hpp"
#include "events/outbox_relay.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <utility>
#include <vector>

#include <unistd.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "net/offload.hpp"
#include "net/redis.hpp"

namespace om::events {

namespace {

const std::string kEmpty;

// [id, [k1, v1, k2, v2, ...]] → entry; fields nil (entry deleted while pending) → no fields.
StreamEntry parse_entry(redis::Reply&& r) {
    StreamEntry e;
    if (r.elements.empty()) {
        return e;
    }
    e.id = std::move(r.elements[0].str);
    if (r.elements.size() > 1) {
        auto& kv = r.elements[1].elements;
        e.fields.reserve(kv.size() / 2);
        for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
            e.fields.emplace_back(std::move(kv[i].str), std::move(kv[i + 1].str));
        }
    }
    return e;
}

// The handler's result; an exception is a failure with its message.
Task<HandlerResult> guarded(const StreamHandler& handler, const StreamEntry& entry) {
    try {
        co_return co_await handler(entry);
    } catch (const std::exception& e) {
        co_return HandlerResult::failure(*e.what() != '\0' ? e.what() : "handler threw");
    } catch (...) {
        co_return HandlerResult::failure("handler threw a non-standard exception");
    }
}

void check(const redis::Reply& reply, const std::string& what) {
    if (reply.is_error()) {
        throw Unavailable("redis " + what + ": " + reply.str);
    }
}

}  // namespace

const std::string& StreamEntry::field(std::string_view name) const {
    const auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == name; });
    return it == fields.end() ? kEmpty : it->second;
}

std::string dead_letter_stream_for(const std::string& stream) { return stream + ":dead"; }

bool StreamConsumer::handles(const StreamEntry& e) const {
    return options_.types.empty() ||
           std::find(options_.types.begin(), options_.types.end(), e.type()) != options_.types.end();
}

std::string default_consumer_name(int shard) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
        std::snprintf(host, sizeof host, "host");
    }
    return std::string(host) + "-" + std::to_string(::getpid()) + "-" + std::to_string(shard);
}

StreamConsumer::StreamConsumer(boost::asio::io_context& io, redis::Client& redis, ConsumerOptions options,
                               StreamHandler handler)
    : io_(io),
      wakeup_(std::make_unique<net::Wakeup>(io)),
      redis_(redis),
      options_(std::move(options)),
      handler_(std::move(handler)),
      linger_(options_.linger_ms, options_.linger_full_rate) {
    wakeup_->subscribe(stream_topic(options_.stream), options_.group);
    if (options_.dead_letter_stream.empty()) {
        options_.dead_letter_stream = dead_letter_stream_for(options_.stream);
    }
    if (options_.consumer.empty()) {
        options_.consumer = default_consumer_name(0);
    }
    if (options_.claim_interval_ms <= 0) {
        options_.claim_interval_ms = std::max(options_.claim_idle_ms / 2, options_.poll_ms);
    }
    options_.batch = std::max(options_.batch, 1);
    options_.max_deliveries = std::max(options_.max_deliveries, 1LL);
}

void StreamConsumer::stop() noexcept {
    stopped_ = true;
    wakeup_->notify();
}

StreamHandler one_by_one(BatchHandler handler) {
    return [handler = std::move(handler)](const StreamEntry& e) -> Task<HandlerResult> {
        std::vector<StreamEntry> one{e};
        auto results = co_await handler(std::move(one));
        co_return results.empty() ? HandlerResult::failure("the batch handler answered nothing") : results[0];
    };
}

BatchHandler concurrently(StreamHandler handler) {
    return [handler = std::move(handler)](std::vector<StreamEntry> entries) -> Task<std::vector<HandlerResult>> {
        std::vector<HandlerResult> results(entries.size());
        std::vector<Task<void>> running;
        running.reserve(entries.size());
        for (std::size_t i = 0; i < entries.size(); ++i) {
            auto one = [](const StreamHandler& h, const StreamEntry& e, HandlerResult& out) -> Task<void> {
                out = co_await guarded(h, e);
            };
            running.push_back(one(handler, entries[i], results[i]));
        }
        co_await when_all(std::move(running));
        co_return results;
    };
}

StreamConsumer::StreamConsumer(boost::asio::io_context& io, redis::Client& redis, ConsumerOptions options,
                               BatchHandler batch)
    : StreamConsumer(io, redis, std::move(options), one_by_one(batch)) {
    batch_handler_ = std::move(batch);
}

Task<void> StreamConsumer::pause(long ms) {
    auto sleep = [&io = io_](long slice) { return net::sleep_for(io, slice); };
    co_await pause_unless_stopped(sleep, ms, stopped_);
}

Task<void> StreamConsumer::ensure_group() {
    if (group_ready_) {
        co_return;
    }
    auto reply = co_await redis_.command(
        redis::args("XGROUP", "CREATE", options_.stream, options_.group, options_.start_id, "MKSTREAM"));
    if (reply.is_error() && !reply.str.starts_with("BUSYGROUP")) {
        throw Unavailable("redis XGROUP CREATE " + options_.stream + ": " + reply.str);
    }
    group_ready_ = true;
}

Task<void> StreamConsumer::ack(std::string id) {
    auto reply = co_await redis_.command(redis::args("XACK", options_.stream, options_.group, id));
    check(reply, "XACK " + options_.stream);
    last_error_.erase(id);
}

Task<void> StreamConsumer::ack_all(std::vector<std::string> ids) {
    if (ids.empty()) {
        co_return;
    }
    std::vector<std::string> cmd = redis::args("XACK", options_.stream, options_.group);
    for (auto& id : ids) {
        last_error_.erase(id);
        cmd.push_back(std::move(id));
    }
    auto reply = co_await redis_.command(std::move(cmd));
    check(reply, "XACK " + options_.stream);
}

Task<long long> StreamConsumer::delivery_count(std::string id) {
    // Extended form: [[id, consumer, idle ms, deliveries]].
    auto reply = co_await redis_.command(redis::args("XPENDING", options_.stream, options_.group, id, id, "1"));
    check(reply, "XPENDING " + options_.stream);
    if (reply.elements.empty() || reply.elements[0].elements.size() < 4) {
        co_return 0;  // no longer pending (acknowledged by another consumer)
    }
    co_return reply.elements[0].elements[3].integer;
}

Task<void> StreamConsumer::dead_letter(StreamEntry entry, std::string error) {
    std::vector<std::string> cmd = redis::args("XADD", options_.dead_letter_stream, "*");
    for (const auto& [k, v] : entry.fields) {
        cmd.push_back(k);
        cmd.push_back(v);
    }
    const auto more = redis::args("dead.originalId", entry.id, "dead.stream", options_.stream, "dead.group",
                                  options_.group, "dead.consumer", options_.consumer, "dead.deliveries",
                                  std::to_string(entry.deliveries), "dead.error", error);
    cmd.insert(cmd.end(), more.begin(), more.end());
    auto reply = co_await redis_.command(std::move(cmd));
    check(reply, "XADD " + options_.dead_letter_stream);
    log::warn("event dead-lettered", {{"stream", options_.stream},
                                      {"group", options_.group},
                                      {"entry", entry.id},
                                      {"eventId", entry.event_id()},
                                      {"deliveries", entry.deliveries},
                                      {"error", error},
                                      {"deadLetter", reply.str}});
    co_await ack(entry.id);
}

Task<void> StreamConsumer::process(StreamEntry entry) {
    HandlerResult result = co_await guarded(handler_, entry);
    if (result.ok) {
        co_await ack(entry.id);
        co_return;
    }
    co_await failed(std::move(entry), std::move(result));
}

Task<void> StreamConsumer::process_batch(std::vector<StreamEntry> entries) {
    // The handler takes the entries. Kept for afterwards: their ids and delivery counts (to acknowledge them, or
    // to leave them pending for a retry), and the entries themselves only if a failure would dead-letter one
    // (its last delivery), which needs its fields.
    const std::size_t n = entries.size();
    std::vector<StreamEntry> kept;
    if (std::any_of(entries.begin(), entries.end(),
                    [&](const StreamEntry& e) { return e.deliveries >= options_.max_deliveries; })) {
        kept = entries;
    } else {
        kept.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            kept[i].id = entries[i].id;
            kept[i].deliveries = entries[i].deliveries;
        }
    }
    std::vector<HandlerResult> results;
    try {
        results = co_await batch_handler_(std::move(entries));
        if (results.size() != n) {
            throw std::runtime_error("the batch handler answered " + std::to_string(results.size()) +
                                     " results for " + std::to_string(n) + " entries");
        }
    } catch (const std::exception& e) {
        results.assign(n, HandlerResult::failure(*e.what() != '\0' ? e.what() : "handler threw"));
    } catch (...) {
        results.assign(n, HandlerResult::failure("handler threw a non-standard exception"));
    }
    std::vector<std::string> done;
    done.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (results[i].ok) {
            done.push_back(kept[i].id);
        }
    }
    co_await ack_all(std::move(done));
    for (std::size_t i = 0; i < n; ++i) {
        if (!results[i].ok) {
            co_await failed(std::move(kept[i]), std::move(results[i]));
        }
    }
}

Task<void> StreamConsumer::failed(StreamEntry entry, HandlerResult result) {
    if (result.error.empty()) {
        result.error = "handler failed";
    }
    if (entry.deliveries >= options_.max_deliveries) {
        co_await dead_letter(std::move(entry), std::move(result.error));
        co_return;
    }
    log::info("event handler failed; will retry",
              {{"stream", options_.stream}, {"entry", entry.id}, {"deliveries", entry.deliveries},
               {"error", result.error}});
    if (last_error_.size() >= 10'000) {
        last_error_.clear();  // a bound; the error is only informative
    }
    last_error_[entry.id] = std::move(result.error);
}

Task<int> StreamConsumer::read_once() {
    co_await ensure_group();
    const std::string count = std::to_string(options_.batch);
    auto reply = co_await redis_.command(redis::args("XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
                                                     count, "STREAMS", options_.stream, ">"));
    if (reply.is_error()) {
        if (reply.str.starts_with("NOGROUP")) {
            group_ready_ = false;  // the stream or group was deleted: recreate it next time
        }
        throw Unavailable("redis XREADGROUP " + options_.stream + ": " + reply.str);
    }
    std::vector<StreamEntry> entries;
    for (auto& stream : reply.elements) {  // [[stream, [entry, ...]]] or nil
        if (stream.elements.size() < 2) {
            continue;
        }
        entries.reserve(entries.size() + stream.elements[1].elements.size());
        for (auto& e : stream.elements[1].elements) {
            entries.push_back(parse_entry(std::move(e)));
        }
    }
    int handled = 0;
    if (!options_.types.empty()) {
        std::vector<std::string> skipped;
        std::erase_if(entries, [&](StreamEntry& e) {
            if (handles(e)) {
                return false;
            }
            skipped.push_back(std::move(e.id));
            return true;
        });
        if (!skipped.empty()) {
            handled = static_cast<int>(skipped.size());  // read: counts for the linger and the next read
            co_await ack_all(std::move(skipped));
        }
    }
    if (batch_handler_ && !entries.empty()) {
        for (auto& e : entries) {
            e.deliveries = 1;
        }
        handled += static_cast<int>(entries.size());
        co_await process_batch(std::move(entries));
        co_return handled;
    }
    if (options_.concurrent) {
        std::vector<Task<void>> running;
        for (auto& e : entries) {
            e.deliveries = 1;
            running.push_back(process(std::move(e)));
        }
        handled += static_cast<int>(running.size());
        co_await when_all(std::move(running));
        co_return handled;
    }
    for (auto& e : entries) {
        if (stopped_) {
            break;  // the rest stay pending and are claimed later
        }
        e.deliveries = 1;
        co_await process(std::move(e));
        ++handled;
    }
    co_return handled;
}

Task<int> StreamConsumer::claim_once() {
    co_await ensure_group();
    const std::string idle = std::to_string(options_.claim_idle_ms);
    const std::string count = std::to_string(options_.batch);
    auto reply = co_await redis_.command(redis::args("XAUTOCLAIM", options_.stream, options_.group, options_.consumer,
                                                     idle, claim_cursor_, "COUNT", count));
    if (reply.is_error() && reply.str.starts_with("NOGROUP")) {
        group_ready_ = false;  // the stream or group was deleted (or Redis lost its data): recreate it next time
    }
    check(reply, "XAUTOCLAIM " + options_.stream);
    // [next cursor, [entry, ...], [deleted id, ...]]
    if (reply.elements.size() < 2) {
        co_return 0;
    }
    claim_cursor_ = reply.elements[0].str.empty() ? "0-0" : reply.elements[0].str;
    std::vector<StreamEntry> entries;
    for (auto& e : reply.elements[1].elements) {
        entries.push_back(parse_entry(std::move(e)));
    }
    int claimed = 0;
    for (auto& e : entries) {
        if (stopped_) {
            break;
        }
        ++claimed;
        if (e.fields.empty() || !handles(e)) {  // deleted from the stream while pending, or not for the handler
            co_await ack(e.id);
            continue;
        }
        const std::string id = e.id;
        e.deliveries = co_await delivery_count(id);
        if (e.deliveries == 0) {
            continue;
        }
        if (e.deliveries > options_.max_deliveries) {
            // This claim counted as a delivery but the handler does not run: record the ones that reached it.
            --e.deliveries;
            const auto it = last_error_.find(e.id);
            std::string error = it != last_error_.end()
                                    ? it->second
                                    : "delivered " + std::to_string(e.deliveries) +
                                          " times without acknowledgement (its consumers died or failed)";
            co_await dead_letter(std::move(e), std::move(error));
            continue;
        }
        co_await process(std::move(e));
    }
    co_return claimed;
}

Task<void> StreamConsumer::run() {
    Backoff backoff(options_.poll_ms, options_.max_backoff_ms);
    long since_claim = options_.claim_interval_ms;  // claim on the first round: entries of a previous life
    while (!stopped_) {
        int n = 0;
        std::string error;
        try {
            if (since_claim >= options_.claim_interval_ms) {
                since_claim = 0;
                co_await claim_once();
            }
            n = co_await read_once();
            linger_.count(static_cast<std::size_t>(std::max(n, 0)));
        } catch (const std::exception& e) {
            error = *e.what() != '\0' ? e.what() : "unknown error";
        } catch (...) {
            error = "unknown exception";
        }
        if (stopped_) {
            break;
        }
        if (!error.empty()) {
            const auto pause_for = backoff.failed();
            if (pause_for.log) {
                log::warn("stream consumer failed; backing off",
                          {{"stream", options_.stream}, {"group", options_.group}, {"error", error},
                           {"backoff_ms", pause_for.ms}});
            }
            co_await pause(pause_for.ms);
            since_claim += pause_for.ms;
            continue;
        }
        if (const int failures = backoff.succeeded(); failures > 0) {
            log::info("stream consumer recovered", {{"stream", options_.stream}, {"failures", failures}});
        }
        if (n < options_.batch) {
            const auto before = std::chrono::steady_clock::now();
            co_await wakeup_->wait(options_.poll_ms);
            if (const long wait = linger_.ms(); n > 1 && wait > 0 && !stopped_) {
                co_await pause(wait);
            }
            since_claim += std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - before)
                               .count();
        }
    }
}

}  // namespace om::events
