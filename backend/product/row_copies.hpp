#pragma once
// A shard's short-lived copies of product rows, from which orders are priced (issue 6: a lookup per order was
// the most frequent statement of the order path). Nothing here is trusted: each order line carries the
// version of the row it was priced from, and the group commit refuses the order if the product has another
// version by then (product.changed_lines, under the rows' lock); the order is priced again from PostgreSQL.
// So a copy can only cost a retry, never a wrong price, and the age limit only bounds how long a copy that
// is out of date keeps causing retries (and the memory). One shard's thread only: no locking.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "product/product_repository.hpp"

namespace om::product {

class RowCopies {
public:
    using Clock = std::chrono::steady_clock;

    RowCopies(std::chrono::milliseconds max_age, std::size_t capacity) : max_age_(max_age), capacity_(capacity) {}

    // The copy of this product if it is younger than max_age.
    std::optional<ProductRow> get(const std::string& id, Clock::time_point now = Clock::now()) {
        auto it = rows_.find(id);
        if (it == rows_.end()) {
            return std::nullopt;
        }
        if (now - it->second.taken > max_age_) {
            rows_.erase(it);
            return std::nullopt;
        }
        return it->second.row;
    }

    // Keeps (or replaces) the copy of this row. When full, the expired copies go first, then arbitrary ones.
    void put(const ProductRow& row, Clock::time_point now = Clock::now()) {
        if (capacity_ == 0) {
            return;
        }
        if (rows_.size() >= capacity_ && !rows_.contains(row.id)) {
            std::erase_if(rows_, [&](const auto& kv) { return now - kv.second.taken > max_age_; });
            while (rows_.size() >= capacity_) {
                rows_.erase(rows_.begin());
            }
        }
        rows_.insert_or_assign(row.id, Copy{row, now});
    }

    void forget(const std::vector<std::string>& ids) {
        for (const auto& id : ids) {
            rows_.erase(id);
        }
    }

    std::size_t size() const noexcept { return rows_.size(); }

private:
    struct Copy {
        ProductRow row;
        Clock::time_point taken;
    };
    std::chrono::milliseconds max_age_;
    std::size_t capacity_;
    std::unordered_map<std::string, Copy> rows_;
};

}  // namespace om::product
