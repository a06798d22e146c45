#include "adapters/pg_pool.hpp"

#include <pqxx/pqxx>

namespace promoter::adapters {

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
  return std::make_unique<pqxx::connection>(url_);
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
