#include "payment/card.hpp"

#include <algorithm>
#include <cstdint>

namespace om::payment {

std::optional<std::string> normalize_card_number(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c >= '0' && c <= '9') {
            out.push_back(c);
        } else if (c != ' ' && c != '-') {
            return std::nullopt;
        }
    }
    if (out.size() < 12 || out.size() > 19) {
        return std::nullopt;
    }
    return out;
}

bool luhn_valid(std::string_view digits) noexcept {
    if (digits.empty()) {
        return false;
    }
    int sum = 0;
    bool dbl = false;
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
        if (*it < '0' || *it > '9') {
            return false;
        }
        int d = *it - '0';
        if (dbl) {
            d *= 2;
            if (d > 9) {
                d -= 9;
            }
        }
        sum += d;
        dbl = !dbl;
    }
    return sum % 10 == 0;
}

namespace {
// The first n digits as a number (n ≤ 8), or -1 when shorter.
long prefix(std::string_view d, std::size_t n) noexcept {
    if (d.size() < n) {
        return -1;
    }
    long v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        v = v * 10 + (d[i] - '0');
    }
    return v;
}
bool in(long v, long lo, long hi) noexcept { return v >= lo && v <= hi; }
}  // namespace

std::string_view detect_brand(std::string_view d) noexcept {
    const long p1 = prefix(d, 1);
    const long p2 = prefix(d, 2);
    const long p3 = prefix(d, 3);
    const long p4 = prefix(d, 4);
    const long p6 = prefix(d, 6);
    if (p2 == 34 || p2 == 37) {
        return "amex";
    }
    if (in(p2, 51, 55) || in(p6, 222100, 272099)) {
        return "mastercard";
    }
    if (p4 == 6011 || p2 == 65 || in(p3, 644, 649) || in(p6, 622126, 622925)) {
        return "discover";
    }
    if (in(p4, 3528, 3589)) {
        return "jcb";
    }
    if (p2 == 36 || p2 == 38 || p2 == 39 || in(p3, 300, 305) || p4 == 3095) {
        return "diners";
    }
    if (p2 == 62) {
        return "unionpay";
    }
    if (p1 == 4) {
        return "visa";
    }
    return "unknown";
}

std::size_t cvc_length(std::string_view brand) noexcept { return brand == "amex" ? 4 : 3; }

bool expiry_in_future(int month, int year, std::chrono::system_clock::time_point now) noexcept {
    if (month < 1 || month > 12) {
        return false;
    }
    const std::chrono::year_month_day today{std::chrono::floor<std::chrono::days>(now)};
    const int y = static_cast<int>(today.year());
    const int m = static_cast<int>(static_cast<unsigned>(today.month()));
    return year > y || (year == y && month >= m);
}

}  // namespace om::payment
