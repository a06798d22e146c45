#pragma once
// One provider token's request allowance, shared by every client in the process that sends the token
// (Railway: the staging reconciler, webhook lookups and deploy steps; Fly: rollouts and migrations; GitHub
// later). Providers rate-limit per token, not per operation, so one token has one state:
//  - a back-off: after a 429 with Retry-After, no request with the token leaves before it ends;
//  - an hourly budget (a token bucket holding up to `requests_per_hour`, refilled evenly over the hour),
//    so one busy caller cannot spend what the others of the token, or other processes sharing it, need.
// HttpClient spends from the budget of HttpRequestSpec::budget before each attempt and reports 429s to it.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace promoter::adapters {

class TokenBudget {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;
  using Sleep = std::function<boost::asio::awaitable<void>(std::chrono::milliseconds)>;
  // Remaining budget after a change; for the metrics. Called with no lock held.
  using Report = std::function<void(const TokenBudget&)>;

  struct Options {
    std::string provider;  // "railway", "fly", "github": a metrics label
    // Names where the token is configured (its config section, e.g. "railway"): a metrics and log label.
    // Never the token or any part of it.
    std::string label;
    int requests_per_hour = 1000;  // at least 1
    Now now;                       // default: steady_clock::now
    Sleep sleep;                   // default: a steady_timer on the waiting coroutine's executor
    Report report;                 // default: nobody listens
  };

  explicit TokenBudget(Options options);

  // Waits until the token's back-off has ended and one request of the budget is free, then spends it.
  boost::asio::awaitable<void> acquire();
  // The provider asked every request of this token to wait `delay` (429 Retry-After). A shorter ask
  // than one already in force changes nothing.
  void back_off(std::chrono::milliseconds delay);

  double remaining() const;                  // requests the budget holds now (fractional while refilling)
  Clock::time_point back_off_until() const;  // time_point{} when never backed off
  int requests_per_hour() const { return options_.requests_per_hour; }
  const std::string& provider() const { return options_.provider; }
  const std::string& label() const { return options_.label; }

 private:
  void refill(Clock::time_point now) const;  // mutex_ held

  Options options_;
  mutable std::mutex mutex_;
  mutable double tokens_;
  mutable Clock::time_point refilled_at_;
  Clock::time_point back_off_until_{};
};

// One TokenBudget per (provider, token) in the process: every client built for the same token gets the same
// budget. Keyed by a SHA-256 digest of the token; the token itself is not kept.
class TokenBudgets {
 public:
  // The budget of this token; made with `options` the first time (later options are ignored).
  std::shared_ptr<TokenBudget> for_token(std::string_view token, TokenBudget::Options options);

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<TokenBudget>> budgets_;
};

}  // namespace promoter::adapters
