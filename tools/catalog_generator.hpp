#pragma once
// Deterministic generator of realistic sellers and products for openmarket-catalog (no I/O, no libpq).
//
// Determinism: every row is a pure function of (seed, run key, row index, time anchor), computed with its own
// splitmix64 stream, so the output does not depend on --batch, --jobs or the order in which batches are
// written. The run key is the number of the first seller created by the run, so that `--append` with the same
// seed produces new ids and new products instead of colliding with an earlier run.
//
// Ids are UUIDv7 (RFC 9562) built from the row's created_at (48-bit Unix ms) and 74 bits from the row's
// stream, not from om::new_uuid_v7 (which uses the clock and libsodium's random bytes and so cannot be
// reproduced). Products' created_at increase with the row index, so product ids are time-ordered and
// arrive in ascending order, which keeps primary-key inserts at the right edge of the B-tree.
#include <cstdint>
#include <string>
#include <string_view>

namespace om::catalog {

__extension__ typedef unsigned __int128 u128;  // for Rng::below (GCC/Clang)

inline constexpr std::int64_t kMsPerDay = 86'400'000;
inline constexpr std::string_view kSellerEmailDomain = "catalog.openmarket.local";

// splitmix64: tiny, fast, and good enough for synthetic data; one instance per row.
class Rng {
public:
    explicit Rng(std::uint64_t state) noexcept : s_(state) {}
    std::uint64_t next() noexcept {
        std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n); n > 0.
    std::uint64_t below(std::uint64_t n) noexcept { return static_cast<std::uint64_t>((static_cast<u128>(next()) * n) >> 64); }
    // Uniform in [lo, hi]; lo <= hi.
    std::int64_t between(std::int64_t lo, std::int64_t hi) noexcept {
        return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
    }
    // Uniform in [0, 1).
    double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    bool chance(double p) noexcept { return unit() < p; }

private:
    std::uint64_t s_;
};

// Mixes values into a stream seed (order-sensitive).
std::uint64_t mix(std::uint64_t a, std::uint64_t b, std::uint64_t c = 0) noexcept;

// Canonical lower-case UUIDv7 text for a Unix-ms timestamp and the next 74 random bits of `rng`.
std::string uuid_v7(std::int64_t unix_ms, Rng& rng);
// "YYYY-MM-DD HH:MM:SS.mmm+00" (PostgreSQL timestamptz input).
std::string timestamp_utc(std::int64_t unix_ms);
// Appends `s` escaped for COPY text format (backslash, tab, newline, carriage return).
void append_copy_text(std::string& out, std::string_view s);

struct Seller {
    std::int64_t number = 0;  // n in seller-<n>@catalog.openmarket.local
    std::string id;
    std::string email;
    std::string name;
    std::string phone;  // empty: NULL
    std::int64_t created_ms = 0;
};

struct Product {
    std::string id;
    std::int64_t seller_index = 0;  // 0-based index into this run's sellers
    std::string name;
    std::string description;
    std::int64_t price = 0;  // KRW
    std::string category;
    std::int64_t stock = 0;
    bool active = true;
    std::int64_t created_ms = 0;
};

struct Plan {
    std::uint64_t seed = 42;
    std::int64_t first_seller_number = 1;  // run key: sellers first..first+sellers-1
    std::int64_t sellers = 1;
    std::int64_t products = 0;
    std::int64_t now_ms = 0;  // time anchor: products are created in [now - 365 days, now)
};

Seller make_seller(const Plan& plan, std::int64_t index);   // index in [0, plan.sellers)
Product make_product(const Plan& plan, std::int64_t index); // index in [0, plan.products)

// Appends one COPY text row for member.members
//   (id, email, password_hash, name, role, phone, created_at, updated_at, password_changed_at).
void append_seller_row(std::string& out, const Seller& s, std::string_view password_hash);
// Appends one COPY text row for product.products
//   (id, seller_id, name, description, price, currency, category, stock, status, version, created_at, updated_at).
void append_product_row(std::string& out, const Product& p, std::string_view seller_id);
// Appends one COPY text row for product.stock_movements
//   (product_id, delta, resulting_stock, reason, order_id, created_at): the INITIAL movement.
void append_movement_row(std::string& out, const Product& p);

// Number of categories the generator draws from.
std::size_t category_count() noexcept;

}  // namespace om::catalog
