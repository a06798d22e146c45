#include "adapters/token_budget.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/sha.h>

#include <algorithm>
#include <cmath>

namespace promoter::adapters {

namespace asio = boost::asio;

namespace {

asio::awaitable<void> timer_sleep(std::chrono::milliseconds delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(delay);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

std::string digest(std::string_view token) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof(out));
}

}  // namespace

TokenBudget::TokenBudget(Options options) : options_(std::move(options)) {
  options_.requests_per_hour = std::max(options_.requests_per_hour, 1);
  if (!options_.now) options_.now = [] { return Clock::now(); };
  if (!options_.sleep) options_.sleep = timer_sleep;
  tokens_ = options_.requests_per_hour;
  refilled_at_ = options_.now();
}

void TokenBudget::refill(Clock::time_point now) const {
  if (now <= refilled_at_) return;
  const double hours = std::chrono::duration<double, std::ratio<3600>>(now - refilled_at_).count();
  tokens_ = std::min<double>(options_.requests_per_hour, tokens_ + hours * options_.requests_per_hour);
  refilled_at_ = now;
}

asio::awaitable<void> TokenBudget::acquire() {
  for (;;) {
    std::chrono::milliseconds wait{0};
    {
      std::lock_guard lock(mutex_);
      const auto now = options_.now();
      refill(now);
      if (now < back_off_until_) {
        wait = std::chrono::ceil<std::chrono::milliseconds>(back_off_until_ - now);
      } else if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
      } else {
        const double hours = (1.0 - tokens_) / options_.requests_per_hour;
        wait = std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(hours * 3'600'000.0)));
        wait = std::max(wait, std::chrono::milliseconds(1));
      }
    }
    if (wait.count() == 0) break;
    co_await options_.sleep(wait);
  }
  if (options_.report) options_.report(*this);
}

void TokenBudget::back_off(std::chrono::milliseconds delay) {
  {
    std::lock_guard lock(mutex_);
    back_off_until_ = std::max(back_off_until_, options_.now() + delay);
  }
  if (options_.report) options_.report(*this);
}

double TokenBudget::remaining() const {
  std::lock_guard lock(mutex_);
  refill(options_.now());
  return tokens_;
}

TokenBudget::Clock::time_point TokenBudget::back_off_until() const {
  std::lock_guard lock(mutex_);
  return back_off_until_;
}

std::shared_ptr<TokenBudget> TokenBudgets::for_token(std::string_view token, TokenBudget::Options options) {
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(options.provider, digest(token));
  auto& budget = budgets_[std::move(key)];
  if (!budget) budget = std::make_shared<TokenBudget>(std::move(options));
  return budget;
}

}  // namespace promoter::adapters
