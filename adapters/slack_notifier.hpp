#pragma once
// Posts notifications to a Slack-compatible incoming webhook ({"text": ...}; Mattermost, Rocket.Chat and
// Discord's /slack endpoint take the same). One message at a time from a bounded in-memory queue, retried
// with exponential backoff on 429 (honouring Retry-After), 5xx and network errors, dropped with an error
// log after max_attempts. A slow or dead receiver never holds up the caller.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ports/notifier.hpp"

namespace promoter::adapters {

// What became of one message; the daemon logs it (adapters do not log).
struct DeliveryReport {
  explicit DeliveryReport(ports::Notification n) : notification(std::move(n)) {}
  ports::Notification notification;
  bool delivered = false;
  int attempts = 0;   // requests made (0: dropped before any, e.g. the queue was full)
  int status = 0;     // the last HTTP status, 0 if none
  std::string error;  // why it was dropped; names scheme://host:port at most, never the URL's path
};

struct SlackNotifierOptions {
  std::string webhook_url;  // a secret (the path is the credential): never logged; logs name the host only
  std::string environment;  // shown in every message, e.g. "production"
  // The web console's page ("https://promoter.example.com/ui/", from [server] public_url): a message about a
  // release links that release's page there. Empty: no link.
  std::string console_url;
  std::string ca_file;                                // extra CA bundle to trust (tests); empty: the system's
  int max_attempts = 5;                               // per message, including the first
  std::chrono::milliseconds backoff{1000};            // before the first retry; doubles per retry
  std::chrono::milliseconds max_backoff{60000};       // a Retry-After longer than this is still honoured, up to 5 min
  std::chrono::milliseconds timeout{10000};           // per request
  std::size_t max_queue = 100;                        // when full, the oldest queued message is dropped
  std::function<void(const DeliveryReport&)> report;  // on the executor, once per message
};

class SlackNotifier final : public ports::Notifier {
 public:
  // Runs on `executor` (the daemon's io thread): call every member from there.
  SlackNotifier(boost::asio::any_io_executor executor, SlackNotifierOptions options);
  ~SlackNotifier() override;
  SlackNotifier(const SlackNotifier&) = delete;
  SlackNotifier& operator=(const SlackNotifier&) = delete;

  void notify(ports::Notification) override;
  void stop() override;

  // For a config reload: messages sent from now on use these (a request in flight keeps its own).
  void set_retry(int max_attempts, std::chrono::milliseconds backoff);

  std::size_t queued() const;
  const std::string& host() const;  // of the webhook URL: what logs may name

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// The webhook's JSON body: {"text": "[production] promotion.started 1111111 ...: text"}.
std::string slack_message(const ports::Notification&, std::string_view environment, std::string_view console_url = {});

// "hooks.slack.com" of "https://hooks.slack.com/services/T/B/secret": what logs may say about the URL.
std::string webhook_host(std::string_view url);

}  // namespace promoter::adapters
