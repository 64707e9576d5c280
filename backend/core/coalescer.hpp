#pragma once
// Coalesces concurrent lookups by key into one batched fetch, per shard (the read-side twin of the order group
// commit). The first caller's key is fetched at once; keys asked for while that fetch runs wait and go together
// in the next one (up to max_batch). No waiting for company: an idle shard fetches one key at a time, a busy one
// one batch per round trip. Single-threaded: use one instance per shard, from its thread only.
#include <deque>
#include <exception>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/task.hpp"

namespace om {

template <class Key, class Value>
class Coalescer {
public:
    // Returns the values found; a key missing from the map has no value. May throw: every caller of that batch
    // gets the exception.
    using Fetch = std::function<Task<std::unordered_map<Key, Value>>(std::vector<Key>)>;

    explicit Coalescer(Fetch fetch, std::size_t max_batch = 256) : fetch_(std::move(fetch)), max_batch_(max_batch) {}

    Task<std::optional<Value>> get(Key key) {
        CallbackAwaiter<Outcome> fetched([this, &key](std::function<void(Outcome)> done) {
            queue_.push_back({std::move(key), std::move(done)});
            if (!draining_) {
                draining_ = true;
                start_detached(drain(), [](std::exception_ptr) {});
            }
        });
        Outcome out = co_await fetched;
        if (out.error) {
            std::rethrow_exception(out.error);
        }
        co_return std::move(out.value);
    }

private:
    struct Outcome {
        std::optional<Value> value;
        std::exception_ptr error;
    };
    struct Pending {
        Key key;
        std::function<void(Outcome)> done;
    };

    Task<void> drain() {
        while (!queue_.empty()) {
            std::vector<Pending> batch;
            while (!queue_.empty() && batch.size() < max_batch_) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
            std::vector<Key> keys;
            keys.reserve(batch.size());
            for (const auto& p : batch) {
                keys.push_back(p.key);
            }
            std::unordered_map<Key, Value> found;
            std::exception_ptr error;
            try {
                found = co_await fetch_(std::move(keys));
            } catch (...) {
                error = std::current_exception();
            }
            for (auto& p : batch) {
                Outcome o;
                o.error = error;
                if (!error) {
                    if (auto it = found.find(p.key); it != found.end()) {
                        o.value = it->second;
                    }
                }
                p.done(std::move(o));
            }
        }
        draining_ = false;
    }

    Fetch fetch_;
    std::size_t max_batch_;
    std::deque<Pending> queue_;
    bool draining_ = false;
};

}  // namespace om
