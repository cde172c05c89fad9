// The two bits of cryptography DockerCoins needs, from OpenSSL: SHA-256 (hasher) and random
// bytes (rng).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace services {

// Lowercase hex SHA-256 of data, like `sha256sum`: 64 characters.
std::string sha256_hex(std::string_view data);

// n bytes from OpenSSL's CSPRNG (RAND_bytes). Throws std::runtime_error if it fails.
std::string random_bytes(std::size_t n);

} // namespace services
