#pragma once
// The principals of access tokens seen lately, per shard (issue 6): a buyer's order is a POST and a long
// poll within a fraction of a second, and each asked Redis for the same session (plus a SHA-256 of the token).
// An entry lives at most `ttl` and never past the session's own expiry in Redis.
//
// Revocation: every logout, refresh or password change in this process bumps one process-wide generation
// (`revoked()`), and entries of an older generation are never used again, so in one process a revoked token
// stops working at once. Another server process on the same Redis keeps a cached entry for at most `ttl`
// (docs/architecture.md, decision (a)).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/http.hpp"

namespace om::member {

class SessionCache {
public:
    using Clock = std::chrono::steady_clock;

    explicit SessionCache(std::chrono::milliseconds ttl, std::size_t capacity = 65536)
        : ttl_(ttl), capacity_(capacity) {}

    [[nodiscard]] bool enabled() const { return ttl_.count() > 0; }

    // The generation to pass to put() for a lookup that starts now (read it before asking Redis, so that a
    // revocation completing meanwhile makes the answer unusable).
    static std::uint64_t generation() { return generation_.load(std::memory_order_acquire); }
    // A session ended somewhere in this process: every cached entry is void.
    static void revoked() { generation_.fetch_add(1, std::memory_order_acq_rel); }

    std::optional<Principal> get(const std::string& token, Clock::time_point now = Clock::now()) {
        const auto it = entries_.find(token);
        if (it == entries_.end()) {
            return std::nullopt;
        }
        if (it->second.generation != generation() || now >= it->second.until) {
            entries_.erase(it);
            return std::nullopt;
        }
        return it->second.who;
    }

    // `expires_in`: what the session has left in Redis.
    void put(const std::string& token, const Principal& who, std::uint64_t generation,
             std::chrono::milliseconds expires_in, Clock::time_point now = Clock::now()) {
        if (!enabled() || expires_in.count() <= 0 || generation != SessionCache::generation()) {
            return;
        }
        if (entries_.size() >= capacity_) {
            drop_stale(now);
            if (entries_.size() >= capacity_) {
                entries_.clear();
            }
        }
        entries_.insert_or_assign(token, Entry{who, now + std::min(ttl_, expires_in), generation});
    }

    [[nodiscard]] std::size_t size() const { return entries_.size(); }

private:
    struct Entry {
        Principal who;
        Clock::time_point until;
        std::uint64_t generation = 0;
    };

    void drop_stale(Clock::time_point now) {
        const auto current = generation();
        for (auto it = entries_.begin(); it != entries_.end();) {
            it = (it->second.generation != current || now >= it->second.until) ? entries_.erase(it) : std::next(it);
        }
    }

    inline static std::atomic<std::uint64_t> generation_{0};
    std::chrono::milliseconds ttl_;
    std::size_t capacity_;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace om::member
