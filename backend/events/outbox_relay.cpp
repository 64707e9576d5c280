#include "events/outbox_relay.hpp"

#include "events/backoff.hpp"

#include <algorithm>

#include <exception>
#include <mutex>
#include <map>
#include <stdexcept>
#include <vector>

#include "core/error.hpp"
#include "core/json_out.hpp"
#include "core/log.hpp"
#include "net/offload.hpp"
#include "net/pg.hpp"
#include "net/redis.hpp"

namespace om::events {

namespace {

// Table names are spliced into SQL, so only plain identifiers are accepted.
const std::string& checked_table(const std::string& table) {
    const auto dot = table.find('.');
    const auto ident = [](std::string_view s) {
        return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
    };
    if (dot == std::string::npos || !ident(std::string_view(table).substr(0, dot)) ||
        !ident(std::string_view(table).substr(dot + 1))) {
        throw std::invalid_argument("outbox table must be schema.table in [a-z_]: " + table);
    }
    return table;
}

// Rows that reached their stream are deleted: the stream (and the consumers' processed events) carry them
// on, and an UPDATE of sent_at wrote a new row version and index entry per event and kept every event forever
// (issue 6).
std::string mark_sent_sql(const std::string& table) {
    return "DELETE FROM " + checked_table(table) + " WHERE id = " + pg::any_uuid("$1");
}

std::string insert_sql(const std::string& table) {
    return "INSERT INTO " + checked_table(table) +
           " (id, event_type, aggregate_id, payload) VALUES ($1::uuid, $2, $3, $4::jsonb)";
}

std::string insert_many_sql(const std::string& table) {
    return "INSERT INTO " + checked_table(table) +
           " (id, event_type, aggregate_id, payload) SELECT x.id, x.type, x.aggregate, x.payload "
           "FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (id uuid, type text, aggregate text, payload jsonb)) "
           "WITH ORDINALITY AS x (id, type, aggregate, payload, n) ORDER BY x.n";
}

// The names under which prepare_outbox registers the statements of a table.
std::string insert_name(const std::string& table) { return "outbox.insert:" + table; }
std::string insert_many_name(const std::string& table) { return "outbox.insert_many:" + table; }
std::string mark_name(const std::string& table) { return "outbox.mark:" + table; }

}  // namespace

void prepare_outbox(pg::Pool& db, const std::string& table) {
    db.prepare(insert_name(table), insert_sql(table));
    db.prepare(insert_many_name(table), insert_many_sql(table));
    db.prepare(mark_name(table), mark_sent_sql(table));
}

std::string outbox_topic(const std::string& table) { return "outbox:" + table; }
std::string stream_topic(const std::string& stream) { return "stream:" + stream; }
void announce(const std::string& table) { net::notify_topic(outbox_topic(table)); }

Task<void> append(pg::Lease& tx, std::string table, OutboxEvent event) {
    auto params = pg::params(event.id, event.type, event.aggregate_id, event.payload);
    co_await tx.exec_prepared(insert_name(checked_table(table)), std::move(params));
}

std::string rows_json(const std::vector<OutboxEvent>& events) {
    // The payloads are JSON objects already: spliced in, not parsed again.
    JsonOut rows;
    rows.begin_array();
    for (const auto& e : events) {
        rows.begin_object()
            .key("id").value(e.id)  // keys in jsonb's order (JsonOut, json_out.hpp)
            .key("type").value(e.type)
            .key("payload").raw(e.payload)
            .key("aggregate").value(e.aggregate_id)
            .end_object();
    }
    rows.end_array();
    return rows.take();
}

Task<void> append_many(pg::Lease& tx, std::string table, std::vector<OutboxEvent> events) {
    if (events.empty()) {
        co_return;
    }
    std::string rows = rows_json(events);
    co_await tx.exec_prepared(insert_many_name(checked_table(table)), pg::params(rows));
}

Task<void> append(pg::Pool& db, std::string table, OutboxEvent event) {
    auto params = pg::params(event.id, event.type, event.aggregate_id, event.payload);
    prepare_outbox(db, checked_table(table));
    co_await db.query_prepared(insert_name(table), std::move(params));
    announce(table);
}

Task<std::vector<std::string>> add_to_stream(redis::Client& redis, std::string stream, long long max_len,
                                             const std::vector<OutboxEvent>& events) {
    const std::string len = std::to_string(max_len);
    std::vector<redis::Reply> replies(events.size());
    std::vector<Task<void>> adds;
    adds.reserve(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
        auto add = [](redis::Client& r, std::vector<std::string> args, redis::Reply& out) -> Task<void> {
            out = co_await r.command(std::move(args));
        };
        const auto& e = events[i];
        adds.push_back(add(redis,
                           redis::args("XADD", stream, "MAXLEN", "~", len, "*", "eventId", e.id, "type", e.type,
                                       "aggregateId", e.aggregate_id, "payload", e.payload),
                           replies[i]));
    }
    std::exception_ptr failure;
    try {
        co_await when_all(std::move(adds));
    } catch (...) {
        failure = std::current_exception();
    }
    std::vector<std::string> sent;
    std::string refused;
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (replies[i].is_error() || replies[i].str.empty()) {
            refused = replies[i].str;
            continue;
        }
        sent.push_back(events[i].id);
    }
    if (sent.empty() && !events.empty()) {
        if (failure) {
            std::rethrow_exception(failure);
        }
        throw Unavailable("redis XADD " + stream + ": " + (refused.empty() ? "no reply" : refused));
    }
    co_return sent;
}

namespace {
std::mutex& routes_mutex() {
    static std::mutex m;
    return m;
}
std::map<std::string, std::string>& routes() {
    static std::map<std::string, std::string> r;
    return r;
}
}  // namespace

void Publisher::route(const std::string& table, const std::string& stream) {
    std::lock_guard lock(routes_mutex());
    routes()[checked_table(table)] = stream;
}

Task<void> Publisher::publish(std::string table, std::vector<OutboxEvent> events) {
    if (events.empty()) {
        co_return;
    }
    std::string stream;
    {
        std::lock_guard lock(routes_mutex());
        const auto it = routes().find(table);
        if (it == routes().end()) {
            announce(table);  // no route: the relay sends them
            co_return;
        }
        stream = it->second;
    }
    try {
        const long long max_len = kDefaultMaxLen;
        auto sent = co_await add_to_stream(redis_, stream, max_len, events);
        net::notify_topic(stream_topic(stream));
        co_await mark_sent(table, std::move(sent));
    } catch (const std::exception& e) {
        log::warn("direct publish failed; the outbox relay sends the events",
                  {{"table", table}, {"events", events.size()}, {"error", e.what()}});
    }
}

Task<void> Publisher::mark_sent(std::string table, std::vector<std::string> ids) {
    if (ids.empty()) {
        co_return;
    }
    if (!prepared_.contains(table)) {  // once per table, not on every publish
        prepare_outbox(db_, checked_table(table));
        prepared_.insert(table);
    }
    if (mark_delay_ms_ <= 0 || !sleep_) {
        co_await db_.query_prepared(mark_name(table), pg::params(pg::uuid_array(ids)));
        co_return;
    }
    auto& pending = unmarked_[table];
    pending.insert(pending.end(), std::make_move_iterator(ids.begin()), std::make_move_iterator(ids.end()));
    if (!flushing_) {
        flushing_ = true;
        start_detached(flush_marks(), [](std::exception_ptr) {});
    }
}

Task<void> Publisher::flush_marks() {
    while (!unmarked_.empty()) {
        co_await sleep_(mark_delay_ms_);
        auto tables = std::move(unmarked_);
        unmarked_.clear();
        for (auto& [table, ids] : tables) {
            try {
                co_await db_.query_prepared(mark_name(table), pg::params(pg::uuid_array(ids)));
            } catch (const std::exception& e) {
                // Left unmarked: the relay sends them again after min_age_ms (consumers deduplicate).
                log::warn("deleting published outbox rows failed; the relay sends them again",
                          {{"table", table}, {"events", ids.size()}, {"error", e.what()}});
            }
        }
    }
    flushing_ = false;
}

OutboxRelay::OutboxRelay(boost::asio::io_context& io, pg::Pool& db, redis::Client& redis, RelayOptions options)
    : io_(io), wakeup_(std::make_unique<net::Wakeup>(io)), db_(db), redis_(redis), options_(std::move(options)) {
    const std::string& t = checked_table(options_.table);
    wakeup_->subscribe(outbox_topic(t));
    claim_sql_ = "outbox.claim:" + t;
    mark_sql_ = mark_name(t);
    db_.prepare(claim_sql_, "SELECT id::text, event_type, aggregate_id, payload::text FROM " + t +
                                " WHERE sent_at IS NULL AND created_at <= now() - $2::bigint * interval '1 millisecond' "
                                "ORDER BY seq LIMIT $1::integer FOR UPDATE SKIP LOCKED");
    prepare_outbox(db_, t);
}

void OutboxRelay::stop() noexcept {
    stopped_ = true;
    wakeup_->notify();
}

Task<void> OutboxRelay::pause(long ms) {
    auto sleep = [&io = io_](long slice) { return net::sleep_for(io, slice); };
    co_await pause_unless_stopped(sleep, ms, stopped_);
}

Task<int> OutboxRelay::relay_once() {
    auto tx = co_await db_.acquire();
    co_await tx.exec("BEGIN");
    // One relay per table at a time (the others skip this round), so that events reach the stream in seq order.
    const std::string lock_key = "outbox:" + options_.table;
    auto lock = co_await tx.exec("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", pg::params(lock_key));
    if (lock.get(0, 0) != "t") {
        co_await tx.exec("ROLLBACK");
        co_return 0;
    }
    auto rows = co_await tx.exec_prepared(
        claim_sql_, pg::params(std::to_string(options_.batch), std::to_string(options_.min_age_ms)));
    if (rows.empty()) {
        co_await tx.exec("COMMIT");
        co_return 0;
    }
    std::vector<OutboxEvent> events;
    events.reserve(static_cast<std::size_t>(rows.rows()));
    for (int i = 0; i < rows.rows(); ++i) {
        events.push_back({std::string(rows.get(i, 0)), std::string(rows.get(i, 1)), std::string(rows.get(i, 2)),
                          std::string(rows.get(i, 3))});
    }
    std::exception_ptr failure;
    std::vector<std::string> sent;
    try {
        sent = co_await add_to_stream(redis_, options_.stream, options_.max_len, events);
        if (sent.size() < events.size()) {
            failure = std::make_exception_ptr(Unavailable("redis XADD " + options_.stream + ": some entries refused"));
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (!sent.empty()) {
        net::notify_topic(stream_topic(options_.stream));
    }
    if (!sent.empty()) {
        co_await tx.exec_prepared(mark_sql_, pg::params(pg::uuid_array(sent)));
    }
    co_await tx.exec("COMMIT");
    if (failure) {
        std::rethrow_exception(failure);
    }
    co_return static_cast<int>(sent.size());
}

Task<void> OutboxRelay::run() {
    Backoff backoff(options_.poll_ms, options_.max_backoff_ms);
    while (!stopped_) {
        int n = 0;
        std::string error;
        try {
            n = co_await relay_once();
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
                log::warn("outbox relay failed; backing off",
                          {{"table", options_.table}, {"error", error}, {"backoff_ms", pause_for.ms}});
            }
            co_await pause(pause_for.ms);
            continue;
        }
        if (const int failures = backoff.succeeded(); failures > 0) {
            log::info("outbox relay recovered", {{"table", options_.table}, {"failures", failures}});
        }
        if (n < options_.batch) {
            co_await wakeup_->wait(options_.poll_ms);
        }
    }
}

}  // namespace om::events
