#include "net/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <memory>

namespace om::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

HttpOutcome failure(const boost::system::error_code& ec) {
    HttpOutcome o;
    o.kind = ec == beast::error::timeout ? HttpOutcome::Kind::timeout : HttpOutcome::Kind::failed;
    o.error = ec.message();
    return o;
}

asio::awaitable<HttpOutcome> run(HttpCall call) {
    auto ex = co_await asio::this_coro::executor;
    beast::tcp_stream stream(ex);
    stream.expires_after(call.timeout);  // one deadline for the whole exchange
    const auto started = std::chrono::steady_clock::now();

    tcp::resolver resolver(ex);
    auto [rec, endpoints] = co_await resolver.async_resolve(call.host, std::to_string(call.port), use_tuple);
    if (rec) {
        co_return failure(rec);
    }
    auto [cec, ep] = co_await stream.async_connect(endpoints, use_tuple);
    if (cec) {
        co_return failure(cec);
    }
    http::request<http::string_body> req{http::string_to_verb(call.method), call.target, 11};
    req.set(http::field::host, call.host + ":" + std::to_string(call.port));
    req.set(http::field::connection, "close");
    for (const auto& [n, v] : call.headers) {
        req.set(n, v);
    }
    if (!call.body.empty() || call.method == "POST" || call.method == "PUT") {
        req.set(http::field::content_type, call.content_type);
        req.body() = std::move(call.body);
        req.prepare_payload();
    }
    auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
    (void)wn;
    if (wec) {
        co_return failure(wec);
    }
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    auto [rdec, rn] = co_await http::async_read(stream, buffer, res, use_tuple);
    (void)rn;
    if (rdec) {
        // The deadline may also surface as operation_aborted on some paths.
        if (std::chrono::steady_clock::now() - started >= call.timeout) {
            HttpOutcome o;
            o.kind = HttpOutcome::Kind::timeout;
            o.error = rdec.message();
            co_return o;
        }
        co_return failure(rdec);
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    HttpOutcome o;
    o.kind = HttpOutcome::Kind::ok;
    o.status = static_cast<int>(res.result_int());
    o.body = std::move(res.body());
    co_return o;
}

}  // namespace

Task<HttpOutcome> http_call(asio::io_context& io, HttpCall call) {
    // Named awaiter (see when_both in core/task.hpp: GCC 12 and lambda temporaries in co_await).
    CallbackAwaiter<HttpOutcome> done([&io, &call](std::function<void(HttpOutcome)> complete) {
        asio::co_spawn(io, run(std::move(call)),
                       [complete = std::move(complete)](std::exception_ptr e, HttpOutcome o) mutable {
                           if (e) {
                               o = HttpOutcome{};
                               o.kind = HttpOutcome::Kind::failed;
                               try {
                                   std::rethrow_exception(e);
                               } catch (const std::exception& ex) {
                                   o.error = ex.what();
                               } catch (...) {
                                   o.error = "unknown error";
                               }
                           }
                           complete(std::move(o));
                       });
    });
    co_return co_await done;
}

}  // namespace om::net
