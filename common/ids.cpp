#include "common/ids.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace om {
namespace {

void ensure_sodium() {
    static const int rc = sodium_init();
    if (rc < 0) {
        throw std::runtime_error("libsodium initialisation failed");
    }
}

constexpr char hex_digits[] = "0123456789abcdef";

std::string to_hex(const unsigned char* p, std::size_t n) {
    std::string out;
    out.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(hex_digits[p[i] >> 4U]);
        out.push_back(hex_digits[p[i] & 0x0FU]);
    }
    return out;
}

// The system's randomness, drawn 4 KiB at a time per thread: an order makes several ids and every request one,
// and one getrandom system call each was measurable under load (issue 6). Ids are not secrets; secrets draw
// directly.
void random_bytes(unsigned char* out, std::size_t n) {
    constexpr std::size_t kPool = 4096;
    thread_local std::array<unsigned char, kPool> pool{};
    thread_local std::size_t used = kPool;
    if (used + n > kPool) {
        ensure_sodium();
        randombytes_buf(pool.data(), pool.size());
        used = 0;
    }
    std::copy_n(pool.begin() + static_cast<std::ptrdiff_t>(used), n, out);
    sodium_memzero(pool.data() + used, n);
    used += n;
}

}  // namespace

std::string new_uuid_v7() {
    std::array<unsigned char, 16> b{};
    random_bytes(b.data(), b.size());
    const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   std::chrono::system_clock::now().time_since_epoch())
                                                   .count());
    for (int i = 0; i < 6; ++i) {
        b[static_cast<std::size_t>(i)] = static_cast<unsigned char>(ms >> (8U * static_cast<unsigned>(5 - i)));
    }
    b[6] = static_cast<unsigned char>((b[6] & 0x0FU) | 0x70U);  // version 7
    b[8] = static_cast<unsigned char>((b[8] & 0x3FU) | 0x80U);  // variant 10
    // Written in place (8-4-4-4-12 hex digits): an order makes about seven ids.
    std::string out(36, '-');
    std::size_t at = 0;
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            ++at;  // past a dash
        }
        out[at++] = hex_digits[b[i] >> 4U];
        out[at++] = hex_digits[b[i] & 0x0FU];
    }
    return out;
}

std::string new_request_id() {
    // Request ids must be unique, not secret: drawn from the per-thread pool, not one getrandom system call
    // per request (measurable in a GET benchmark).
    std::array<unsigned char, 8> b{};
    random_bytes(b.data(), b.size());
    return to_hex(b.data(), b.size());
}

std::string new_secret(std::size_t bytes) {
    ensure_sodium();
    std::string raw(bytes, '\0');
    randombytes_buf(raw.data(), raw.size());
    std::string out(sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(std::char_traits<char>::length(out.c_str()));
    sodium_memzero(raw.data(), raw.size());
    return out;
}

std::string sha256_hex(std::string_view data) {
    ensure_sodium();
    std::array<unsigned char, crypto_hash_sha256_BYTES> h{};
    crypto_hash_sha256(h.data(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
    return to_hex(h.data(), h.size());
}

bool is_uuid(std::string_view s) noexcept {
    if (s.size() != 36) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return false;
            }
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

int hex_digit_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

std::optional<UuidBytes> uuid_bytes(std::string_view t) noexcept {
    if (t.size() != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-') {
        return std::nullopt;
    }
    UuidBytes u{};
    std::size_t k = 0;
    for (std::size_t i = 0; i < 36;) {
        if (t[i] == '-') {
            ++i;
            continue;
        }
        const int hi = hex_digit_value(t[i]);
        const int lo = hex_digit_value(t[i + 1]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        u[k++] = static_cast<std::uint8_t>(hi * 16 + lo);
        i += 2;
    }
    return u;
}

std::string uuid_text(const UuidBytes& u) {
    std::string s;
    s.reserve(36);
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            s.push_back('-');
        }
        s.push_back(hex_digits[u[i] >> 4U]);
        s.push_back(hex_digits[u[i] & 0x0FU]);
    }
    return s;
}

std::int64_t parse_i64(std::string_view s) noexcept {
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

}  // namespace om
