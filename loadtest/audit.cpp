// The audit of design §4's invariants after a load run. Every PostgreSQL check is one aggregate (examples with
// LIMIT 5) read in one REPEATABLE READ snapshot; Redis is read in batches (MGET of 1,000 gate keys, SCAN COUNT
// 1,000), so memory stays bounded however many products and orders there are.
#include "audit.hpp"

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/redis.hpp"

namespace om::load {
namespace {

// Cannot connect or query: the audit cannot judge (status 2).
struct Unavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

constexpr int kBatch = 1000;
constexpr std::size_t kExamples = 5;

std::optional<long long> to_int(std::string_view s) {
    long long v = 0;
    const char* end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, v);
    if (s.empty() || ec != std::errc() || ptr != end) {
        return std::nullopt;
    }
    return v;
}

std::string first_line(std::string_view s) { return std::string(s.substr(0, s.find('\n'))); }

void note(std::vector<std::string>& examples, std::string what) {
    if (examples.size() < kExamples) {
        examples.push_back(std::move(what));
    }
}

// Appends "<n> <what> (e.g. a, b)" to the details of a failure when n > 0; returns n.
long long add(std::string& details, long long n, std::string_view what, const std::vector<std::string>& examples) {
    if (n > 0) {
        details += (details.empty() ? "" : "; ") + std::to_string(n) + " " + std::string(what);
        for (std::size_t i = 0; i < examples.size(); ++i) {
            details += (i == 0 ? " (e.g. " : ", ") + examples[i] + (i + 1 == examples.size() ? ")" : "");
        }
    }
    return n;
}

// ---- PostgreSQL ----------------------------------------------------------------------------------------------

class Rows {
public:
    explicit Rows(PGresult* r) : r_(r, &PQclear) {}
    int size() const { return PQntuples(r_.get()); }
    std::string text(int row, int col) const {
        return PQgetisnull(r_.get(), row, col) ? std::string() : std::string(PQgetvalue(r_.get(), row, col));
    }
    long long num(int row, int col) const { return to_int(text(row, col)).value_or(0); }

private:
    std::unique_ptr<PGresult, decltype(&PQclear)> r_;
};

class Pg {
public:
    explicit Pg(const std::string& url) : c_(PQconnectdb(url.c_str()), &PQfinish) {
        if (!c_ || PQstatus(c_.get()) != CONNECTION_OK) {
            throw Unavailable("cannot connect to PostgreSQL: " +
                              first_line(c_ ? PQerrorMessage(c_.get()) : "no memory"));
        }
    }
    Rows query(const std::string& sql) {
        PGresult* r = PQexec(c_.get(), sql.c_str());
        Rows rows(r);
        const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            throw Unavailable("PostgreSQL: " + first_line(PQerrorMessage(c_.get())) + " (in: " + sql.substr(0, 80) +
                              "...)");
        }
        return rows;
    }
    // Column 1 of up to 5 rows of rows_sql: the examples of a violation.
    std::vector<std::string> examples(const std::string& rows_sql) {
        const Rows r = query("SELECT * FROM (" + rows_sql + ") v LIMIT " + std::to_string(kExamples));
        std::vector<std::string> out;
        for (int i = 0; i < r.size(); ++i) {
            out.push_back(r.text(i, 0));
        }
        return out;
    }
    // Every row of rows_sql is a violation: appends their count and up to 5 of them to details; returns the count.
    long long violations(std::string& details, const std::string& rows_sql, std::string_view what) {
        const long long n = query("SELECT count(*) FROM (" + rows_sql + ") v").num(0, 0);
        return add(details, n, what, n > 0 ? examples(rows_sql) : std::vector<std::string>{});
    }

private:
    std::unique_ptr<PGconn, decltype(&PQfinish)> c_;
};

// ---- Redis ---------------------------------------------------------------------------------------------------

using Reply = std::unique_ptr<redisReply, void (*)(void*)>;

class Redis {
public:
    explicit Redis(const std::string& url) : c_(nullptr, &redisFree) {
        redis::Options t;  // the server's own reading of --redis-url
        try {
            t = redis::parse_url(url);
        } catch (const std::invalid_argument& e) {
            throw Unavailable(std::string(e.what()) + ", got " + url);
        }
        const timeval connect_timeout{5, 0};
        const std::string where = t.unix_socket.empty() ? t.host + ":" + std::to_string(t.port) : t.unix_socket;
        c_.reset(t.unix_socket.empty() ? redisConnectWithTimeout(t.host.c_str(), t.port, connect_timeout)
                                       : redisConnectUnixWithTimeout(t.unix_socket.c_str(), connect_timeout));
        if (!c_ || c_->err != 0) {
            throw Unavailable("cannot connect to Redis at " + where + ": " + (c_ ? c_->errstr : "no memory"));
        }
        const timeval command_timeout{60, 0};
        redisSetTimeout(c_.get(), command_timeout);
        if (!t.password.empty()) {
            command({"AUTH", t.password});
        }
        command({"SELECT", std::to_string(t.db)});
    }
    Reply command(const std::vector<std::string>& args) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (const auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        Reply r(static_cast<redisReply*>(redisCommandArgv(c_.get(), static_cast<int>(argv.size()), argv.data(),
                                                          lens.data())),
                &freeReplyObject);
        if (!r) {
            throw Unavailable("Redis: " + std::string(c_->errstr) + " (in " + args.front() + ")");
        }
        if (r->type == REDIS_REPLY_ERROR) {
            throw Unavailable("Redis: " + std::string(r->str, r->len) + " (in " + args.front() + ")");
        }
        return r;
    }
    long long integer(const std::vector<std::string>& args) {
        const Reply r = command(args);
        if (r->type != REDIS_REPLY_INTEGER) {
            throw Unavailable("Redis: expected an integer from " + args.front());
        }
        return r->integer;
    }

private:
    std::unique_ptr<redisContext, decltype(&redisFree)> c_;
};

// ---- the report ----------------------------------------------------------------------------------------------

class Report {
public:
    explicit Report(bool quiet) : quiet_(quiet) {}
    void judge(bool held, std::string_view what, const std::string& numbers, const std::string& details) {
        ++checks_;
        if (!held) {
            ++failed_;
            std::cout << "FAIL " << what << ": " << details << std::endl;
        } else if (!quiet_) {
            std::cout << "ok   " << what << ": " << numbers << std::endl;
        }
    }
    int finish() const {
        if (failed_ == 0) {
            std::cout << "audit: " << checks_ << " checks, all passed" << std::endl;
            return 0;
        }
        std::cout << "audit: " << failed_ << " of " << checks_ << " checks FAILED" << std::endl;
        return 1;
    }

private:
    bool quiet_;
    int checks_ = 0;
    int failed_ = 0;
};

// ---- 1. settled ----------------------------------------------------------------------------------------------

constexpr const char* kUnsettled = "status IN ('PENDING', 'PAID')";  // order_model.cpp: is_settled()

struct InFlight {
    long long orders = 0;        // PENDING or PAID
    long long give_backs = 0;    // orders.gate_pending: stock returned in PostgreSQL, not yet to the gate
    long long reservations = 0;  // ZCARD om:resv
    bool none() const { return orders == 0 && give_backs == 0 && reservations == 0; }
};

InFlight in_flight(Pg& pg, Redis& redis) {
    const Rows r = pg.query(std::string("SELECT count(*) FILTER (WHERE ") + kUnsettled +
                            "), count(*) FILTER (WHERE gate_pending) FROM orders.orders WHERE " + kUnsettled +
                            " OR gate_pending");
    return {r.num(0, 0), r.num(0, 1), redis.integer({"ZCARD", "om:resv"})};
}

// Polls every 250 ms until nothing is in flight or settle_wait_s ran out; returns the seconds waited.
double wait_until_settled(Pg& pg, Redis& redis, const AuditOptions& o) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::seconds(std::max(0, o.settle_wait_s));
    bool told = o.quiet;
    for (InFlight f = in_flight(pg, redis); !f.none() && std::chrono::steady_clock::now() < deadline;
         f = in_flight(pg, redis)) {
        if (!told) {
            told = true;
            std::cerr << "audit: waiting up to " << o.settle_wait_s << " s for " << f.orders << " orders, "
                      << f.give_backs << " stock give-backs and " << f.reservations << " reservations to settle"
                      << std::endl;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void check_settled(Pg& pg, Report& report, double waited_s) {
    const Rows by = pg.query("SELECT status, count(*) FROM orders.orders GROUP BY status ORDER BY status");
    long long total = 0;
    std::string counts;
    for (int i = 0; i < by.size(); ++i) {
        total += by.num(i, 1);
        counts += (i == 0 ? " (" : ", ") + by.text(i, 0) + " " + by.text(i, 1) + (i + 1 == by.size() ? ")" : "");
    }
    char waited[32];
    std::snprintf(waited, sizeof waited, "waited %.1f s", waited_s);
    std::string details;
    pg.violations(details, std::string("SELECT id::text || ' ' || status FROM orders.orders WHERE ") + kUnsettled +
            " ORDER BY updated_at",
        "of " + std::to_string(total) + " orders still PENDING or PAID");
    pg.violations(details, "SELECT id::text FROM orders.orders WHERE gate_pending ORDER BY updated_at",
        "cancelled orders whose stock is not back in the gate yet (gate_pending)");
    report.judge(details.empty(), "every order settled", std::to_string(total) + " orders" + counts + ", " + waited,
                 details + "; " + waited);
}

// ---- the gate pass (for 2 and 5): every product's stock against om:gate:<id>, 1,000 at a time ------------------

struct GatePass {
    bool ready = false;      // om:gate:ready exists
    std::string epoch;       // its value
    std::string pg_epoch;    // product.gate_state.epoch
    long long products = 0;  // products read
    long long keys = 0;      // of which have a gate key
    long long negative = 0;  // gate < 0 or not an integer
    long long different = 0;  // gate != stock
    std::vector<std::string> negative_examples, different_examples;
};

GatePass gate_pass(Pg& pg, Redis& redis) {
    GatePass g;
    const Reply ready = redis.command({"GET", "om:gate:ready"});
    g.ready = ready->type == REDIS_REPLY_STRING;
    if (g.ready) {
        g.epoch.assign(ready->str, ready->len);
    }
    const Rows state = pg.query("SELECT epoch FROM product.gate_state");
    g.pg_epoch = state.size() > 0 ? state.text(0, 0) : std::string("(no row)");
    pg.query("DECLARE audit_gate NO SCROLL CURSOR FOR SELECT id::text, stock FROM product.products");
    for (Rows rows = pg.query("FETCH " + std::to_string(kBatch) + " FROM audit_gate"); rows.size() > 0;
         rows = pg.query("FETCH " + std::to_string(kBatch) + " FROM audit_gate")) {
        std::vector<std::string> mget{"MGET"};
        for (int i = 0; i < rows.size(); ++i) {
            mget.push_back("om:gate:" + rows.text(i, 0));
        }
        const Reply values = redis.command(mget);
        if (values->type != REDIS_REPLY_ARRAY || values->elements != static_cast<std::size_t>(rows.size())) {
            throw Unavailable("Redis: unexpected reply to MGET");
        }
        for (int i = 0; i < rows.size(); ++i) {
            ++g.products;
            const redisReply* v = values->element[static_cast<std::size_t>(i)];
            if (v->type != REDIS_REPLY_STRING) {
                continue;  // no gate key: not seeded, fine
            }
            ++g.keys;
            const std::string text(v->str, v->len);
            const std::string id = rows.text(i, 0);
            const auto gate = to_int(text);
            if (!gate || *gate < 0) {
                ++g.negative;
                note(g.negative_examples, id + " gate '" + text + "'");
            }
            if (!gate || *gate != rows.num(i, 1)) {
                ++g.different;
                note(g.different_examples, id + " gate " + text + " stock " + rows.text(i, 1));
            }
        }
    }
    pg.query("CLOSE audit_gate");
    return g;
}

// ---- 2. no oversell ------------------------------------------------------------------------------------------

void check_no_oversell(Pg& pg, Report& report, const GatePass& g) {
    std::string details;
    pg.violations(details, "SELECT id::text || ' stock ' || stock FROM product.products WHERE stock < 0",
        "products with stock < 0 in PostgreSQL");
    pg.violations(details,
        "SELECT 'movement ' || id || ' of ' || product_id || ' resulting_stock ' || resulting_stock "
        "FROM product.stock_movements WHERE resulting_stock < 0",
        "movements with resulting_stock < 0");
    add(details, g.negative, "gate keys below 0 or not integers", g.negative_examples);
    report.judge(details.empty(), "no oversell",
                 std::to_string(g.products) + " products with stock >= 0 in PostgreSQL, " + std::to_string(g.keys) +
                     " gate keys >= 0 in Redis",
                 details);
}

// The rows of a per-product join that break a rule, for examples. MATERIALIZED: planned for every row (a hash join),
// not for LIMIT 5, where the planner would walk both tables in index order for a rare violation (twice as slow).
std::string examples_of(const std::string& joined, const std::string& example, const std::string& bad) {
    return "WITH j AS MATERIALIZED (" + joined + ") SELECT " + example + " FROM j WHERE " + bad;
}

// ---- 3. ledger balanced: per product, stock = INITIAL + every later movement (= sum of deltas) ---------------

void check_ledger(Pg& pg, Report& report) {
    const std::string joined =
        "SELECT p.id, p.stock, coalesce(m.total, 0) AS total, coalesce(m.moves, 0) AS moves, "
        "       coalesce(m.initials, 0) AS initials "
        "FROM product.products p LEFT JOIN (SELECT product_id, sum(delta) AS total, count(*) AS moves, "
        "    count(*) FILTER (WHERE reason = 'INITIAL') AS initials "
        "    FROM product.stock_movements GROUP BY product_id) m ON m.product_id = p.id";
    const std::string bad = "total <> stock OR initials <> 1";
    const Rows sum = pg.query("SELECT count(*), coalesce(sum(moves), 0), count(*) FILTER (WHERE " + bad + ") FROM (" +
                              joined + ") j");
    const std::string example = "id::text || ' stock ' || stock || ', INITIAL + movements ' || total || "
                                "CASE WHEN initials <> 1 THEN ', ' || initials || ' INITIAL rows' ELSE '' END";
    const long long off = sum.num(0, 2);
    std::string details;
    add(details, off, "of " + sum.text(0, 0) + " products off",
        off == 0 ? std::vector<std::string>{} : pg.examples(examples_of(joined, example, bad)));
    report.judge(details.empty(), "ledger balanced",
                 sum.text(0, 0) + " products, " + sum.text(0, 1) +
                     " movements, stock = INITIAL + later deltas for each",
                 details);
}

// ---- 4. units sold = units the ledger gave to orders <= units supplied ---------------------------------------

void check_units_sold(Pg& pg, Report& report) {
    // sold: units in orders not CANCELLED (items jsonb); taken: minus the ORDER / ORDER_RELEASE movements (a
    // cancelled order's units came back as ORDER_RELEASE); supplied: every other movement (INITIAL, seller's).
    const std::string joined =
        "WITH sold AS (SELECT (i ->> 'productId')::uuid AS pid, sum((i ->> 'quantity')::bigint) AS q "
        "              FROM orders.orders o CROSS JOIN LATERAL jsonb_array_elements(o.items) AS i "
        "              WHERE o.status <> 'CANCELLED' GROUP BY 1), "
        "led AS (SELECT product_id AS pid, "
        "               -coalesce(sum(delta) FILTER (WHERE reason IN ('ORDER', 'ORDER_RELEASE')), 0) AS taken, "
        "               coalesce(sum(delta) FILTER (WHERE reason NOT IN ('ORDER', 'ORDER_RELEASE')), 0) AS supplied "
        "        FROM product.stock_movements GROUP BY product_id) "
        "SELECT coalesce(s.pid, l.pid) AS pid, coalesce(s.q, 0) AS sold, coalesce(l.taken, 0) AS taken, "
        "       coalesce(l.supplied, 0) AS supplied "
        "FROM sold s FULL JOIN led l ON l.pid = s.pid";
    const std::string bad = "sold <> taken OR sold > supplied";
    const Rows sum = pg.query("SELECT count(*) FILTER (WHERE sold <> 0 OR taken <> 0), coalesce(sum(sold), 0), "
                              "coalesce(sum(taken), 0), count(*) FILTER (WHERE " + bad + ") FROM (" + joined + ") j");
    const std::string example =
        "pid::text || ' sold ' || sold || ', ledger took ' || taken || ', supplied ' || supplied";
    const long long off = sum.num(0, 3);
    std::string details;
    add(details, off, "products where units in orders not CANCELLED differ from the ledger's",
        off == 0 ? std::vector<std::string>{} : pg.examples(examples_of(joined, example, bad)));
    // Order movements name an order that exists, and only they name one.
    pg.violations(details,
        "SELECT 'movement ' || m.id || ' ' || m.reason || ' order ' || coalesce(m.order_id::text, 'none') "
        "FROM product.stock_movements m WHERE (m.reason IN ('ORDER', 'ORDER_RELEASE')) <> (m.order_id IS NOT NULL) "
        "OR (m.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orders.orders o WHERE o.id = m.order_id))",
        "order movements without an existing order (or other movements with one)");
    report.judge(details.empty(), "units sold = units taken by orders in the ledger <= supplied",
                 sum.text(0, 0) + " products ordered, " + sum.text(0, 1) + " units in orders not CANCELLED = " +
                     sum.text(0, 2) + " net units of ORDER/ORDER_RELEASE movements",
                 details);
}

// ---- 5. the gate equals PostgreSQL (nothing in flight any more) -----------------------------------------------

void check_gate_equal(Report& report, const GatePass& g) {
    constexpr std::string_view what = "stock equal in PostgreSQL and the Redis gate";
    if (!g.ready) {
        report.judge(true, what, "not compared, om:gate:ready is missing (the gate is being rebuilt)", "");
        return;
    }
    std::string details =
        g.epoch == g.pg_epoch ? "" : "gate epoch " + g.epoch + " but product.gate_state.epoch " + g.pg_epoch;
    add(details, g.different, "of " + std::to_string(g.keys) + " gate keys differ from stock", g.different_examples);
    report.judge(details.empty(), what,
                 std::to_string(g.keys) + " products compared, " + std::to_string(g.products - g.keys) +
                     " without a gate key, epoch " + g.epoch,
                 details);
}

// ---- 6. one payment per order --------------------------------------------------------------------------------

void check_payments(Pg& pg, Report& report) {
    std::string details;
    pg.violations(details,
        "SELECT order_id::text || ' has ' || count(*) || ' payments' FROM payment.payments "
        "GROUP BY order_id HAVING count(*) > 1",
        "orders with more than one payment");
    pg.violations(details,
        "SELECT o.id::text || ' ' || o.status || ' with ' || coalesce(a.n, 0) || ' APPROVED payments' "
        "FROM orders.orders o LEFT JOIN (SELECT order_id, count(*) AS n FROM payment.payments "
        "WHERE status = 'APPROVED' GROUP BY order_id) a ON a.order_id = o.id "
        "WHERE o.status IN ('CONFIRMED', 'SHIPPED', 'DELIVERED') AND coalesce(a.n, 0) <> 1",
        "CONFIRMED/SHIPPED/DELIVERED orders without exactly one APPROVED payment");
    pg.violations(details,
        "SELECT o.id::text || ' ' || o.cancel_reason || ' with ' || count(*) || ' deliveries' "
        "FROM orders.orders o JOIN delivery.deliveries d ON d.order_id = o.id WHERE o.status = 'CANCELLED' "
        "AND o.cancel_reason IN ('PAYMENT_DECLINED', 'PAYMENT_FAILED') GROUP BY o.id, o.cancel_reason",
        "orders cancelled for their payment that have a delivery");
    pg.violations(details,
        "SELECT order_id::text || ' has ' || count(*) || ' deliveries' FROM delivery.deliveries "
        "WHERE status <> 'CANCELLED' GROUP BY order_id HAVING count(*) > 1",
        "orders with more than one delivery not CANCELLED");
    const Rows t = pg.query(
        "SELECT (SELECT count(*) FROM payment.payments), "
        "(SELECT count(*) FROM orders.orders WHERE status IN ('CONFIRMED', 'SHIPPED', 'DELIVERED')), "
        "(SELECT count(*) FROM orders.orders WHERE cancel_reason IN ('PAYMENT_DECLINED', 'PAYMENT_FAILED')), "
        "(SELECT count(*) FROM delivery.deliveries)");
    report.judge(details.empty(), "one payment per order",
                 t.text(0, 0) + " payments; " + t.text(0, 1) + " CONFIRMED+ orders with one APPROVED payment each; " +
                     t.text(0, 2) + " orders cancelled for their payment, none with a delivery; " + t.text(0, 3) +
                     " deliveries, at most one live per order",
                 details);
}

// ---- 7. ledger rows have their records: the rows the order path writes without a foreign key (migration 0020) --

void check_parents(Pg& pg, Report& report) {
    struct Link {
        const char* child;
        const char* column;
        const char* parent;
    };
    static constexpr std::array<Link, 6> links{{{"product.stock_movements", "product_id", "product.products"},
                                                {"payment.payments", "method_id", "payment.methods"},
                                                {"payment.payment_attempts", "payment_id", "payment.payments"},
                                                {"payment.payment_events", "payment_id", "payment.payments"},
                                                {"delivery.history", "delivery_id", "delivery.deliveries"},
                                                {"orders.order_sellers", "order_id", "orders.orders"}}};
    std::string details;
    std::string counts = "SELECT ";
    for (std::size_t i = 0; i < links.size(); ++i) {
        const Link& l = links[i];
        pg.violations(details,
                      std::string("SELECT c.") + l.column + "::text FROM " + l.child + " c WHERE NOT EXISTS (SELECT 1 FROM " +
                          l.parent + " p WHERE p.id = c." + l.column + ")",
                      std::string(l.child) + " rows whose " + l.column + " names no " + l.parent + " row");
        counts += std::string(i > 0 ? ", " : "") + "(SELECT count(*) FROM " + l.child + ")";
    }
    const Rows t = pg.query(counts);
    std::string numbers;
    for (std::size_t i = 0; i < links.size(); ++i) {
        numbers += (i > 0 ? ", " : "") + t.text(0, static_cast<int>(i)) + " " + links[i].child;
    }
    report.judge(details.empty(), "ledger rows have their records", numbers + ", each with its parent row", details);
}

// ---- 8. no orphaned reservation ------------------------------------------------------------------------------

void check_reservations(Redis& redis, Report& report) {
    std::string details;
    const Reply first = redis.command({"ZRANGE", "om:resv", "0", std::to_string(kExamples - 1)});
    std::vector<std::string> examples;
    for (std::size_t i = 0; first->type == REDIS_REPLY_ARRAY && i < first->elements; ++i) {
        examples.emplace_back(first->element[i]->str, first->element[i]->len);
    }
    add(details, redis.integer({"ZCARD", "om:resv"}), "orders in om:resv", examples);
    long long records = 0;
    examples.clear();
    std::string cursor = "0";
    do {
        const Reply page = redis.command({"SCAN", cursor, "MATCH", "om:resv:*", "COUNT", std::to_string(kBatch)});
        if (page->type != REDIS_REPLY_ARRAY || page->elements != 2 || page->element[1]->type != REDIS_REPLY_ARRAY) {
            throw Unavailable("Redis: unexpected reply to SCAN");
        }
        cursor.assign(page->element[0]->str, page->element[0]->len);
        const redisReply* keys = page->element[1];
        for (std::size_t i = 0; i < keys->elements; ++i, ++records) {
            note(examples, std::string(keys->element[i]->str, keys->element[i]->len));
        }
    } while (cursor != "0");
    add(details, records, "om:resv:* records", examples);
    report.judge(details.empty(), "no orphaned reservation", "om:resv empty, no om:resv:* key", details);
}

}  // namespace

int run_audit(const AuditOptions& options) {
    try {
        Pg pg(options.database_url);
        Redis redis(options.redis_url);
        const double waited = wait_until_settled(pg, redis, options);
        Report report(options.quiet);
        // One snapshot for every PostgreSQL check (the gate pass's cursor lives in it too).
        pg.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        // Parallel workers would each build the per-product aggregates again: twice as slow on two cores.
        pg.query("SET LOCAL max_parallel_workers_per_gather = 0");
        const GatePass gate = gate_pass(pg, redis);
        check_settled(pg, report, waited);
        check_no_oversell(pg, report, gate);
        check_ledger(pg, report);
        check_units_sold(pg, report);
        check_gate_equal(report, gate);
        check_payments(pg, report);
        check_parents(pg, report);
        pg.query("COMMIT");
        check_reservations(redis, report);
        return report.finish();
    } catch (const std::exception& e) {  // Unavailable, or anything else that keeps the audit from judging
        std::cout << "audit: cannot audit: " << e.what() << std::endl;
        return 2;
    }
}

}  // namespace om::load
