#include "adapters/slack_notifier.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <algorithm>
#include <deque>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "adapters/http_client.hpp"

namespace promoter::adapters {

namespace asio = boost::asio;

struct SlackNotifier::State {
  asio::any_io_executor executor;
  SlackNotifierOptions options;
  std::string host;
  // Replaced by set_retry(); a request in flight keeps the client it started with alive.
  std::shared_ptr<HttpClient> client;
  std::deque<ports::Notification> queue;
  bool sending = false;
  bool stopped = false;
};

namespace {

std::shared_ptr<HttpClient> make_client(const asio::any_io_executor& executor, const SlackNotifierOptions& o) {
  HttpClientOptions options;
  options.ca_file = o.ca_file;
  options.request_timeout = o.timeout;
  options.retry.max_attempts = std::max(1, o.max_attempts);
  options.retry.base_backoff = o.backoff;
  options.retry.max_backoff = std::max(o.backoff, o.max_backoff);
  options.retry.retry_after_cap = std::chrono::minutes(5);
  return std::make_shared<HttpClient>(executor, std::move(options));
}

void report(const SlackNotifier::State& s, DeliveryReport r) {
  if (s.options.report) s.options.report(r);
}

asio::awaitable<void> deliver(std::shared_ptr<SlackNotifier::State> s, ports::Notification n) {
  HttpRequestSpec spec;
  spec.method = HttpMethod::post;
  spec.url = s->options.webhook_url;
  spec.headers.emplace_back("Content-Type", "application/json");
  spec.body = slack_message(n, s->options.environment, s->options.console_url);
  // A repeated post can at worst show a message twice; a lost one may hide a failed promotion.
  spec.idempotent = true;
  std::shared_ptr<HttpClient> client = s->client;
  auto request = client->request(std::move(spec));
  auto result = co_await std::move(request);
  DeliveryReport r(std::move(n));
  if (result) {
    r.attempts = result->attempts;
    r.status = result->status;
    r.delivered = result->status >= 200 && result->status < 300;
    if (!r.delivered) r.error = fmt::format("the webhook answered {}", result->status);
  } else {
    r.attempts = s->options.max_attempts;
    r.error = result.error().message;  // HttpClient names scheme://host:port only, never the path
  }
  report(*s, std::move(r));
}

asio::awaitable<void> drain(std::shared_ptr<SlackNotifier::State> s) {
  while (!s->stopped && !s->queue.empty()) {
    ports::Notification n = s->queue.front();
    s->queue.pop_front();
    try {
      auto delivery = deliver(s, n);
      co_await std::move(delivery);
    } catch (const std::exception& e) {
      // A detached coroutine would swallow this and leave `sending` set forever.
      DeliveryReport r(std::move(n));
      r.error = e.what();
      report(*s, std::move(r));
    }
  }
  s->sending = false;
}

}  // namespace

SlackNotifier::SlackNotifier(asio::any_io_executor executor, SlackNotifierOptions options)
    : state_(std::make_shared<State>()) {
  state_->executor = std::move(executor);
  state_->client = make_client(state_->executor, options);
  state_->host = webhook_host(options.webhook_url);
  state_->options = std::move(options);
}

SlackNotifier::~SlackNotifier() { stop(); }

void SlackNotifier::notify(ports::Notification n) {
  auto& s = *state_;
  if (s.stopped) return;
  if (s.queue.size() >= std::max<std::size_t>(1, s.options.max_queue)) {
    DeliveryReport r(std::move(s.queue.front()));
    r.error = "the queue is full: the webhook is slow or down";
    s.queue.pop_front();
    report(s, std::move(r));
  }
  s.queue.push_back(std::move(n));
  if (s.sending) return;
  s.sending = true;
  asio::co_spawn(s.executor, drain(state_), asio::detached);
}

void SlackNotifier::stop() {
  state_->stopped = true;
  state_->queue.clear();
}

void SlackNotifier::set_retry(int max_attempts, std::chrono::milliseconds backoff) {
  state_->options.max_attempts = max_attempts;
  state_->options.backoff = backoff;
  state_->client = make_client(state_->executor, state_->options);
}

std::size_t SlackNotifier::queued() const { return state_->queue.size(); }

const std::string& SlackNotifier::host() const { return state_->host; }

std::string slack_message(const ports::Notification& n, std::string_view environment, std::string_view console_url) {
  std::string text = n.sha ? fmt::format("[{}] {} {}: {}", environment, n.kind, n.sha->abbrev(), n.text)
                           : fmt::format("[{}] {}: {}", environment, n.kind, n.text);
  // Slack's link syntax; the SHA is hex, so the URL needs no escaping.
  if (n.sha && !console_url.empty())
    text += fmt::format(" <{}?release={}|open in the console>", console_url, n.sha->str());
  const nlohmann::json body = {{"text", text}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string webhook_host(std::string_view url) {
  const auto scheme = url.find("://");
  std::string_view rest = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  return std::string(rest);
}

}  // namespace promoter::adapters
