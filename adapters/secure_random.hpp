#pragma once
// Random bytes from the operating system's CSPRNG (OpenSSL's RAND_bytes): for session ids and CSRF tokens,
// which must not be guessable. Injected where used, so tests may substitute their own.
#include <cstddef>
#include <string>

namespace promoter::adapters {

// Throws std::runtime_error when OpenSSL cannot produce them (an unseeded generator): a session must never be
// created from weak randomness.
std::string secure_random_bytes(std::size_t count);

}  // namespace promoter::adapters
