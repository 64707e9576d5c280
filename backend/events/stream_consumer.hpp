#pragma once
// The consumer side of the events (design §3): a Redis Streams consumer group member that hands each entry
// to a handler, acknowledges it when the handler succeeds, retries it when the handler fails, and parks it
// in a dead-letter stream after bounded retries.
//
//   XGROUP CREATE <stream> <group> $ MKSTREAM                         (once; BUSYGROUP = already there)
//   loop:
//     XREADGROUP GROUP <group> <consumer> COUNT <batch> STREAMS <stream> >      (no BLOCK: the shard's Redis
//         connection is pipelined and shared, a blocking read would hold up every other command on it;
//         an empty read pauses poll_ms instead)
//     handler(entry) ok          → XACK
//     handler fails (or throws)  → left pending; retried once it has been idle claim_idle_ms
//     every claim_interval_ms:
//       XAUTOCLAIM <stream> <group> <consumer> <claim_idle_ms> <cursor> COUNT <batch>
//         — this consumer's own failed entries and those of dead consumers (other processes, other shards)
//       XPENDING <stream> <group> <id> <id> 1   → the entry's delivery count
//       count > max_deliveries, or a failure on the max_deliveries-th delivery:
//         XADD <dead_letter_stream> * <the entry's fields> dead.originalId <id> dead.stream <stream>
//              dead.group <group> dead.consumer <consumer> dead.deliveries <n> dead.error <last error>
//         XACK <stream> <group> <id>
//
// Delivery is at least once (an entry whose handler ran but whose XACK was lost runs again, and replayed dead
// letters reach every group of the stream again): handlers make their effect idempotent with mark_processed()
// (events/processed_events.hpp) in the transaction of the effect. Order is not guaranteed across retries.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/linger.hpp"
#include "core/task.hpp"
#include "net/wakeup.hpp"

namespace boost::asio {
class io_context;
}
namespace om::redis {
class Client;
struct Reply;
}  // namespace om::redis

namespace om::events {

struct StreamEntry {
    std::string id;  // the stream entry id, e.g. "1700000000000-0"
    // eventId, type, aggregateId, payload (as the outbox relay writes), in the stream's order; a name given twice
    // counts by its first value.
    std::vector<std::pair<std::string, std::string>> fields;
    long long deliveries = 1;  // how many times this entry has been delivered, this time included

    // The field's value, "" when absent.
    [[nodiscard]] const std::string& field(std::string_view name) const;
    [[nodiscard]] const std::string& event_id() const { return field("eventId"); }
    [[nodiscard]] const std::string& type() const { return field("type"); }
    [[nodiscard]] const std::string& aggregate_id() const { return field("aggregateId"); }
    [[nodiscard]] const std::string& payload() const { return field("payload"); }
};

struct HandlerResult {
    bool ok = true;
    std::string error;  // why it failed (kept in the dead letter)

    static HandlerResult success() { return {}; }
    static HandlerResult failure(std::string why) { return {false, std::move(why)}; }
};

// A handler that throws counts as a failure with the exception's message.
using StreamHandler = std::function<Task<HandlerResult>(const StreamEntry&)>;
// A batch handler gets every new entry of one read at once (so that it can write them in one transaction) and
// answers one result per entry, in order; if it throws, every entry of the batch failed.
using BatchHandler = std::function<Task<std::vector<HandlerResult>>(std::vector<StreamEntry>)>;
// The batch handler as a handler of one entry (retries of claimed entries go one by one).
StreamHandler one_by_one(BatchHandler handler);
// A handler of one entry run concurrently over a batch (so that the batch is acknowledged with one XACK).
BatchHandler concurrently(StreamHandler handler);

struct ConsumerOptions {
    std::string stream;              // "om:events:delivery"
    std::string group;               // one per consuming service, e.g. "orders"
    std::string consumer;            // unique per process and shard: default_consumer_name(shard)
    int batch = 16;                  // entries per XREADGROUP / XAUTOCLAIM
    long poll_ms = 100;              // pause when nothing new arrived
    long claim_idle_ms = 30'000;     // a pending entry idle this long is claimed and retried
    long claim_interval_ms = 0;      // how often to run XAUTOCLAIM; 0: claim_idle_ms / 2 (at least poll_ms)
    long long max_deliveries = 5;    // deliveries before an entry is dead-lettered
    std::string dead_letter_stream;  // empty: dead_letter_stream_for(stream)
    long max_backoff_ms = 5'000;     // pause after Redis failures doubles from poll_ms up to this
    bool concurrent = false;         // handle the entries of one read concurrently (handlers must allow it)
    // The event types (the entries' `type`) the handler is for; the others are acknowledged unseen (issue 6: the
    // delivery service reads the order stream for its cancellations, and every order's OrderPlaced went through
    // its handler to be ignored there). Empty: every entry goes to the handler.
    std::vector<std::string> types;
    // After a wake-up, wait up to this long before reading, so that entries added meanwhile share the read and the
    // handler's batch (0: read at once). Only while entries come in company (the last read returned more than
    // one): at a low rate each entry is read at once, since waiting would only add latency.
    long linger_ms = 0;
    // The linger grows with the rate of entries this consumer reads (om::Linger): all of `linger_ms` from this
    // many entries a second, in proportion below (0: always all of it).
    double linger_full_rate = 0;
    // Where a group that does not exist yet starts: "$" (new entries only) or "0" (everything still in the
    // stream: after Redis lost its data, the entries relayed before the group was created again).
    std::string start_id = "$";
};

// "<stream>:dead".
std::string dead_letter_stream_for(const std::string& stream);
// "<host>-<pid>-<shard>": unique per process and shard, so that a restarted process never inherits the pending
// entries of its previous life by name (they are claimed with XAUTOCLAIM instead).
std::string default_consumer_name(int shard);

class StreamConsumer {
public:
    // Everything must outlive the consumer; used only from the thread of `io`.
    StreamConsumer(boost::asio::io_context& io, redis::Client& redis, ConsumerOptions options, StreamHandler handler);
    // New entries go to `batch` together (acknowledged with one XACK); claimed ones one by one.
    StreamConsumer(boost::asio::io_context& io, redis::Client& redis, ConsumerOptions options, BatchHandler batch);

    // Consumes until stop(); Redis failures are logged and retried with backoff. Never throws.
    Task<void> run();
    void stop() noexcept;

    // The steps of run(), for tests and tools. Each throws om::Unavailable when Redis is unreachable.
    Task<void> ensure_group();
    Task<int> read_once();   // new entries handled
    Task<int> claim_once();  // idle pending entries claimed (retried or dead-lettered)

    [[nodiscard]] const ConsumerOptions& options() const noexcept { return options_; }

private:
    Task<void> pause(long ms);
    Task<void> process(StreamEntry entry);
    Task<void> process_batch(std::vector<StreamEntry> entries);
    [[nodiscard]] bool handles(const StreamEntry& e) const;  // its type is one of options_.types (or none is set)
    // A failed handling: kept pending for a retry, or dead-lettered after max_deliveries.
    Task<void> failed(StreamEntry entry, HandlerResult result);
    Task<void> ack(std::string id);
    Task<void> ack_all(std::vector<std::string> ids);
    Task<void> dead_letter(StreamEntry entry, std::string error);
    Task<long long> delivery_count(std::string id);

    boost::asio::io_context& io_;
    std::unique_ptr<net::Wakeup> wakeup_;  // stream_topic(stream): this process's relay added entries
    redis::Client& redis_;
    ConsumerOptions options_;
    StreamHandler handler_;
    BatchHandler batch_handler_;
    Linger linger_;
    std::string claim_cursor_ = "0-0";
    std::unordered_map<std::string, std::string> last_error_;  // entry id → its handler's last failure here
    bool group_ready_ = false;
    bool stopped_ = false;
};

}  // namespace om::events
