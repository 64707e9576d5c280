#pragma once
// Domain errors as values (std::expected<T, Error>) and the one table that maps them to HTTP.
// Infrastructure failures are exceptions (see InfraError) and map to 503/500 in one place (to_response).

#include <cstdint>
#include <expected>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace om {

struct Response;

// Stable machine codes. Add new ones here and in the table in error.cpp; never renumber the strings.
enum class ErrorCode : std::uint8_t {
    validation_failed,
    malformed_json,
    bad_request,
    unauthorized,
    forbidden,
    not_found,
    method_not_allowed,
    conflict,
    email_taken,
    invalid_credentials,
    precondition_failed,
    payload_too_large,
    headers_too_large,
    unprocessable,
    too_many_requests,
    service_unavailable,
    internal,
    insufficient_stock,
    idempotency_key_reused,
    illegal_transition,
    out_of_stock,
};

struct FieldError {
    std::string field;
    std::string message;
};

struct Error {
    ErrorCode code = ErrorCode::internal;
    std::string detail;
    std::vector<FieldError> errors;
    std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After, WWW-Authenticate

    Error() = default;
    Error(ErrorCode c, std::string d) : code(c), detail(std::move(d)) {}
    Error(ErrorCode c, std::string d, std::vector<FieldError> e)
        : code(c), detail(std::move(d)), errors(std::move(e)) {}
    Error& with_header(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
        return *this;
    }
};

template <class T>
using Result = std::expected<T, Error>;

struct ErrorInfo {
    int status;
    std::string_view code;   // e.g. "VALIDATION_FAILED"
    std::string_view title;  // short human summary
};
const ErrorInfo& info(ErrorCode c) noexcept;

// An infrastructure failure (database down, Redis timeout, overload): mapped to 503 + Retry-After.
// `what()` is for logs; clients get a generic detail.
class Unavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The problem+json response for a domain error (RFC 9457).
Response problem(const Error& e, std::string_view instance = {});
// The response for an exception escaping a handler: Unavailable → 503, anything else → 500.
Response problem_from_exception(std::exception_ptr ep, std::string_view instance, std::string& log_message);

}  // namespace om
