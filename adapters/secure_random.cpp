#include "adapters/secure_random.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace promoter::adapters {

std::string secure_random_bytes(std::size_t count) {
  std::string bytes(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1)
    throw std::runtime_error("OpenSSL could not produce random bytes for a console session");
  return bytes;
}

}  // namespace promoter::adapters
