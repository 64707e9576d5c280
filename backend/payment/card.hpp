#pragma once
// Card checks that need no gateway: number normalisation, Luhn, brand from the IIN ranges, expiry.
// Pure functions, thread-safe.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace om::payment {

// The digits of a card number written with optional spaces or dashes between groups; nullopt when it has
// other characters or not 12-19 digits.
std::optional<std::string> normalize_card_number(std::string_view s);
// ISO/IEC 7812 check digit (Luhn). `digits` holds digits only.
bool luhn_valid(std::string_view digits) noexcept;
// "visa", "mastercard", "amex", "discover", "jcb", "diners", "unionpay", or "unknown".
std::string_view detect_brand(std::string_view digits) noexcept;
// CVC length for a brand: 4 for amex, 3 otherwise.
std::size_t cvc_length(std::string_view brand) noexcept;
// A card is valid through the last day of its expiry month (UTC).
bool expiry_in_future(int month, int year, std::chrono::system_clock::time_point now) noexcept;

}  // namespace om::payment
