#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <array>

#include "core/http.hpp"

namespace om {

namespace {
// The one table from domain error to HTTP (style.md: one place maps errors to HTTP).
constexpr std::array<ErrorInfo, 21> table{{
    {400, "VALIDATION_FAILED", "The request is not valid"},
    {400, "MALFORMED_JSON", "The body is not valid JSON"},
    {400, "BAD_REQUEST", "Bad request"},
    {401, "UNAUTHORIZED", "Authentication required"},
    {403, "FORBIDDEN", "Not allowed"},
    {404, "NOT_FOUND", "Not found"},
    {405, "METHOD_NOT_ALLOWED", "Method not allowed"},
    {409, "CONFLICT", "Conflict"},
    {409, "EMAIL_TAKEN", "Email already registered"},
    {401, "INVALID_CREDENTIALS", "Invalid email or password"},
    {412, "PRECONDITION_FAILED", "Precondition failed"},
    {413, "PAYLOAD_TOO_LARGE", "Request body too large"},
    {431, "HEADERS_TOO_LARGE", "Request header fields too large"},
    {422, "UNPROCESSABLE", "Unprocessable request"},
    {429, "TOO_MANY_REQUESTS", "Too many requests"},
    {503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable"},
    {500, "INTERNAL", "Internal server error"},
    {409, "INSUFFICIENT_STOCK", "Not enough stock"},
    {422, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key reused with a different request"},
    {409, "ILLEGAL_TRANSITION", "Illegal status transition"},
    {409, "OUT_OF_STOCK", "Out of stock"},
}};
static_assert(table.size() == static_cast<std::size_t>(ErrorCode::out_of_stock) + 1);
}  // namespace

const ErrorInfo& info(ErrorCode c) noexcept { return table[static_cast<std::size_t>(c)]; }

Response problem(const Error& e, std::string_view instance) {
    const auto& i = info(e.code);
    nlohmann::json body{
        {"type", std::string("https://openmarket.dev/problems/") + std::string(i.code)},
        {"title", i.title},
        {"status", i.status},
        {"code", i.code},
        {"detail", e.detail.empty() ? std::string(i.title) : e.detail},
    };
    if (!instance.empty()) {
        body["instance"] = instance;
    }
    if (!e.errors.empty()) {
        auto& arr = body["errors"] = nlohmann::json::array();
        for (const auto& f : e.errors) {
            arr.push_back({{"field", f.field}, {"message", f.message}});
        }
    }
    Response r;
    r.status = i.status;
    r.content_type = "application/problem+json";
    r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    for (const auto& [n, v] : e.headers) {
        r.headers.set(n, v);
    }
    return r;
}

Response problem_from_exception(std::exception_ptr ep, std::string_view instance, std::string& log_message) {
    try {
        std::rethrow_exception(ep);
    } catch (const Unavailable& ex) {
        log_message = ex.what();
        Error e{ErrorCode::service_unavailable, "A backing service is unavailable; retry shortly"};
        e.with_header("Retry-After", "1");
        return problem(e, instance);
    } catch (const std::exception& ex) {
        log_message = ex.what();
    } catch (...) {
        log_message = "unknown exception";
    }
    return problem(Error{ErrorCode::internal, "An unexpected error occurred"}, instance);
}

}  // namespace om
