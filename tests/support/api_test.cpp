#include "support/api_test.hpp"

#include <atomic>
#include <random>

#include <unistd.h>

namespace om::test {

std::string unique_email(const std::string& tag) {
    static std::atomic<int> n{0};
    std::random_device rd;
    return tag + "." + std::to_string(::getpid()) + "." + std::to_string(rd() % 100000) + "." + std::to_string(++n) +
           "@example.com";
}

Account sign_up(HttpClient& client, const std::string& role, const std::string& password) {
    const auto email = unique_email(role == "SELLER" ? "seller" : "buyer");
    auto r = client.post("/member/registration",
                         {{"email", email}, {"password", password}, {"name", "홍길동"}, {"role", role}});
    EXPECT_EQ(r.status, 201) << r.body;
    auto l = client.post("/member/login", {{"email", email}, {"password", password}});
    EXPECT_EQ(l.status, 200) << l.body;
    return {r.json().value("userId", ""), l.json().value("accessToken", ""), email};
}

}  // namespace om::test
