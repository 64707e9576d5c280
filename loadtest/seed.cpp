// openmarket-load seed: sellers, products, buyers (card + address) through the public API, concurrently.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <random>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>

#include "client.hpp"
#include "load.hpp"

namespace om::load {

using json = nlohmann::json;

Fixture Fixture::load(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("cannot read the fixture " + path + " (run `openmarket-load seed` first)");
    }
    json j = json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        throw std::runtime_error(path + " is not a fixture (not a JSON object)");
    }
    try {
        Fixture f;
        f.target = j.at("target").get<std::string>();
        f.created_at_s = j.at("createdAt").get<long long>();
        f.password = j.at("password").get<std::string>();
        for (const auto& b : j.at("buyers")) {
            f.buyers.push_back({b.at("email").get<std::string>(), b.at("accessToken").get<std::string>(),
                                b.at("refreshToken").get<std::string>(), b.at("methodId").get<std::string>(),
                                b.at("addressId").get<std::string>()});
        }
        for (const auto& p : j.at("products")) {
            f.products.push_back({p.at("id").get<std::string>(), p.at("name").get<std::string>(),
                                  p.at("stock").get<long long>()});
        }
        for (const auto& q : j.at("queries")) {
            f.queries.push_back(q.dump());
        }
        if (f.buyers.empty() || f.products.empty()) {
            throw std::runtime_error("no buyers or no products");
        }
        return f;
    } catch (const json::exception& e) {
        throw std::runtime_error(path + " is not a fixture: " + e.what());
    }
}

void Fixture::save(const std::string& path) const {
    json j{{"target", target}, {"createdAt", created_at_s}, {"password", password}};
    j["buyers"] = json::array();
    for (const auto& b : buyers) {
        j["buyers"].push_back({{"email", b.email},
                               {"accessToken", b.access_token},
                               {"refreshToken", b.refresh_token},
                               {"methodId", b.method_id},
                               {"addressId", b.address_id}});
    }
    j["products"] = json::array();
    for (const auto& p : products) {
        j["products"].push_back({{"id", p.id}, {"name", p.name}, {"stock", p.stock}});
    }
    j["queries"] = json::array();
    for (const auto& q : queries) {
        j["queries"].push_back(json::parse(q));
    }
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << j.dump(1) << '\n';
        if (!out) {
            throw std::runtime_error("cannot write " + tmp);
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        throw std::runtime_error("cannot rename " + tmp + " to " + path);
    }
}

namespace {

constexpr const char* kBrands[] = {"삼성", "LG", "애플", "나이키", "아디다스", "소니", "Galaxy", "Lenovo"};
struct Item {
    const char* name;
    const char* category;
};
constexpr Item kItems[] = {{"노트북", "전자제품/노트북"}, {"운동화", "패션/신발"},     {"이어폰", "전자제품/음향"},
                           {"셔츠", "패션/의류"},         {"모니터", "전자제품/모니터"}, {"키보드", "전자제품/주변기기"},
                           {"backpack", "패션/가방"},     {"camera", "전자제품/카메라"}};

// The body of a failed call, for the message.
std::string failure(const char* what, const HttpResult& r) {
    return std::string(what) + ": " + (r.status ? "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 300) : r.error);
}

struct SeedRun {
    Pool& pool;
    const SeedOptions& opt;
    std::string tag;
    std::string password = "load-test-password-1";
    std::string error;
    std::vector<std::string> seller_tokens;
    Fixture fixture;

    // Registers and logs in; returns the login body.
    asio::awaitable<json> account(const std::string& role, const std::string& email) {
        json reg{{"email", email}, {"password", password}, {"name", "load " + role}, {"role", role}};
        HttpRequest r1{.method = "POST", .target = "/member/registration", .body = reg.dump()};
        HttpResult a = co_await pool.send(std::move(r1));
        if (a.status != 201) {
            throw std::runtime_error(failure("registration", a));
        }
        json login{{"email", email}, {"password", password}};
        HttpRequest r2{.method = "POST", .target = "/member/login", .body = login.dump()};
        HttpResult b = co_await pool.send(std::move(r2));
        if (b.status != 200) {
            throw std::runtime_error(failure("login", b));
        }
        co_return json::parse(b.body);
    }

    asio::awaitable<void> seller(int i) {
        const std::string email = "load-seller-" + tag + "-" + std::to_string(i) + "@example.com";
        json body = co_await account("SELLER", email);
        seller_tokens[static_cast<std::size_t>(i)] = body.at("accessToken").get<std::string>();
    }

    asio::awaitable<void> product(int i) {
        const auto n = static_cast<std::size_t>(i);
        const Item& item = kItems[n % std::size(kItems)];
        const std::string name = std::string(kBrands[(n / std::size(kItems)) % std::size(kBrands)]) + " " +
                                 item.name + " " + std::to_string(i + 1);
        std::mt19937 rng(static_cast<unsigned>(i) * 7919U + 17U);
        const long long price = 1'000LL * std::uniform_int_distribution<long long>(1, 300)(rng);
        json b{{"name", name},
               {"description", "openmarket-load " + tag},
               {"price", price},
               {"category", item.category},
               {"stock", opt.stock}};
        HttpRequest r{.method = "POST",
                      .target = "/products",
                      .body = b.dump(),
                      .token = seller_tokens[n % seller_tokens.size()]};
        HttpResult res = co_await pool.send(std::move(r));
        if (res.status != 201) {
            throw std::runtime_error(failure("product", res));
        }
        fixture.products[n] = {json::parse(res.body).at("productId").get<std::string>(), name, opt.stock};
    }

    asio::awaitable<void> buyer(int i) {
        const std::string email = "load-buyer-" + tag + "-" + std::to_string(i) + "@example.com";
        json login = co_await account("BUYER", email);
        Buyer b{email, login.at("accessToken").get<std::string>(), login.at("refreshToken").get<std::string>(), {}, {}};
        json card{{"type", "CARD"},        {"cardNumber", "4242424242424242"}, {"expiryMonth", 12},
                  {"expiryYear", 2035},    {"holderName", "LOAD TEST"},        {"cvc", "123"}};
        HttpRequest r1{.method = "POST", .target = "/payments/method", .body = card.dump(), .token = b.access_token};
        HttpResult m = co_await pool.send(std::move(r1));
        if (m.status != 201) {
            throw std::runtime_error(failure("payment method", m));
        }
        b.method_id = json::parse(m.body).at("methodId").get<std::string>();
        json addr{{"recipientName", "부하 시험"}, {"phone", "010-1234-5678"}, {"postalCode", "06236"},
                  {"address1", "서울특별시 강남구 테헤란로 152"}, {"address2", std::to_string(i + 1) + "호"}};
        HttpRequest r2{.method = "POST", .target = "/delivery/addresses", .body = addr.dump(), .token = b.access_token};
        HttpResult a = co_await pool.send(std::move(r2));
        if (a.status != 201) {
            throw std::runtime_error(failure("address", a));
        }
        b.address_id = json::parse(a.body).at("addressId").get<std::string>();
        fixture.buyers[static_cast<std::size_t>(i)] = std::move(b);
    }

    // Runs step(0..n-1) on `opt.concurrency` workers until done or the first failure.
    void phase(asio::io_context& io, const char* what, int n, std::function<asio::awaitable<void>(int)> step) {
        const auto t0 = std::chrono::steady_clock::now();
        int next = 0;
        const int workers = std::max(1, std::min(opt.concurrency, n));
        for (int w = 0; w < workers; ++w) {
            auto worker = [&]() -> asio::awaitable<void> {
                while (error.empty() && next < n) {
                    const int i = next++;
                    try {
                        co_await step(i);
                    } catch (const std::exception& e) {
                        if (error.empty()) {
                            error = std::string(what) + " " + std::to_string(i) + ": " + e.what();
                        }
                    }
                }
            };
            asio::co_spawn(io, worker, asio::detached);
        }
        io.run();
        io.restart();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (error.empty()) {
            std::printf("seed: %d %s in %.1f s\n", n, what, s);
            std::fflush(stdout);
        }
    }
};

}  // namespace

int run_seed(const SeedOptions& opt) {
    if (opt.buyers < 1 || opt.products < 1 || opt.stock < 0 || opt.concurrency < 1) {
        std::fprintf(stderr, "seed: --buyers and --products must be >= 1, --stock >= 0, --concurrency >= 1\n");
        return 2;
    }
    asio::io_context io;
    Pool pool(io, parse_target(opt.target), opt.concurrency, std::chrono::seconds(30));
    std::random_device rd;
    SeedRun run{pool, opt, std::to_string(std::time(nullptr)) + "-" + std::to_string(rd() % 100000)};
    const int sellers = opt.sellers > 0 ? opt.sellers : std::max(1, (opt.products + 49) / 50);
    run.seller_tokens.resize(static_cast<std::size_t>(sellers));
    run.fixture.products.resize(static_cast<std::size_t>(opt.products));
    run.fixture.buyers.resize(static_cast<std::size_t>(opt.buyers));
    run.fixture.created_at_s = std::time(nullptr);
    run.phase(io, "sellers", sellers, [&run](int i) { return run.seller(i); });
    if (run.error.empty()) {
        run.phase(io, "products", opt.products, [&run](int i) { return run.product(i); });
    }
    if (run.error.empty()) {
        run.phase(io, "buyers", opt.buyers, [&run](int i) { return run.buyer(i); });
    }
    if (!run.error.empty()) {
        std::fprintf(stderr, "seed failed: %s\n", run.error.c_str());
        return 1;
    }
    Fixture& f = run.fixture;
    f.target = opt.target;
    f.password = run.password;
    for (const auto& item : kItems) {
        f.queries.push_back(json{{"query", item.name}}.dump());
        f.queries.push_back(json{{"category", item.category}, {"sort", "newest"}}.dump());
    }
    for (const auto* brand : kBrands) {
        f.queries.push_back(json{{"query", brand}, {"sort", "price_asc"}}.dump());
    }
    f.queries.push_back(json{{"query", "나이키 운동화"}, {"inStockOnly", true}}.dump());
    f.save(opt.out);
    std::printf("seed: wrote %s (%zu buyers, %zu products, stock %lld each)\n", opt.out.c_str(), f.buyers.size(),
                f.products.size(), opt.stock);
    return 0;
}

}  // namespace om::load
