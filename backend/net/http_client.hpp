#pragma once
// A small asynchronous HTTP/1.1 client for calls from a shard to other HTTP services (the payment gateway).
// One connection per call (no keep-alive pool yet). No Asio in this header.
//
// Contract: http_call() runs on the shard's io_context and never throws for network trouble: the whole call
// (resolve, connect, write, read) must finish within `timeout`, otherwise kind == timeout; a refused or broken
// connection is kind == failed with a message. Any HTTP status is kind == ok.
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/task.hpp"

namespace boost::asio {
class io_context;
}

namespace om::net {

struct HttpCall {
    std::string host;
    int port = 80;
    std::string method = "POST";
    std::string target = "/";
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
    std::chrono::milliseconds timeout{2000};
};

struct HttpOutcome {
    enum class Kind : std::uint8_t { ok, timeout, failed };
    Kind kind = Kind::failed;
    int status = 0;
    std::string body;
    std::string error;
};

Task<HttpOutcome> http_call(boost::asio::io_context& io, HttpCall call);

}  // namespace om::net
