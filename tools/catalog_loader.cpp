// openmarket-catalog: bulk loader of a realistic demo/benchmark catalog (sellers, products, stock ledger).
//
//   openmarket-catalog load --database-url URL --products N [--sellers S] [--seed K] [--batch B] [--jobs J]
//                           [--append] [--now TIME]
//
// Writes with PostgreSQL COPY ... FROM STDIN in text format through libpq (PQputCopyData/PQputCopyEnd).
//
// Transactions and failure behaviour:
//   1. One transaction COPYs all S sellers into member.members.
//   2. Products are written in batches of B (default 50,000); each batch is ONE transaction holding the COPY
//      into product.products and the COPY of the matching INITIAL rows into product.stock_movements. A batch
//      is therefore all-or-nothing: every committed product has its ledger row (sum(delta) = stock), and a
//      failure or interruption (connection loss, Ctrl-C) rolls back only the batch in flight. Batches run on
//      J connections in parallel (default 2); after an error no new batch starts and the loader exits 1
//      with the already committed batches left in place (consistent, but fewer products than asked).
//   3. VACUUM (ANALYZE) product.products and product.stock_movements (statistics, visibility map, GIN
//      pending lists), ANALYZE member.members.
//   Sessions use synchronous_commit = off (a crash of the database may lose the last committed batches,
//   never tear one) and a larger gin_pending_list_limit so the pg_trgm GIN indexes are filled in bulk.
//
// Idempotence: the loader refuses (exit 3) when seller-<n>@catalog.openmarket.local accounts already exist,
// unless --append: then its sellers are numbered after the highest existing n. A session advisory lock keeps
// two loaders off the same database at the same time.
//
// Determinism: see catalog_generator.hpp. Same --seed, same --now and same existing catalog sellers give
// identical rows (ids included), whatever --batch and --jobs are. The only exception is password_hash: one
// argon2id hash (libsodium crypto_pwhash_str_alg, opslimit 3, memlimit 12 MiB, ARGON2ID13) of
// "catalog-seller-pass" with a random salt, computed once per run and shared by all its sellers, who can
// log in with that password. --now defaults to the current time (whole seconds).
//
// Exit status: 0 loaded, 1 error, 2 usage, 3 refused (catalog sellers exist and no --append).
#include <libpq-fe.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "catalog_generator.hpp"

namespace {

using om::catalog::Plan;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kSellerPassword = "catalog-seller-pass";
constexpr long long kAdvisoryLockKey = 0x4f4d434154414c4fLL;  // "OMCATALO"
constexpr std::size_t kCopyChunk = 1 << 20;

constexpr std::string_view kUsage = R"(openmarket-catalog: bulk-load a realistic catalog into an OpenMarket database

Usage:
  openmarket-catalog load --database-url URL --products N [options]
  openmarket-catalog --help

Options of `load`:
  --database-url URL  libpq URI (default: $OPENMARKET_DATABASE_URL); the schema must be migrated
  --products N        number of products to create (each with one INITIAL stock movement)
  --sellers S         number of seller accounts to create (default max(1, N/2000))
  --seed K            generator seed (default 42): same seed, same --now -> same rows
  --batch B           products per transaction (default 50000)
  --jobs J            parallel connections for products (default 2)
  --append            add to an existing catalog: sellers are numbered after the highest
                      seller-<n>@catalog.openmarket.local (without it the loader refuses to run
                      when such sellers exist)
  --now TIME          time anchor, Unix seconds or YYYY-MM-DDTHH:MM:SSZ (default: now); products are
                      created over the 365 days before it

Sellers log in as seller-<n>@catalog.openmarket.local with the password "catalog-seller-pass".
Exit status: 0 loaded, 1 error, 2 usage, 3 refused (catalog already present, no --append).
)";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct Refused : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string database_url;
    std::int64_t products = -1;
    std::int64_t sellers = -1;
    std::uint64_t seed = 42;
    std::int64_t batch = 50'000;
    int jobs = 2;
    bool append = false;
    std::optional<std::int64_t> now_s;
};

std::int64_t parse_int(std::string_view flag, std::string_view v, std::int64_t min, std::int64_t max) {
    std::string digits;
    for (char c : v) {
        if (c != '_') {
            digits += c;
        }
    }
    std::int64_t out = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    if (ec != std::errc{} || p != digits.data() + digits.size() || digits.empty() || out < min || out > max) {
        throw UsageError(std::string(flag) + ": expected an integer in [" + std::to_string(min) + ", " +
                         std::to_string(max) + "], got '" + std::string(v) + "'");
    }
    return out;
}

std::int64_t parse_time(std::string_view v) {
    if (!v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos) {
        return parse_int("--now", v, 0, 253'402'300'799);
    }
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    char tail = 0;
    const std::string str(v);
    const int n = std::sscanf(str.c_str(), "%4d-%2d-%2d%*[T ]%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &tail);
    if (n < 6 || (n == 7 && tail != 'Z') || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
        throw UsageError("--now: expected Unix seconds or YYYY-MM-DDTHH:MM:SSZ (UTC), got '" + str + "'");
    }
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return ::timegm(&tm);
}

Options parse_args(const std::vector<std::string_view>& args) {
    Options o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto a = args[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= args.size()) {
                throw UsageError(std::string(a) + " needs a value");
            }
            return args[++i];
        };
        if (a == "--database-url") {
            o.database_url = value();
        } else if (a == "--products") {
            o.products = parse_int(a, value(), 0, 1'000'000'000);
        } else if (a == "--sellers") {
            o.sellers = parse_int(a, value(), 1, 100'000'000);
        } else if (a == "--seed") {
            o.seed = static_cast<std::uint64_t>(parse_int(a, value(), 0, INT64_MAX));
        } else if (a == "--batch") {
            o.batch = parse_int(a, value(), 1, 10'000'000);
        } else if (a == "--jobs") {
            o.jobs = static_cast<int>(parse_int(a, value(), 1, 32));
        } else if (a == "--append") {
            o.append = true;
        } else if (a == "--now") {
            o.now_s = parse_time(value());
        } else {
            throw UsageError("unknown option '" + std::string(a) + "'");
        }
    }
    if (o.database_url.empty()) {
        if (const char* env = std::getenv("OPENMARKET_DATABASE_URL"); env && *env) {
            o.database_url = env;
        } else {
            throw UsageError("--database-url is required (or set OPENMARKET_DATABASE_URL)");
        }
    }
    if (o.products < 0) {
        throw UsageError("--products is required");
    }
    if (o.sellers < 0) {
        o.sellers = std::max<std::int64_t>(1, o.products / 2000);
    }
    return o;
}

// ---- libpq -------------------------------------------------------------------------------------------------

class Connection {
public:
    explicit Connection(const std::string& url) : c_(PQconnectdb(url.c_str())) {
        if (PQstatus(c_) != CONNECTION_OK) {
            std::string msg = PQerrorMessage(c_);
            PQfinish(c_);
            throw std::runtime_error("cannot connect: " + trim(msg));
        }
    }
    ~Connection() { PQfinish(c_); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void exec(const std::string& sql) {
        PGresult* r = PQexec(c_, sql.c_str());
        const auto st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            std::string msg = PQresultErrorMessage(r);
            PQclear(r);
            throw std::runtime_error(sql.substr(0, 60) + ": " + trim(msg));
        }
        PQclear(r);
    }

    // First row of a query, as text (NULL -> "").
    std::vector<std::string> row(const std::string& sql) {
        PGresult* r = PQexec(c_, sql.c_str());
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            std::string msg = PQresultErrorMessage(r);
            PQclear(r);
            throw std::runtime_error(sql.substr(0, 60) + ": " + trim(msg));
        }
        std::vector<std::string> out;
        if (PQntuples(r) > 0) {
            for (int i = 0; i < PQnfields(r); ++i) {
                out.emplace_back(PQgetvalue(r, 0, i));
            }
        }
        PQclear(r);
        return out;
    }

    // COPY <target> FROM STDIN (text format) with `data` (complete rows, '\n'-terminated).
    void copy_in(const std::string& target, std::string_view data) {
        PGresult* r = PQexec(c_, ("COPY " + target + " FROM STDIN").c_str());
        if (PQresultStatus(r) != PGRES_COPY_IN) {
            std::string msg = PQresultErrorMessage(r);
            PQclear(r);
            throw std::runtime_error("COPY " + target + ": " + trim(msg));
        }
        PQclear(r);
        for (std::size_t off = 0; off < data.size(); off += kCopyChunk) {
            const auto n = std::min(kCopyChunk, data.size() - off);
            if (PQputCopyData(c_, data.data() + off, static_cast<int>(n)) != 1) {
                throw std::runtime_error("COPY " + target + ": " + trim(PQerrorMessage(c_)));
            }
        }
        if (PQputCopyEnd(c_, nullptr) != 1) {
            throw std::runtime_error("COPY " + target + ": " + trim(PQerrorMessage(c_)));
        }
        std::string error;
        while (PGresult* res = PQgetResult(c_)) {
            if (PQresultStatus(res) != PGRES_COMMAND_OK && error.empty()) {
                error = PQresultErrorMessage(res);
            }
            PQclear(res);
        }
        if (!error.empty()) {
            throw std::runtime_error("COPY " + target + ": " + trim(error));
        }
    }

    // Session settings for bulk writing (see the header comment).
    void tune_for_bulk() {
        exec("SET synchronous_commit = off");
        exec("SET gin_pending_list_limit = '64MB'");
        exec("SET work_mem = '64MB'");
        exec("SET maintenance_work_mem = '256MB'");
    }

private:
    static std::string trim(std::string s) {
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
            s.pop_back();
        }
        return s;
    }
    PGconn* c_;
};

std::string hash_seller_password() {
    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium initialisation failed");
    }
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, kSellerPassword.data(), kSellerPassword.size(), 3, 12ULL * 1024 * 1024,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        throw std::runtime_error("argon2id hashing failed (out of memory)");
    }
    return out;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string with_commas(std::int64_t v) {
    const std::string digits = std::to_string(v);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && digits[i - 1] != '-' && (digits.size() - i) % 3 == 0) {
            out += ',';
        }
        out += digits[i];
    }
    return out;
}

int load(const Options& o) {
    const auto t0 = Clock::now();
    Connection main(o.database_url);
    main.tune_for_bulk();

    auto schema = main.row(
        "SELECT to_regclass('member.members') IS NOT NULL AND to_regclass('product.products') IS NOT NULL "
        "AND to_regclass('product.stock_movements') IS NOT NULL");
    if (schema.empty() || schema[0] != "t") {
        throw std::runtime_error("tables member.members, product.products or product.stock_movements are missing; "
                                 "run `openmarket-server migrate --database-url URL` first");
    }
    if (main.row("SELECT pg_try_advisory_lock(" + std::to_string(kAdvisoryLockKey) + ")").at(0) != "t") {
        throw std::runtime_error("another openmarket-catalog is loading this database");
    }
    // Released before the connection closes, however the load ends: a backend drops a session's locks only once it
    // has noticed the disconnect, so a loader started right after this one could still find the lock taken (a
    // flaky CatalogLoaderRuns.AppendContinuesAfterTheHighestSeller).
    struct Unlock {
        Connection& c;
        ~Unlock() {
            try {
                c.exec("SELECT pg_advisory_unlock(" + std::to_string(kAdvisoryLockKey) + ")");
            } catch (const std::exception&) {
                // The connection is gone: so is the lock.
            }
        }
    } unlock{main};

    const auto existing = main.row(
        "SELECT count(*), coalesce(max(substring(email FROM '^seller-([0-9]+)@catalog\\.openmarket\\.local$')::bigint), 0) "
        "FROM member.members WHERE email LIKE 'seller-%@catalog.openmarket.local'");
    const std::int64_t existing_count = std::stoll(existing.at(0));
    const std::int64_t highest = std::stoll(existing.at(1));
    if (existing_count > 0 && !o.append) {
        throw Refused("refusing to load: " + std::to_string(existing_count) +
                      " catalog sellers already exist (highest seller-" + std::to_string(highest) +
                      "@catalog.openmarket.local); use --append to add another catalog");
    }

    Plan plan;
    plan.seed = o.seed;
    plan.first_seller_number = highest + 1;
    plan.sellers = o.sellers;
    plan.products = o.products;
    const std::int64_t now_s = o.now_s ? *o.now_s : std::chrono::duration_cast<std::chrono::seconds>(
                                                       std::chrono::system_clock::now().time_since_epoch()).count();
    plan.now_ms = now_s * 1000;

    std::cout << "openmarket-catalog: " << with_commas(plan.products) << " products, " << with_commas(plan.sellers)
              << " sellers (seller-" << plan.first_seller_number << ".." << plan.first_seller_number + plan.sellers - 1
              << "), seed " << plan.seed << ", now " << now_s << ", batch " << o.batch << ", jobs " << o.jobs
              << std::endl;

    // ---- sellers: one transaction ----
    const std::string password_hash = hash_seller_password();
    std::vector<std::string> seller_ids;
    seller_ids.reserve(static_cast<std::size_t>(plan.sellers));
    {
        std::string buf;
        buf.reserve(static_cast<std::size_t>(plan.sellers) * 200);
        for (std::int64_t i = 0; i < plan.sellers; ++i) {
            auto s = om::catalog::make_seller(plan, i);
            om::catalog::append_seller_row(buf, s, password_hash);
            seller_ids.push_back(std::move(s.id));
        }
        main.exec("BEGIN");
        main.copy_in("member.members (id, email, password_hash, name, role, phone, created_at, updated_at, "
                     "password_changed_at)",
                     buf);
        main.exec("COMMIT");
    }
    std::cout << "sellers: " << with_commas(plan.sellers) << " created in " << std::fixed;
    std::cout.precision(1);
    std::cout << seconds_since(t0) << " s" << std::endl;

    // ---- products: batches on `jobs` connections ----
    const std::int64_t batches = (plan.products + o.batch - 1) / o.batch;
    std::atomic<std::int64_t> next_batch{0};
    std::atomic<std::int64_t> done{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    std::string first_error;
    const auto t_products = Clock::now();

    auto worker = [&] {
        try {
            Connection conn(o.database_url);
            conn.tune_for_bulk();
            std::string products_buf;
            std::string movements_buf;
            for (;;) {
                if (failed.load()) {
                    return;
                }
                const std::int64_t b = next_batch.fetch_add(1);
                if (b >= batches) {
                    return;
                }
                const std::int64_t begin = b * o.batch;
                const std::int64_t end = std::min(plan.products, begin + o.batch);
                products_buf.clear();
                movements_buf.clear();
                for (std::int64_t i = begin; i < end; ++i) {
                    const auto p = om::catalog::make_product(plan, i);
                    om::catalog::append_product_row(products_buf, p, seller_ids[static_cast<std::size_t>(p.seller_index)]);
                    om::catalog::append_movement_row(movements_buf, p);
                }
                conn.exec("BEGIN");
                conn.copy_in("product.products (id, seller_id, name, description, price, currency, category, stock, "
                             "status, version, created_at, updated_at)",
                             products_buf);
                conn.copy_in("product.stock_movements (product_id, delta, resulting_stock, reason, order_id, created_at)",
                             movements_buf);
                conn.exec("COMMIT");
                const auto total = done.fetch_add(end - begin) + (end - begin);
                std::lock_guard lock(mu);
                const double secs = seconds_since(t_products);
                std::cout << "products: " << with_commas(total) << "/" << with_commas(plan.products) << " ("
                          << 100.0 * static_cast<double>(total) / static_cast<double>(plan.products) << "%), "
                          << with_commas(static_cast<std::int64_t>(static_cast<double>(total) / std::max(secs, 1e-3)))
                          << " products/s" << std::endl;
            }
        } catch (const std::exception& e) {
            failed.store(true);
            std::lock_guard lock(mu);
            if (first_error.empty()) {
                first_error = e.what();
            }
        }
    };
    std::vector<std::thread> threads;
    const auto jobs = std::min<std::int64_t>(o.jobs, std::max<std::int64_t>(batches, 1));
    for (std::int64_t j = 0; j < jobs; ++j) {
        threads.emplace_back(worker);
    }
    for (auto& t : threads) {
        t.join();
    }
    if (failed.load()) {
        throw std::runtime_error(first_error + " (" + with_commas(done.load()) +
                                 " products in committed batches were kept)");
    }

    // ---- statistics ----
    const auto t_analyze = Clock::now();
    main.exec("VACUUM (ANALYZE) product.products");
    main.exec("VACUUM (ANALYZE) product.stock_movements");
    main.exec("ANALYZE member.members");
    std::cout << "vacuum/analyze: " << seconds_since(t_analyze) << " s" << std::endl;

    std::cout << "loaded " << plan.products << " products for " << plan.sellers << " sellers in " << seconds_since(t0)
              << " s" << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::cerr << kUsage;
        return 2;
    }
    if (std::ranges::any_of(args, [](std::string_view a) { return a == "--help" || a == "-h" || a == "help"; })) {
        std::cout << kUsage;
        return 0;
    }
    if (args[0] != "load") {
        std::cerr << "openmarket-catalog: unknown command '" << args[0] << "' (see --help)\n";
        return 2;
    }
    try {
        const auto options = parse_args({args.begin() + 1, args.end()});
        return load(options);
    } catch (const UsageError& e) {
        std::cerr << "openmarket-catalog: " << e.what() << " (see --help)\n";
        return 2;
    } catch (const Refused& e) {
        std::cerr << "openmarket-catalog: " << e.what() << "\n";
        return 3;
    } catch (const std::exception& e) {
        std::cerr << "openmarket-catalog: " << e.what() << "\n";
        return 1;
    }
}
