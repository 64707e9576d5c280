#pragma once
// The in-memory search index behind POST /products/search (one per server process, shared by its shards).
//
// PostgreSQL stays the truth: the index is built from product.products at start (SearchFeed) and follows
// every committed change through a change feed before each search, so a search sees every change committed
// before it began. It answers with product ids, sort keys and facet counts; the products themselves are
// read from PostgreSQL.
//
// Thread-safety: all public members may be called from any thread. Searches share a reader lock; applying
// changes and swapping in a rebuilt catalog take the writer lock for microseconds (one change) to
// milliseconds (a swap).
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/ids.hpp"
#include "product/search.hpp"

namespace om::product {

// One product as the index needs it (a row of the initial load or of the change feed).
struct IndexedProduct {
    std::string id;         // UUID text
    std::string seller_id;  // UUID text
    std::string name;
    std::string category;
    std::int64_t price = 0;
    std::int64_t stock = 0;
    bool active = true;
    std::int64_t version = 0;
    std::int64_t created_us = 0;  // microseconds since the Unix epoch
};

struct SearchHit {
    std::string id;
    std::int64_t key = 0;  // the sort value: relevance score, created_us or price (the cursor's key)
};

struct IndexResult {
    std::vector<SearchHit> hits;  // at most limit + 1, best first
    std::vector<std::pair<std::string, std::int64_t>> categories;  // facets, at most 20
};

// Lower-cases UTF-8 text for matching (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic, full-width
// Latin; Hangul and CJK have no case). Invalid bytes become U+FFFD.
std::u32string fold_case(std::string_view utf8);
std::string to_utf8(std::u32string_view s);
// Restricted Damerau-Levenshtein distance (adjacent transpositions count 1), or max_distance + 1 when larger.
int edit_distance(std::u32string_view a, std::u32string_view b, int max_distance);

using Uuid = UuidBytes;

struct UuidHash {
    std::size_t operator()(const Uuid& u) const noexcept;
};

// The data of one index generation. Not thread-safe by itself (SearchIndex guards it).
class Catalog {
public:
    Catalog();
    // Adds or replaces a product unless the index already holds this or a newer version.
    void upsert(const IndexedProduct& p);
    [[nodiscard]] IndexResult search(const SearchRequest& r) const;
    [[nodiscard]] std::size_t products() const noexcept { return by_id_.size(); }
    [[nodiscard]] std::size_t memory_bytes() const noexcept;

private:
    using DocList = std::vector<std::uint32_t>;
    static constexpr std::uint8_t kAlive = 1, kActive = 2, kInStock = 4;

    std::uint32_t add_doc(const IndexedProduct& p, const Uuid& id, std::u32string_view folded, const std::string& utf8,
                          std::uint32_t category);
    std::uint32_t category_id(const std::string& category);
    std::uint32_t seller_id(const Uuid& seller);
    void count(std::uint32_t doc, int sign);
    [[nodiscard]] std::string_view name(std::uint32_t doc) const noexcept;
    [[nodiscard]] DocList docs_containing(std::u32string_view term) const;
    // Docs matching a term by name substring, category substring or a similar word; `in_name` receives the
    // first kind alone (relevance needs it).
    [[nodiscard]] DocList term_docs(std::u32string_view term, DocList& in_name) const;
    [[nodiscard]] std::vector<std::u32string_view> similar_words(std::u32string_view term) const;

    // Documents, by doc number. A product whose name or category changes gets a new doc (postings stay
    // sorted by doc number); its old doc is no longer alive.
    std::vector<Uuid> id_;
    std::vector<std::uint32_t> seller_;
    std::vector<std::uint64_t> name_at_;
    std::vector<std::uint32_t> name_len_;
    std::vector<std::uint32_t> category_;
    std::vector<std::int64_t> price_;
    std::vector<std::int64_t> created_;
    std::vector<std::int64_t> version_;
    std::vector<std::uint8_t> flags_;
    std::string names_;  // lower-cased names, back to back
    std::unordered_map<Uuid, std::uint32_t, UuidHash> by_id_;

    std::vector<Uuid> sellers_;
    std::unordered_map<Uuid, std::uint32_t, UuidHash> seller_ids_;

    std::vector<std::string> categories_;
    std::vector<std::string> categories_folded_;
    std::unordered_map<std::string, std::uint32_t> category_ids_;
    std::vector<DocList> category_docs_;
    std::vector<std::int64_t> active_count_;
    std::vector<std::int64_t> in_stock_count_;

    // Code-point bigrams of the lower-cased names (no whitespace inside) → docs.
    std::unordered_map<std::uint64_t, DocList> bigrams_;
    // Words of names (3+ code points) and their bigrams, for typo-tolerant matching.
    std::vector<std::u32string> words_;
    std::unordered_map<std::u32string, std::uint32_t> word_ids_;
    std::unordered_map<std::uint64_t, DocList> word_bigrams_;
};

// The xmax of a pg_snapshot's text ("xmin:xmax:xip,…"); 0 when it is not one.
std::uint64_t snapshot_xmax(std::string_view snapshot);

class SearchIndex {
public:
    SearchIndex();
    ~SearchIndex();
    SearchIndex(const SearchIndex&) = delete;
    SearchIndex& operator=(const SearchIndex&) = delete;

    // False until the first catalog has been installed.
    [[nodiscard]] bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
    // The change feed's position: the PostgreSQL snapshot (pg_snapshot text) whose visible rows the index holds
    // all of, and the catalog it was reached in (each install is a new one).
    struct FeedPosition {
        std::string snapshot;
        std::uint64_t catalog = 0;
    };
    [[nodiscard]] FeedPosition position() const;
    // Installs a freshly built catalog holding every row visible in `snapshot`.
    void install(std::unique_ptr<Catalog> catalog, std::string snapshot);
    // Applies the products changed since `from`, read in `snapshot` (idempotent: older versions are ignored), and
    // moves the position to `snapshot` unless another catalog was installed since `from` was read.
    void apply(std::span<const IndexedProduct> changes, const FeedPosition& from, std::string snapshot);
    // Throws std::logic_error when not ready.
    [[nodiscard]] IndexResult search(const SearchRequest& r) const;
    [[nodiscard]] std::size_t products() const;

private:
    mutable std::shared_mutex mutex_;
    std::unique_ptr<Catalog> catalog_;
    FeedPosition position_;
    std::atomic<bool> ready_{false};
};

}  // namespace om::product
