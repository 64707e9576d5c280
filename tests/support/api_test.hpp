#pragma once
// Shared pieces of the HTTP API test suites.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace om::test {

// An email address no other test (or test process) uses.
std::string unique_email(const std::string& tag = "user");

struct Account {
    std::string id;
    std::string token;
    std::string email;  // to log in again (the password is sign_up's)
};

// Registers a member with `role` ("BUYER" or "SELLER") and logs in; fails the test on an unexpected answer.
Account sign_up(HttpClient& client, const std::string& role, const std::string& password = "correct-horse-1");

// One server for the whole suite (each ctest test runs in its own process) and a fresh client per test.
class ServerSuite : public ::testing::Test {
protected:
    static void SetUpTestSuite() { server_ = std::make_unique<ServerProcess>(); }
    static void TearDownTestSuite() { server_.reset(); }
    void SetUp() override { client_ = std::make_unique<HttpClient>(server_->port()); }

    static inline std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<HttpClient> client_;
};

}  // namespace om::test
