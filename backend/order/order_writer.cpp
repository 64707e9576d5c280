#include "order/order_writer.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "events/outbox_relay.hpp"
#include "net/offload.hpp"
#include "net/pg.hpp"
#include "order/order_service.hpp"

namespace om::order {

namespace {

WriteResult classify(const pg::SqlError& e) {
    WriteResult r;
    r.error = e.what();
    if (e.sqlstate() == "23514") {
        r.kind = WriteResult::Kind::out_of_stock;
    } else if (e.sqlstate() == "OM001" || e.sqlstate() == "OM002") {
        r.kind = WriteResult::Kind::stale;
    } else {
        r.kind = WriteResult::Kind::unknown;
    }
    return r;
}

}  // namespace

Task<WriteResult> OrderWriter::write(std::string order_json, events::OutboxEvent placed) {
    if (full()) {
        co_return WriteResult{WriteResult::Kind::overloaded, std::nullopt,
                              std::to_string(max_pending_) + " orders are waiting for the group commit"};
    }
    pending_.fetch_add(1, std::memory_order_relaxed);
    struct Done {
        std::atomic<std::size_t>& n;
        ~Done() { n.fetch_sub(1, std::memory_order_relaxed); }
    } leaving{pending_};
    CallbackAwaiter<WriteResult> written([this, &order_json, &placed](std::function<void(WriteResult)> done) {
        queue_.push_back({std::move(order_json), std::move(placed), std::move(done)});
        if (!draining_) {
            draining_ = true;
            start_detached(drain(), [](std::exception_ptr) {});
        }
    });
    co_return co_await written;
}

Task<void> OrderWriter::drain() {
    while (!queue_.empty()) {
        // Busy: the last batch was recent and had company. At a low rate batches stay single and go at once.
        const auto now = std::chrono::steady_clock::now();
        const bool busy = now - last_batch_ < std::chrono::milliseconds(20) && last_batch_size_ > 1;
        if (const long wait = linger_.ms(now); busy && sleep_ && wait > 0 && queue_.size() < max_batch_) {
            co_await sleep_(wait);
        }
        last_batch_ = std::chrono::steady_clock::now();
        std::deque<Pending> batch;
        while (!queue_.empty() && batch.size() < max_batch_) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        last_batch_size_ = batch.size();
        linger_.count(batch.size(), last_batch_);
        co_await write_batch(std::move(batch));
    }
    draining_ = false;
}

namespace {

WriteResult result_of(const PlaceOutcome& o) {
    WriteResult r;
    if (o.created) {
        r.kind = WriteResult::Kind::created;
    } else if (o.changed) {
        r.kind = WriteResult::Kind::changed;
    } else if (o.bad_method || o.bad_address) {
        r.kind = WriteResult::Kind::invalid;
        r.bad_method = o.bad_method;
        r.bad_address = o.bad_address;
    } else {
        r.kind = WriteResult::Kind::duplicate;
        r.existing_id = o.existing_id;
    }
    return r;
}

}  // namespace

Task<void> OrderWriter::write_batch(std::deque<Pending> batch) {
    std::string json = "[";
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (i > 0) {
            json += ',';
        }
        json += batch[i].json;
    }
    json += ']';
    bool batch_failed = false;
    std::vector<PlaceOutcome> outcomes;
    WriteResult failure;
    try {
        const auto started = std::chrono::steady_clock::now();
        outcomes = co_await repo_.place(std::move(json), max_age_ms_);
        if (observe_) {
            observe_(batch.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        }
    } catch (const pg::SqlError& e) {
        batch_failed = true;
        failure = classify(e);
    } catch (const std::exception& e) {
        batch_failed = true;
        failure.error = e.what();
    }
    if (!batch_failed && outcomes.size() == batch.size()) {
        std::vector<events::OutboxEvent> placed;  // OrderPlaced rows committed with the orders
        std::vector<std::string> created;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (outcomes[i].created) {
                created.push_back(batch[i].placed.aggregate_id);
                placed.push_back(std::move(batch[i].placed));
            }
        }
        // Durable: answered first. The publish is still awaited before the next batch, so that batches keep
        // their size (and PostgreSQL its cost per order); only the answers no longer wait for Redis.
        for (std::size_t i = 0; i < batch.size(); ++i) {
            batch[i].done(result_of(outcomes[i]));
        }
        co_await publish(std::move(placed));
        forget(std::move(created));
        co_return;
    }
    if (!batch_failed) {
        failure.error = "orders.place_orders returned " + std::to_string(outcomes.size()) + " rows for " +
                        std::to_string(batch.size()) + " orders";
    }
    if (batch.size() == 1 || failure.kind == WriteResult::Kind::unknown) {
        // One order, or the database itself failed (then every order of the batch is in doubt: the sweeper
        // decides each once PostgreSQL answers again).
        for (auto& p : batch) {
            p.done(failure);
        }
        co_return;
    }
    // One order of the batch was refused: write them one by one, so that only that order fails.
    for (auto& p : batch) {
        p.done(co_await write_one(p));
    }
}

Task<void> OrderWriter::publish(std::vector<events::OutboxEvent> placed) {
    if (placed.empty()) {
        co_return;
    }
    if (publisher_ == nullptr) {
        events::announce(kOutboxTable);
        co_return;
    }
    co_await publisher_->publish(kOutboxTable, std::move(placed));
}

void OrderWriter::forget(std::vector<std::string> order_ids) {
    if (!forget_ || order_ids.empty()) {
        return;
    }
    const std::size_t n = order_ids.size();
    start_detached(forget_(std::move(order_ids)), [n](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                log::warn("dropping the reservation records of committed orders failed; the sweeper will",
                          {{"orders", std::to_string(n)}, {"error", x.what()}});
            } catch (...) {
            }
        }
    });
}

Task<WriteResult> OrderWriter::write_one(Pending& p) {
    try {
        auto outcomes = co_await repo_.place("[" + p.json + "]", max_age_ms_);
        if (outcomes.size() != 1) {
            co_return WriteResult{WriteResult::Kind::unknown, std::nullopt, "no outcome"};
        }
        if (outcomes[0].created) {
            std::vector<std::string> created{p.placed.aggregate_id};
            std::vector<events::OutboxEvent> placed{std::move(p.placed)};
            co_await publish(std::move(placed));
            forget(std::move(created));
        }
        co_return result_of(outcomes[0]);
    } catch (const pg::SqlError& e) {
        co_return classify(e);
    } catch (const std::exception& e) {
        co_return WriteResult{WriteResult::Kind::unknown, std::nullopt, e.what()};
    }
}

void CommitHub::own(OrderWriter& writer, boost::asio::io_context& io) {
    std::lock_guard lock(mu_);
    owner_ = &writer;
    owner_io_ = &io;
}

bool CommitHub::full(const OrderWriter& local) {
    std::lock_guard lock(mu_);
    return owner_ != nullptr ? owner_->full() : local.full();
}

void CommitHub::disown(OrderWriter& writer) {
    std::lock_guard lock(mu_);
    if (owner_ == &writer) {
        owner_ = nullptr;
        owner_io_ = nullptr;
    }
}

Task<WriteResult> CommitHub::write(boost::asio::io_context& from, OrderWriter& local, std::string order_json,
                                   events::OutboxEvent placed) {
    OrderWriter* owner = nullptr;
    boost::asio::io_context* owner_io = nullptr;
    {
        std::lock_guard lock(mu_);
        owner = owner_;
        owner_io = owner_io_;
    }
    if (owner == nullptr || owner_io == &from) {
        co_return co_await local.write(std::move(order_json), std::move(placed));
    }
    CallbackAwaiter<WriteResult> written([&](std::function<void(WriteResult)> done) {
        auto hand_over = [owner, &from, json = std::move(order_json), event = std::move(placed),
                          done = std::move(done)]() mutable {
            auto back = [&from, done = std::move(done)](std::exception_ptr error,
                                                        std::optional<WriteResult> result) mutable {
                if (error || !result) {
                    result.emplace();  // unknown: the sweeper decides the order
                    result->error = "the group commit failed";
                }
                net::post_to(from, [done = std::move(done), r = std::move(*result)]() mutable { done(std::move(r)); });
            };
            start_detached(owner->write(std::move(json), std::move(event)), std::move(back));
        };
        net::post_to(*owner_io, std::move(hand_over));
    });
    co_return co_await written;
}

}  // namespace om::order
