#pragma once
// A small pool of libpqxx connections: libpqxx connections are not thread-safe, the blocking pool is.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/connection>

namespace promoter::adapters {

// `text` (an error message, a log line) with every trace of the connection string `url` hidden: the
// URL itself and its password (the URI's user:password@, a password= key, raw or percent-decoded) are
// replaced by "***". libpq quotes the whole URI when it cannot parse it, password included.
std::string redact_connection_string(std::string text, std::string_view url);

class PgPool {
 public:
  PgPool(std::string url, std::size_t max_connections);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  class Lease {
   public:
    Lease(PgPool& pool, std::unique_ptr<pqxx::connection> c) : pool_(&pool), conn_(std::move(c)) {}
    Lease(Lease&&) noexcept = default;
    ~Lease();
    pqxx::connection& operator*() { return *conn_; }
    // A connection that threw broken_connection is not given back.
    void discard() { broken_ = true; }

   private:
    PgPool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
    bool broken_ = false;
  };

  // Blocks while every connection is in use; throws pqxx::broken_connection when the database is unreachable.
  // Errors thrown here never carry the connection string or its password (redact_connection_string).
  Lease acquire();
  // A connection outside the pool, for session state such as advisory locks. Errors are redacted as above.
  std::unique_ptr<pqxx::connection> connect_dedicated() const;

 private:
  void give_back(std::unique_ptr<pqxx::connection>, bool broken);

  std::string url_;
  std::size_t max_;
  std::size_t open_ = 0;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::mutex mutex_;
  std::condition_variable available_;
};

}  // namespace promoter::adapters
