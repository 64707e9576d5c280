#include "member/password.hpp"

#include <sodium.h>

#include <stdexcept>

#include "common/ids.hpp"

namespace om::member {

std::string hash_password(std::string_view password, HashParams params) {
    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium initialisation failed");
    }
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), params.ops, params.mem_bytes,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        throw std::runtime_error("argon2id hashing failed (out of memory)");
    }
    return out;
}

bool verify_password(std::string_view stored_hash, std::string_view password) {
    const std::string h(stored_hash);  // must be NUL-terminated
    return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

const std::string& dummy_hash() {
    static const std::string h = hash_password(new_secret(16));
    return h;
}

}  // namespace om::member
