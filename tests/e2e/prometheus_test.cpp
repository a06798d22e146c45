// promoterd's /metrics as Prometheus sees it: promtool lints a live scrape, and a real Prometheus server
// (Debian's prometheus package) scrapes promoterd during a promotion and answers queries showing it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/config_builder.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter::testing;
using nlohmann::json;

namespace {

const std::filesystem::path source_dir = PROMOTER_SOURCE_DIR;
const std::string sha1 = "1111111111111111111111111111111111111111";

std::string config(const std::filesystem::path& dir) {
  return ConfigBuilder("2s").services({"worker", "api"}).simulated(dir).shared_tokens().toml();
}

// A port nobody listens on now (the OS picks it); Prometheus binds it moments later.
unsigned short free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string url_encode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

// A Prometheus server on 127.0.0.1 scraping promoterd every second, with the project's alerting rules
// loaded; stopped when the test ends, whatever happens.
class PrometheusServer {
 public:
  PrometheusServer(const std::filesystem::path& dir, unsigned short promoterd_port) : port_(free_port()) {
    const auto config_path = dir / "prometheus.yml";
    std::ofstream(config_path) << fmt::format(R"(global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {}
scrape_configs:
  - job_name: promoterd
    static_configs:
      - targets: ["127.0.0.1:{}"]
)",
                                              (source_dir / "deploy/prometheus/rules.yml").string(), promoterd_port);
    log_path_ = dir / "prometheus.log";
    const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    pid_ = spawn_process(
        {"prometheus", "--config.file=" + config_path.string(), "--storage.tsdb.path=" + (dir / "tsdb").string(),
         fmt::format("--web.listen-address=127.0.0.1:{}", port_)},
        {}, fd);
    ::close(fd);
  }
  ~PrometheusServer() {
    if (pid_ > 0) signal_and_wait(pid_, SIGTERM);
  }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  bool ready() const {
    try {
      return http(port_, "GET", "/-/ready").status == 200;
    } catch (const std::exception&) {
      return false;  // not listening yet
    }
  }

  // The value of an instant query's single sample; nullopt when the result is empty.
  std::optional<double> query(const std::string& promql) const {
    const auto reply = http(port_, "GET", "/api/v1/query?query=" + url_encode(promql));
    REQUIRE_MESSAGE(reply.status == 200, reply.body);
    const json answer = json::parse(reply.body);
    REQUIRE(answer["status"] == "success");
    const json result = answer["data"]["result"];
    if (result.empty()) return std::nullopt;
    REQUIRE_MESSAGE(result.size() == 1, promql << " matched several series: " << reply.body);
    return std::stod(result[0]["value"][1].get<std::string>());
  }

  json get(const std::string& target) const { return http(port_, "GET", target).json(); }

  std::string log() const {
    std::ifstream in(log_path_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  unsigned short port_;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
};

// promtool reads the exposition on stdin and prints any lint problem; silence means none.
void check_lint(const std::filesystem::path& dir, const std::string& exposition) {
  const auto path = dir / "scrape.txt";
  std::ofstream(path) << exposition;
  std::string output;
  const int code = run_program({"sh", "-c", "promtool check metrics < \"$0\"", path.string()}, {}, output);
  CHECK_MESSAGE(code == 0, output);
  CHECK_MESSAGE(output.empty(), "promtool check metrics: " << output);
}

}  // namespace

TEST_CASE("a real Prometheus scrapes promoterd during a promotion and sees its counter and step histogram move") {
  const auto dir = temp_dir("prometheus");
  auto env = auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_e2e_prometheus");
  Daemon daemon(dir, config(dir), env);
  daemon.start();

  // Before any promotion: every family is there and lint-clean.
  check_lint(dir, daemon.get("/metrics", "").body);

  PrometheusServer prometheus(dir, daemon.port());
  REQUIRE_MESSAGE(eventually([&] { return prometheus.ready(); }, std::chrono::seconds(60)), prometheus.log());
  REQUIRE_MESSAGE(
      eventually([&] { return prometheus.query(R"(up{job="promoterd"})") == 1.0; }, std::chrono::seconds(60)),
      prometheus.log());
  // The project's alerting rules loaded into a real server.
  const json rules = prometheus.get("/api/v1/rules");
  REQUIRE(rules["status"] == "success");
  REQUIRE(rules["data"]["groups"].size() == 1);
  CHECK(rules["data"]["groups"][0]["name"] == "promoter");
  CHECK(rules["data"]["groups"][0]["rules"].size() >= 5);

  const std::string steps = "sum(promoter_promotion_step_duration_seconds_count)";
  CHECK(prometheus.query(R"(promoter_promotions_total{result="succeeded"})") == 0.0);
  const double steps_before = prometheus.query(steps).value_or(0);

  // A release by alice-gh, deployed on staging, smoke-tested, approved by bob: after a 2s soak it goes.
  for (const char* status : {"BUILDING", "SUCCESS"})
    for (const char* service : {"worker", "api"}) {
      const json deployment = {{"service", service},
                               {"sha", sha1},
                               {"deployment_id", std::string("dep-") + service},
                               {"status", status},
                               {"author", "alice-gh"}};
      auto r = daemon.post("/v1/staging-deployments", deployment, tokens::ci);
      REQUIRE_MESSAGE(r.status == 200, r.body);
    }
  REQUIRE(
      daemon.post("/v1/releases/" + sha1 + "/smoke-results", {{"suite", "e2e"}, {"passed", true}}, tokens::ci).status ==
      200);
  REQUIRE(daemon.post("/v1/releases/" + sha1 + "/approve", {{"reason", "ok"}}, tokens::bob).status == 200);
  REQUIRE(eventually([&] { return daemon.get("/v1/releases/" + sha1, tokens::viewer).json()["state"] == "promoted"; }));

  // Prometheus saw it through its own scrapes.
  CHECK_MESSAGE(eventually([&] { return prometheus.query(R"(promoter_promotions_total{result="succeeded"})") >= 1.0; },
                           std::chrono::seconds(30)),
                prometheus.log());
  CHECK(eventually([&] { return prometheus.query(steps).value_or(0) > steps_before; }, std::chrono::seconds(30)));
  // Steps are labelled by kind and service (never by SHA): each deploy step is its own series.
  CHECK(eventually(
      [&] {
        return prometheus.query(
                   R"(sum(promoter_promotion_step_duration_seconds_count{kind="deploy",service="api"}))") == 1.0;
      },
      std::chrono::seconds(30)));
  CHECK(eventually(
      [&] { return prometheus.query(R"(sum(promoter_promotion_duration_seconds_count{result="succeeded"}))") == 1.0; },
      std::chrono::seconds(30)));
  CHECK(prometheus.query(R"(promoter_last_successful_promotion_timestamp_seconds)").value_or(0) > 0);
  CHECK(prometheus.query(R"(promoter_leader)") == 1.0);

  // After the promotion the histograms have series too: still lint-clean, and no SHA in any label.
  const std::string scrape = daemon.get("/metrics", "").body;
  check_lint(dir, scrape);
  CHECK(scrape.find(sha1.substr(0, 7)) == std::string::npos);
}
