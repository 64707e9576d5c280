#pragma once
// Idempotent event handlers (design §3: at-least-once delivery, effectively-once effects).
//
// Each consuming service keeps, in its own schema, the ids of the events whose effect it has committed:
//
//   CREATE TABLE <schema>.processed_events (
//       event_id     uuid PRIMARY KEY,                       -- the stream entry's `eventId` field
//       processed_at timestamptz NOT NULL DEFAULT now()      -- for pruning (rows older than the stream's reach)
//   );
//
// A handler marks the event in the transaction that makes its effect, so both commit or neither does:
//
//   auto tx = co_await db.acquire();
//   co_await tx.exec("BEGIN");
//   if (!co_await events::mark_processed(tx, "orders.processed_events", entry.event_id())) {
//       co_await tx.exec("ROLLBACK");
//       co_return events::HandlerResult::success();           // a duplicate delivery: already done
//   }
//   ... the effect ...
//   co_await tx.exec("COMMIT");
//   co_return events::HandlerResult::success();
//
// Two concurrent deliveries of one event: the second INSERT waits on the first's uncommitted key and then
// finds the conflict (returns false) once the first commits, or proceeds if it rolled back.
#include <string>

#include "core/task.hpp"

namespace om::pg {
class Lease;
}

namespace om::events {

// INSERT INTO <table> (event_id) VALUES ($1) ON CONFLICT DO NOTHING. True when this call inserted the row
// (first time), false when the event was already processed. `table` is "schema.table" in [a-z_]; throws
// std::invalid_argument otherwise, and om::pg errors for a malformed uuid or a database failure.
Task<bool> mark_processed(pg::Lease& tx, std::string table, std::string event_id);

}  // namespace om::events
