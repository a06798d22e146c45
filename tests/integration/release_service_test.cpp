// ReleaseService on a real PostgreSQL: events that queue while the strand commits are committed together in
// one transaction, each answer goes out only after that commit, and one event's conflict does not fail the
// others of its batch.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <future>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "adapters/pg_store.hpp"
#include "daemon/release_service.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

class FixedClock final : public ports::Clock {
 public:
  core::Timestamp now() const override {
    return core::Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}};
  }
};

// The real ledger, with its first commit held until the test lets it go: while it is held, the events the
// test submits queue up behind it on the state strand.
class GatedLedger final : public ports::Ledger {
 public:
  explicit GatedLedger(ports::Ledger& inner) : inner_(inner) {}

  core::Result<core::World> load(const core::Policy& p, const std::string& e) override { return inner_.load(p, e); }
  core::Result<std::optional<core::Release>> release(const core::Sha& s) override { return inner_.release(s); }
  core::Result<std::map<std::string, int>> release_counts() override { return inner_.release_counts(); }
  core::Result<void> append_audit(const core::AuditNote& n, core::Timestamp t) override {
    return inner_.append_audit(n, t);
  }
  core::Result<core::Obligation> close_obligation(std::int64_t id, const std::string& by, const std::string& link,
                                                  core::Timestamp now) override {
    return inner_.close_obligation(id, by, link, now);
  }
  core::Result<ports::OpenedPromotions> commit(const core::Decision& d, const core::PromotionPlan& p,
                                               const std::string& e, core::Timestamp t) override {
    if (commits_started_++ == 0) {
      entered_.set_value();
      released_.get_future().wait();
    }
    auto r = inner_.commit(d, p, e, t);
    std::lock_guard lock(mutex_);
    if (r) ++commits_done_;
    return r;
  }

  std::future<void> entered() { return entered_.get_future(); }
  void release_first() { released_.set_value(); }
  int commits_done() {
    std::lock_guard lock(mutex_);
    return commits_done_;
  }
  int commits_started() const { return commits_started_.load(); }

 private:
  ports::Ledger& inner_;
  std::atomic<int> commits_started_{0};
  std::promise<void> entered_;
  std::promise<void> released_;
  std::mutex mutex_;
  int commits_done_ = 0;
};

core::Policy policy() {
  core::Policy p;
  p.soak = 30min;
  p.required_smoke_suites = {"e2e"};
  p.services = {"worker", "api", "www"};
  return p;
}

core::Sha sha_of(int i) { return *core::Sha::parse(fmt::format("{:040x}", 0xa000 + i)); }

core::Event staging(const core::Sha& sha) {
  return core::StagingDeploymentObserved{sha,     "api",        "dep-" + sha.str(), core::DeployStatus::building,
                                         "alice", std::nullopt, "railway"};
}

int count(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::nontransaction n(c);
  return n.exec1(sql)[0].as<int>();
}

struct Answer {
  core::Result<std::optional<core::Release>> result = core::fail(core::ErrorCode::internal, "not answered");
  int commits_done_when_answered = -1;
};

// The service running on its own io thread and pool, as in promoterd.
struct Harness {
  explicit Harness(const std::string& url)
      : store(url), ledger(store), metrics("test", false), service(io, pool, ledger, clock, metrics, "production") {
    REQUIRE(store.migrate());
    io_thread = std::thread([this] { io.run(); });
    auto started = run([this]() -> asio::awaitable<core::Result<void>> { co_return co_await service.start(policy()); });
    REQUIRE(started.has_value());
  }
  ~Harness() {
    guard.reset();
    io_thread.join();
    pool.join();
  }

  template <class F>
  auto run(F f) -> std::invoke_result_t<F&>::value_type {
    using R = typename std::invoke_result_t<F&>::value_type;
    std::promise<R> done;
    asio::co_spawn(io, f(), [&](std::exception_ptr e, R r) {
      REQUIRE_FALSE(e);
      done.set_value(std::move(r));
    });
    return done.get_future().get();
  }

  // Submits an event from the io thread; the answer lands in `out` with the commits done at that moment.
  void submit(core::Event e, Answer& out, std::promise<void>& answered) {
    asio::co_spawn(
        io,
        [this, e = std::move(e), &out]() -> asio::awaitable<void> {
          auto r = co_await service.submit(e);
          out.commits_done_when_answered = ledger.commits_done();
          out.result = std::move(r);
        },
        [&answered](std::exception_ptr) { answered.set_value(); });
  }

  FixedClock clock;
  adapters::PgStore store;
  GatedLedger ledger;
  daemon::Metrics metrics;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  asio::thread_pool pool{2};
  daemon::ReleaseService service;
  std::thread io_thread;
};

}  // namespace

TEST_CASE("events that queue while the strand commits are committed together, each answered after the commit") {
  const auto url = testing::fresh_database("promoter_group_commit");
  Harness h(url);
  auto entered = h.ledger.entered();
  Answer first;
  std::promise<void> first_answered;
  h.submit(staging(sha_of(0)), first, first_answered);
  entered.wait();  // the strand is inside the first commit

  constexpr int queued = 12;
  std::vector<Answer> answers(queued);
  std::vector<std::promise<void>> answered(queued);
  for (int i = 0; i < queued; ++i)
    h.submit(staging(sha_of(i + 1)), answers[static_cast<std::size_t>(i)], answered[static_cast<std::size_t>(i)]);
  // The io thread runs handlers in order: every submit above has queued its event before this runs.
  asio::post(h.io, [&] { h.ledger.release_first(); });

  first_answered.get_future().wait();
  for (auto& a : answered) a.get_future().wait();
  REQUIRE(first.result.has_value());
  CHECK(first.commits_done_when_answered == 1);
  for (int i = 0; i < queued; ++i) {
    const Answer& a = answers[static_cast<std::size_t>(i)];
    REQUIRE_MESSAGE(a.result.has_value(), a.result.error().message);
    REQUIRE(a.result->has_value());
    // Each answer is about its own release, and went out after the transaction that recorded it.
    CHECK((*a.result)->sha == sha_of(i + 1));
    CHECK((*a.result)->deployments.at("api").deployment_id == "dep-" + sha_of(i + 1).str());
    CHECK(a.commits_done_when_answered == 2);
  }
  // One transaction for the first event, one for the twelve that queued behind it.
  CHECK(h.ledger.commits_started() == 2);
  CHECK(count(url, "SELECT count(*) FROM releases") == queued + 1);
  CHECK(count(url, "SELECT count(*) FROM staging_deployments") == queued + 1);
  CHECK(count(url, "SELECT count(DISTINCT seq) FROM releases") == queued + 1);
  CHECK(count(url, "SELECT count(*) FROM audit_log WHERE action = 'release.discovered'") == queued + 1);
}

TEST_CASE("one event's conflict does not fail the others of its batch") {
  const auto url = testing::fresh_database("promoter_group_commit_conflict");
  Harness h(url);
  {
    // Another writer took sequence number 2, which the service hands out next after the first release.
    pqxx::connection c(url);
    pqxx::work w(c);
    w.exec("INSERT INTO releases (sha, seq, first_seen_at, state) VALUES (repeat('b', 40), 2, now(), 'deploying')");
    w.commit();
  }
  auto entered = h.ledger.entered();
  Answer first;
  std::promise<void> first_answered;
  h.submit(staging(sha_of(0)), first, first_answered);
  entered.wait();

  Answer fresh, smoke;
  std::promise<void> fresh_answered, smoke_answered;
  h.submit(staging(sha_of(1)), fresh, fresh_answered);  // would take seq 2: conflicts
  core::Event result = core::SmokeResultReported{sha_of(0), "e2e", true, "ci", "green"};
  h.submit(result, smoke, smoke_answered);  // about the first release: fine on its own
  asio::post(h.io, [&] { h.ledger.release_first(); });
  first_answered.get_future().wait();
  fresh_answered.get_future().wait();
  smoke_answered.get_future().wait();

  REQUIRE(first.result.has_value());
  REQUIRE_FALSE(fresh.result.has_value());
  CHECK(fresh.result.error().code == core::ErrorCode::conflict);
  REQUIRE_MESSAGE(smoke.result.has_value(), smoke.result.error().message);
  REQUIRE(smoke.result->has_value());
  CHECK((*smoke.result)->smoke.at("e2e").passed);
  // The first commit, the batch that failed, then each event alone.
  CHECK(h.ledger.commits_started() == 4);
  CHECK(count(url, "SELECT count(*) FROM smoke_results WHERE suite = 'e2e' AND passed") == 1);
  CHECK(count(url, fmt::format("SELECT count(*) FROM releases WHERE sha = '{}'", sha_of(1).str())) == 0);
  // The rolled-back batch left no trace in memory either: the conflicting release is unknown to the service.
  auto known = h.run([&]() -> asio::awaitable<bool> {
    co_return co_await h.service.read([](const core::World& w) { return w.find(sha_of(1)) != nullptr; });
  });
  CHECK_FALSE(known);
}
