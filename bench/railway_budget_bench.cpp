// Railway API budget: GraphQL calls promoterd makes to Railway in steady state, counted by the fake
// Railway's request counter, for 3 and for 50 tracked staging services with webhooks flowing.
//
// Two costs, each counted, then combined into calls per hour:
//   per reconcile pass: the timer-driven pass over every tracked service (promoterd's first pass at start,
//     counted alone; the config's reconcile_interval, 60 s, sets how many passes an hour has);
//   per merge: a commit merged to main and deployed to every staging service, each going
//     BUILDING -> DEPLOYING -> SUCCESS with a webhook per change (3 per service), sent by the fake to promoterd;
//     each webhook is confirmed through the API and pokes the reconciler (coalesced while a pass runs).
//   calls/hour = 3600 / reconcile_interval * calls_per_pass + merges_per_hour * calls_per_merge
// with merges_per_hour = 30 (one every 2 minutes, the demo's pace; a busy team).
//
//   railway_budget_bench [--merges N (3)] [--merges-per-hour N (30)]
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <future>
#include <iostream>
#include <thread>

#include "bench/bench_support.hpp"
#include "tests/fakes/fake_railway.hpp"
#include "tests/support/on_thread.hpp"

using namespace promoter;
using namespace promoter::bench;
namespace asio = boost::asio;

namespace {

const std::string railway_token = "railway-bench-token-123456";
const std::string secret = "webhook-secret-bench-0123456789abcdef";
constexpr int reconcile_interval_s = 60;

fakes::FakeRailwayOptions railway_options() {
  fakes::FakeRailwayOptions o;
  o.token = railway_token;
  return o;
}

// The fake Railway on a thread of its own, with its request counter.
class Railway : public testing::OnThread<fakes::FakeRailway> {
 public:
  Railway() : OnThread(railway_options()) {}
  void flush() { await(fake().flush_webhooks()); }
  std::string url() {
    return call([this] { return fake().url(); });
  }
  int total() {
    return call([this] { return fake().total_requests(); });
  }
  // Waits until no request arrived for `quiet`.
  int settle(std::chrono::milliseconds quiet = std::chrono::milliseconds(1500)) {
    int last = total();
    for (;;) {
      std::this_thread::sleep_for(quiet);
      const int now = total();
      if (now == last) return now;
      last = now;
    }
  }
};

std::string config(const std::string& railway_url, const std::filesystem::path& dir, int services) {
  std::string toml = fmt::format(R"(
[server]
listen = "127.0.0.1:0"
[database]
url_env = "PROMOTER_DATABASE_URL"
[policy]
soak = "30m"
require_smoke = false
approvals_required = 1
[railway]
endpoint = "{}"
token_env = "RW_TOKEN"
webhook_secret_env = "RW_SECRET"
reconcile_interval = "{}s"
[migrations]
provider = "simulated"
[simulation]
record_file = "{}"
)",
                                 railway_url, reconcile_interval_s, (dir / "effects.jsonl").string()) +
                     testing::auth_tokens_toml();
  for (int s = 0; s < services; ++s)
    toml += fmt::format(
        "[[services]]\nname = \"svc{0}\"\nrestart_order = {1}\nstaging = {{ provider = \"railway\", project_id = "
        "\"proj-fake\", environment_id = \"env-staging\", service_id = \"svc-{0}\" }}\n",
        s, s + 1);
  return toml;
}

void merge(Railway& railway, int services, std::uint64_t n) {
  const std::string sha = sha_of(n, 0xd);
  std::vector<std::string> ids;
  for (int s = 0; s < services; ++s) {
    fakes::FakeDeploymentSpec spec;
    spec.environment_id = "env-staging";
    spec.service_id = fmt::format("svc-{}", s);
    spec.status = "BUILDING";
    spec.commit_hash = sha;
    spec.commit_author = "alice-gh";
    spec.commit_message = "merge";
    ids.push_back(railway.call([&] { return railway.fake().add_deployment(spec); }));
  }
  for (const auto& id : ids) railway.call([&] { return railway.fake().set_status(id, "DEPLOYING"); });
  for (const auto& id : ids) railway.call([&] { return railway.fake().set_status(id, "SUCCESS"); });
  railway.flush();
}

void scenario(int services, int merges, int merges_per_hour) {
  Railway railway;
  const auto dir = testing::temp_dir(fmt::format("bench-railway-budget-{}", services));
  auto env = testing::auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = fresh_database(fmt::format("promoter_bench_budget_{}", services));
  env["RW_TOKEN"] = railway_token;
  env["RW_SECRET"] = secret;
  Promoterd daemon(dir, config(railway.url(), dir, services), env);
  // One merge already on staging, so the first pass has deployments to read.
  merge(railway, services, 1);
  const int before_start = railway.total();
  daemon.start();
  const int per_pass = railway.settle() - before_start;
  railway.call([&] {
    railway.fake().set_webhook(fmt::format("http://127.0.0.1:{}/webhooks/railway/{}", daemon.port(), secret));
    return 0;
  });
  const int list_before = railway.call([&] { return railway.fake().request_count("ListDeploymentsBatch"); });
  const int get_before = railway.call([&] { return railway.fake().request_count("GetDeployment"); });
  const int t0 = railway.total();
  const int delivered_before = railway.call([&] { return railway.fake().webhooks_delivered(); });
  for (int m = 0; m < merges; ++m) merge(railway, services, static_cast<std::uint64_t>(m + 2));
  const int t1 = railway.settle();
  const int delivered = railway.call([&] { return railway.fake().webhooks_delivered(); }) - delivered_before;
  const int lists = railway.call([&] { return railway.fake().request_count("ListDeploymentsBatch"); }) - list_before;
  const int gets = railway.call([&] { return railway.fake().request_count("GetDeployment"); }) - get_before;
  const double per_merge = static_cast<double>(t1 - t0) / merges;
  const double per_hour = 3600.0 / reconcile_interval_s * per_pass + merges_per_hour * per_merge;
  std::cout << fmt::format(
      "railway budget, {} services: {} call(s) per reconcile pass; {} merges sent {} webhooks and caused {} calls "
      "({} GetDeployment, {} ListDeploymentsBatch) = {:.1f} per merge; at a {} s reconcile interval and {} merges/h: "
      "{:.0f} calls/h ({:.0f} from passes, {:.0f} from webhooks)\n",
      services, per_pass, merges, delivered, t1 - t0, gets, lists, per_merge, reconcile_interval_s, merges_per_hour,
      per_hour, 3600.0 / reconcile_interval_s * per_pass, merges_per_hour * per_merge);
  info(fmt::format("Railway API calls/h, {} services ({} s reconcile, {} merges/h)", services, reconcile_interval_s,
                   merges_per_hour),
       fmt::format("{:.0f}/h ({} per pass, {:.0f} per merge of {} webhooks)", per_hour, per_pass, per_merge,
                   delivered / merges));
  daemon.terminate();
}

}  // namespace

int main(int argc, char** argv) {
  int merges = 3, merges_per_hour = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--merges")
      merges = std::stoi(argv[i + 1]);
    else if (flag == "--merges-per-hour")
      merges_per_hour = std::stoi(argv[i + 1]);
  }
  try {
    scenario(3, merges, merges_per_hour);
    scenario(50, merges, merges_per_hour);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "railway_budget_bench: " << e.what() << "\n";
    return 1;
  }
}
