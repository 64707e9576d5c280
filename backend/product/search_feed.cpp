#include "product/search_feed.hpp"

#include <chrono>
#include <stdexcept>
#include <vector>

#include "core/log.hpp"
#include "common/ids.hpp"
#include "net/pg.hpp"

namespace om::product {

namespace {

constexpr const char* kColumns =
    "id, seller_id, name, category, price, stock, status = 'ACTIVE', version, "
    "(extract(epoch FROM created_at) * 1000000)::bigint";

}  // namespace

IndexedProduct indexed_product(std::span<const std::string_view> c) {
    IndexedProduct p;
    p.id = std::string(c[0]);
    p.seller_id = std::string(c[1]);
    p.name = std::string(c[2]);
    p.category = std::string(c[3]);
    p.price = parse_i64(c[4]);
    p.stock = parse_i64(c[5]);
    p.active = c[6] == "t";
    p.version = parse_i64(c[7]);
    p.created_us = parse_i64(c[8]);
    return p;
}

SearchFeed::SearchFeed(std::string database_url)
    : database_url_(std::move(database_url)), thread_([this](const std::stop_token& st) { run(st); }) {}

SearchFeed::~SearchFeed() {
    thread_.request_stop();
    wake_.notify_all();
}

void SearchFeed::request_reload() {
    {
        std::lock_guard lock(mutex_);
        reload_ = true;
        rebuilding_.store(true, std::memory_order_release);
    }
    wake_.notify_all();
}

void SearchFeed::load(const std::stop_token& stop) {
    const auto started = std::chrono::steady_clock::now();
    auto catalog = std::make_unique<Catalog>();
    std::string snapshot = pg::copy_out(
        database_url_, "SELECT pg_current_snapshot()::text",
        std::string("COPY (SELECT ") + kColumns + " FROM product.products) TO STDOUT",
        [&](const std::vector<std::string_view>& cols) {
            if ((catalog->products() & 0xFFFF) == 0 && stop.stop_requested()) {
                throw std::runtime_error("stopping");  // shutdown while loading: don't hold it up
            }
            if (cols.size() == 9) {
                catalog->upsert(indexed_product(cols));
            }
        });
    const auto products = catalog->products();
    const auto bytes = catalog->memory_bytes();
    index_.install(std::move(catalog), std::move(snapshot));
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    log::info("search index loaded", {{"products", products}, {"ms", ms}, {"memory_mb", bytes >> 20}});
}

void SearchFeed::run(const std::stop_token& stop) {
    while (!stop.stop_requested()) {
        try {
            loads_started_.fetch_add(1, std::memory_order_acq_rel);
            load(stop);
        } catch (const std::exception& e) {
            if (stop.stop_requested()) {
                return;
            }
            // Typically: PostgreSQL not up yet, or not migrated yet. Try again shortly.
            log::warn("search index load failed", {{"error", e.what()}});
            std::unique_lock lock(mutex_);
            wake_.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
            continue;
        }
        std::unique_lock lock(mutex_);
        // Catching up resumes unless another rebuild was asked for while this one was loading.
        rebuilding_.store(reload_, std::memory_order_release);
        wake_.wait(lock, stop, [this] { return reload_; });
        reload_ = false;
    }
}

Task<void> SearchFeed::catch_up(pg::Pool& db) {
    if (rebuilding_.load(std::memory_order_acquire)) {
        co_return;  // the rebuild brings everything; until it is installed the previous index answers
    }
    const std::uint64_t loads_before = loads_started_.load(std::memory_order_acquire);
    const auto from = index_.position();
    if (from.snapshot.empty()) {
        co_return;  // nothing installed yet
    }
    // The rows changed since `from` and the snapshot they were read in come from one statement: every row
    // visible in that snapshot was either visible in `from` (the index has it) or is among these rows.
    auto r = co_await db.query_prepared("product.search_changes", pg::params(from.snapshot));
    if (r.rows() > kMaxChanges) {
        // Unless a load began while this read was in flight: its snapshot is most likely later than this read's
        // and holds these rows already (asking for another would stall catching up for a whole rebuild); if it
        // is earlier, the first catch-up from it reads these rows again and asks then.
        if (loads_started_.load(std::memory_order_acquire) == loads_before) {
            request_reload();
        }
        co_return;
    }
    std::string now(r.get(0, 0));
    if (snapshot_xmax(now) < snapshot_xmax(from.snapshot)) {
        // Transaction ids went back (a failover, a restore, a crash that lost commits made with
        // synchronous_commit off): ids below the index's snapshot may be given again and would pass as seen.
        log::warn("transaction ids went back; rebuilding the search index", {{"from", from.snapshot}, {"now", now}});
        request_reload();
        co_return;
    }
    std::vector<IndexedProduct> changes;
    std::vector<std::string_view> cols(9);
    for (int i = 0; i < r.rows(); ++i) {
        if (r.is_null(i, 1)) {
            continue;  // no changes: the one row carries only the snapshot
        }
        for (int c = 0; c < 9; ++c) {
            cols[static_cast<std::size_t>(c)] = r.get(i, c + 1);
        }
        changes.push_back(indexed_product(cols));
    }
    index_.apply(changes, from, std::move(now));
}

std::string search_changes_sql() {
    // A row changed since the snapshot $1 when its writer's id is not visible in it: at or above its xmax (begun
    // after it), or in its list of running ids. Both are ranges of the change_xid index, so rows the index already
    // holds are neither read nor returned, however long an older transaction elsewhere in the cluster keeps the
    // xmin back (a filter on pg_visible_in_snapshot over change_xid >= xmin read them all).
    const std::string limit = std::to_string(SearchFeed::kMaxChanges + 1);
    return std::string("SELECT h.s::text AS snapshot, p.* FROM (SELECT pg_current_snapshot() AS s) h "
                       "LEFT JOIN LATERAL (SELECT ") +
           kColumns + " FROM ((SELECT * FROM product.products WHERE change_xid >= pg_snapshot_xmax($1::pg_snapshot) "
           "ORDER BY change_xid LIMIT " + limit + ") UNION ALL (SELECT * FROM product.products "
           "WHERE change_xid = ANY (ARRAY(SELECT pg_snapshot_xip($1::pg_snapshot))) LIMIT " + limit + ")) AS changed "
           "ORDER BY change_xid LIMIT " + limit + ") p ON true";
}

}  // namespace om::product
