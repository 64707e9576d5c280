#pragma once
// Synchronous HTTP/1.1 client for integration tests (Beast), with one keep-alive connection.
// Every exchange is appended to the response log (OM_RESPONSE_LOG) that the OpenAPI conformance test reads.
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace om::test {

struct HttpResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    [[nodiscard]] std::string header(const std::string& name) const;  // "" when absent (case-insensitive)
    [[nodiscard]] nlohmann::json json() const;  // parsed body; throws if not JSON
};

class HttpClient {
public:
    explicit HttpClient(int port, std::string host = "127.0.0.1");
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    HttpResponse request(const std::string& method, const std::string& target, const std::string& body = {},
                         const std::map<std::string, std::string>& headers = {});
    HttpResponse get(const std::string& target, const std::string& token = {});
    HttpResponse post(const std::string& target, const nlohmann::json& body, const std::string& token = {});
    HttpResponse put(const std::string& target, const nlohmann::json& body, const std::string& token = {});

    void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    int port_;
    std::string host_;
    std::chrono::milliseconds timeout_{10'000};
};

// Sends raw bytes on a new connection, half-closes when `shutdown_write`, and returns everything the server
// sent back until it closed the connection or `timeout` passed.
std::string raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout = std::chrono::seconds(5),
                         bool shutdown_write = false);

// Status code of the first response in `raw` ("HTTP/1.1 400 ..." → 400), 0 if none.
int raw_status(const std::string& raw);

}  // namespace om::test
