#include "daemon/http/auth.hpp"

#include "daemon/http/header_text.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <mutex>
#include <stdexcept>

namespace promoter::daemon {

TokenDigest TokenRegistry::digest(std::string_view token) {
  TokenDigest out{};
  unsigned int length = 0;
  if (EVP_Digest(token.data(), token.size(), out.data(), &length, EVP_sha256(), nullptr) != 1 || length != out.size()) {
    throw std::runtime_error("OpenSSL could not compute SHA-256; check the OpenSSL installation");
  }
  return out;
}

std::vector<StoredToken> TokenRegistry::hash_all(std::vector<TokenEntry> entries) {
  std::vector<StoredToken> stored;
  stored.reserve(entries.size());
  for (auto& entry : entries) {
    // An empty token would otherwise be a valid digest that a header-less request could never
    // present anyway; dropping it keeps authenticate() simple.
    if (!entry.token.empty()) {
      stored.push_back(
          StoredToken{std::move(entry.identity), entry.role, std::move(entry.git_authors), digest(entry.token)});
    }
    // Our copy of the plaintext is gone once the TokenEntry vector is freed, but freed memory keeps
    // its bytes; wipe them so they do not linger in the heap.
    OPENSSL_cleanse(entry.token.data(), entry.token.size());
  }
  return stored;
}

TokenRegistry::TokenRegistry(std::vector<TokenEntry> entries) : entries_(hash_all(std::move(entries))) {}

std::string TokenRegistry::hex(const TokenDigest& digest) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (unsigned char byte : digest) {
    out.push_back(digits[byte >> 4]);
    out.push_back(digits[byte & 0xf]);
  }
  return out;
}

std::optional<Principal> TokenRegistry::authenticate(std::string_view token) const {
  if (token.empty()) return std::nullopt;
  return authenticate_digest(digest(token));
}

std::optional<Principal> TokenRegistry::authenticate_digest(const TokenDigest& presented) const {
  std::shared_lock lock(mutex_);
  // Compare against every entry without stopping at the first match, so the time taken does not
  // tell an attacker how far into the list (or into a digest) a guess got.
  const StoredToken* found = nullptr;
  for (const auto& entry : entries_) {
    const bool equal = CRYPTO_memcmp(entry.sha256.data(), presented.data(), presented.size()) == 0;
    if (equal && found == nullptr) found = &entry;
  }
  if (found == nullptr) return std::nullopt;
  return Principal{found->identity, found->role, found->git_authors};
}

void TokenRegistry::replace(std::vector<TokenEntry> entries) {
  // Hash outside the lock: requests keep authenticating against the old set meanwhile.
  auto stored = hash_all(std::move(entries));
  std::unique_lock lock(mutex_);
  entries_.swap(stored);
}

std::size_t TokenRegistry::size() const {
  std::shared_lock lock(mutex_);
  return entries_.size();
}

std::vector<StoredToken> TokenRegistry::entries() const {
  std::shared_lock lock(mutex_);
  return entries_;
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::optional<std::string_view> bearer_token(std::string_view header) {
  while (!header.empty() && is_space(header.front())) header.remove_prefix(1);
  while (!header.empty() && is_space(header.back())) header.remove_suffix(1);
  constexpr std::string_view scheme = "bearer";
  if (header.size() <= scheme.size() || !iequals(header.substr(0, scheme.size()), scheme) ||
      !is_space(header[scheme.size()])) {
    return std::nullopt;
  }
  header.remove_prefix(scheme.size());
  while (!header.empty() && is_space(header.front())) header.remove_prefix(1);
  // A token has no inner whitespace (RFC 6750 b64token); "Bearer a b" is not a token we could have issued.
  for (char c : header) {
    if (is_space(c)) return std::nullopt;
  }
  if (header.empty()) return std::nullopt;
  return header;
}

}  // namespace promoter::daemon
