#include "product/search_index.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace om::product {

// ---- text -------------------------------------------------------------------------------------------

namespace {

char32_t lower(char32_t c) noexcept {
    if (c < 0x80) {
        return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    }
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) ||
        (c >= 0x410 && c <= 0x42F) || (c >= 0xFF21 && c <= 0xFF3A)) {
        return c + 32;
    }
    if (c >= 0x400 && c <= 0x40F) {
        return c + 80;
    }
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) {
        return c % 2 == 0 ? c + 1 : c;
    }
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) {
        return c % 2 == 1 ? c + 1 : c;
    }
    if (c == 0x178) {
        return 0xFF;
    }
    return c;
}

bool is_space(char32_t c) noexcept { return c <= 0x20 || c == 0xA0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200B); }

// Letters and digits of any script: word characters for the typo dictionary. ASCII punctuation, spaces and
// general punctuation separate words.
bool is_word_char(char32_t c) noexcept {
    if (c < 0x80) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    return !is_space(c) && !(c >= 0x2000 && c <= 0x206F) && !(c >= 0x3000 && c <= 0x303F) && c != 0xFFFD &&
           !(c >= 0xFF01 && c <= 0xFF0F);
}

std::uint64_t bigram(char32_t a, char32_t b) noexcept { return (static_cast<std::uint64_t>(a) << 32) | b; }

// Distinct bigrams of a word (no whitespace inside), in no particular order.
std::vector<std::uint64_t> distinct_bigrams(std::u32string_view s) {
    std::vector<std::uint64_t> out;
    for (std::size_t i = 0; i + 1 < s.size(); ++i) {
        if (!is_space(s[i]) && !is_space(s[i + 1])) {
            out.push_back(bigram(s[i], s[i + 1]));
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

using DocList = std::vector<std::uint32_t>;

// Substring test with glibc's memmem, much faster than string_view::find on Korean text, where find's
// memchr on the needle's first byte (the lead byte of a Hangul syllable) stops at nearly every character.
bool contains(std::string_view hay, std::string_view needle) noexcept {
    return needle.empty() || ::memmem(hay.data(), hay.size(), needle.data(), needle.size()) != nullptr;
}

// Sorted intersection; gallops through the longer list when the shorter one is much shorter.
DocList intersect(const DocList& small, const DocList& large) {
    DocList out;
    if (small.size() * 32 < large.size()) {
        auto from = large.begin();
        for (const auto d : small) {
            from = std::lower_bound(from, large.end(), d);
            if (from == large.end()) {
                break;
            }
            if (*from == d) {
                out.push_back(d);
            }
        }
        return out;
    }
    std::set_intersection(small.begin(), small.end(), large.begin(), large.end(), std::back_inserter(out));
    return out;
}

}  // namespace

std::u32string fold_case(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        char32_t c = 0xFFFD;
        std::size_t n = 1;
        if (b < 0x80) {
            c = b;
        } else if ((b >> 5) == 0x6) {
            n = 2;
        } else if ((b >> 4) == 0xE) {
            n = 3;
        } else if ((b >> 3) == 0x1E) {
            n = 4;
        }
        if (n > 1) {
            char32_t v = b & (0x7F >> n);
            bool ok = i + n <= s.size();
            for (std::size_t k = 1; ok && k < n; ++k) {
                const auto cb = static_cast<unsigned char>(s[i + k]);
                ok = (cb & 0xC0) == 0x80;
                v = (v << 6) | (cb & 0x3F);
            }
            static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
            if (ok && v >= kMin[n] && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF)) {
                c = v;
            } else {
                n = 1;
            }
        }
        out.push_back(lower(c));
        i += n;
    }
    return out;
}

std::string to_utf8(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char32_t c : s) {
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else if (c < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (c >> 6)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        } else if (c < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (c >> 12)));
            out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (c >> 18)));
            out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
    }
    return out;
}

int edit_distance(std::u32string_view a, std::u32string_view b, int max_distance) {
    const auto n = a.size();
    const auto m = b.size();
    if (static_cast<int>(n > m ? n - m : m - n) > max_distance) {
        return max_distance + 1;
    }
    if (n > 64 || m > 64) {
        return a == b ? 0 : max_distance + 1;
    }
    // Optimal string alignment: three rows of the dynamic programme.
    std::array<int, 65> prev2{};
    std::array<int, 65> prev{};
    std::array<int, 65> cur{};
    for (std::size_t j = 0; j <= m; ++j) {
        prev[j] = static_cast<int>(j);
    }
    for (std::size_t i = 1; i <= n; ++i) {
        cur[0] = static_cast<int>(i);
        int row_min = cur[0];
        for (std::size_t j = 1; j <= m; ++j) {
            const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int v = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                v = std::min(v, prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = std::min(row_min, v);
        }
        if (row_min > max_distance) {
            return max_distance + 1;
        }
        prev2 = prev;
        prev = cur;
    }
    return std::min(prev[m], max_distance + 1);
}

std::size_t UuidHash::operator()(const Uuid& u) const noexcept {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    std::memcpy(&a, u.data(), 8);
    std::memcpy(&b, u.data() + 8, 8);
    return static_cast<std::size_t>((a ^ (b * 0x9E3779B97F4A7C15ULL)) * 0xBF58476D1CE4E5B9ULL);
}

// ---- catalog ----------------------------------------------------------------------------------------

Catalog::Catalog() = default;

std::string_view Catalog::name(std::uint32_t doc) const noexcept {
    return {names_.data() + name_at_[doc], name_len_[doc]};
}

std::uint32_t Catalog::category_id(const std::string& category) {
    auto [it, inserted] = category_ids_.try_emplace(category, static_cast<std::uint32_t>(categories_.size()));
    if (inserted) {
        categories_.push_back(category);
        categories_folded_.push_back(to_utf8(fold_case(category)));
        category_docs_.emplace_back();
        active_count_.push_back(0);
        in_stock_count_.push_back(0);
    }
    return it->second;
}

std::uint32_t Catalog::seller_id(const Uuid& seller) {
    auto [it, inserted] = seller_ids_.try_emplace(seller, static_cast<std::uint32_t>(sellers_.size()));
    if (inserted) {
        sellers_.push_back(seller);
    }
    return it->second;
}

void Catalog::count(std::uint32_t doc, int sign) {
    const auto f = flags_[doc];
    if ((f & kAlive) && (f & kActive)) {
        active_count_[category_[doc]] += sign;
        if (f & kInStock) {
            in_stock_count_[category_[doc]] += sign;
        }
    }
}

std::uint32_t Catalog::add_doc(const IndexedProduct& p, const Uuid& id, std::u32string_view folded,
                               const std::string& utf8, std::uint32_t category) {
    const auto doc = static_cast<std::uint32_t>(id_.size());
    const auto seller = uuid_bytes(p.seller_id).value_or(Uuid{});
    id_.push_back(id);
    seller_.push_back(seller_id(seller));
    name_at_.push_back(names_.size());
    name_len_.push_back(static_cast<std::uint32_t>(utf8.size()));
    names_ += utf8;
    category_.push_back(category);
    price_.push_back(p.price);
    created_.push_back(p.created_us);
    version_.push_back(p.version);
    flags_.push_back(static_cast<std::uint8_t>(kAlive | (p.active ? kActive : 0) | (p.stock > 0 ? kInStock : 0)));
    category_docs_[category].push_back(doc);
    for (const auto bg : distinct_bigrams(folded)) {
        bigrams_[bg].push_back(doc);
    }
    // Dictionary words for typo tolerance.
    std::size_t i = 0;
    while (i < folded.size()) {
        while (i < folded.size() && !is_word_char(folded[i])) {
            ++i;
        }
        std::size_t j = i;
        while (j < folded.size() && is_word_char(folded[j])) {
            ++j;
        }
        if (j - i >= 3 && j - i <= 32) {
            std::u32string word(folded.substr(i, j - i));
            auto [it, inserted] = word_ids_.try_emplace(word, static_cast<std::uint32_t>(words_.size()));
            if (inserted) {
                for (const auto bg : distinct_bigrams(word)) {
                    word_bigrams_[bg].push_back(it->second);
                }
                words_.push_back(std::move(word));
            }
        }
        i = j;
    }
    count(doc, +1);
    return doc;
}

void Catalog::upsert(const IndexedProduct& p) {
    const auto id = uuid_bytes(p.id);
    if (!id) {
        return;
    }
    auto it = by_id_.find(*id);
    if (it != by_id_.end() && version_[it->second] >= p.version) {
        return;  // this change (or a later one) is in already: every catch-up re-reads some rows
    }
    const std::u32string folded = fold_case(p.name);
    const std::string utf8 = to_utf8(folded);
    const auto category = category_id(p.category);
    if (it == by_id_.end()) {
        by_id_.emplace(*id, add_doc(p, *id, folded, utf8, category));
        return;
    }
    const auto doc = it->second;
    count(doc, -1);
    if (category == category_[doc] && name(doc) == utf8) {
        // Only price, stock, status or seller-visible fields changed: update in place.
        price_[doc] = p.price;
        version_[doc] = p.version;
        flags_[doc] = static_cast<std::uint8_t>(kAlive | (p.active ? kActive : 0) | (p.stock > 0 ? kInStock : 0));
        count(doc, +1);
        return;
    }
    // Name or category changed: a new doc keeps every posting list sorted; the old one is dead.
    flags_[doc] = 0;
    it->second = add_doc(p, *id, folded, utf8, category);
}

std::size_t Catalog::memory_bytes() const noexcept {
    std::size_t n = names_.capacity();
    n += id_.capacity() * sizeof(Uuid) + seller_.capacity() * 4 + name_at_.capacity() * 8 + name_len_.capacity() * 4 +
         category_.capacity() * 4 + price_.capacity() * 8 + created_.capacity() * 8 + version_.capacity() * 8 +
         flags_.capacity();
    n += by_id_.size() * (sizeof(Uuid) + 4 + 16) + by_id_.bucket_count() * 8;
    for (const auto& [k, v] : bigrams_) {
        n += v.capacity() * 4 + 48;
    }
    for (const auto& [k, v] : word_bigrams_) {
        n += v.capacity() * 4 + 48;
    }
    for (const auto& w : words_) {
        n += w.capacity() * 4 + 64;
    }
    for (const auto& d : category_docs_) {
        n += d.capacity() * 4;
    }
    return n;
}

Catalog::DocList Catalog::docs_containing(std::u32string_view term) const {
    const std::string needle = to_utf8(term);
    DocList out;
    if (term.size() < 2) {
        // One code point has no bigram: test every name.
        for (std::uint32_t d = 0; d < id_.size(); ++d) {
            if ((flags_[d] & kAlive) && contains(name(d), needle)) {
                out.push_back(d);
            }
        }
        return out;
    }
    std::vector<const DocList*> lists;
    for (const auto bg : distinct_bigrams(term)) {
        auto it = bigrams_.find(bg);
        if (it == bigrams_.end()) {
            return out;
        }
        lists.push_back(&it->second);
    }
    std::sort(lists.begin(), lists.end(), [](const DocList* a, const DocList* b) { return a->size() < b->size(); });
    DocList candidates = *lists.front();
    for (std::size_t i = 1; i < lists.size() && !candidates.empty(); ++i) {
        candidates = intersect(candidates, *lists[i]);
    }
    // Bigrams say "maybe"; the name says yes or no.
    for (const auto d : candidates) {
        if ((flags_[d] & kAlive) && contains(name(d), needle)) {
            out.push_back(d);
        }
    }
    return out;
}

std::vector<std::u32string_view> Catalog::similar_words(std::u32string_view term) const {
    const int k = term.size() >= 8 ? 2 : 1;
    const auto grams = distinct_bigrams(term);
    // Each edit destroys at most three of the term's bigrams (a transposition), so a word within k edits
    // shares at least |grams| - 3k of them.
    const std::size_t need = std::max<std::ptrdiff_t>(1, static_cast<std::ptrdiff_t>(grams.size()) - 3 * k);
    std::vector<std::uint8_t> shared(words_.size(), 0);
    std::vector<std::uint32_t> candidates;
    for (const auto bg : grams) {
        auto it = word_bigrams_.find(bg);
        if (it == word_bigrams_.end()) {
            continue;
        }
        for (const auto w : it->second) {
            if (++shared[w] == need) {
                candidates.push_back(w);
            }
        }
    }
    std::vector<std::pair<int, std::u32string_view>> found;
    for (const auto w : candidates) {
        const std::u32string_view word = words_[w];
        const int d = edit_distance(term, word, k);
        if (d >= 1 && d <= k) {
            found.emplace_back(d, word);
        }
    }
    std::sort(found.begin(), found.end());
    std::vector<std::u32string_view> out;
    for (std::size_t i = 0; i < found.size() && i < 64; ++i) {
        out.push_back(found[i].second);
    }
    return out;
}

Catalog::DocList Catalog::term_docs(std::u32string_view term, DocList& in_name) const {
    in_name = docs_containing(term);
    DocList docs = in_name;
    // Every list is sorted: merge rather than sort the concatenation (tens of thousands of docs).
    auto unite = [&docs](const DocList& more) {
        DocList out;
        out.reserve(docs.size() + more.size());
        std::set_union(docs.begin(), docs.end(), more.begin(), more.end(), std::back_inserter(out));
        docs = std::move(out);
    };
    const std::string needle = to_utf8(term);
    for (std::size_t c = 0; c < categories_.size(); ++c) {
        if (categories_folded_[c].find(needle) != std::string::npos) {
            unite(category_docs_[c]);
        }
    }
    if (term.size() >= 4 && std::all_of(term.begin(), term.end(), is_word_char)) {
        for (const auto word : similar_words(term)) {
            unite(docs_containing(word));
        }
    }
    return docs;
}

IndexResult Catalog::search(const SearchRequest& r) const {
    IndexResult result;
    // Terms: the query split at whitespace, each matched on its own (in any order).
    const std::u32string folded = fold_case(r.query);
    std::vector<std::u32string> terms;
    for (std::size_t i = 0; i < folded.size();) {
        while (i < folded.size() && is_space(folded[i])) {
            ++i;
        }
        std::size_t j = i;
        while (j < folded.size() && !is_space(folded[j])) {
            ++j;
        }
        if (j > i) {
            std::u32string t = folded.substr(i, j - i);
            if (std::find(terms.begin(), terms.end(), t) == terms.end() && terms.size() < 8) {
                terms.push_back(std::move(t));
            }
        }
        i = j;
    }
    std::string phrase;  // the terms joined by single spaces (relevance: prefix / contains)
    for (const auto& t : terms) {
        if (!phrase.empty()) {
            phrase += ' ';
        }
        phrase += to_utf8(t);
    }

    std::optional<std::uint32_t> seller;
    if (r.seller_id) {
        const auto u = uuid_bytes(*r.seller_id);
        auto it = u ? seller_ids_.find(*u) : seller_ids_.end();
        if (it == seller_ids_.end()) {
            return result;  // a seller without products: no matches, no facets
        }
        seller = it->second;
    }
    std::optional<std::uint32_t> category;
    bool unknown_category = false;
    if (r.category) {
        auto it = category_ids_.find(*r.category);
        unknown_category = it == category_ids_.end();
        if (!unknown_category) {
            category = it->second;
        }
    }

    enum class Sort { relevance, newest, price_asc, price_desc };
    const Sort sort = r.sort == "relevance" ? Sort::relevance
                      : r.sort == "price_asc" ? Sort::price_asc
                      : r.sort == "price_desc" ? Sort::price_desc
                                               : Sort::newest;
    const bool desc = sort != Sort::price_asc;
    const auto& after = r.after;

    // Candidates: the docs matching every term, the category's docs, or every doc.
    const bool other_filters = r.min_price || r.max_price || seller;
    const DocList* list = nullptr;
    DocList matched;
    std::vector<DocList> in_name;  // per term: the docs whose name contains it
    if (!terms.empty()) {
        std::vector<DocList> per_term;
        for (const auto& t : terms) {
            per_term.push_back(term_docs(t, in_name.emplace_back()));
        }
        std::sort(per_term.begin(), per_term.end(), [](const DocList& a, const DocList& b) { return a.size() < b.size(); });
        matched = std::move(per_term.front());
        for (std::size_t i = 1; i < per_term.size() && !matched.empty(); ++i) {
            matched = intersect(matched, per_term[i]);
        }
        list = &matched;
    } else if (category && !other_filters) {
        list = &category_docs_[*category];
    }
    // Facets count every match regardless of the category filter. Without a text query and without price or
    // seller filters, those are the maintained per-category counts.
    const bool count_facets = !terms.empty() || other_filters;
    std::vector<std::int64_t> facets(count_facets ? categories_.size() : 0, 0);

    struct Entry {
        std::int64_t key;
        std::uint32_t doc;
    };
    auto better = [&](const Entry& a, const Entry& b) {
        if (a.key != b.key) {
            return desc ? a.key > b.key : a.key < b.key;
        }
        return desc ? id_[a.doc] > id_[b.doc] : id_[a.doc] < id_[b.doc];
    };
    auto after_cursor = [&](std::int64_t key, std::uint32_t doc) {
        if (!after) {
            return true;
        }
        if (key != after->key) {
            return desc ? key < after->key : key > after->key;
        }
        return desc ? id_[doc] < after->id : id_[doc] > after->id;
    };
    // Relevance: 4000 when the name starts with the query, 3000 when it contains it, 2000 when it contains every
    // term, else 1000 less 100 per term matched only through the category or a similar word. Docs are visited
    // in order, so a cursor per term answers "is this doc in the term's name matches" in O(1) amortised.
    std::vector<std::size_t> cursor(in_name.size(), 0);
    for (std::size_t t = 0; t < in_name.size(); ++t) {
        cursor[t] = desc ? in_name[t].size() : 0;
    }
    auto in_name_of = [&](std::size_t t, std::uint32_t doc) {
        const auto& l = in_name[t];
        auto& c = cursor[t];
        if (desc) {
            while (c > 0 && l[c - 1] > doc) {
                --c;
            }
            return c > 0 && l[c - 1] == doc;
        }
        while (c < l.size() && l[c] < doc) {
            ++c;
        }
        return c < l.size() && l[c] == doc;
    };
    auto relevance = [&](std::uint32_t doc) -> std::int64_t {
        std::int64_t missing = 0;
        for (std::size_t t = 0; t < in_name.size(); ++t) {
            missing += in_name_of(t, doc) ? 0 : 1;
        }
        if (missing > 0) {
            return std::max<std::int64_t>(1, 1000 - 100 * missing);
        }
        const auto n = name(doc);
        if (n.starts_with(phrase)) {
            return 4000;
        }
        if (terms.size() == 1 || contains(n, phrase)) {
            return 3000;
        }
        return 2000;
    };
    const auto cap = static_cast<std::size_t>(r.limit) + 1;
    std::vector<Entry> heap;
    heap.reserve(cap + 1);
    auto consider = [&](std::uint32_t d) {
        const auto f = flags_[d];
        if (!(f & kAlive) || !(f & kActive) || (r.in_stock_only && !(f & kInStock)) ||
            (r.min_price && price_[d] < *r.min_price) || (r.max_price && price_[d] > *r.max_price) ||
            (seller && seller_[d] != *seller)) {
            return;
        }
        if (count_facets) {
            ++facets[category_[d]];
        }
        if (unknown_category || (category && category_[d] != *category)) {
            return;
        }
        const std::int64_t key = sort == Sort::relevance ? relevance(d) : sort == Sort::newest ? created_[d] : price_[d];
        if (!after_cursor(key, d)) {
            return;
        }
        const Entry e{key, d};
        if (heap.size() < cap) {
            heap.push_back(e);
            std::push_heap(heap.begin(), heap.end(), better);
        } else if (better(e, heap.front())) {
            std::pop_heap(heap.begin(), heap.end(), better);
            heap.back() = e;
            std::push_heap(heap.begin(), heap.end(), better);
        }
    };
    // Docs are numbered in the order they arrived, which mostly follows creation time and UUIDv7 ids: for the
    // descending sorts, walk from the newest so that the heap fills with winners early and later docs fail one
    // comparison instead of each displacing the last winner.
    const std::size_t n = list ? list->size() : id_.size();
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t at = desc ? n - 1 - i : i;
        consider(list ? (*list)[at] : static_cast<std::uint32_t>(at));
    }
    std::sort_heap(heap.begin(), heap.end(), better);
    for (const auto& e : heap) {
        result.hits.push_back(SearchHit{uuid_text(id_[e.doc]), e.key});
    }

    const auto& counts = count_facets ? facets : (r.in_stock_only ? in_stock_count_ : active_count_);
    std::vector<std::uint32_t> order;
    for (std::uint32_t c = 0; c < counts.size(); ++c) {
        if (counts[c] > 0) {
            order.push_back(c);
        }
    }
    const auto top = std::min<std::size_t>(order.size(), 20);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                      [&](std::uint32_t a, std::uint32_t b) {
                          return counts[a] != counts[b] ? counts[a] > counts[b] : categories_[a] < categories_[b];
                      });
    for (std::size_t i = 0; i < top; ++i) {
        result.categories.emplace_back(categories_[order[i]], counts[order[i]]);
    }
    return result;
}

// ---- the shared index -------------------------------------------------------------------------------

std::uint64_t snapshot_xmax(std::string_view snapshot) {
    // "xmin:xmax:xip,…"
    const auto first = snapshot.find(':');
    if (first == std::string_view::npos) {
        return 0;
    }
    const auto second = snapshot.find(':', first + 1);
    std::uint64_t x = 0;
    std::from_chars(snapshot.data() + first + 1,
                    snapshot.data() + (second == std::string_view::npos ? snapshot.size() : second), x);
    return x;
}

SearchIndex::SearchIndex() = default;
SearchIndex::~SearchIndex() = default;

SearchIndex::FeedPosition SearchIndex::position() const {
    std::shared_lock lock(mutex_);
    return position_;
}

void SearchIndex::install(std::unique_ptr<Catalog> catalog, std::string snapshot) {
    std::unique_ptr<Catalog> old;
    {
        std::unique_lock lock(mutex_);
        old = std::exchange(catalog_, std::move(catalog));
        position_.snapshot = std::move(snapshot);
        ++position_.catalog;
    }
    ready_.store(true, std::memory_order_release);
    // `old` is freed here, outside the lock.
}

void SearchIndex::apply(std::span<const IndexedProduct> changes, const FeedPosition& from, std::string snapshot) {
    std::unique_lock lock(mutex_);
    if (!catalog_) {
        return;
    }
    for (const auto& p : changes) {
        catalog_->upsert(p);
    }
    // The catalog held every row visible in `from` and now holds every row changed since that is visible in
    // `snapshot`: so every row visible in `snapshot`. Concurrent catch-ups may apply in either order; the later
    // snapshot (the larger xmax) is kept, both being covered, so that a slow one does not set the feed back. A
    // catalog installed meanwhile came from its own snapshot, which this one need not cover.
    if (position_.catalog == from.catalog && snapshot_xmax(snapshot) >= snapshot_xmax(position_.snapshot)) {
        position_.snapshot = std::move(snapshot);
    }
}

IndexResult SearchIndex::search(const SearchRequest& r) const {
    std::shared_lock lock(mutex_);
    if (!catalog_) {
        throw std::logic_error("search index not loaded");
    }
    return catalog_->search(r);
}

std::size_t SearchIndex::products() const {
    std::shared_lock lock(mutex_);
    return catalog_ ? catalog_->products() : 0;
}

}  // namespace om::product
