#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <optional>

namespace om::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

void record(const std::string& method, const std::string& target, const HttpResponse& r) {
    const std::string path = target.substr(0, target.find('?'));
    nlohmann::json rec{{"method", method}, {"path", path}, {"status", r.status}, {"content_type", r.header("Content-Type")}};
    auto parsed = nlohmann::json::parse(r.body, nullptr, false);
    if (!r.body.empty() && !parsed.is_discarded()) {
        rec["body"] = parsed;
    } else {
        rec["body"] = nullptr;
        rec["raw_body"] = r.body.substr(0, 2000);
    }
    const std::string line = rec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    // One write() on an O_APPEND descriptor: test processes run in parallel, and a buffered stream splits a
    // large record into several writes that interleave with other processes' records.
    static std::mutex m;
    std::lock_guard lock(m);
    const int fd = ::open(OM_RESPONSE_LOG, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return;
    }
    [[maybe_unused]] const auto written = ::write(fd, line.data(), line.size());
    ::close(fd);
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
        if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
            })) {
            return v;
        }
    }
    return {};
}

nlohmann::json HttpResponse::json() const { return nlohmann::json::parse(body); }

struct HttpClient::Impl {
    asio::io_context io;
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
};

HttpClient::HttpClient(int port, std::string host) : impl_(std::make_unique<Impl>()), port_(port), host_(std::move(host)) {}
HttpClient::~HttpClient() = default;

HttpResponse HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                                 const std::map<std::string, std::string>& headers) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (!impl_->stream) {
            impl_->stream.emplace(impl_->io);
            impl_->stream->expires_after(timeout_);
            impl_->stream->connect(tcp::endpoint(asio::ip::make_address(host_), static_cast<unsigned short>(port_)));
            impl_->buffer.clear();
        }
        http::request<http::string_body> req{http::string_to_verb(method), target, 11};
        req.set(http::field::host, host_);
        if (!body.empty()) {
            req.set(http::field::content_type, "application/json");
        }
        for (const auto& [n, v] : headers) {
            req.set(n, v);
        }
        req.body() = body;
        req.prepare_payload();
        beast::error_code ec;
        impl_->stream->expires_after(timeout_);
        http::write(*impl_->stream, req, ec);
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 * 1024 * 1024);
        if (method == "HEAD") {
            parser.skip(true);
        }
        if (!ec) {
            http::read(*impl_->stream, impl_->buffer, parser, ec);
        }
        if (ec) {
            // A keep-alive connection the server closed: reconnect once.
            impl_->stream.reset();
            if (attempt == 0 && (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                                 ec == asio::error::broken_pipe)) {
                continue;
            }
            throw std::runtime_error(method + " " + target + ": " + ec.message());
        }
        auto res = parser.release();
        HttpResponse out;
        out.status = static_cast<int>(res.result_int());
        for (const auto& f : res) {
            out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        }
        out.body = std::move(res.body());
        if (!res.keep_alive()) {
            impl_->stream.reset();
        }
        record(method, target, out);
        return out;
    }
    throw std::runtime_error("unreachable");
}

namespace {
std::map<std::string, std::string> auth(const std::string& token) {
    if (token.empty()) {
        return {};
    }
    return {{"Authorization", "Bearer " + token}};
}
}  // namespace

HttpResponse HttpClient::get(const std::string& target, const std::string& token) {
    return request("GET", target, {}, auth(token));
}
HttpResponse HttpClient::post(const std::string& target, const nlohmann::json& body, const std::string& token) {
    return request("POST", target, body.is_null() ? std::string() : body.dump(), auth(token));
}
HttpResponse HttpClient::put(const std::string& target, const nlohmann::json& body, const std::string& token) {
    return request("PUT", target, body.dump(), auth(token));
}

std::string raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout, bool shutdown_write) {
    asio::io_context io;
    beast::tcp_stream s(io);
    s.expires_after(timeout);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    beast::error_code ec;
    s.expires_after(timeout);
    asio::write(s, asio::buffer(bytes), ec);
    if (shutdown_write) {
        s.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
    std::string out;
    char buf[4096];
    for (;;) {
        s.expires_after(timeout);
        const auto n = s.read_some(asio::buffer(buf), ec);
        if (ec) {
            break;
        }
        out.append(buf, n);
    }
    return out;
}

int raw_status(const std::string& raw) {
    if (raw.size() < 12 || !raw.starts_with("HTTP/1.")) {
        return 0;
    }
    return std::stoi(raw.substr(9, 3));
}

}  // namespace om::test
