#pragma once
// Batches concurrent requests of one shard into one statement per round trip (the read- and write-side twins of
// the order group commit). The first caller's request runs at once, or after `defer` when one is given (one turn
// of the event loop: the requests made in the same turn, such as those of a consumer's batch of entries handled
// concurrently, then go together instead of the first one alone and the rest in a second statement); requests
// made while that batch runs wait and go together in the next one (up to max_batch). No waiting for company
// beyond that turn: an idle shard runs one request at a time, a busy one one batch per round trip.
// Single-threaded: use one instance per shard, from its thread only.
//
//   Coalescer<Key, Value>:   fetch(keys) answers a map; a key missing from it has no value (lookups).
//   Batcher<Request, Value>: run(requests) answers one optional value per request, in order (writes: each
//                            request carries what to write).
#include <deque>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/task.hpp"

namespace om {

template <class Request, class Value>
class Batcher {
public:
    // One answer per request, in order (nullopt: none). May throw: every caller of that batch gets the exception.
    using Run = std::function<Task<std::vector<std::optional<Value>>>(std::vector<Request>)>;
    // Awaited before the first batch of an idle batcher is taken (e.g. pg::Pool::next_turn).
    using Defer = std::function<Task<void>()>;

    explicit Batcher(Run run, std::size_t max_batch = 256, Defer defer = {})
        : run_(std::move(run)), max_batch_(max_batch), defer_(std::move(defer)) {}

    Task<std::optional<Value>> submit(Request request) {
        CallbackAwaiter<Outcome> answered([this, &request](std::function<void(Outcome)> done) {
            queue_.push_back({std::move(request), std::move(done)});
            if (!draining_) {
                draining_ = true;
                start_detached(drain(), [](std::exception_ptr) {});
            }
        });
        Outcome out = co_await answered;
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
        Request request;
        std::function<void(Outcome)> done;
    };

    Task<void> drain() {
        if (defer_) {
            co_await defer_();
        }
        while (!queue_.empty()) {
            std::vector<std::function<void(Outcome)>> waiting;
            std::vector<Request> requests;
            while (!queue_.empty() && requests.size() < max_batch_) {
                requests.push_back(std::move(queue_.front().request));
                waiting.push_back(std::move(queue_.front().done));
                queue_.pop_front();
            }
            std::vector<std::optional<Value>> answers;
            std::exception_ptr error;
            try {
                answers = co_await run_(std::move(requests));
            } catch (...) {
                error = std::current_exception();
            }
            for (std::size_t i = 0; i < waiting.size(); ++i) {
                Outcome o;
                o.error = error;
                if (!error && i < answers.size()) {
                    o.value = std::move(answers[i]);
                }
                waiting[i](std::move(o));
            }
        }
        draining_ = false;
    }

    Run run_;
    std::size_t max_batch_;
    Defer defer_;
    std::deque<Pending> queue_;
    bool draining_ = false;
};

template <class Key, class Value>
class Coalescer {
public:
    // Returns the values found; a key missing from the map has no value. May throw: every caller of that batch
    // gets the exception.
    using Fetch = std::function<Task<std::unordered_map<Key, Value>>(std::vector<Key>)>;

    using Defer = typename Batcher<Key, Value>::Defer;

    explicit Coalescer(Fetch fetch, std::size_t max_batch = 256, Defer defer = {})
        : fetch_(std::move(fetch)),
          batcher_([this](std::vector<Key> keys) { return lookup(std::move(keys)); }, max_batch, std::move(defer)) {}
    Coalescer(const Coalescer&) = delete;  // the batcher points back here
    Coalescer& operator=(const Coalescer&) = delete;

    Task<std::optional<Value>> get(Key key) { return batcher_.submit(std::move(key)); }

private:
    Task<std::vector<std::optional<Value>>> lookup(std::vector<Key> keys) {
        std::vector<Key> asked = keys;  // named: GCC 12 mishandles temporaries in a co_await'ed call
        auto found = co_await fetch_(std::move(asked));
        std::vector<std::optional<Value>> out;
        out.reserve(keys.size());
        for (const auto& k : keys) {
            if (auto it = found.find(k); it != found.end()) {
                out.emplace_back(it->second);
            } else {
                out.emplace_back(std::nullopt);
            }
        }
        co_return out;
    }

    Fetch fetch_;
    Batcher<Key, Value> batcher_;
};

// Rows keyed by their `id` member (what a Coalescer's fetch answers).
template <class Row>
std::unordered_map<std::string, Row> by_id(std::vector<Row> rows) {
    std::unordered_map<std::string, Row> out;
    out.reserve(rows.size());
    for (auto& r : rows) {
        std::string id = r.id;
        out.emplace(std::move(id), std::move(r));
    }
    return out;
}

}  // namespace om
