#pragma once
// Signatures of carrier webhooks (POST /delivery/carrier-events), in the style of Stripe's:
//   X-Carrier-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// Several v1= entries are allowed (secret rotation: any one may match). The timestamp must be within
// `tolerance` seconds of now (either way), which bounds replays of a captured request; replays inside that
// window are harmless because events are idempotent by their id.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace om::delivery {

enum class SignatureCheck : std::uint8_t { ok, not_configured, missing, malformed, expired, mismatch };

std::string_view describe(SignatureCheck c) noexcept;

// Lower-case hex HMAC-SHA256 of "<t>.<body>" under `secret`.
std::string carrier_signature(std::string_view secret, std::int64_t t, std::string_view body);
// The header value a carrier sends: "t=<t>,v1=<carrier_signature(...)>".
std::string carrier_signature_header(std::string_view secret, std::int64_t t, std::string_view body);

// Compares in constant time. An empty secret refuses everything (not_configured).
SignatureCheck verify_carrier_signature(std::string_view secret, std::optional<std::string_view> header,
                                        std::string_view body, std::int64_t now_unix, std::int64_t tolerance = 300);

}  // namespace om::delivery
