#pragma once
// The transactional outbox (design §3), reusable by every service that publishes events.
//
// A service writes its event rows with append() inside the transaction that makes the change, so an event
// exists if and only if the change committed. An OutboxRelay, running in the background of one shard per
// process, moves committed rows to a Redis Stream and then deletes them ("marks them sent"):
//
//   BEGIN; pg_try_advisory_xact_lock(<table>)                    -- one relay at a time per table
//   SELECT ... WHERE sent_at IS NULL ORDER BY seq LIMIT n FOR UPDATE SKIP LOCKED
//   XADD <stream> MAXLEN ~ <max_len> * eventId <id> type <type> aggregateId <aggregate> payload <json>   (per row)
//   DELETE ... WHERE id = ANY(<the rows that reached Redis>); COMMIT
//
// Delivery is at least once: a crash between XADD and COMMIT sends the rows again, so consumers deduplicate
// by the `eventId` field. Rows of one aggregate are written under that aggregate's row lock, so their `seq`
// (a sequence taken at insert time) follows commit order; with one relay per table at a time they also reach
// the stream in that order.
//
// The outbox table of a service must have these columns (see db/migrations/0006_delivery.sql):
//   seq bigserial, id uuid PRIMARY KEY, event_type text, aggregate_id text, payload jsonb,
//   created_at timestamptz DEFAULT now(), sent_at timestamptz   (+ a partial index on seq WHERE sent_at IS NULL)
// (sent_at stays NULL since sent rows are deleted; tables of older versions may still hold sent rows.)
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/task.hpp"
#include "net/wakeup.hpp"

namespace boost::asio {
class io_context;
}
namespace om::pg {
class Pool;
class Lease;
}  // namespace om::pg
namespace om::redis {
class Client;
}

namespace om::events {

struct OutboxEvent {
    std::string id;            // UUIDv7; the stream entry's `eventId` field (consumers deduplicate on it)
    std::string type;          // e.g. "DeliveryStatusChanged"
    std::string aggregate_id;  // e.g. the delivery id
    std::string payload;       // a JSON object
};

// The wake-up topics (net/wakeup.hpp): a service that committed rows to `table` calls
// net::notify_topic(outbox_topic(table)) (append(pg::Pool&, …) does it itself); the relay, after adding entries
// to `stream`, notifies stream_topic(stream), which wakes this process's consumers of it.
std::string outbox_topic(const std::string& table);
std::string stream_topic(const std::string& stream);
// The same as net::notify_topic(outbox_topic(table)): call it after the commit of a transaction that append()ed.
void announce(const std::string& table);

// Registers the statements of append, append_many and the publishers' deletes for `table` on `db` (each shard's
// pool, by the repository that owns the table): they run as prepared statements, not parsed and planned on
// every call (issue 6). Idempotent.
void prepare_outbox(pg::Pool& db, const std::string& table);

// Inserts an event row into `table` ("schema.table") on a connection inside an open transaction.
// Throws std::invalid_argument for a table name that is not [a-z_]+.[a-z_]+.
Task<void> append(pg::Lease& tx, std::string table, OutboxEvent event);
// The events as a JSON array of {id, type, aggregate, payload} (what append_many inserts with
// jsonb_to_recordset), for a statement that writes outbox rows alongside other rows.
std::string rows_json(const std::vector<OutboxEvent>& events);
// Several events in one statement, in this order (inside an open transaction). No-op for none.
Task<void> append_many(pg::Lease& tx, std::string table, std::vector<OutboxEvent> events);
// The same as one statement of its own (for an event that follows a change already committed elsewhere, such as
// a payment's outcome: the handler that writes it is retried until it succeeds).
Task<void> append(pg::Pool& db, std::string table, OutboxEvent event);

// Adds `events` to `stream` at once (XADDs pipelined on the connection, so they keep this order) and returns the
// ids of those Redis took; throws om::Unavailable when it took none of them.
Task<std::vector<std::string>> add_to_stream(redis::Client& redis, std::string stream, long long max_len,
                                             const std::vector<OutboxEvent>& events);

// Publishes a committed transaction's events at once instead of waiting for the relay: adds them to the
// table's stream, marks them sent (deletes their rows, one statement) and wakes this process's consumers. Never throws: whatever
// fails stays unsent, and the relay sends it after `RelayOptions::min_age_ms`. A crash between the XADD and the
// mark sends an event twice, as with the relay (consumers deduplicate).
class Publisher {
public:
    using Sleep = std::function<Task<void>(long ms)>;
    // `mark_delay_ms` (with `sleep`): the rows that reached their stream are marked sent (deleted) together, at
    // most this long after (one DELETE per table for every publish meanwhile, instead of one per publish). Must stay well
    // below the relay's min_age_ms, or the relay sends them once more (harmless: consumers deduplicate). 0: at
    // once. Single-threaded: one Publisher per shard.
    Publisher(pg::Pool& db, redis::Client& redis, Sleep sleep = {}, long mark_delay_ms = 0)
        : db_(db), redis_(redis), sleep_(std::move(sleep)), mark_delay_ms_(mark_delay_ms) {}
    // Which stream a table's events go to (set up once at start, before any publish).
    static void route(const std::string& table, const std::string& stream);
    Task<void> publish(std::string table, std::vector<OutboxEvent> events);

private:
    Task<void> mark_sent(std::string table, std::vector<std::string> ids);
    Task<void> flush_marks();

    pg::Pool& db_;
    redis::Client& redis_;
    Sleep sleep_;
    long mark_delay_ms_;
    std::map<std::string, std::vector<std::string>> unmarked_;  // table → ids sent, not yet marked
    std::set<std::string> prepared_;                             // tables whose delete is registered on db_
    bool flushing_ = false;
};

inline constexpr long long kDefaultMaxLen = 100'000;  // XADD MAXLEN ~ of the saga's streams

struct RelayOptions {
    std::string table;              // "delivery.outbox"
    std::string stream;             // "om:events:delivery"
    int batch = 100;                // rows per transaction
    long long max_len = kDefaultMaxLen;  // XADD MAXLEN ~ (approximate trimming)
    long poll_ms = 100;             // pause when the outbox is empty
    long max_backoff_ms = 5'000;    // pause after failures doubles from poll_ms up to this
    long min_age_ms = 0;            // only rows at least this old: younger ones are the Publisher's to send
};

class OutboxRelay {
public:
    // Everything must outlive the relay; used only from the thread of `io`.
    OutboxRelay(boost::asio::io_context& io, pg::Pool& db, redis::Client& redis, RelayOptions options);

    // Relays until stop(); PostgreSQL or Redis failures are logged and retried with backoff. Never throws.
    Task<void> run();
    void stop() noexcept;

    // One batch: returns the number of rows now in the stream and marked sent. Throws om::Unavailable
    // (PostgreSQL or Redis down); rows that reached Redis before a Redis failure are still marked sent.
    Task<int> relay_once();

private:
    Task<void> pause(long ms);

    boost::asio::io_context& io_;
    std::unique_ptr<net::Wakeup> wakeup_;  // outbox_topic(table): a local commit added rows
    pg::Pool& db_;
    redis::Client& redis_;
    RelayOptions options_;
    std::string claim_sql_;
    std::string mark_sql_;
    bool stopped_ = false;
};

}  // namespace om::events
