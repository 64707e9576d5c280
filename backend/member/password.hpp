#pragma once
// Password hashing with argon2id (libsodium). CPU- and memory-heavy: call only off the I/O threads
// (net::Offload). Thread-safe.
#include <string>
#include <string_view>

namespace om::member {

// Parameters chosen so that one verification stays under ~50 ms on the 2-core dev machine
// (measured: see docs/performance.md). t=2 passes over 19 MiB follows OWASP's argon2id minimum.
struct HashParams {
    unsigned long long ops = 2;
    std::size_t mem_bytes = 19U * 1024U * 1024U;
};

std::string hash_password(std::string_view password, HashParams params = {});
bool verify_password(std::string_view stored_hash, std::string_view password);
// A valid hash of a random password, used to spend the same time when the email is unknown.
const std::string& dummy_hash();

}  // namespace om::member
