// Durable webhook ingest: Railway webhooks per second that promoterd commits before answering 2xx, from
// wrk (a Lua script, one new deployment per request) on 127.0.0.1 at 8, 32 and 128 connections, next to
// pgbench doing one single-row INSERT per transaction on the same database at the same client count, in
// the same run. Then latency at a constant 500 requests/s from an open-loop generator (each request is
// timed from the instant it was due, so a stall is not hidden: no coordinated omission).
//
// Every webhook names a deployment the fake Railway (in this process, on a thread of its own) knows:
// a new commit, SUCCESS, on the one tracked staging service. promoterd confirms it through the Railway API
// (the fake: part of the cost), records the release (a new release superseding the previous one) in one
// transaction, then answers 200. Each request uses a deployment no earlier request used, so each one is
// news and is committed; the bench checks that the committed count (audit_log) covers the 2xx answers.
//
//   webhook_ingest_bench [--seconds N (5)] [--rate-seconds N (6)] [--rate N (500)]
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <fstream>
#include <future>
#include <iostream>
#include <pqxx/pqxx>
#include <regex>
#include <thread>

#include "bench/bench_support.hpp"
#include "tests/fakes/fake_railway.hpp"
#include "tests/support/on_thread.hpp"

using namespace promoter;
using namespace promoter::bench;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

const std::string railway_token = "railway-bench-token-123456";
const std::string secret = "webhook-secret-bench-0123456789abcdef";

std::string deployment_id(long long k) { return fmt::format("dep-{:07}", k); }

std::string config(const std::string& railway_url, const std::filesystem::path& dir) {
  return fmt::format(R"(
[server]
listen = "127.0.0.1:0"
# Every wrk connection comes from 127.0.0.1: one peer holding up to 128 connections.
max_connections = 512
max_connections_per_peer = 256
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
reconcile_interval = "60s"
# The fake Railway has no rate limit: the bench measures promoterd, not the per-token budget's pacing.
requests_per_hour = 1000000
[[services]]
name = "api"
restart_order = 1
staging = {{ provider = "railway", project_id = "proj-fake", environment_id = "env-staging", service_id = "svc-api" }}
[migrations]
provider = "simulated"
[simulation]
record_file = "{}"
)",
                     railway_url, (dir / "effects.jsonl").string()) +
         testing::auth_tokens_toml();
}

fakes::FakeRailwayOptions railway_options() {
  fakes::FakeRailwayOptions o;
  o.token = railway_token;
  o.remove_superseded = false;  // every pre-made deployment stays SUCCESS
  return o;
}

// The fake Railway on a thread of its own, holding `deployments` deployments nobody has heard of yet.
class Railway : public testing::OnThread<fakes::FakeRailway> {
 public:
  explicit Railway(long long deployments) : OnThread(railway_options()) {
    call([&] {
      for (long long k = 0; k < deployments; ++k) {
        fakes::FakeDeploymentSpec spec;
        spec.environment_id = "env-staging";
        spec.service_id = "svc-api";
        spec.status = "SUCCESS";
        spec.commit_hash = sha_of(static_cast<std::uint64_t>(k), 0xc);
        spec.commit_author = "alice-gh";
        spec.commit_message = "bench";
        spec.id = deployment_id(k);
        fake().add_deployment(std::move(spec));
      }
    });
  }
  std::string url() {
    return call([this] { return fake().url(); });
  }
};

std::string lua_script(const std::string& body_template) {
  return "local template = [==[" + body_template + R"(]==]
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  base = tonumber(args[1])
  stride = tonumber(args[2])
  n = 0
end
function request()
  local k = base + tid + n * stride
  n = n + 1
  local body = template:gsub("@ID@", string.format("dep-%07d", k))
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
)";
}

long long committed(pqxx::connection& db) {
  pqxx::nontransaction n(db);
  return n.exec("SELECT count(*) FROM audit_log WHERE action = 'staging.deployment'")[0][0].as<long long>();
}

double parse_duration_ms(const std::string& value, const std::string& unit) {
  const double v = std::stod(value);
  if (unit == "us") return v / 1000;
  if (unit == "s") return v * 1000;
  if (unit == "m") return v * 60000;
  return v;
}

struct WrkResult {
  double rps = 0, p50 = 0, p99 = 0;
  long long requests = 0, non2xx = 0, socket_errors = 0;
};

WrkResult run_wrk(const std::string& script, const std::string& url, int connections, int seconds, long long base) {
  std::string out;
  const int threads = 2;
  const int rc =
      run({"wrk", "-t", std::to_string(threads), "-c", std::to_string(connections), "-d", std::to_string(seconds) + "s",
           "--latency", "-s", script, url, "--", std::to_string(base), std::to_string(threads)},
          out);
  if (rc != 0) throw std::runtime_error("wrk failed:\n" + out);
  WrkResult r;
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) r.rps = std::stod(m[1]);
  if (std::regex_search(out, m, std::regex(R"((\d+) requests in)"))) r.requests = std::stoll(m[1]);
  if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses:\s+(\d+))"))) r.non2xx = std::stoll(m[1]);
  if (std::regex_search(out, m, std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))")))
    r.socket_errors = std::stoll(m[1]) + std::stoll(m[2]) + std::stoll(m[3]) + std::stoll(m[4]);
  if (std::regex_search(out, m, std::regex(R"(\n\s+50%\s+([0-9.]+)(us|ms|s|m)\b)")))
    r.p50 = parse_duration_ms(m[1], m[2]);
  if (std::regex_search(out, m, std::regex(R"(\n\s+99%\s+([0-9.]+)(us|ms|s|m)\b)")))
    r.p99 = parse_duration_ms(m[1], m[2]);
  return r;
}

double run_pgbench(const std::string& dbname, const std::filesystem::path& script, int clients, int seconds) {
  std::string out;
  const int rc = run({"pgbench", "-n", "-f", script.string(), "-c", std::to_string(clients), "-j", "2", "-T",
                      std::to_string(seconds), dbname},
                     out);
  std::smatch m;
  if (rc == 0 && std::regex_search(out, m, std::regex(R"(tps = ([0-9.]+))"))) return std::stod(m[1]);
  std::cout << fmt::format("pgbench -c {} failed:\n{}\n", clients, out);
  if (clients > 64) {
    std::cout << "retrying pgbench with 64 clients\n";
    return run_pgbench(dbname, script, 64, seconds);
  }
  throw std::runtime_error("pgbench failed");
}

// Open loop at a constant rate: request i is due at t0 + i / rate; worker j sends requests j, j + W, ...
// over its own keep-alive connection and times each from its due instant.
struct RateResult {
  std::vector<double> latencies_ms;
  long long non2xx = 0, errors = 0;
  double seconds = 0;
};

asio::awaitable<void> rate_worker(unsigned short port, std::string target, std::string body_template, long long base,
                                  int worker, int workers, long long total, Clock::time_point t0,
                                  Clock::duration interval, RateResult& out) {
  auto executor = co_await asio::this_coro::executor;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  for (long long i = worker; i < total; i += workers) {
    const auto due = t0 + interval * i;
    asio::steady_timer timer(executor, due);
    co_await timer.async_wait(asio::use_awaitable);
    std::string body = body_template;
    // The id appears twice (details.id and resource.deployment.id): replace both.
    for (auto at = body.find("@ID@"); at != std::string::npos; at = body.find("@ID@", at))
      body.replace(at, 4, deployment_id(base + i));
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = std::move(body);
    req.prepare_payload();
    try {
      if (!stream) {
        stream.emplace(executor);
        const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
        co_await stream->async_connect(endpoint, asio::use_awaitable);
      }
      co_await http::async_write(*stream, req, asio::use_awaitable);
      http::response<http::string_body> res;
      co_await http::async_read(*stream, buffer, res, asio::use_awaitable);
      out.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - due).count());
      if (res.result_int() / 100 != 2) ++out.non2xx;
      if (!res.keep_alive()) stream.reset();
    } catch (const std::exception&) {
      ++out.errors;
      stream.reset();
    }
  }
}

RateResult constant_rate(unsigned short port, const std::string& target, const std::string& body_template,
                         long long base, int rate, int seconds) {
  RateResult out;
  asio::io_context io;
  const long long total = static_cast<long long>(rate) * seconds;
  const int workers = 64;
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  const auto t0 = Clock::now() + std::chrono::milliseconds(50);
  for (int w = 0; w < workers; ++w) {
    auto work = rate_worker(port, target, body_template, base, w, workers, total, t0, interval, out);
    asio::co_spawn(io, std::move(work), asio::detached);
  }
  io.run();
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 5, rate_seconds = 6, rate = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--seconds")
      seconds = std::stoi(argv[i + 1]);
    else if (flag == "--rate-seconds")
      rate_seconds = std::stoi(argv[i + 1]);
    else if (flag == "--rate")
      rate = std::stoi(argv[i + 1]);
  }
  try {
    const std::vector<int> levels{8, 32, 128};
    // Room for 1,500 committed webhooks/s per level; beyond that a request would name an unknown deployment.
    const long long per_level = 1500LL * seconds;
    const long long rate_base = per_level * static_cast<long long>(levels.size());
    const long long deployments = rate_base + static_cast<long long>(rate) * rate_seconds + 10;

    const auto dir = testing::temp_dir("bench-webhook-ingest");
    const std::string dbname = "promoter_bench_ingest";
    const std::string conninfo = fresh_database(dbname);
    Railway railway(deployments);
    auto env = testing::auth_tokens_env();
    env["PROMOTER_DATABASE_URL"] = conninfo;
    env["RW_TOKEN"] = railway_token;
    env["RW_SECRET"] = secret;
    Promoterd daemon(dir, config(railway.url(), dir), env);
    daemon.start();
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the first reconcile pass

    // A webhook body as the fake sends it, with the deployment id as a placeholder.
    std::string body_template = railway.call([&] {
      auto d = *railway.fake().deployment(deployment_id(0));
      d.id = "@ID@";
      return railway.fake().webhook_payload(d, fakes::WebhookShape::current);
    });
    const auto script = dir / "webhook.lua";
    std::ofstream(script) << lua_script(body_template);
    const auto insert_sql = dir / "insert.sql";
    std::ofstream(insert_sql) << "INSERT INTO bench_ingest (note) VALUES ('webhook-sized row');\n";
    pqxx::connection db(conninfo);
    {
      pqxx::work w(db);
      w.exec("CREATE TABLE bench_ingest (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), note text)");
      w.commit();
    }
    const std::string target = "/webhooks/railway/" + secret;
    const std::string url = fmt::format("http://127.0.0.1:{}{}", daemon.port(), target);

    for (std::size_t l = 0; l < levels.size(); ++l) {
      const int c = levels[l];
      const long long before = committed(db);
      const int api_before = railway.call([&] { return railway.fake().total_requests(); });
      const auto wrk = run_wrk(script.string(), url, c, seconds, per_level * static_cast<long long>(l));
      const long long commits = committed(db) - before;
      const int api_calls = railway.call([&] { return railway.fake().total_requests(); }) - api_before;
      const double pg = run_pgbench(dbname, insert_sql, c, seconds);
      const long long ok = wrk.requests - wrk.non2xx;
      const double pct = 100.0 * wrk.rps / pg;
      std::cout << fmt::format(
          "webhooks at {} connections: {:.0f}/s (p50 {}, p99 {}), {} answered ({} not 2xx, {} socket errors), "
          "{} committed; {} Railway API calls ({:.1f} per webhook); pgbench -c {}: {:.0f} tps -> {:.1f}%\n",
          c, wrk.rps, ms(wrk.p50), ms(wrk.p99), wrk.requests, wrk.non2xx, wrk.socket_errors, commits, api_calls,
          wrk.requests ? static_cast<double>(api_calls) / static_cast<double>(wrk.requests) : 0.0, c, pg, pct);
      row(fmt::format("webhooks committed/s, {} conns (vs pgbench INSERT tps)", c),
          fmt::format("{:.0f}/s vs {:.0f} tps = {:.1f}% (p99 {})", wrk.rps, pg, pct, ms(wrk.p99)), ">= 50% of pgbench",
          pct >= 50 && commits >= ok && wrk.socket_errors == 0);
    }

    const long long before = committed(db);
    const auto r = constant_rate(daemon.port(), target, body_template, rate_base, rate, rate_seconds);
    const long long commits = committed(db) - before;
    const double p50 = percentile(r.latencies_ms, 50), p99 = percentile(r.latencies_ms, 99);
    const double achieved = static_cast<double>(r.latencies_ms.size()) / r.seconds;
    std::cout << fmt::format(
        "constant {} req/s for {} s: {} answered in {:.1f} s ({:.0f}/s), {} not 2xx, {} errors, {} committed; "
        "latency from due time p50 {} p99 {} max {}\n",
        rate, rate_seconds, r.latencies_ms.size(), r.seconds, achieved, r.non2xx, r.errors, commits, ms(p50), ms(p99),
        ms(percentile(r.latencies_ms, 100)));
    row(fmt::format("webhook latency p50 / p99 at {} req/s", rate), fmt::format("{} / {}", ms(p50), ms(p99)),
        "p99 <= 20 ms", p99 <= 20 && r.errors == 0 && r.non2xx == 0);
    daemon.terminate();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "webhook_ingest_bench: " << e.what() << "\n";
    return 1;
  }
}
