#include "delivery/carrier_signature.hpp"

#include <charconv>
#include <vector>

#include <sodium.h>

#include "core/http.hpp"

namespace om::delivery {

std::string_view describe(SignatureCheck c) noexcept {
    switch (c) {
        case SignatureCheck::ok:
            return "valid signature";
        case SignatureCheck::not_configured:
            return "carrier events are not accepted: no carrier webhook secret is configured";
        case SignatureCheck::missing:
            return "X-Carrier-Signature header is missing";
        case SignatureCheck::malformed:
            return "X-Carrier-Signature must be t=<unix seconds>,v1=<hex HMAC-SHA256>";
        case SignatureCheck::expired:
            return "X-Carrier-Signature timestamp is more than 5 minutes away from the server's clock";
        case SignatureCheck::mismatch:
            return "X-Carrier-Signature does not match the body";
    }
    return "invalid signature";
}

std::string carrier_signature(std::string_view secret, std::int64_t t, std::string_view body) {
    const std::string prefix = std::to_string(t) + ".";
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(prefix.data()), prefix.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()), body.size());
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    return std::string(hex, crypto_auth_hmacsha256_BYTES * 2);
}

std::string carrier_signature_header(std::string_view secret, std::int64_t t, std::string_view body) {
    return "t=" + std::to_string(t) + ",v1=" + carrier_signature(secret, t, body);
}

SignatureCheck verify_carrier_signature(std::string_view secret, std::optional<std::string_view> header,
                                        std::string_view body, std::int64_t now_unix, std::int64_t tolerance) {
    if (secret.empty()) {
        return SignatureCheck::not_configured;
    }
    if (!header || trim_ows(*header).empty()) {
        return SignatureCheck::missing;
    }
    std::optional<std::int64_t> t;
    std::vector<std::string_view> v1;
    std::string_view rest = *header;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view item = trim_ows(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        const auto eq = item.find('=');
        if (eq == std::string_view::npos) {
            return SignatureCheck::malformed;
        }
        const std::string_view key = item.substr(0, eq);
        const std::string_view value = item.substr(eq + 1);
        if (key == "t") {
            std::int64_t x = 0;
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), x);
            if (t || ec != std::errc{} || p != value.data() + value.size() || value.empty() || x < 0) {
                return SignatureCheck::malformed;
            }
            t = x;
        } else if (key == "v1") {
            v1.push_back(value);
        }  // other schemes are ignored (forward compatibility)
    }
    if (!t || v1.empty()) {
        return SignatureCheck::malformed;
    }
    if (*t < now_unix - tolerance || *t > now_unix + tolerance) {
        return SignatureCheck::expired;
    }
    const std::string expected = carrier_signature(secret, *t, body);
    bool match = false;
    for (std::string_view candidate : v1) {
        std::string lower(candidate);
        for (char& c : lower) {
            if (c >= 'A' && c <= 'F') {
                c = static_cast<char>(c - 'A' + 'a');
            }
        }
        if (lower.size() == expected.size() && sodium_memcmp(lower.data(), expected.data(), expected.size()) == 0) {
            match = true;
        }
    }
    return match ? SignatureCheck::ok : SignatureCheck::mismatch;
}

}  // namespace om::delivery
