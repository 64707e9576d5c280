// SettleBoard's hand-over: an order answered 202 stays on the board for the buyer's long poll, which then
// needs no query (issue 6).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "order/order_service.hpp"

using namespace std::chrono_literals;
using om::order::OrderRow;
using om::order::SettleBoard;
using om::order::Status;

namespace {

OrderRow written(const std::string& id, const std::string& buyer) {
    OrderRow o;
    o.id = id;
    o.buyer_id = buyer;
    o.status = Status::pending;
    return o;
}

// What a POST answering 202 does: it watched the order, hands it over, stops watching.
void answered_202(SettleBoard& board, const OrderRow& o, std::chrono::milliseconds ttl = 5s) {
    board.watch(o.id);
    board.hand_over(o, ttl);
    board.unwatch(o.id);
}

}  // namespace

TEST(SettleBoard, AHandedOverOrderIsTakenOverOnceAndOnlyByItsBuyer) {
    SettleBoard board;
    answered_202(board, written("o1", "alice"));
    EXPECT_FALSE(board.take_over("o1", "mallory", nullptr)) << "another member reads it from PostgreSQL";
    EXPECT_FALSE(board.take_over("o2", "alice", nullptr)) << "an order the board never held";
    auto got = board.take_over("o1", "alice", nullptr);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->id, "o1");
    EXPECT_EQ(got->status, Status::pending) << "not settled yet: the order as written";
    EXPECT_FALSE(board.take_over("o1", "alice", nullptr)) << "taken over already";
    // The taker watches it now: a settlement reaches the board, and ends when the taker stops watching.
    OrderRow done = written("o1", "alice");
    done.status = Status::confirmed;
    board.settled(done);
    ASSERT_TRUE(board.settled_row("o1"));
    EXPECT_EQ(board.settled_row("o1")->status, Status::confirmed);
    board.unwatch("o1");
    EXPECT_FALSE(board.is_settled("o1")) << "nobody watches it any more: forgotten";
}

TEST(SettleBoard, ASettlementAfterThe202IsKeptForTheLongPoll) {
    SettleBoard board;
    answered_202(board, written("o1", "alice"));
    OrderRow done = written("o1", "alice");
    done.status = Status::cancelled;
    done.cancel_reason = "PAYMENT_DECLINED";
    board.settled(done);
    auto got = board.take_over("o1", "alice", nullptr);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->status, Status::cancelled) << "the order as its settling commit left it";
    EXPECT_EQ(got->cancel_reason, "PAYMENT_DECLINED");
    board.unwatch("o1");
}

TEST(SettleBoard, AHandOverNobodyTakesExpires) {
    SettleBoard board;
    answered_202(board, written("o1", "alice"), 0ms);
    answered_202(board, written("o2", "bob"), 0ms);  // expiry is checked on the board's next use
    EXPECT_FALSE(board.take_over("o1", "alice", nullptr));
    EXPECT_FALSE(board.take_over("o2", "bob", nullptr));
    board.settled(written("o1", "alice"));
    EXPECT_FALSE(board.is_settled("o1")) << "the expired hand-over no longer holds the order on the board";
}

TEST(SettleBoard, AnOrderIsHandedOverOnce) {
    SettleBoard board;
    board.watch("o1");
    board.hand_over(written("o1", "alice"), 5s);
    board.hand_over(written("o1", "alice"), 5s);  // a replay answering 202 again: still one hand-over
    board.unwatch("o1");
    ASSERT_TRUE(board.take_over("o1", "alice", nullptr));
    board.unwatch("o1");
    board.settled(written("o1", "alice"));
    EXPECT_FALSE(board.is_settled("o1")) << "no second hand-over kept it";
}

TEST(SettleBoard, AnApprovalSettledOrderIsTakenOnceAndForgottenAfterItsTime) {
    SettleBoard board;
    board.approval_settled("o1", 50ms);
    board.approval_settled("o1", 50ms);  // recorded again by a later commit: still one
    board.approval_settled("o2", 50ms);
    EXPECT_FALSE(board.take_approval_settled("o3")) << "never recorded";
    EXPECT_TRUE(board.take_approval_settled("o1"));
    EXPECT_FALSE(board.take_approval_settled("o1")) << "taken once";
    std::this_thread::sleep_for(60ms);
    board.approval_settled("o4", 50ms);  // expiry is checked when the next order is recorded
    EXPECT_FALSE(board.take_approval_settled("o2")) << "expired";
    EXPECT_TRUE(board.take_approval_settled("o4"));
}
