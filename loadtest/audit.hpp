#pragma once
// The load harness's audit of design §4's invariants (docs/architecture.md, "The order flow"), run after a load
// run against the same PostgreSQL database and Redis database as the server.
#include <string>

namespace om::load {

struct AuditOptions {
    std::string database_url;   // postgresql://...
    std::string redis_url;      // redis://host:port/db  (db number optional, default 0)
    int settle_wait_s = 30;     // wait up to this long for in-flight orders to settle before judging
    bool quiet = false;         // print only FAIL lines and the final line (no "ok" lines, no progress)
};

// Checks design §4's invariants after a load run; prints one line per check ("ok   <what>: <numbers>" or
// "FAIL <what>: <details with up to 5 example ids>") to stdout; returns 0 when all hold, 1 on any violation,
// 2 when it cannot connect / query.
int run_audit(const AuditOptions& options);

}  // namespace om::load
