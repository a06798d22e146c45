#pragma once
// Bearer-token authentication: which identity and role a token stands for.
#include <array>
#include <cstddef>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/http/http_types.hpp"

namespace promoter::daemon {

// One configured token, as read from the config. The plaintext lives here only until it is
// handed to a TokenRegistry.
struct TokenEntry {
  std::string identity;
  Role role = Role::viewer;
  std::string token;
  std::vector<std::string> git_authors;
};

using TokenDigest = std::array<unsigned char, 32>;  // SHA-256

// What the registry keeps of a TokenEntry: everything but the token, which is kept only as its digest.
struct StoredToken {
  std::string identity;
  Role role = Role::viewer;
  std::vector<std::string> git_authors;
  TokenDigest sha256{};
};

// Keeps only SHA-256 digests of the tokens, so a memory dump or a stray log of the registry reveals
// no usable credential. Every lookup compares against every entry in constant time.
// Thread-safe: authenticate() may run on the io thread while replace() runs on a reload.
class TokenRegistry {
 public:
  // Wipes the plaintext tokens of `entries` once hashed. An entry with an empty token never matches.
  // Throws std::runtime_error only if OpenSSL cannot compute SHA-256 at all.
  explicit TokenRegistry(std::vector<TokenEntry> entries);

  // nullopt for an empty or unknown token.
  std::optional<Principal> authenticate(std::string_view token) const;
  // Who a token stands for by its digest (a console session keeps the digest of the token it signed in with);
  // nullopt once the token is no longer configured.
  std::optional<Principal> authenticate_digest(const TokenDigest& digest) const;

  // Swaps in a new set of tokens atomically (for a config reload): a request sees either set, never a mix.
  void replace(std::vector<TokenEntry> entries);

  std::size_t size() const;

  // Identities, roles and digests; for listings and for tests that check no plaintext is kept.
  std::vector<StoredToken> entries() const;

  static TokenDigest digest(std::string_view token);
  static std::string hex(const TokenDigest& digest);  // lower-case

 private:
  static std::vector<StoredToken> hash_all(std::vector<TokenEntry> entries);

  mutable std::shared_mutex mutex_;
  std::vector<StoredToken> entries_;
};

// The token of an "Authorization: Bearer <token>" header value (scheme case-insensitive, RFC 6750);
// nullopt when the header is absent, uses another scheme, or carries no token.
std::optional<std::string_view> bearer_token(std::string_view authorization_header);

}  // namespace promoter::daemon
