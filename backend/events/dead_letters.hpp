#pragma once
// Dead-letter operations (design §3). A StreamConsumer parks an entry that failed max_deliveries times in
// "<stream>:dead" with its original fields plus:
//   dead.originalId   the entry id in the original stream      dead.stream     the original stream
//   dead.group        the consumer group that gave up          dead.consumer   the consumer that parked it
//   dead.deliveries   deliveries made                          dead.error      the handler's last error
// An operator lists them, fixes the cause, and replays them: the original fields go back to the original
// stream as a new entry (seen again by every group of that stream, so handlers must be idempotent) and the
// dead letter is deleted.
//
// Command line (Redis from --redis-url / OPENMARKET_REDIS_URL):
//   openmarket-server events dead-letters --stream S [--limit N]    (S: the original or the ":dead" stream)
//   openmarket-server events replay --stream S --id ID              (ID: the dead letter's entry id)
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/task.hpp"

namespace om::redis {
class Client;
}

namespace om::events {

struct DeadLetter {
    std::string id;                             // the entry id in the dead-letter stream
    std::map<std::string, std::string> fields;  // original fields + dead.* fields
};

// The dead-letter stream of `stream`: `stream` itself when it ends in ":dead", else "<stream>:dead".
std::string dead_stream_name(const std::string& stream);

// The oldest `limit` dead letters of `stream` (dead_stream_name applies). Throws om::Unavailable.
Task<std::vector<DeadLetter>> list_dead(redis::Client& redis, std::string stream, int limit);

// Re-adds the dead letter `entry_id` of `stream` (dead_stream_name applies) to its original stream without the
// dead.* fields, then deletes it from the dead-letter stream. Returns the new entry id in the original stream,
// or nothing when there is no such dead letter. Throws om::Unavailable.
Task<std::optional<std::string>> replay_dead(redis::Client& redis, std::string stream, std::string entry_id);

// `openmarket-server events <action> ...`: action "dead-letters" or "replay". Returns the exit status
// (0 ok, 1 failure, 2 usage, 3 replay of an unknown id).
int run_events_command(const std::string& redis_url, const std::string& action, const std::string& stream,
                       const std::string& id, int limit, std::ostream& out, std::ostream& err);

}  // namespace om::events
