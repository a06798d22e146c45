// Footprint and scale of an idle promoterd: RSS, CPU and wake-ups over an idle window, time from process
// start to /readyz 200 (which promoterd answers only once the releases are loaded: 503 "loading releases"
// before) and to the first /v1 answer, and the latency of /metrics, /v1/releases and /v1/status, for
//   small: 10 services x 100 releases each (1,000 releases)
//   large: 10,000 services x 100 releases each (1,000,000 releases, the issue's shape)
// The history is generated into PostgreSQL with generate_series: release k of service s is its own commit,
// deployed to s (REMOVED, or SUCCESS for each service's newest); every 10th release was promoted (approval
// and smoke result on record), the others superseded; one newest release is live on every service and
// soaking (a 30 m soak, so its timer is armed during the idle window). Services are "generic" staging
// targets (no Railway polling) with simulated production.
//
//   footprint_bench [--idle-seconds N (10)] [--large-services N (10000)] [--releases-per-service N (100)]
#include <fmt/format.h>
#include <iostream>
#include <pqxx/pqxx>
#include <thread>

#include "bench/bench_support.hpp"

using namespace promoter;
using namespace promoter::bench;

namespace {

std::string config(const std::filesystem::path& dir, int services) {
  std::string toml = fmt::format(R"(
[server]
listen = "127.0.0.1:0"
[database]
url_env = "PROMOTER_DATABASE_URL"
[policy]
soak = "30m"
require_smoke = true
required_smoke_suites = ["e2e"]
approvals_required = 1
[migrations]
provider = "simulated"
[simulation]
record_file = "{}"
)",
                                 (dir / "effects.jsonl").string()) +
                     testing::auth_tokens_toml();
  toml.reserve(toml.size() + static_cast<std::size_t>(services) * 48);
  for (int s = 0; s < services; ++s)
    toml += fmt::format("[[services]]\nname = \"svc-{:05}\"\nrestart_order = {}\n", s, s + 1);
  return toml;
}

// The schema comes from promoterd itself (started once on the empty database); then the history.
void generate(const std::string& conninfo, int services, int per_service) {
  const long long total = static_cast<long long>(services) * per_service;
  pqxx::connection c(conninfo);
  pqxx::work w(c);
  w.exec("SET LOCAL synchronous_commit = off");
  const std::string sha = "lpad(to_hex(i), 40, '0')";
  const std::string at = fmt::format("now() - make_interval(secs => ({} + 1 - i) * 60)", total);
  w.exec(fmt::format(
      "INSERT INTO releases (sha, seq, author, first_seen_at, live_at, soak_started_at, soak_resets, state, "
      "state_reason, updated_at) "
      "SELECT {0}, i, 'alice-gh', {1}, {1}, NULL, 0, CASE WHEN i % 10 = 0 THEN 'promoted' ELSE 'superseded' END, "
      "CASE WHEN i % 10 = 0 THEN 'promoted to production' ELSE 'superseded on staging by a newer release' END, {1} "
      "FROM generate_series(1, {2}) i",
      sha, at, total));
  w.exec(
      fmt::format("INSERT INTO staging_deployments (sha, service, deployment_id, status, created_at, updated_at) "
                  "SELECT {0}, 'svc-' || lpad(((i - 1) % {3})::text, 5, '0'), 'dep-' || i, "
                  "CASE WHEN i > {2} - {3} THEN 'SUCCESS' ELSE 'REMOVED' END, {1}, {1} FROM generate_series(1, {2}) i",
                  sha, at, total, services));
  w.exec(
      fmt::format("INSERT INTO approvals (sha, approved_by, approved_at, reason) "
                  "SELECT {0}, 'bob', {1}, 'looks good' FROM generate_series(10, {2}, 10) i",
                  sha, at, total));
  w.exec(
      fmt::format("INSERT INTO smoke_results (sha, suite, passed, reported_by, reported_at, details) "
                  "SELECT {0}, 'e2e', true, 'ci-bot', {1}, '' FROM generate_series(10, {2}, 10) i",
                  sha, at, total));
  const long long last_promoted = total - total % 10;
  w.exec(
      fmt::format("INSERT INTO production_releases (environment, sha, promotion_id, promoted_at) "
                  "VALUES ('production', lpad(to_hex({}), 40, '0'), NULL, now() - interval '1 hour')",
                  last_promoted));
  // The newest release: live on every service, soaking.
  const long long newest = total + 1;
  w.exec(fmt::format(
      "INSERT INTO releases (sha, seq, author, first_seen_at, live_at, soak_started_at, soak_resets, state, "
      "state_reason, updated_at) VALUES (lpad(to_hex({0}), 40, '0'), {0}, 'alice-gh', now() - interval '5 minutes', "
      "now() - interval '5 minutes', now() - interval '5 minutes', 0, 'soaking', 'waiting for soak', now())",
      newest));
  w.exec(
      fmt::format("INSERT INTO staging_deployments (sha, service, deployment_id, status, created_at, updated_at) "
                  "SELECT lpad(to_hex({0}), 40, '0'), 'svc-' || lpad(s::text, 5, '0'), 'dep-new-' || s, 'SUCCESS', "
                  "now() - interval '6 minutes', now() - interval '5 minutes' FROM generate_series(0, {1} - 1) s",
                  newest, services));
  w.commit();
  pqxx::nontransaction n(c);
  n.exec("VACUUM ANALYZE");
}

struct Latency {
  double p50 = 0, max = 0;
  std::size_t bytes = 0;
};

Latency time_get(const Promoterd& d, const std::string& target, int n) {
  std::vector<double> samples;
  std::size_t bytes = 0;
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    auto r = d.get(target, testing::tokens::viewer);
    samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (r.status != 200) throw std::runtime_error(fmt::format("GET {} answered {}: {}", target, r.status, r.body));
    bytes = r.body.size();
  }
  return {percentile(samples, 50), percentile(samples, 100), bytes};
}

void scenario(const std::string& label, int services, int per_service, int idle_seconds, double rss_target_mb,
              bool ready_target) {
  const auto dir = testing::temp_dir("bench-footprint-" + label);
  const std::string conninfo = fresh_database("promoter_bench_fp_" + label);
  auto env = testing::auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = conninfo;
  Promoterd daemon(dir, config(dir, services), env);
  daemon.start();  // applies the schema
  daemon.terminate();
  const auto g0 = Clock::now();
  generate(conninfo, services, per_service);
  const double gen_s = std::chrono::duration<double>(Clock::now() - g0).count();

  daemon.spawn();
  // /readyz stays 503 while the releases load; at 1,000,000 releases on a busy machine that can exceed
  // wait_ready's default 2 minutes.
  const auto ready = daemon.wait_ready(std::chrono::milliseconds(5), std::chrono::seconds(900));
  const double ready_s = std::chrono::duration<double>(ready - daemon.spawned_at()).count();
  // /v1 reads wait on the state strand, behind the World's load; /readyz 200 should already imply it, so this
  // is expected within a request of the /readyz figure.
  auto first = daemon.get("/v1/releases?limit=1", testing::tokens::viewer);
  if (first.status != 200) throw std::runtime_error("first /v1/releases answered " + first.body);
  const double loaded_s = std::chrono::duration<double>(Clock::now() - daemon.spawned_at()).count();

  std::this_thread::sleep_for(std::chrono::seconds(3));  // let start-up work settle
  const auto s0 = sample_process(daemon.pid());
  const auto w0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  const auto s1 = sample_process(daemon.pid());
  const double window = std::chrono::duration<double>(Clock::now() - w0).count();
  const double cpu_pct =
      100.0 * static_cast<double>(s1.cpu_ticks - s0.cpu_ticks) / static_cast<double>(clock_ticks_per_second()) / window;
  const double wakeups = static_cast<double>(s1.switches - s0.switches) / window;
  const double rss_mb = static_cast<double>(s1.rss_kb) / 1024.0;

  const auto metrics = time_get(daemon, "/metrics", 20);
  const auto releases = time_get(daemon, "/v1/releases", 20);
  const auto status = time_get(daemon, "/v1/status", 5);

  std::cout << fmt::format(
      "footprint {}: {} services x {} releases ({} rows generated in {:.1f} s)\n"
      "  process start -> /readyz 200 (releases loaded): {:.2f} s; -> first /v1 answer: {:.2f} s\n"
      "  idle {:.1f} s: RSS {:.1f} MB (peak {:.1f} MB), CPU {:.2f}%, {:.2f} wake-ups/s over {} threads\n"
      "  GET /metrics p50 {} max {} ({} bytes); GET /v1/releases p50 {} max {} ({} bytes); "
      "GET /v1/status p50 {} max {}\n",
      label, services, per_service, static_cast<long long>(services) * per_service, gen_s, ready_s, loaded_s, window,
      rss_mb, static_cast<double>(s1.hwm_kb) / 1024.0, cpu_pct, wakeups, s1.threads, ms(metrics.p50), ms(metrics.max),
      metrics.bytes, ms(releases.p50), ms(releases.max), releases.bytes, ms(status.p50), ms(status.max));

  const std::string what = fmt::format("{} svc x {} rel", services, per_service);
  row(fmt::format("idle RSS, {}", what), fmt::format("{:.1f} MB (peak {:.1f})", rss_mb, s1.hwm_kb / 1024.0),
      fmt::format("<= {:.0f} MB", rss_target_mb), rss_mb <= rss_target_mb);
  row(fmt::format("idle CPU, {}", what), fmt::format("{:.2f}%", cpu_pct), "~0 (<= 0.5%)", cpu_pct <= 0.5);
  row(fmt::format("idle wake-ups/s, {}", what), fmt::format("{:.2f}", wakeups), "<= 2/s", wakeups <= 2);
  if (ready_target) {
    row(fmt::format("start -> /readyz 200 (releases loaded), {}", what), fmt::format("{:.2f} s", ready_s), "<= 2 s",
        ready_s <= 2);
    row(fmt::format("start -> first /v1 answer, {}", what), fmt::format("{:.2f} s", loaded_s), "<= 2 s", loaded_s <= 2);
  } else {
    info(fmt::format("start -> /readyz 200 (loaded) / first /v1, {}", what),
         fmt::format("{:.2f} s / {:.2f} s", ready_s, loaded_s));
  }
  info(fmt::format("GET /metrics p50 / max, {}", what), fmt::format("{} / {}", ms(metrics.p50), ms(metrics.max)));
  info(fmt::format("GET /v1/releases (50) p50 / max, {}", what),
       fmt::format("{} / {} ({} kB)", ms(releases.p50), ms(releases.max), releases.bytes / 1024));
  info(fmt::format("GET /v1/status p50 / max, {}", what), fmt::format("{} / {}", ms(status.p50), ms(status.max)));

  // Takeover: a standby on the same database; the leader is killed; the standby leads once it has loaded.
  const auto standby_dir = testing::temp_dir("bench-footprint-" + label + "-standby");
  Promoterd standby(standby_dir, config(standby_dir, services), env);
  standby.start();
  if (standby.get("/readyz").json().value("role", "") != "standby")
    throw std::runtime_error("the second instance did not stand by: " + standby.get("/readyz").body);
  const auto k0 = Clock::now();
  daemon.kill_hard();
  for (;;) {
    auto r = standby.get("/readyz");
    if (r.status == 200 && r.json().value("role", "") == "leader") break;
    if (Clock::now() - k0 > std::chrono::seconds(900)) throw std::runtime_error("the standby never took over");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double takeover_s = std::chrono::duration<double>(Clock::now() - k0).count();
  std::cout << fmt::format("  takeover (leader killed -> standby leading and loaded): {:.2f} s\n", takeover_s);
  info(fmt::format("takeover: leader kill -9 -> standby leading, {}", what), fmt::format("{:.2f} s", takeover_s));
  standby.terminate();
}

}  // namespace

int main(int argc, char** argv) {
  int idle_seconds = 10, large = 10000, per_service = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--idle-seconds")
      idle_seconds = std::stoi(argv[i + 1]);
    else if (flag == "--large-services")
      large = std::stoi(argv[i + 1]);
    else if (flag == "--releases-per-service")
      per_service = std::stoi(argv[i + 1]);
    else {
      std::cerr << "footprint_bench: unknown flag " << flag << "\n";
      return 2;
    }
  }
  try {
    scenario("small", 10, per_service, idle_seconds, 20, false);
    scenario("large", large, per_service, idle_seconds, 200, true);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "footprint_bench: " << e.what() << "\n";
    return 1;
  }
}
