// Gate-to-action latency: from the moment a release's last gate holds to the start of the first step of
// its promotion (the preflight step's started_at in the journal, promotion_steps.idx = 0).
//
//   approval: the client's system_clock when the approval that completes the gates has answered
//             (and, as an upper bound, when it was sent);
//   soak:     the soak deadline (releases.soak_started_at + policy.soak, both the daemon's clock) when
//             the approval came first.
//
// promoterd runs the simulated production (the recording side-effect implementation) on real PostgreSQL,
// one service, a 20 ms soak (allow_short_soak), no smoke gate, so a release goes deploy -> soak -> approve
// -> promote in tens of milliseconds; releases are promoted one after another (one promotion runs at a
// time per environment, so a second one would measure the queue, not the gate).
// Next to it: the floor, one committed single-row INSERT through libpqxx on the same database.
//
//   gate_to_action_bench [--promotions N (1000)] [--soak-promotions N (200)]
#include <fmt/format.h>
#include <iostream>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "bench/bench_support.hpp"

using namespace promoter;
using namespace promoter::bench;
using nlohmann::json;

namespace {

constexpr auto soak = std::chrono::milliseconds(20);

double wall_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string config(const std::filesystem::path& dir) {
  return fmt::format(R"(
[server]
listen = "127.0.0.1:0"
[database]
url_env = "PROMOTER_DATABASE_URL"
[policy]
soak = "{}ms"
allow_short_soak = true
require_smoke = false
approvals_required = 1
[[services]]
name = "api"
restart_order = 1
[migrations]
provider = "simulated"
[simulation]
record_file = "{}"
step_delay = "0ms"
)",
                     soak.count(), (dir / "effects.jsonl").string()) +
         testing::auth_tokens_toml();
}

// One committed single-row INSERT per sample, as a client of the same database sees it.
std::vector<double> insert_floor(const std::string& conninfo, int n) {
  pqxx::connection c(conninfo);
  {
    pqxx::work w(c);
    w.exec(
        "CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), "
        "note text NOT NULL)");
    w.commit();
  }
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    pqxx::work w(c);
    w.exec_params("INSERT INTO bench_floor (note) VALUES ($1)", std::to_string(i));
    w.commit();
    out.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return out;
}

struct Sample {
  double sent_ms = 0;      // approval sent (client clock)
  double answered_ms = 0;  // approval answered (client clock)
};

void wait_promoted(pqxx::connection& db, const std::string& sha) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    pqxx::nontransaction n(db);
    auto r = n.exec_params("SELECT state FROM promotions WHERE sha = $1", sha);
    if (!r.empty() && r[0][0].as<std::string>() != "running") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  throw std::runtime_error("promotion of " + sha + " did not finish in 30 s");
}

void deploy(const Promoterd& d, const std::string& sha) {
  const json body = {{"service", "api"},
                     {"sha", sha},
                     {"deployment_id", "dep-" + sha.substr(24)},
                     {"status", "SUCCESS"},
                     {"author", "alice-gh"}};
  auto r = d.post("/v1/staging-deployments", body.dump(), testing::tokens::ci);
  if (r.status != 200) throw std::runtime_error("staging deployment refused: " + r.body);
}

Sample approve(const Promoterd& d, const std::string& sha) {
  const std::string body = json{{"reason", "bench"}}.dump();
  Sample s;
  s.sent_ms = wall_ms();
  auto r = d.post("/v1/releases/" + sha + "/approve", body, testing::tokens::bob);
  s.answered_ms = wall_ms();
  if (r.status != 200) throw std::runtime_error("approval refused: " + r.body);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int promotions = 1000, soak_promotions = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--promotions")
      promotions = std::stoi(argv[i + 1]);
    else if (flag == "--soak-promotions")
      soak_promotions = std::stoi(argv[i + 1]);
  }
  try {
    const auto dir = testing::temp_dir("bench-gate-to-action");
    const std::string conninfo = fresh_database("promoter_bench_gate");
    auto env = testing::auth_tokens_env();
    env["PROMOTER_DATABASE_URL"] = conninfo;
    Promoterd daemon(dir, config(dir), env);
    daemon.start();
    pqxx::connection db(conninfo);

    const auto floor = insert_floor(conninfo, 1000);

    // Phase 1: the approval completes the gates (the soak is already over when it arrives).
    std::map<std::string, Sample> approvals;
    const auto t0 = Clock::now();
    for (int i = 1; i <= promotions; ++i) {
      const std::string sha = sha_of(static_cast<std::uint64_t>(i), 0xa);
      deploy(daemon, sha);
      std::this_thread::sleep_for(soak + std::chrono::milliseconds(3));
      approvals[sha] = approve(daemon, sha);
      wait_promoted(db, sha);
    }
    const double phase1_s = std::chrono::duration<double>(Clock::now() - t0).count();

    // Phase 2: the approval comes first; the soak deadline (a timer in promoterd) completes the gates.
    std::set<std::string> soak_driven;
    for (int i = 1; i <= soak_promotions; ++i) {
      const std::string sha = sha_of(static_cast<std::uint64_t>(i), 0xb);
      deploy(daemon, sha);
      approve(daemon, sha);
      soak_driven.insert(sha);
      wait_promoted(db, sha);
    }

    std::vector<double> from_answer, from_sent, from_deadline;
    int failed = 0;
    {
      pqxx::nontransaction n(db);
      auto rows = n.exec(
          "SELECT p.sha, p.state, extract(epoch FROM s.started_at) * 1000, extract(epoch FROM r.soak_started_at) * "
          "1000 "
          "FROM promotions p JOIN promotion_steps s ON s.promotion_id = p.id AND s.idx = 0 "
          "JOIN releases r ON r.sha = p.sha");
      for (const auto& row : rows) {
        const std::string sha = row[0].as<std::string>();
        if (row[1].as<std::string>() != "succeeded") ++failed;
        const double started = row[2].as<double>();
        if (auto it = approvals.find(sha); it != approvals.end()) {
          from_answer.push_back(started - it->second.answered_ms);
          from_sent.push_back(started - it->second.sent_ms);
        } else if (soak_driven.contains(sha) && !row[3].is_null()) {
          from_deadline.push_back(started - (row[3].as<double>() + static_cast<double>(soak.count())));
        }
      }
    }
    std::size_t before_answer = 0;
    for (double v : from_answer) before_answer += v < 0 ? 1 : 0;

    const double floor_p50 = percentile(floor, 50), floor_p99 = percentile(floor, 99);
    const double p50 = percentile(from_answer, 50), p99 = percentile(from_answer, 99);
    std::cout << fmt::format(
        "gate-to-action: {} approval-driven promotions in {:.1f} s ({} failed), {} soak-driven\n"
        "  from approval answer: p50 {} p99 {} max {} ({} of them started before the client read the answer)\n"
        "  from approval sent:   p50 {} p99 {} max {}\n"
        "  from soak deadline:   p50 {} p99 {} max {}\n"
        "  floor (committed single-row INSERT, libpqxx): p50 {} p99 {}\n"
        "  (journal timestamps have millisecond resolution, truncated: figures may read up to 1 ms low)\n",
        from_answer.size(), phase1_s, failed, from_deadline.size(), ms(p50), ms(p99), ms(percentile(from_answer, 100)),
        before_answer, ms(percentile(from_sent, 50)), ms(percentile(from_sent, 99)), ms(percentile(from_sent, 100)),
        ms(percentile(from_deadline, 50)), ms(percentile(from_deadline, 99)), ms(percentile(from_deadline, 100)),
        ms(floor_p50), ms(floor_p99));

    info("floor: committed single-row INSERT p50 / p99", fmt::format("{} / {}", ms(floor_p50), ms(floor_p99)));
    row(fmt::format("gate->action from approval answer p50 / p99 (n={})", from_answer.size()),
        fmt::format("{} / {}", ms(p50), ms(p99)), "p99 <= 50 ms", p99 <= 50 && failed == 0);
    row("gate->action p99 / floor p50", fmt::format("{:.1f}x", p99 / floor_p50), "<= 10x", p99 <= 10 * floor_p50);
    info("gate->action from approval sent p50 / p99 (upper bound)",
         fmt::format("{} / {}", ms(percentile(from_sent, 50)), ms(percentile(from_sent, 99))));
    const double dp99 = percentile(from_deadline, 99);
    row(fmt::format("gate->action from soak deadline p50 / p99 (n={})", from_deadline.size()),
        fmt::format("{} / {}", ms(percentile(from_deadline, 50)), ms(dp99)), "p99 <= 50 ms", dp99 <= 50);
    daemon.terminate();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "gate_to_action_bench: " << e.what() << "\n";
    return 1;
  }
}
