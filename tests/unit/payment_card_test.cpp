// Card checks of the payment service: normalisation, Luhn, brand detection, expiry.
#include <gtest/gtest.h>

#include <chrono>

#include "payment/card.hpp"

namespace {

using namespace om::payment;
using namespace std::chrono;

TEST(PaymentCard, LuhnAcceptsValidNumbers) {
    for (const char* n : {"4242424242424242", "4000000000000002", "4000000000009995", "4000000000000119",
                          "4000000000000341", "5555555555554444", "378282246310005", "6011111111111117",
                          "3530111333300000", "79927398713"}) {
        EXPECT_TRUE(luhn_valid(n)) << n;
    }
}

TEST(PaymentCard, LuhnRejectsInvalidNumbers) {
    for (const char* n : {"4242424242424241", "1234567812345678", "79927398710", "", "42424242424242a2"}) {
        EXPECT_FALSE(luhn_valid(n)) << n;
    }
}

TEST(PaymentCard, NormalizeAcceptsGroupsAndRejectsOtherCharacters) {
    EXPECT_EQ(normalize_card_number("4242 4242 4242 4242").value_or(""), "4242424242424242");
    EXPECT_EQ(normalize_card_number("4242-4242-4242-4242").value_or(""), "4242424242424242");
    EXPECT_FALSE(normalize_card_number("4242x4242424242424"));
    EXPECT_FALSE(normalize_card_number("42424242424"));           // 11 digits
    EXPECT_FALSE(normalize_card_number("42424242424242424242"));  // 20 digits
    EXPECT_FALSE(normalize_card_number(""));
}

TEST(PaymentCard, DetectsBrands) {
    EXPECT_EQ(detect_brand("4242424242424242"), "visa");
    EXPECT_EQ(detect_brand("5555555555554444"), "mastercard");
    EXPECT_EQ(detect_brand("2223003122003222"), "mastercard");
    EXPECT_EQ(detect_brand("378282246310005"), "amex");
    EXPECT_EQ(detect_brand("371449635398431"), "amex");
    EXPECT_EQ(detect_brand("6011111111111117"), "discover");
    EXPECT_EQ(detect_brand("3530111333300000"), "jcb");
    EXPECT_EQ(detect_brand("36227206271667"), "diners");
    EXPECT_EQ(detect_brand("6200000000000005"), "unionpay");
    EXPECT_EQ(detect_brand("9999999999999995"), "unknown");
    EXPECT_EQ(cvc_length("amex"), 4U);
    EXPECT_EQ(cvc_length("visa"), 3U);
}

TEST(PaymentCard, ExpiryIsValidThroughTheLastDayOfItsMonth) {
    const auto now = sys_days{year{2026} / November / 25} + hours(23);
    EXPECT_TRUE(expiry_in_future(11, 2026, now));   // this month
    EXPECT_TRUE(expiry_in_future(12, 2026, now));
    EXPECT_TRUE(expiry_in_future(1, 2027, now));
    EXPECT_FALSE(expiry_in_future(10, 2026, now));  // last month
    EXPECT_FALSE(expiry_in_future(12, 2025, now));
    EXPECT_FALSE(expiry_in_future(13, 2030, now));
    EXPECT_FALSE(expiry_in_future(0, 2030, now));
    const auto next_month = sys_days{year{2026} / December / 1};
    EXPECT_FALSE(expiry_in_future(11, 2026, next_month));
}

}  // namespace
