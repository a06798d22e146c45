// promotectl against a fake promoterd: a Beast server on 127.0.0.1 (port chosen at run time) that records
// every request and answers with JSON shaped as in daemon/openapi.yaml.
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "promotectl/api_client.hpp"
#include "promotectl/cli.hpp"
#include "promotectl/cli_table.hpp"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using nlohmann::json;
using promoter::promotectl::ApiClient;
using promoter::promotectl::ApiClientOptions;
using promoter::promotectl::CliEnv;

constexpr std::string_view test_token = "tok-5f0c2e7a91d4b3";
const std::string sha_a = "0123456789abcdef0123456789abcdef01234567";
const std::string sha_b = "fedcba9876543210fedcba9876543210fedcba98";

struct RecordedRequest {
  std::string method;
  std::string target;  // path and query
  std::string body;
  std::string authorization;
  std::string content_type;
};

struct TestCertificate {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed certificate for `dns_name`, made in memory so that the test needs no files of its own.
TestCertificate make_self_signed(const std::string& dns_name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key != nullptr);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(dns_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  std::string san = "DNS:" + dns_name;
  for (auto [nid, value] :
       {std::pair{NID_subject_alt_name, san.c_str()}, std::pair{NID_basic_constraints, "CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    REQUIRE(ext != nullptr);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);

  auto to_pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<std::size_t>(size));
    BIO_free(bio);
    return pem;
  };
  TestCertificate out{
      to_pem([&](BIO* bio) { PEM_write_bio_X509(bio, cert); }),
      to_pem([&](BIO* bio) { PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr); }),
  };
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

// A file under the temp directory, removed when the test ends.
class TempFile {
 public:
  explicit TempFile(std::string_view content) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("promotectl_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// The fake promoterd. Answers are set per "METHOD target" before the CLI runs; anything else gets
// the API's 404 error body. It records a request before answering it, so once run_cli returns every
// request it sent is recorded: no waiting needed.
class FakePromoterd {
 public:
  explicit FakePromoterd(std::optional<TestCertificate> tls = std::nullopt) {
    if (tls) {
      tls_context_.emplace(ssl::context::tls_server);
      tls_context_->use_certificate_chain(asio::buffer(tls->cert_pem));
      tls_context_->use_private_key(asio::buffer(tls->key_pem), ssl::context::pem);
    }
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~FakePromoterd() {
    asio::post(ioc_, [this] {
      acceptor_.close();
      for (auto& hold : holds_) hold->cancel();
    });
    thread_.join();
  }

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void answer(const std::string& method, const std::string& target, int status, const json& body) {
    std::lock_guard lock(mutex_);
    answers_[method + " " + target] = {status, body.dump()};
  }
  void answer_raw(const std::string& method, const std::string& target, int status, std::string body) {
    std::lock_guard lock(mutex_);
    answers_[method + " " + target] = {status, std::move(body)};
  }
  // Read requests but never answer them: for timeouts.
  void stay_silent() { silent_ = true; }

  std::vector<RecordedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(ioc_, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    try {
      if (!tls_context_) {
        co_await exchange(socket);
      } else {
        ssl::stream<tcp::socket> stream(std::move(socket), *tls_context_);
        co_await stream.async_handshake(ssl::stream_base::server, asio::use_awaitable);
        co_await exchange(stream);
      }
    } catch (const std::exception&) {
      // The client went away or refused our certificate: nothing to answer.
    }
  }

  template <class Stream>
  asio::awaitable<void> exchange(Stream& stream) {
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      boost::system::error_code ec;
      co_await http::async_read(stream, buffer, request, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      std::pair<int, std::string> answer{
          404, json{{"error", {{"code", "not_found"}, {"message", "no such route in the fake"}}}}.dump()};
      {
        std::lock_guard lock(mutex_);
        requests_.push_back({std::string(request.method_string()), std::string(request.target()), request.body(),
                             std::string(request[http::field::authorization]),
                             std::string(request[http::field::content_type])});
        auto it = answers_.find(requests_.back().method + " " + requests_.back().target);
        if (it != answers_.end()) answer = it->second;
      }
      if (silent_) {
        auto hold = std::make_shared<asio::steady_timer>(ioc_, asio::steady_timer::time_point::max());
        holds_.push_back(hold);
        co_await hold->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        co_return;
      }
      http::response<http::string_body> response{static_cast<http::status>(answer.first), 11};
      response.set(http::field::content_type, "application/json");
      response.body() = answer.second;
      response.prepare_payload();
      co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::optional<ssl::context> tls_context_;
  std::uint16_t port_ = 0;
  std::atomic<bool> silent_{false};
  std::vector<std::shared_ptr<asio::steady_timer>> holds_;  // touched on the server thread only
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<int, std::string>> answers_;
  std::vector<RecordedRequest> requests_;
  std::thread thread_;
};

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

// Every run checks the one rule that holds for all of them: the token is never printed.
CliRun run(std::vector<std::string> args, const CliEnv& env) {
  std::ostringstream out;
  std::ostringstream err;
  int code = promoter::promotectl::run_cli(args, env, out, err);
  CHECK(out.str().find(test_token) == std::string::npos);
  CHECK(err.str().find(test_token) == std::string::npos);
  return {code, out.str(), err.str()};
}

CliEnv env_for(const FakePromoterd& server) { return CliEnv{server.url(), std::string(test_token)}; }

std::string bearer() { return "Bearer " + std::string(test_token); }

json release_json(const std::string& sha, std::string_view state, json promotion_id = nullptr) {
  return {
      {"sha", sha},
      {"author", "alice-gh"},
      {"state", state},
      {"state_reason", "waiting for gates"},
      {"first_seen_at", "2026-11-25T03:11:00.000Z"},
      {"live_at", "2026-11-25T03:12:30.000Z"},
      {"gates",
       {{"soak", {{"ok", false}, {"reason", "soak: 12m40s of 30m"}}},
        {"smoke", {{"ok", false}, {"reason", "smoke: suite e2e has not reported"}}},
        {"approval", {{"ok", true}, {"reason", "approval: approved by bob"}}}}},
      {"ready", false},
      {"soak", {{"started_at", "2026-11-25T03:12:30.000Z"}, {"deadline", "2026-11-25T03:42:30.000Z"}, {"resets", 1}}},
      {"deployments", json::array({{{"service", "api"},
                                    {"deployment_id", "d-api-1"},
                                    {"status", "SUCCESS"},
                                    {"updated_at", "2026-11-25T03:12:30.000Z"}},
                                   {{"service", "worker"},
                                    {"deployment_id", "d-worker-1"},
                                    {"status", "SUCCESS"},
                                    {"updated_at", "2026-11-25T03:12:00.000Z"}}})},
      {"smoke_results", json::array({{{"suite", "e2e"},
                                      {"passed", false},
                                      {"reported_by", "ci-bot"},
                                      {"at", "2026-11-25T03:20:00.000Z"},
                                      {"details", "checkout flow timed out"}}})},
      {"approvals", json::array({{{"by", "bob"}, {"at", "2026-11-25T03:25:00.000Z"}, {"reason", "lgtm"}}})},
      {"rejection", nullptr},
      {"promotion_id", promotion_id},
  };
}

json promotion_json(const std::string& id, const std::string& sha) {
  return {
      {"id", id},
      {"sha", sha},
      {"environment", "production"},
      {"state", "failed"},
      {"hotfix", false},
      {"created_at", "2026-11-25T04:00:00.000Z"},
      {"finished_at", "2026-11-25T04:01:10.000Z"},
      {"error", "deploy:api did not become healthy within 5m"},
      {"steps", json::array({
                    {{"index", 0},
                     {"name", "preflight"},
                     {"kind", "preflight"},
                     {"service", nullptr},
                     {"state", "succeeded"},
                     {"idempotency_key", id + ":0"},
                     {"started_at", "2026-11-25T04:00:00.000Z"},
                     {"finished_at", "2026-11-25T04:00:00.012Z"},
                     {"duration_seconds", 0.012},
                     {"detail", "gates hold"}},
                    {{"index", 1},
                     {"name", "migrate"},
                     {"kind", "migrate"},
                     {"service", nullptr},
                     {"state", "succeeded"},
                     {"idempotency_key", id + ":1"},
                     {"started_at", "2026-11-25T04:00:00.012Z"},
                     {"finished_at", "2026-11-25T04:01:05.012Z"},
                     {"duration_seconds", 65.0},
                     {"detail", "3 migrations"}},
                    {{"index", 2},
                     {"name", "deploy:api"},
                     {"kind", "deploy"},
                     {"service", "api"},
                     {"state", "failed"},
                     {"idempotency_key", id + ":2"},
                     {"started_at", "2026-11-25T04:01:05.012Z"},
                     {"finished_at", nullptr},
                     {"duration_seconds", nullptr},
                     {"detail", "health check failed"}},
                })},
  };
}

json env_report() {
  return {
      {"services",
       {{{"service", "api"},
         {"staging", {{"observed_at", "2026-12-02T10:00:00.000Z"}, {"names", {"A_KEY", "DATABASE_URL", "STRIPE_KEY"}}}},
         {"production",
          {{"observed_at", "2026-12-02T10:00:01.000Z"}, {"names", {"A_KEY", "DATABASE_URL", "PROD_DSN"}}}},
         {"missing_in_production", {"STRIPE_KEY"}},
         {"only_in_production", {"PROD_DSN"}},
         {"exempt",
          {{{"name", "PROD_DSN"}, {"only_in", "production"}, {"reason", "each environment has its own database"}}}}},
        {{"service", "worker"},
         {"staging", {{"observed_at", "2026-12-02T10:00:00.000Z"}, {"names", {"QUEUE_URL"}}}},
         {"production", nullptr},
         {"missing_in_production", json::array()},
         {"only_in_production", json::array()},
         {"exempt", json::array()}}}},
      {"history",
       {{{"id", 12},
         {"service", "api"},
         {"environment", "production"},
         {"name", "A_KEY"},
         {"kind", "added"},
         {"observed_at", "2026-12-02T09:59:00.000Z"},
         {"provider_at", "2026-12-02T09:58:30.000Z"},
         {"violation", "api: A_KEY was added in production with no change on staging"}},
        {{"id", 11},
         {"service", "api"},
         {"environment", "staging"},
         {"name", "STRIPE_KEY"},
         {"kind", "removed"},
         {"observed_at", "2026-12-02T09:00:00.000Z"},
         {"provider_at", nullptr},
         {"violation", nullptr}}}},
      {"violations",
       {{{"kind", "env_production_first"},
         {"service", "api"},
         {"name", "A_KEY"},
         {"at", "2026-12-02T09:58:30.000Z"},
         {"reason", "api: A_KEY was added in production with no change on staging"}}}},
  };
}

json flags_report() {
  return {
      {"configured", true},
      {"observed_at", {{"staging", "2026-12-02T10:00:00.000Z"}, {"production", nullptr}}},
      {"flags",
       {{{"key", "billing_v2"},
         {"staging", {{"enabled", false}, {"updated_at", "2026-12-01T08:00:00.000Z"}}},
         {"production", {{"enabled", true}, {"updated_at", nullptr}}},
         {"staging_ever_enabled", false}},
        {{"key", "dark_mode"},
         {"staging", {{"enabled", true}, {"updated_at", nullptr}}},
         {"production", nullptr},
         {"staging_ever_enabled", true}},
        {{"key", "search_v3"},
         {"staging", nullptr},
         {"production", {{"enabled", false}, {"updated_at", nullptr}}},
         {"staging_ever_enabled", false}},
        {{"key", "vetted"},
         {"staging", {{"enabled", false}, {"updated_at", nullptr}}},
         {"production", {{"enabled", true}, {"updated_at", nullptr}}},
         {"staging_ever_enabled", true}}}},
      {"history",
       {{{"id", 3},
         {"environment", "production"},
         {"key", "billing_v2"},
         {"kind", "enabled"},
         {"enabled", true},
         {"observed_at", "2026-12-02T09:30:00.000Z"},
         {"provider_at", nullptr},
         {"violation", "billing_v2 was enabled in production but never on staging"}},
        {{"id", 2},
         {"environment", "staging"},
         {"key", "dark_mode"},
         {"kind", "added"},
         {"enabled", true},
         {"observed_at", "2026-12-02T09:00:00.000Z"},
         {"provider_at", "2026-12-02T08:59:00.000Z"},
         {"violation", nullptr}}}},
      {"violations",
       {{{"kind", "flag_production_first"},
         {"service", ""},
         {"name", "billing_v2"},
         {"at", "2026-12-02T09:30:00.000Z"},
         {"reason", "billing_v2 was enabled in production but never on staging"}}}},
  };
}

json error_json(std::string_view code, std::string_view message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

const std::string& line_with(const std::vector<std::string>& all, std::string_view needle) {
  for (const auto& line : all)
    if (line.find(needle) != std::string::npos) return line;
  FAIL("no line contains " << needle);
  static const std::string none;
  return none;
}

// The first "key  value" line for `key`.
const std::string& field_line(const std::vector<std::string>& all, std::string_view key) {
  for (const auto& line : all)
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ' ') return line;
  FAIL("no field line for " << key);
  static const std::string none;
  return none;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE(
    "status sends GET /v1/status with the token and shows policy, production, counts and the short-soak warning") {
  FakePromoterd server;
  server.answer("GET", "/v1/status", 200,
                {{"version", "0.1.0"},
                 {"environment", "production"},
                 {"short_soak", true},
                 {"warnings", {"policy.soak is 60s, below the 30m floor"}},
                 {"policy",
                  {{"soak_seconds", 60},
                   {"require_smoke", true},
                   {"required_smoke_suites", {"e2e"}},
                   {"approvals_required", 1},
                   {"services", {"worker", "api", "www"}}}},
                 {"production", {{"sha", sha_b}, {"promoted_at", "2026-11-24T10:00:00.000Z"}, {"promotion_id", "6"}}},
                 {"active_promotion",
                  {{"id", "7"},
                   {"sha", sha_a},
                   {"state", "running"},
                   {"abort", {{"by", "bob"}, {"at", "2026-11-25T04:00:30.000Z"}, {"reason", "wrong image tag"}}}}},
                 {"release_counts", {{"soaking", 1}, {"promoted", 3}}},
                 {"leadership",
                  {{"role", "standby"},
                   {"instance", "deploy-2"},
                   {"epoch", 4},
                   {"leader",
                    {{"instance", "deploy-1"},
                     {"advertise_url", "http://10.0.0.5:8080"},
                     {"since", "2026-11-25T03:00:00.000Z"}}}}}});

  auto result = run({"status"}, env_for(server));

  CHECK(result.code == 0);
  CHECK(result.err.empty());
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].target == "/v1/status");
  CHECK(requests[0].authorization == bearer());
  auto out = lines(result.out);
  REQUIRE(!out.empty());
  CHECK(out[0].starts_with("WARNING: short soak mode is ON"));
  CHECK(contains(out[0], "1m"));
  CHECK(contains(result.out, "WARNING: policy.soak is 60s, below the 30m floor"));
  CHECK(contains(field_line(out, "environment"), "production"));
  CHECK(contains(field_line(out, "soak"), "1m"));
  CHECK(contains(field_line(out, "smoke"), "required (e2e)"));
  CHECK(contains(field_line(out, "approvals required"), "1"));
  CHECK(contains(field_line(out, "services"), "worker, api, www"));
  CHECK(contains(field_line(out, "production"), sha_b));
  CHECK(contains(field_line(out, "production"), "2026-11-24 10:00:00Z"));
  CHECK(contains(field_line(out, "active promotion"), "7 for " + sha_a +
                                                          ": running; abort requested by bob at "
                                                          "2026-11-25 04:00:30Z: wrong image tag"));
  CHECK(contains(field_line(out, "releases"), "promoted 3, soaking 1"));
  CHECK(field_line(out, "leader")
            .ends_with("deploy-1 (epoch 4, since 2026-11-25 03:00:00Z); answered by standby deploy-2"));
}

TEST_CASE("status in json mode keeps stdout parseable and puts the short-soak warning on stderr") {
  FakePromoterd server;
  json status{{"version", "0.1.0"},
              {"short_soak", true},
              {"warnings", json::array()},
              {"policy", {{"soak_seconds", 60}}},
              {"production", nullptr},
              {"active_promotion", nullptr},
              {"release_counts", json::object()}};
  server.answer("GET", "/v1/status", 200, status);

  auto result = run({"--output", "json", "status"}, env_for(server));

  CHECK(result.code == 0);
  CHECK(json::parse(result.out) == status);
  CHECK(contains(result.err, "WARNING: short soak mode is ON"));
}

TEST_CASE("releases passes --limit and prints one aligned row per release with each gate ok or its reason") {
  FakePromoterd server;
  json b = release_json(sha_b, "ready");
  b["author"] = "carol";
  for (auto& [name, gate] : b["gates"].items()) gate["ok"] = true;
  server.answer("GET", "/v1/releases?limit=5", 200, {{"releases", {release_json(sha_a, "soaking"), b}}});

  auto result = run({"releases", "--limit", "5"}, env_for(server));

  CHECK(result.code == 0);
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].target == "/v1/releases?limit=5");
  auto out = lines(result.out);
  REQUIRE(out.size() == 3);
  const std::string& header = out[0];
  for (auto column : {"SHA", "STATE", "SOAK", "SMOKE", "APPROVAL", "AUTHOR", "FIRST SEEN"})
    CHECK(contains(header, column));
  const std::string& row_a = line_with(out, sha_a.substr(0, 12));
  CHECK(!contains(row_a, sha_a.substr(0, 13)));
  CHECK(contains(row_a, "12m40s of 30m"));
  CHECK(!contains(row_a, "soak: 12m40s"));  // the column already says which gate
  CHECK(contains(row_a, "suite e2e has not reported"));
  CHECK(contains(row_a, "alice-gh"));
  CHECK(contains(row_a, "2026-11-25 03:11:00Z"));
  // Columns line up: each value starts under its header.
  CHECK(row_a.find("soaking") == header.find("STATE"));
  CHECK(row_a.find("alice-gh") == header.find("AUTHOR"));
  const std::string& row_b = line_with(out, sha_b.substr(0, 12));
  CHECK(row_b.find("carol") == header.find("AUTHOR"));
  CHECK(row_b.find("ok") == header.find("SOAK"));
}

TEST_CASE("releases without --limit leaves the limit to the server, and an empty list says so") {
  FakePromoterd server;
  server.answer("GET", "/v1/releases", 200, {{"releases", json::array()}});

  auto result = run({"releases"}, env_for(server));

  CHECK(result.code == 0);
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].target == "/v1/releases");
  CHECK(contains(result.out, "No releases yet"));
}

TEST_CASE("show prints the release's gates, deployments, smoke results, approvals and its promotion's steps") {
  FakePromoterd server;
  server.answer("GET", "/v1/releases/" + sha_a, 200, release_json(sha_a, "promotion_failed", "7"));
  server.answer("GET", "/v1/promotions/7", 200, promotion_json("7", sha_a));

  // Upper case is accepted and sent lower case.
  std::string upper = sha_a;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto result = run({"show", upper}, env_for(server));

  CHECK(result.code == 0);
  CHECK(result.err.empty());
  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].target == "/v1/releases/" + sha_a);
  CHECK(requests[1].target == "/v1/promotions/7");
  for (const auto& r : requests) CHECK(r.authorization == bearer());

  auto out = lines(result.out);
  // Gates in the order a release meets them.
  auto gate_header = std::ranges::find(out, line_with(out, "GATE"));
  REQUIRE(std::distance(gate_header, out.end()) > 3);
  CHECK(gate_header[1].starts_with("soak "));
  CHECK(gate_header[2].starts_with("smoke "));
  CHECK(gate_header[3].starts_with("approval "));
  CHECK(contains(field_line(out, "state"), "promotion_failed (waiting for gates)"));
  CHECK(contains(field_line(out, "soak"), "resets 1"));
  CHECK(contains(field_line(out, "promotion"), "7"));
  CHECK(contains(line_with(out, "soak: 12m40s of 30m"), "no"));
  CHECK(contains(line_with(out, "approval: approved by bob"), "yes"));
  CHECK(contains(line_with(out, "d-worker-1"), "SUCCESS"));
  CHECK(contains(line_with(out, "ci-bot"), "checkout flow timed out"));
  CHECK(contains(line_with(out, "ci-bot"), "failed"));
  CHECK(contains(line_with(out, "lgtm"), "bob"));
  CHECK(contains(field_line(out, "error"), "deploy:api did not become healthy within 5m"));
  const std::string& step_header = line_with(out, "DURATION");
  const std::string& preflight = line_with(out, "preflight");
  CHECK(contains(preflight, "succeeded"));
  CHECK(contains(preflight, "12ms"));
  CHECK(contains(preflight, "gates hold"));
  CHECK(contains(line_with(out, "3 migrations"), "1m5s"));
  const std::string& deploy = line_with(out, "health check failed");
  CHECK(deploy.starts_with("2  deploy:api"));
  CHECK(contains(deploy, "failed"));
  CHECK(deploy.find("health check failed") == step_header.find("DETAIL"));
}

TEST_CASE("show of a release without a promotion asks only for the release; json mode prints it as sent") {
  FakePromoterd server;
  json rejected = release_json(sha_a, "rejected");
  rejected["rejection"] = {{"by", "carol"}, {"at", "2026-11-25T05:00:00.000Z"}, {"reason", "breaks billing"}};
  server.answer("GET", "/v1/releases/" + sha_a, 200, rejected);

  auto table = run({"show", sha_a}, env_for(server));
  CHECK(table.code == 0);
  CHECK(contains(field_line(lines(table.out), "rejected"), "by carol at 2026-11-25 05:00:00Z: breaks billing"));
  CHECK(server.requests().size() == 1);

  auto as_json = run({"show", sha_a, "--output=json"}, env_for(server));
  CHECK(as_json.code == 0);
  CHECK(json::parse(as_json.out) == rejected);
}

TEST_CASE("approve posts the optional reason and shows the updated release") {
  FakePromoterd server;
  server.answer("POST", "/v1/releases/" + sha_a + "/approve", 200, release_json(sha_a, "ready"));

  auto with_reason = run({"approve", sha_a, "--reason", "looks good"}, env_for(server));
  auto without_reason = run({"approve", sha_a}, env_for(server));

  CHECK(with_reason.code == 0);
  CHECK(contains(with_reason.out, "Approved " + sha_a));
  CHECK(contains(with_reason.out, "approved by bob"));
  CHECK(without_reason.code == 0);
  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].target == "/v1/releases/" + sha_a + "/approve");
  CHECK(requests[0].content_type == "application/json");
  CHECK(requests[0].authorization == bearer());
  CHECK(json::parse(requests[0].body) == json{{"reason", "looks good"}});
  CHECK(json::parse(requests[1].body) == json::object());
}

TEST_CASE("reject posts the reason, and without one is a usage error that sends nothing") {
  FakePromoterd server;
  server.answer("POST", "/v1/releases/" + sha_a + "/reject", 200, release_json(sha_a, "rejected"));

  auto missing = run({"reject", sha_a}, env_for(server));
  auto empty = run({"reject", sha_a, "--reason="}, env_for(server));
  CHECK(missing.code == 2);
  CHECK(contains(missing.err, "reject needs --reason TEXT"));
  CHECK(contains(missing.err, "usage: promotectl reject SHA --reason TEXT"));
  CHECK(empty.code == 2);
  CHECK(server.requests().empty());

  auto result = run({"reject", sha_a, "--reason", "breaks billing"}, env_for(server));
  CHECK(result.code == 0);
  CHECK(contains(result.out, "Rejected " + sha_a));
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].method == "POST");
  CHECK(json::parse(server.requests()[0].body) == json{{"reason", "breaks billing"}});
}

TEST_CASE("abort posts the reason to the promotion and shows who asked; without a reason or id nothing is sent") {
  FakePromoterd server;
  json running = promotion_json("7", sha_a);
  running["state"] = "running";
  running["error"] = nullptr;
  running["abort"] = {{"by", "bob"}, {"at", "2026-11-25T04:00:30.000Z"}, {"reason", "wrong image tag"}};
  server.answer("POST", "/v1/promotions/7/abort", 202, running);

  auto missing = run({"abort", "7"}, env_for(server));
  CHECK(missing.code == 2);
  CHECK(contains(missing.err, "abort needs --reason TEXT"));
  CHECK(contains(missing.err, "usage: promotectl abort ID --reason TEXT"));
  auto bad_id = run({"abort", "../7", "--reason", "x"}, env_for(server));
  CHECK(bad_id.code == 2);
  CHECK(contains(bad_id.err, "is not a promotion id"));
  CHECK(server.requests().empty());

  auto result = run({"abort", "7", "--reason", "wrong image tag"}, env_for(server));
  CHECK(result.code == 0);
  CHECK(contains(result.out, "Abort of promotion 7 requested by bob"));
  CHECK(contains(result.out, "a step already running is not cut short"));
  const auto out = lines(result.out);
  CHECK(contains(field_line(out, "abort"), "requested by bob at"));
  CHECK(contains(field_line(out, "abort"), "wrong image tag"));
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].method == "POST");
  CHECK(server.requests()[0].target == "/v1/promotions/7/abort");
  CHECK(json::parse(server.requests()[0].body) == json{{"reason", "wrong image tag"}});
}

TEST_CASE("smoke posts suite, result and details; it needs exactly one of --passed and --failed") {
  FakePromoterd server;
  std::string target = "/v1/releases/" + sha_a + "/smoke-results";
  server.answer("POST", target, 200, release_json(sha_a, "soaking"));

  auto passed = run({"smoke", sha_a, "--suite", "e2e", "--passed", "--details", "42 checks"}, env_for(server));
  auto failed = run({"smoke", sha_a, "--suite=e2e", "--failed"}, env_for(server));
  CHECK(passed.code == 0);
  CHECK(contains(passed.out, "Recorded smoke suite e2e passed"));
  CHECK(failed.code == 0);
  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].target == target);
  CHECK(json::parse(requests[0].body) == json{{"suite", "e2e"}, {"passed", true}, {"details", "42 checks"}});
  CHECK(json::parse(requests[1].body) == json{{"suite", "e2e"}, {"passed", false}});

  CHECK(run({"smoke", sha_a, "--suite", "e2e"}, env_for(server)).code == 2);
  CHECK(run({"smoke", sha_a, "--suite", "e2e", "--passed", "--failed"}, env_for(server)).code == 2);
  CHECK(run({"smoke", sha_a, "--passed"}, env_for(server)).code == 2);
  CHECK(run({"smoke", sha_a, "--suite", "e2e", "--passed=yes"}, env_for(server)).code == 2);
  CHECK(server.requests().size() == 2);
}

TEST_CASE("promotion, promotions and audit ask for the right paths and queries and print tables") {
  FakePromoterd server;
  server.answer("GET", "/v1/promotions/7", 200, promotion_json("7", sha_a));
  json summary = promotion_json("7", sha_a);
  summary.erase("steps");
  json succeeded = promotion_json("6", sha_b);
  succeeded.erase("steps");
  succeeded["state"] = "succeeded";
  succeeded["error"] = nullptr;
  server.answer("GET", "/v1/promotions?limit=2", 200, {{"promotions", {summary, succeeded}}});
  server.answer("GET", "/v1/audit?sha=" + sha_a + "&limit=10", 200,
                {{"entries",
                  {{{"id", 12},
                    {"at", "2026-11-25T03:25:00.000Z"},
                    {"actor", "bob"},
                    {"action", "release.approved"},
                    {"sha", sha_a},
                    {"detail", "lgtm"}},
                   {{"id", 11},
                    {"at", "2026-11-25T03:00:00.000Z"},
                    {"actor", "system"},
                    {"action", "daemon.started"},
                    {"sha", nullptr},
                    {"detail", "version 0.1.0"}}}}});
  server.answer("GET", "/v1/audit", 200, {{"entries", json::array()}});

  auto promotion = run({"promotion", "7"}, env_for(server));
  CHECK(promotion.code == 0);
  CHECK(contains(line_with(lines(promotion.out), "health check failed"), "deploy:api"));

  auto promotions = run({"promotions", "--limit", "2"}, env_for(server));
  CHECK(promotions.code == 0);
  auto rows = lines(promotions.out);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].starts_with("ID"));
  CHECK(contains(line_with(rows, sha_b.substr(0, 12)), "succeeded"));
  CHECK(contains(line_with(rows, sha_a.substr(0, 12)), "deploy:api did not become healthy"));

  auto audit = run({"audit", "--limit", "10", "--sha", sha_a}, env_for(server));
  CHECK(audit.code == 0);
  auto entries = lines(audit.out);
  CHECK(contains(line_with(entries, "release.approved"), "bob"));
  CHECK(contains(line_with(entries, "release.approved"), sha_a.substr(0, 12)));
  CHECK(contains(line_with(entries, "daemon.started"), "version 0.1.0"));

  auto empty_audit = run({"audit"}, env_for(server));
  CHECK(empty_audit.code == 0);
  CHECK(contains(empty_audit.out, "No audit entries"));

  auto requests = server.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[0].target == "/v1/promotions/7");
  CHECK(requests[1].target == "/v1/promotions?limit=2");
  CHECK(requests[2].target == "/v1/audit?sha=" + sha_a + "&limit=10");
  CHECK(requests[3].target == "/v1/audit");
  for (const auto& r : requests) {
    CHECK(r.method == "GET");
    CHECK(r.authorization == bearer());
  }
}

TEST_CASE("--output json prints the server's answer pretty-printed for every listing") {
  FakePromoterd server;
  json releases{{"releases", {release_json(sha_a, "soaking")}}};
  json promotions{{"promotions", json::array()}};
  server.answer("GET", "/v1/releases", 200, releases);
  server.answer("GET", "/v1/promotions", 200, promotions);

  auto r = run({"releases", "--output", "json"}, env_for(server));
  auto p = run({"--output", "json", "promotions"}, env_for(server));

  CHECK(r.code == 0);
  CHECK(json::parse(r.out) == releases);
  CHECK(contains(r.out, "\n  \"releases\""));  // indented, for people too
  CHECK(p.code == 0);
  CHECK(json::parse(p.out) == promotions);
}

TEST_CASE("env prints each service's names with what blocks, what is exempt and why, then changes and violations") {
  FakePromoterd server;
  server.answer("GET", "/v1/env", 200, env_report());

  auto result = run({"env"}, env_for(server));

  CHECK(result.code == 0);
  CHECK(result.err.empty());
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].target == "/v1/env");
  CHECK(requests[0].authorization == bearer());

  auto out = lines(result.out);
  REQUIRE(!out.empty());
  CHECK(out[0] == "api: staging observed 2026-12-02 10:00:00Z, production observed 2026-12-02 10:00:01Z");
  const std::string& header = line_with(out, "NAME");
  for (auto column : {"STAGING", "PRODUCTION", "NOTE"}) CHECK(contains(header, column));
  const std::string& missing = line_with(out, "STRIPE_KEY");
  CHECK(missing.ends_with("missing in production (blocks)"));
  CHECK(missing.substr(header.find("STAGING"), 3) == "yes");
  CHECK(missing.substr(header.find("PRODUCTION"), 2) == "- ");
  const std::string& exempt = line_with(out, "PROD_DSN");
  CHECK(exempt.ends_with("production only: each environment has its own database"));
  CHECK(exempt.substr(header.find("STAGING"), 2) == "- ");
  CHECK(line_with(out, "DATABASE_URL").ends_with("yes"));  // on both sides: no note

  // A side not observed yet is unknown ("?"), not empty.
  CHECK(contains(result.out, "worker: staging observed 2026-12-02 10:00:00Z, production not observed yet"));
  const std::string& queue = line_with(out, "QUEUE_URL");
  CHECK(contains(queue, "yes"));
  CHECK(queue.ends_with("?"));

  const std::string& violating = line_with(out, "VIOLATION:");
  CHECK(violating.starts_with("2026-12-02 09:58:30Z"));  // the provider's time when it says
  const std::string& changes = line_with(out, "ENVIRONMENT");
  CHECK(violating.substr(changes.find("SERVICE"), 4) == "api ");
  CHECK(violating.substr(changes.find("ENVIRONMENT"), 11) == "production ");
  CHECK(violating.substr(changes.find("CHANGE"), 6) == "added ");
  CHECK(violating.substr(changes.find("NAME"), 6) == "A_KEY ");
  CHECK(violating.ends_with("VIOLATION: api: A_KEY was added in production with no change on staging"));
  const std::string& removed = line_with(out, "removed");
  CHECK(removed.starts_with("2026-12-02 09:00:00Z"));  // else when promoterd saw it
  CHECK(contains(removed, "STRIPE_KEY"));
  CHECK(!contains(removed, "VIOLATION"));

  CHECK(contains(result.out, "Policy violations"));
  const std::string& violation = line_with(out, "env_production_first");
  CHECK(contains(violation, "api"));
  CHECK(contains(violation, "A_KEY"));
}

TEST_CASE("env --service asks for that service alone, escaped; an unknown one is the server's 404") {
  FakePromoterd server;
  json api_only = env_report();
  api_only["services"].erase(1);
  api_only["violations"] = json::array();
  server.answer("GET", "/v1/env?service=api", 200, api_only);
  server.answer("GET", "/v1/env?service=nope", 404, error_json("not_found", "no service 'nope' is configured"));

  auto api = run({"env", "--service", "api"}, env_for(server));
  CHECK(api.code == 0);
  CHECK(contains(api.out, "STRIPE_KEY"));
  CHECK(!contains(api.out, "worker"));
  CHECK(!contains(api.out, "Policy violations"));  // none: no section

  auto unknown = run({"env", "--service=nope"}, env_for(server));
  CHECK(unknown.code == 1);
  CHECK(unknown.out.empty());
  CHECK(contains(unknown.err, "error: not_found: no service 'nope' is configured (HTTP 404)"));

  auto odd = run({"env", "--service", "a b&c=d"}, env_for(server));
  CHECK(odd.code == 1);

  auto empty = run({"env", "--service="}, env_for(server));
  CHECK(empty.code == 2);
  CHECK(contains(empty.err, "--service needs a service name"));

  auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].target == "/v1/env?service=api");
  CHECK(requests[1].target == "/v1/env?service=nope");
  CHECK(requests[2].target == "/v1/env?service=a%20b%26c%3Dd");
}

TEST_CASE("env and flags with --output json print the server's answer as sent") {
  FakePromoterd server;
  server.answer("GET", "/v1/env", 200, env_report());
  server.answer("GET", "/v1/flags", 200, flags_report());

  auto env = run({"env", "--output", "json"}, env_for(server));
  auto flags = run({"--output=json", "flags"}, env_for(server));

  CHECK(env.code == 0);
  CHECK(json::parse(env.out) == env_report());
  CHECK(flags.code == 0);
  CHECK(json::parse(flags.out) == flags_report());
}

TEST_CASE("flags prints on, off or absent per environment and flags what production enabled first") {
  FakePromoterd server;
  server.answer("GET", "/v1/flags", 200, flags_report());

  auto result = run({"flags"}, env_for(server));

  CHECK(result.code == 0);
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].target == "/v1/flags");
  auto out = lines(result.out);
  REQUIRE(!out.empty());
  CHECK(out[0] == "flags: staging observed 2026-12-02 10:00:00Z, production not observed yet");
  const std::string& header = line_with(out, "KEY");
  auto cell = [&](const std::string& row, std::string_view column, std::string_view value) {
    return row.substr(header.find(column), value.size()) == value;
  };
  const std::string& billing = line_with(out, "billing_v2");
  CHECK(cell(billing, "STAGING", "off"));
  CHECK(cell(billing, "PRODUCTION", "on"));
  CHECK(billing.ends_with("enabled in production, never on staging"));
  const std::string& dark = line_with(out, "dark_mode");
  CHECK(cell(dark, "STAGING", "on"));
  CHECK(cell(dark, "PRODUCTION", "absent"));
  const std::string& search = line_with(out, "search_v3");
  CHECK(cell(search, "STAGING", "absent"));
  CHECK(cell(search, "PRODUCTION", "off"));
  CHECK(!contains(search, "never on staging"));
  // Enabled in production, but staging had it enabled once: no note.
  CHECK(!contains(line_with(out, "vetted"), "never on staging"));

  const std::string& violating = line_with(out, "VIOLATION:");
  CHECK(violating.starts_with("2026-12-02 09:30:00Z"));
  const std::string& changes = line_with(out, "ENVIRONMENT");
  CHECK(violating.substr(changes.find("ENVIRONMENT"), 11) == "production ");
  CHECK(violating.substr(changes.find("CHANGE"), 8) == "enabled ");
  CHECK(violating.substr(changes.find("KEY"), 11) == "billing_v2 ");
  CHECK(violating.ends_with("VIOLATION: billing_v2 was enabled in production but never on staging"));
  CHECK(line_with(out, "added").starts_with("2026-12-02 08:59:00Z"));
  CHECK(contains(line_with(out, "flag_production_first"), "billing_v2"));
}

TEST_CASE("flags without a [flags] section says so and exits 0") {
  FakePromoterd server;
  json unconfigured{{"configured", false},
                    {"observed_at", {{"staging", nullptr}, {"production", nullptr}}},
                    {"flags", json::array()},
                    {"history", json::array()},
                    {"violations", json::array()}};
  server.answer("GET", "/v1/flags", 200, unconfigured);

  auto result = run({"flags"}, env_for(server));
  CHECK(result.code == 0);
  CHECK(result.out == "feature flags are not configured ([flags] section)\n");
  CHECK(result.err.empty());

  auto as_json = run({"flags", "--output", "json"}, env_for(server));
  CHECK(as_json.code == 0);
  CHECK(json::parse(as_json.out) == unconfigured);
}

TEST_CASE("status shows the config violation total and the recent ones; none is said plainly") {
  FakePromoterd server;
  json status{{"version", "0.1.0"},
              {"short_soak", false},
              {"warnings", json::array()},
              {"policy", {{"soak_seconds", 1800}}},
              {"production", nullptr},
              {"active_promotion", nullptr},
              {"release_counts", json::object()},
              {"config_violations", {{"total", 7}, {"recent", flags_report()["violations"]}}}};
  server.answer("GET", "/v1/status", 200, status);

  auto result = run({"status"}, env_for(server));

  CHECK(result.code == 0);
  auto out = lines(result.out);
  CHECK(contains(field_line(out, "config violations"), "7 in all (see promotectl env, promotectl flags)"));
  CHECK(contains(result.out, "Recent config violations"));
  const std::string& recent = line_with(out, "flag_production_first");
  CHECK(contains(recent, "2026-12-02 09:30:00Z"));
  CHECK(contains(recent, "billing_v2 was enabled in production but never on staging"));

  status["config_violations"] = {{"total", 0}, {"recent", json::array()}};
  server.answer("GET", "/v1/status", 200, status);
  auto quiet = run({"status"}, env_for(server));
  CHECK(quiet.code == 0);
  CHECK(field_line(lines(quiet.out), "config violations").ends_with("  none"));
  CHECK(!contains(quiet.out, "Recent config violations"));
}

TEST_CASE("show lists the env and flag gates after the built-in ones, before any other gate") {
  FakePromoterd server;
  json release = release_json(sha_a, "soaking");
  release["gates"]["custom"] = {{"ok", true}, {"reason", "custom: fine"}};
  release["gates"]["env"] = {{"ok", false}, {"reason", "env: api lacks STRIPE_KEY in production"}};
  release["gates"]["flag"] = {{"ok", true}, {"reason", "flag: not required by policy"}, {"required", false}};
  server.answer("GET", "/v1/releases/" + sha_a, 200, release);

  auto result = run({"show", sha_a}, env_for(server));

  CHECK(result.code == 0);
  auto out = lines(result.out);
  auto gate_header = std::ranges::find(out, line_with(out, "GATE"));
  REQUIRE(std::distance(gate_header, out.end()) > 5);
  CHECK(gate_header[4].starts_with("env "));
  CHECK(contains(gate_header[4], "api lacks STRIPE_KEY in production"));
  CHECK(gate_header[5].starts_with("custom "));
  CHECK(!contains(result.out, "flag: not required"));  // not enabled: left out
}

TEST_CASE("an error answer exits 1 with the server's code, message and HTTP status") {
  FakePromoterd server;
  server.answer("GET", "/v1/releases/" + sha_a, 404, error_json("not_found", "no release " + sha_a));
  server.answer("POST", "/v1/releases/" + sha_a + "/approve", 403,
                error_json("forbidden", "alice-gh is the author of this release and cannot approve it"));
  server.answer("GET", "/v1/status", 401, error_json("unauthorized", "unknown token"));
  server.answer_raw("GET", "/v1/promotions", 502, "<html>Bad Gateway</html>");

  auto missing = run({"show", sha_a}, env_for(server));
  CHECK(missing.code == 1);
  CHECK(missing.out.empty());
  CHECK(contains(missing.err, "error: not_found: no release " + sha_a + " (HTTP 404)"));

  auto forbidden = run({"approve", sha_a}, env_for(server));
  CHECK(forbidden.code == 1);
  CHECK(contains(forbidden.err,
                 "error: forbidden: alice-gh is the author of this release and cannot approve it (HTTP 403)"));

  auto unauthorized = run({"status"}, env_for(server));
  CHECK(unauthorized.code == 1);
  CHECK(contains(unauthorized.err, "error: unauthorized: unknown token (HTTP 401)"));
  CHECK(contains(unauthorized.err, "PROMOTER_TOKEN"));

  auto gateway = run({"promotions"}, env_for(server));
  CHECK(gateway.code == 1);
  CHECK(contains(gateway.err, "HTTP 502"));
  CHECK(contains(gateway.err, "Bad Gateway"));
}

TEST_CASE("a successful answer that is not JSON is reported, not printed as a table") {
  FakePromoterd server;
  server.answer_raw("GET", "/v1/status", 200, "not json");

  auto result = run({"status"}, env_for(server));

  CHECK(result.code == 1);
  CHECK(contains(result.err, "not JSON"));
}

TEST_CASE("an unreachable server exits 1 and names the URL it tried") {
  std::uint16_t port = 0;
  {
    asio::io_context ioc;
    tcp::acceptor probe(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }  // closed again: nothing listens there now
  std::string url = "http://127.0.0.1:" + std::to_string(port);

  auto result = run({"--url", url, "status"}, CliEnv{std::nullopt, std::string(test_token)});

  CHECK(result.code == 1);
  CHECK(contains(result.err, "could not reach promoterd at " + url));
  CHECK(contains(result.err, "refused"));
}

TEST_CASE("the URL comes from --url, else PROMOTER_URL; a path prefix is kept") {
  FakePromoterd server;
  server.answer("GET", "/promoter/v1/status", 200, {{"version", "0.1.0"}});
  server.answer("GET", "/v1/status", 200, {{"version", "0.1.0"}});

  CHECK(run({"status"}, CliEnv{server.url() + "/promoter/", std::string(test_token)}).code == 0);
  CHECK(run({"status", "--url", server.url()}, CliEnv{"http://127.0.0.1:1", std::string(test_token)}).code == 0);

  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].target == "/promoter/v1/status");
  CHECK(requests[1].target == "/v1/status");
}

TEST_CASE("--token-file takes precedence over PROMOTER_TOKEN and is trimmed") {
  FakePromoterd server;
  server.answer("GET", "/v1/status", 200, {{"version", "0.1.0"}});
  TempFile token_file(std::string(test_token) + "\n");

  auto result = run({"--token-file", token_file.path(), "status"}, CliEnv{server.url(), "env-token"});

  CHECK(result.code == 0);
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].authorization == bearer());

  auto missing = run({"--token-file", "/nonexistent/promotectl-token", "status"}, CliEnv{server.url(), std::nullopt});
  CHECK(missing.code == 2);
  CHECK(contains(missing.err, "cannot read the token file /nonexistent/promotectl-token"));

  TempFile two_lines(std::string(test_token) + "\nsecond line\n");
  auto bad = run({"--token-file", two_lines.path(), "status"}, CliEnv{server.url(), std::nullopt});
  CHECK(bad.code == 2);
  CHECK(server.requests().size() == 1);
}

TEST_CASE("usage errors exit 2 with a hint and send nothing") {
  FakePromoterd server;
  CliEnv env = env_for(server);
  struct Case {
    std::vector<std::string> args;
    std::string_view message;
  };
  std::vector<Case> cases{
      {{}, "no command given"},
      {{"deploy"}, "unknown command 'deploy'"},
      {{"show"}, "show takes 1 argument, got 0"},
      {{"show", sha_a, sha_b}, "show takes 1 argument, got 2"},
      {{"show", "012"}, "a SHA prefix has 4 to 40 hex digits; got 3 characters"},
      {{"show", sha_a + "0"}, "a SHA prefix has 4 to 40 hex digits; got 41 characters"},
      {{"approve", "01x3"}, "'01x3' is not a commit SHA: a SHA prefix has only hex digits"},
      {{"show", std::string(39, 'a') + "g"}, "only hex digits"},
      {{"status", "--verbose"}, "status has no option '--verbose'"},
      {{"--limit", "5", "releases"}, "--limit belongs after the command it is for"},
      {{"-o", "json", "status"}, "unknown option '-o'"},
      {{"releases", "--limit", "0"}, "--limit must be a positive whole number"},
      {{"releases", "--limit", "ten"}, "--limit must be a positive whole number"},
      {{"releases", "--limit"}, "--limit needs a value"},
      {{"releases", "--limit", "1", "--limit", "2"}, "--limit given twice"},
      {{"--output", "yaml", "status"}, "--output is table or json"},
      {{"audit", "--sha", "abc"}, "is not a commit SHA"},
      {{"promotion", "../status"}, "is not a promotion id"},
      {{"--url", "ftp://example.com", "status"}, "must start with http:// or https://"},
      {{"--url", "http://user:hunter2@example.com", "status"}, "the promoterd URL holds credentials"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    auto result = run(c.args, env);
    CHECK(result.code == 2);
    CHECK(result.out.empty());
    CHECK(contains(result.err, c.message));
    CHECK(contains(result.err, "promotectl --help"));
    CHECK(!contains(result.err, "hunter2"));
  }

  auto no_token = run({"status"}, CliEnv{server.url(), std::nullopt});
  CHECK(no_token.code == 2);
  CHECK(contains(no_token.err, "set PROMOTER_TOKEN or pass --token-file"));

  CHECK(server.requests().empty());
}

TEST_CASE("a unique SHA prefix, in either case, is resolved by the server to the full SHA the command then uses") {
  FakePromoterd server;
  CliEnv env = env_for(server);
  server.answer("GET", "/v1/releases?sha_prefix=0123456789ab&limit=10", 200,
                {{"releases", json::array({release_json(sha_a, "soaking")})}, {"next_before", nullptr}});
  server.answer("GET", "/v1/releases/" + sha_a, 200, release_json(sha_a, "soaking"));
  server.answer("POST", "/v1/releases/" + sha_a + "/approve", 200, release_json(sha_a, "ready"));

  auto show = run({"show", "0123456789AB"}, env);
  CHECK(show.code == 0);
  CHECK(contains(show.out, sha_a));
  auto approve = run({"approve", "0123456789ab"}, env);
  CHECK(approve.code == 0);
  CHECK(contains(approve.out, "Approved " + sha_a + "."));

  auto requests = server.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[0].target == "/v1/releases?sha_prefix=0123456789ab&limit=10");
  CHECK(requests[1].target == "/v1/releases/" + sha_a);
  CHECK(requests[2].target == "/v1/releases?sha_prefix=0123456789ab&limit=10");
  CHECK(requests[3].method == "POST");
  CHECK(requests[3].target == "/v1/releases/" + sha_a + "/approve");
}

TEST_CASE("a full SHA is used as given, without a lookup") {
  FakePromoterd server;
  server.answer("GET", "/v1/releases/" + sha_a, 200, release_json(sha_a, "soaking"));
  CHECK(run({"show", sha_a}, env_for(server)).code == 0);
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target == "/v1/releases/" + sha_a);
}

TEST_CASE("an ambiguous SHA prefix is refused with exit 2, lists every candidate and changes nothing") {
  FakePromoterd server;
  const std::string sha_c = "0123ffff89abcdef0123456789abcdef01234567";
  server.answer("GET", "/v1/releases?sha_prefix=0123&limit=10", 200,
                {{"releases", json::array({release_json(sha_c, "superseded"), release_json(sha_a, "soaking")})},
                 {"next_before", nullptr}});

  auto result = run({"approve", "0123", "--reason", "lgtm"}, env_for(server));
  CHECK(result.code == 2);
  CHECK(result.out.empty());
  CHECK(contains(result.err, "SHA prefix '0123' is ambiguous; it matches 2 releases"));
  auto listed = lines(result.err);
  CHECK(contains(line_with(listed, sha_a.substr(0, 12)), "soaking"));
  CHECK(contains(line_with(listed, sha_c.substr(0, 12)), "superseded"));
  CHECK(contains(result.err, "Give more digits"));
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "GET");
}

TEST_CASE("a SHA prefix no release has is reported as such with exit 1") {
  FakePromoterd server;
  server.answer("GET", "/v1/releases?sha_prefix=beef&limit=10", 200,
                {{"releases", json::array()}, {"next_before", nullptr}});
  for (std::vector<std::string> args :
       {std::vector<std::string>{"show", "beef"}, std::vector<std::string>{"audit", "--sha", "BEEF"},
        std::vector<std::string>{"hotfix", "beef", "--reason", "r", "--incident", "u"}}) {
    CAPTURE(args[0]);
    auto result = run(args, env_for(server));
    CHECK(result.code == 1);
    CHECK(result.out.empty());
    CHECK(contains(result.err, "no release matches SHA prefix 'beef'"));
  }
  for (const auto& request : server.requests()) CHECK(request.method == "GET");
}

TEST_CASE("--help prints the usage and exits 0, also after a command") {
  auto top = run({"--help"}, CliEnv{});
  CHECK(top.code == 0);
  CHECK(top.out.starts_with("usage: promotectl [--url URL] [--output table|json]"));
  for (auto synopsis :
       {"status", "releases [--limit N]", "show SHA", "approve SHA [--reason TEXT]", "reject SHA --reason TEXT",
        "smoke SHA --suite NAME (--passed | --failed) [--details TEXT]", "promotion ID", "promotions [--limit N]",
        "audit [--limit N] [--sha SHA]", "env [--service NAME]", "flags\n"})
    CHECK(contains(top.out, synopsis));
  CHECK(contains(top.out, "a prefix of at least 4"));
  CHECK(run({"reject", "-h"}, CliEnv{}).code == 0);
}

TEST_CASE("an option value is taken as given, dashes and all; after -- nothing is an option") {
  FakePromoterd server;
  server.answer("GET", "/v1/status", 200, {{"version", "0.1.0"}});
  server.answer("POST", "/v1/releases/" + sha_a + "/reject", 200, release_json(sha_a, "rejected"));

  CHECK(run({"--", "status"}, env_for(server)).code == 0);
  CHECK(run({"reject", "--reason", "--force was used", sha_a}, env_for(server)).code == 0);
  auto dashed = run({"reject", sha_a, "--", "--reason"}, env_for(server));
  CHECK(dashed.code == 2);
  CHECK(contains(dashed.err, "reject takes 1 argument, got 2"));

  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].target == "/v1/status");
  CHECK(json::parse(requests[1].body) == json{{"reason", "--force was used"}});
}

TEST_CASE("text from the server cannot smuggle terminal escapes or line breaks into the output") {
  FakePromoterd server;
  json release = release_json(sha_a, "soaking");
  release["author"] = "mallory\x1b]0;owned\x07\nFAKE LINE";
  server.answer("GET", "/v1/releases", 200, {{"releases", {release}}});
  server.answer("GET", "/v1/releases/" + sha_a, 200, release);

  for (std::vector<std::string> args :
       {std::vector<std::string>{"releases"}, std::vector<std::string>{"show", sha_a}}) {
    auto result = run(args, env_for(server));
    CHECK(result.code == 0);
    CHECK(result.out.find('\x1b') == std::string::npos);
    CHECK(result.out.find('\x07') == std::string::npos);
    CHECK(contains(result.out, "mallory?]0;owned??FAKE LINE"));
  }
}

TEST_CASE("tables pad every column but the last and count UTF-8 characters, not bytes") {
  promoter::promotectl::Table table({"NAME", "NOTE"});
  table.add_row({"zoë", "first"});
  table.add_row({"bartholomew", "second", "extra"});
  table.add_row({"al"});
  std::ostringstream out;
  table.print(out);

  CHECK(out.str() ==
        "NAME         NOTE\n"
        "zoë          first\n"
        "bartholomew  second  extra\n"
        "al\n");
  CHECK(promoter::promotectl::display_width("zoë") == 3);
  CHECK(promoter::promotectl::printable("a\tb\x1b[0m\xc2\x9b") == "a b?[0m?");
}

TEST_CASE("https: the certificate chain and the host name are verified") {
  TestCertificate cert = make_self_signed("localhost");
  FakePromoterd server(cert);
  server.answer("GET", "/v1/status", 200, {{"version", "0.1.0"}});
  std::string port = std::to_string(server.port());
  TempFile ca(cert.cert_pem);
  ApiClientOptions trusting;
  trusting.ca_file = ca.path();

  SUBCASE("an untrusted certificate is refused") {
    ApiClient client("https://localhost:" + port, "t");
    auto response = client.get("/v1/status");
    REQUIRE(!response);
    CHECK(contains(response.error().message, "https://localhost:" + port));
    CHECK(contains(response.error().message, "certificate"));
  }
  SUBCASE("a trusted certificate for the right name is accepted") {
    ApiClient client("https://localhost:" + port, "t", trusting);
    auto response = client.get("/v1/status");
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(json::parse(response->body)["version"] == "0.1.0");
  }
  SUBCASE("a trusted certificate for another name is refused") {
    ApiClient client("https://127.0.0.1:" + port, "t", trusting);
    auto response = client.get("/v1/status");
    REQUIRE(!response);
    CHECK(contains(response.error().message, "mismatch"));
  }
}

TEST_CASE("a server that never answers is given up on at the deadline") {
  FakePromoterd server;
  server.stay_silent();
  ApiClientOptions impatient;
  impatient.timeout = std::chrono::milliseconds(200);
  ApiClient client(server.url(), "t", impatient);

  auto response = client.get("/v1/status");

  REQUIRE(!response);
  CHECK(contains(response.error().message, server.url()));
  CHECK(contains(response.error().message, "timed out"));
  CHECK(server.requests().size() == 1);
}
