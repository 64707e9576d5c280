// The delivery transition table and the carrier webhook signature (backend/delivery).
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <utility>

#include "delivery/carrier_signature.hpp"
#include "delivery/lifecycle.hpp"

namespace {

using om::delivery::can_transition;
using om::delivery::parse_status;
using om::delivery::SignatureCheck;
using om::delivery::Status;

constexpr Status kAll[] = {Status::ready,     Status::shipped, Status::in_transit, Status::out_for_delivery,
                           Status::delivered, Status::failed,  Status::returned,   Status::cancelled};

TEST(DeliveryLifecycle, NamesRoundTrip) {
    for (Status s : kAll) {
        auto p = parse_status(om::delivery::to_string(s));
        ASSERT_TRUE(p.has_value());
        EXPECT_EQ(*p, s);
    }
    EXPECT_FALSE(parse_status("shipped").has_value());
    EXPECT_FALSE(parse_status("").has_value());
    EXPECT_EQ(om::delivery::status_names().size(), std::size(kAll));
}

TEST(DeliveryLifecycle, ExactlyTheDocumentedTransitions) {
    const std::set<std::pair<Status, Status>> allowed{
        {Status::ready, Status::shipped},
        {Status::ready, Status::failed},
        {Status::ready, Status::cancelled},
        {Status::shipped, Status::in_transit},
        {Status::shipped, Status::out_for_delivery},
        {Status::shipped, Status::delivered},
        {Status::shipped, Status::failed},
        {Status::shipped, Status::returned},
        {Status::in_transit, Status::in_transit},
        {Status::in_transit, Status::out_for_delivery},
        {Status::in_transit, Status::delivered},
        {Status::in_transit, Status::failed},
        {Status::in_transit, Status::returned},
        {Status::out_for_delivery, Status::delivered},
        {Status::out_for_delivery, Status::failed},
        {Status::out_for_delivery, Status::returned},
        {Status::failed, Status::returned},
    };
    for (Status from : kAll) {
        for (Status to : kAll) {
            EXPECT_EQ(can_transition(from, to), allowed.contains({from, to}))
                << om::delivery::to_string(from) << " -> " << om::delivery::to_string(to);
        }
    }
}

TEST(DeliveryLifecycle, NothingLeavesFinalStatesOrGoesBack) {
    EXPECT_TRUE(om::delivery::is_final(Status::delivered));
    EXPECT_TRUE(om::delivery::is_final(Status::returned));
    EXPECT_FALSE(om::delivery::is_final(Status::failed));
    for (Status s : kAll) {
        EXPECT_FALSE(can_transition(s, Status::ready));
        EXPECT_FALSE(can_transition(Status::delivered, s));
    }
    EXPECT_FALSE(can_transition(Status::out_for_delivery, Status::in_transit));
    EXPECT_FALSE(can_transition(Status::ready, Status::delivered));
}

TEST(DeliveryLifecycle, TrackingAndSimulatorSteps) {
    EXPECT_TRUE(om::delivery::needs_tracking(Status::shipped));
    EXPECT_TRUE(om::delivery::needs_tracking(Status::delivered));
    EXPECT_FALSE(om::delivery::needs_tracking(Status::failed));
    EXPECT_FALSE(om::delivery::needs_tracking(Status::returned));
    EXPECT_EQ(om::delivery::simulated_next(Status::shipped), Status::in_transit);
    EXPECT_EQ(om::delivery::simulated_next(Status::in_transit), Status::out_for_delivery);
    EXPECT_EQ(om::delivery::simulated_next(Status::out_for_delivery), Status::delivered);
    EXPECT_FALSE(om::delivery::simulated_next(Status::ready).has_value());
    EXPECT_FALSE(om::delivery::simulated_next(Status::delivered).has_value());
    for (Status s : kAll) {
        if (auto n = om::delivery::simulated_next(s)) {
            EXPECT_TRUE(can_transition(s, *n));
        }
    }
}

// An independent implementation (Python's hmac) computed the expected value:
//   python3 -c 'import hmac,hashlib;print(hmac.new(b"Jefe",b"1700000000.{}",hashlib.sha256).hexdigest())'
TEST(CarrierSignature, KnownVector) {
    EXPECT_EQ(om::delivery::carrier_signature("Jefe", 1700000000, "{}"),
              "d3793e2b4103edfbd98cc19591832f5fad701d413db9fcae0ae7dab8184ed207");
    EXPECT_EQ(om::delivery::carrier_signature_header("Jefe", 1700000000, "{}"),
              "t=1700000000,v1=d3793e2b4103edfbd98cc19591832f5fad701d413db9fcae0ae7dab8184ed207");
}

TEST(CarrierSignature, Verification) {
    const std::string secret = "a-carrier-secret-of-some-length";
    const std::string body = R"({"eventId":"e1"})";
    const std::int64_t now = 1'800'000'000;
    const auto header = om::delivery::carrier_signature_header(secret, now, body);
    using om::delivery::verify_carrier_signature;
    EXPECT_EQ(verify_carrier_signature(secret, header, body, now), SignatureCheck::ok);
    EXPECT_EQ(verify_carrier_signature(secret, header, body, now + 299), SignatureCheck::ok);
    EXPECT_EQ(verify_carrier_signature(secret, header, body, now + 301), SignatureCheck::expired);
    EXPECT_EQ(verify_carrier_signature(secret, header, body, now - 301), SignatureCheck::expired);
    EXPECT_EQ(verify_carrier_signature(secret, header, body + " ", now), SignatureCheck::mismatch);
    EXPECT_EQ(verify_carrier_signature("another-secret-entirely", header, body, now), SignatureCheck::mismatch);
    EXPECT_EQ(verify_carrier_signature("", header, body, now), SignatureCheck::not_configured);
    EXPECT_EQ(verify_carrier_signature(secret, std::nullopt, body, now), SignatureCheck::missing);
    EXPECT_EQ(verify_carrier_signature(secret, std::string_view(""), body, now), SignatureCheck::missing);
    EXPECT_EQ(verify_carrier_signature(secret, std::string_view("garbage"), body, now), SignatureCheck::malformed);
    EXPECT_EQ(verify_carrier_signature(secret, std::string_view("t=abc,v1=00"), body, now), SignatureCheck::malformed);
    EXPECT_EQ(verify_carrier_signature(secret, std::string_view("t=1800000000"), body, now), SignatureCheck::malformed);
    // The timestamp is part of what is signed: moving it breaks the signature.
    const auto sig = om::delivery::carrier_signature(secret, now, body);
    const std::string moved = "t=" + std::to_string(now + 1) + ",v1=" + sig;
    EXPECT_EQ(verify_carrier_signature(secret, moved, body, now), SignatureCheck::mismatch);
    // Rotation: any one of several v1 entries may match; upper-case hex is accepted.
    std::string upper = sig;
    for (char& c : upper) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    const std::string rotated = "t=" + std::to_string(now) + ",v1=deadbeef,v1=" + upper;
    EXPECT_EQ(verify_carrier_signature(secret, rotated, body, now), SignatureCheck::ok);
}

}  // namespace
