#pragma once
// Password hashing with argon2id (libsodium). CPU- and memory-heavy: call only off the I/O threads
// (net::Offload). Thread-safe.
#include <string>
#include <string_view>

namespace om::member {

// Parameters chosen so that a whole login stays well under ~50 ms on the 2-core dev machine
// (measured: see docs/performance.md). m=12 MiB, t=3 is one of OWASP's equivalent argon2id minimums
// (with m=19 MiB, t=2); here the cost is dominated by touching the memory, so the smaller m with one more
// pass halves the time (19 MiB/t=2: ~44 ms per hash, login p50 49 ms; 12 MiB/t=3: ~23 ms).
struct HashParams {
    unsigned long long ops = 3;
    std::size_t mem_bytes = 12U * 1024U * 1024U;
};

std::string hash_password(std::string_view password, HashParams params = {});
bool verify_password(std::string_view stored_hash, std::string_view password);
// A valid hash of a random password, used to spend the same time when the email is unknown.
const std::string& dummy_hash();

}  // namespace om::member
