#include "adapters/pg_pool.hpp"

#include <cctype>
#include <fmt/format.h>
#include <libpq-fe.h>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <vector>

namespace promoter::adapters {

namespace {

void replace_all(std::string& text, std::string_view secret, std::string_view by) {
  if (secret.empty()) return;
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + by.size()))
    text.replace(at, secret.size(), by);
}

std::string percent_decoded(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Every password `url` carries: the URI's user:password@ part (up to the last '@', since a malformed URI
// is exactly when libpq quotes it) and each password= value, quoted or not.
std::vector<std::string> passwords_in(std::string_view url) {
  std::vector<std::string> out;
  if (const auto scheme = url.find("://"); scheme != std::string_view::npos) {
    const auto at = url.rfind('@');
    const auto colon = url.find(':', scheme + 3);
    if (at != std::string_view::npos && at > scheme && colon != std::string_view::npos && colon < at)
      out.emplace_back(url.substr(colon + 1, at - colon - 1));
  }
  for (auto key = url.find("password="); key != std::string_view::npos; key = url.find("password=", key + 1)) {
    auto start = key + 9;
    std::size_t end;
    if (start < url.size() && url[start] == '\'') {
      ++start;
      end = url.find('\'', start);
    } else {
      end = url.find_first_of(" \t&#", start);
    }
    out.emplace_back(url.substr(start, (end == std::string_view::npos ? url.size() : end) - start));
  }
  return out;
}

void replace_passwords(std::string& text, const std::vector<std::string>& passwords) {
  for (const auto& password : passwords) {
    replace_all(text, password, "***");
    replace_all(text, percent_decoded(password), "***");
  }
}

// libpq's own parser: a connection string it cannot read is a configuration error, not an outage, so it
// must not be retried as one. The reason, or nullopt.
std::optional<std::string> malformed(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options) {
    PQconninfoFree(options);
    return std::nullopt;
  }
  std::string reason = error ? error : "cannot be parsed";
  if (error) PQfreemem(error);
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
  return reason;
}

}  // namespace

std::string redact_connection_string(std::string text, std::string_view url) {
  const auto passwords = passwords_in(url);
  // The URL shown with its password hidden still tells the operator which part is wrong.
  std::string shown(url);
  replace_passwords(shown, passwords);
  if (!url.empty() && shown != url) replace_all(text, url, shown);
  replace_passwords(text, passwords);
  return text;
}

PgPool::PgPool(std::string url, std::size_t max_connections) : url_(std::move(url)), max_(max_connections) {}

PgPool::~PgPool() = default;

PgPool::Lease::~Lease() {
  if (pool_ && conn_) pool_->give_back(std::move(conn_), broken_);
}

PgPool::Lease PgPool::acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    if (c->is_open()) return Lease(*this, std::move(c));
    --open_;
  }
  ++open_;
  lock.unlock();
  try {
    return Lease(*this, connect_dedicated());
  } catch (...) {
    std::lock_guard relock(mutex_);
    --open_;
    available_.notify_one();
    throw;
  }
}

std::unique_ptr<pqxx::connection> PgPool::connect_dedicated() const {
  // Redacted here, where the connection is made, so every caller (start-up, retries, leases, /readyz)
  // logs and answers without the password.
  if (auto why = malformed(url_))
    throw std::invalid_argument(
        redact_connection_string(fmt::format("the database connection string is malformed: {}", *why), url_));
  try {
    return std::make_unique<pqxx::connection>(url_);
  } catch (const pqxx::broken_connection& e) {
    throw pqxx::broken_connection(redact_connection_string(e.what(), url_));
  } catch (const std::exception& e) {
    throw std::runtime_error(redact_connection_string(e.what(), url_));
  }
}

void PgPool::give_back(std::unique_ptr<pqxx::connection> c, bool broken) {
  std::lock_guard lock(mutex_);
  if (broken || !c->is_open()) {
    --open_;
  } else {
    idle_.push_back(std::move(c));
  }
  available_.notify_one();
}

}  // namespace promoter::adapters
