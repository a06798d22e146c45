// The Slack-compatible webhook notifier against a local HTTP receiver: message shape, retries with backoff,
// Retry-After, giving up, a bounded queue, and no secret in what it reports.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/ip/tcp.hpp>
#include <doctest/doctest.h>
#include <mutex>
#include <nlohmann/json.hpp>

#include "adapters/slack_notifier.hpp"
#include "tests/fakes/http_receiver.hpp"
#include "tests/support/on_thread.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using promoter::testing::eventually;
using promoter::testing::OnThread;

namespace {

const auto sha1 = *core::Sha::parse("1111111111111111111111111111111111111111");
const auto sha2 = *core::Sha::parse("2222222222222222222222222222222222222222");
const std::string hook_path = "/services/T000/B000/s3cr3t-webhook-path";

// A receiver and a notifier on the receiver's thread; the notifier's reports are collected for the test.
struct Fixture {
  explicit Fixture(adapters::SlackNotifierOptions options = {}, std::string url = "") {
    options.environment = "production";
    options.backoff = std::min(options.backoff, std::chrono::milliseconds(20));
    options.report = [this](const adapters::DeliveryReport& r) {
      std::lock_guard lock(mutex);
      reports.push_back(r);
    };
    receiver.call([&] {
      options.webhook_url = url.empty() ? receiver.fake().url(hook_path) : url;
      notifier = std::make_unique<adapters::SlackNotifier>(receiver.executor(), std::move(options));
    });
  }
  ~Fixture() {
    receiver.call([&] { notifier.reset(); });
  }
  void notify(const std::string& kind, const core::Sha& sha, const std::string& text) {
    receiver.call([&] { notifier->notify(ports::Notification{kind, sha, text}); });
  }
  std::vector<adapters::DeliveryReport> reported() {
    std::lock_guard lock(mutex);
    return reports;
  }
  std::size_t reported_count() { return reported().size(); }
  int hits() {
    return receiver.call([&] { return receiver.fake().count(hook_path); });
  }
  std::vector<fakes::ReceivedRequest> requests() {
    return receiver.call([&] { return receiver.fake().requests(); });
  }

  OnThread<fakes::HttpReceiver> receiver;
  std::unique_ptr<adapters::SlackNotifier> notifier;
  std::mutex mutex;
  std::vector<adapters::DeliveryReport> reports;
};

unsigned short closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();  // closed again when `a` goes
}

}  // namespace

TEST_CASE("a notification reaches the webhook as Slack JSON naming the environment, kind, short SHA and text") {
  Fixture f;
  f.notify("promotion.started", sha1, "promotion 7 of 111111111111 started");
  f.notify("release.ready_for_approval", sha2, "waiting for an approval");
  REQUIRE(eventually([&] { return f.reported_count() == 2; }));
  const auto requests = f.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].target == hook_path);
  CHECK(requests[0].headers.at("content-type") == "application/json");
  const auto first = nlohmann::json::parse(requests[0].body);
  CHECK(first.at("text") == "[production] promotion.started 111111111111: promotion 7 of 111111111111 started");
  const auto second = nlohmann::json::parse(requests[1].body);
  CHECK(second.at("text") == "[production] release.ready_for_approval 222222222222: waiting for an approval");
  for (const auto& r : f.reported()) {
    CHECK(r.delivered);
    CHECK(r.attempts == 1);
  }
}

TEST_CASE("a webhook answering 500 once gets the message again and it is delivered once") {
  Fixture f;
  f.receiver.call([&] { f.receiver.fake().respond_once(hook_path, 500, "oops"); });
  f.notify("promotion.failed", sha1, "deploy:api failed");
  REQUIRE(eventually([&] { return f.reported_count() == 1; }));
  const auto r = f.reported().front();
  CHECK(r.delivered);
  CHECK(r.attempts == 2);
  CHECK(r.status == 200);
  CHECK(f.hits() == 2);  // one refused, one delivered: no third post
}

TEST_CASE("a 429 with Retry-After is waited out before the retry") {
  Fixture f;  // backoff 20ms: a retry before ~1s can only mean Retry-After was ignored
  f.receiver.call([&] { f.receiver.fake().respond_once(hook_path, 429, "slow down", {{"Retry-After", "1"}}); });
  f.notify("promotion.succeeded", sha1, "done");
  REQUIRE(eventually([&] { return f.reported_count() == 1; }));
  CHECK(f.reported().front().delivered);
  const auto requests = f.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].at - requests[0].at >= std::chrono::milliseconds(950));
}

TEST_CASE("after max_attempts a message is dropped and reported; the next one still goes out") {
  adapters::SlackNotifierOptions options;
  options.max_attempts = 3;
  Fixture f(options);
  f.receiver.call([&] { f.receiver.fake().respond(hook_path, 503, "down"); });
  f.notify("promotion.failed", sha1, "first");
  REQUIRE(eventually([&] { return f.reported_count() == 1; }));
  auto r = f.reported().front();
  CHECK_FALSE(r.delivered);
  CHECK(r.attempts == 3);
  CHECK(r.status == 503);
  CHECK(f.hits() == 3);
  // A refusal that retrying cannot fix (a revoked webhook) is not repeated.
  f.receiver.call([&] { f.receiver.fake().respond(hook_path, 404, "no_service"); });
  f.notify("promotion.failed", sha1, "second");
  REQUIRE(eventually([&] { return f.reported_count() == 2; }));
  CHECK(f.reported()[1].attempts == 1);
  f.receiver.call([&] { f.receiver.fake().respond(hook_path, 200, "ok"); });
  f.notify("promotion.succeeded", sha2, "third");
  REQUIRE(eventually([&] { return f.reported_count() == 3; }));
  CHECK(f.reported()[2].delivered);
  CHECK(f.reported()[2].notification.text == "third");
}

TEST_CASE("a full queue drops its oldest message, and notify() never waits for the webhook") {
  adapters::SlackNotifierOptions options;
  options.max_attempts = 2;
  options.max_queue = 2;
  Fixture f(options);
  // Held up by a Retry-After of 2s, the first message blocks the queue behind it.
  f.receiver.call([&] { f.receiver.fake().respond_once(hook_path, 429, "", {{"Retry-After", "2"}}); });
  f.notify("promotion.started", sha1, "m1");
  REQUIRE(eventually([&] { return f.hits() == 1; }));
  // The notifier and the webhook share one thread: had notify() waited for a delivery, this call could not
  // return, and while it runs the webhook cannot have been asked again.
  const auto [queued, hits] = f.receiver.call([&] {
    for (const char* text : {"m2", "m3", "m4"})
      f.notifier->notify(ports::Notification{"promotion.started", sha1, text});
    return std::pair{f.notifier->queued(), f.receiver.fake().count(hook_path)};
  });
  CHECK(queued == 2);  // m3 and m4; m2, the oldest waiting, made room
  CHECK(hits == 1);    // m1's retry is still waiting out its Retry-After
  REQUIRE(eventually([&] { return f.reported_count() == 4; }));
  std::vector<std::string> delivered, dropped;
  for (const auto& r : f.reported()) (r.delivered ? delivered : dropped).push_back(r.notification.text);
  CHECK(dropped == std::vector<std::string>{"m2"});
  CHECK(delivered == std::vector<std::string>{"m1", "m3", "m4"});
  CHECK(f.reported().front().error.find("queue is full") != std::string::npos);
}

TEST_CASE("an unreachable webhook is reported without its secret path") {
  adapters::SlackNotifierOptions options;
  options.max_attempts = 2;
  const auto port = closed_port();
  Fixture f(options, "http://127.0.0.1:" + std::to_string(port) + hook_path);
  f.notify("promotion.failed", sha1, "nobody listens");
  REQUIRE(eventually([&] { return f.reported_count() == 1; }));
  const auto r = f.reported().front();
  CHECK_FALSE(r.delivered);
  CHECK_FALSE(r.error.empty());
  CHECK(r.error.find("s3cr3t") == std::string::npos);
  CHECK(r.error.find("services") == std::string::npos);
  CHECK(adapters::webhook_host("https://hooks.slack.com/services/T0/B0/s3cr3t") == "hooks.slack.com");
  CHECK(adapters::webhook_host("http://user:pw@127.0.0.1:8080/x") == "127.0.0.1:8080");
}

TEST_CASE("with the console's URL, a message about a release links its page; one about no release does not") {
  const ports::Notification about{"release.ready_for_approval", core::Sha::parse(std::string(40, 'a')).value(),
                                  "waiting for an approval"};
  const auto linked = nlohmann::json::parse(adapters::slack_message(about, "production", "https://p.example/ui/"));
  CHECK(linked.at("text") ==
        "[production] release.ready_for_approval aaaaaaaaaaaa: waiting for an approval "
        "<https://p.example/ui/?release=" +
            std::string(40, 'a') + "|open in the console>");
  CHECK(nlohmann::json::parse(adapters::slack_message(about, "production")).at("text") ==
        "[production] release.ready_for_approval aaaaaaaaaaaa: waiting for an approval");
  const ports::Notification general{"config.violation", std::nullopt, "flag x enabled in production first"};
  CHECK(nlohmann::json::parse(adapters::slack_message(general, "production", "https://p.example/ui/")).at("text") ==
        "[production] config.violation: flag x enabled in production first");
}
