// The daemon's HTTP server, router and bearer-token auth, driven over real sockets on 127.0.0.1.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "daemon/http/auth.hpp"
#include "daemon/http/http_server.hpp"
#include "daemon/http/router.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using promoter::daemon::HttpRequest;
using promoter::daemon::HttpResponse;
using promoter::daemon::HttpServer;
using promoter::daemon::Principal;
using promoter::daemon::Role;
using promoter::daemon::RouteAccess;
using promoter::daemon::Router;
using promoter::daemon::ServerHooks;
using promoter::daemon::ServerLimits;
using promoter::daemon::StoredToken;
using promoter::daemon::TokenEntry;
using promoter::daemon::TokenRegistry;
using namespace std::chrono_literals;

constexpr std::string_view viewer_token = "viewer-token-0123456789";
constexpr std::string_view ci_token = "ci-token-0123456789";
constexpr std::string_view operator_token = "operator-token-0123456789";

std::vector<TokenEntry> test_tokens() {
  return {
      {"vera", Role::viewer, std::string(viewer_token), {}},
      {"ci-bot", Role::ci, std::string(ci_token), {}},
      {"olga", Role::operator_, std::string(operator_token), {"olga-gh", "olga@example.com"}},
  };
}

std::string sv(beast::string_view text) { return std::string(text.data(), text.size()); }

using Response = http::response<http::string_body>;

// A synchronous client for the tests. Every operation runs the client's own io_context under a
// 5 s deadline, so a server that misbehaves fails the test instead of hanging it.
class Client {
 public:
  // `from`: the loopback address to connect from (127.0.0.x), so the server sees distinct peers.
  explicit Client(unsigned short port, const char* from = nullptr) : stream_(ioc_) {
    beast::error_code result;
    if (from != nullptr) {
      stream_.socket().open(tcp::v4());
      stream_.socket().bind(tcp::endpoint(asio::ip::make_address(from), 0));
    }
    stream_.expires_after(timeout);
    stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                          [&](beast::error_code ec) { result = ec; });
    drive();
    REQUIRE_MESSAGE(!result, "connect: " << result.message());
  }

  beast::error_code write_raw(std::string_view bytes) {
    beast::error_code result;
    stream_.expires_after(timeout);
    asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()),
                      [&](beast::error_code ec, std::size_t) { result = ec; });
    drive();
    return result;
  }

  std::optional<Response> read_response(beast::error_code* error = nullptr) {
    beast::error_code result;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    stream_.expires_after(timeout);
    http::async_read(stream_, buffer_, parser, [&](beast::error_code ec, std::size_t) { result = ec; });
    drive();
    if (error != nullptr) *error = result;
    if (result) return std::nullopt;
    return parser.release();
  }

  Response request(http::verb method, std::string target, std::optional<std::string_view> token = std::nullopt,
                   std::string body = {}, bool keep_alive = true) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (token) req.set(http::field::authorization, "Bearer " + std::string(*token));
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.keep_alive(keep_alive);
    req.prepare_payload();
    beast::error_code result;
    stream_.expires_after(timeout);
    http::async_write(stream_, req, [&](beast::error_code ec, std::size_t) { result = ec; });
    drive();
    REQUIRE_MESSAGE(!result, "write: " << result.message());
    beast::error_code read_error;
    auto response = read_response(&read_error);
    REQUIRE_MESSAGE(response.has_value(), "read: " << read_error.message());
    return std::move(*response);
  }

  // Reads until the server closes; returns how the read ended (eof or a reset) — or timeout if
  // the server never closed.
  beast::error_code wait_closed() {
    beast::error_code result;
    std::array<char, 4096> sink;
    for (;;) {
      stream_.expires_after(timeout);
      stream_.async_read_some(asio::buffer(sink), [&](beast::error_code ec, std::size_t) { result = ec; });
      drive();
      if (result) return result;
    }
  }

  void close() { stream_.close(); }

 private:
  static constexpr auto timeout = 5s;
  void drive() {
    ioc_.restart();
    ioc_.run();
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

bool closed_by_peer(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == http::error::end_of_stream;
}

nlohmann::json json_of(const Response& response) { return nlohmann::json::parse(response.body()); }

std::string error_code_of(const Response& response) { return json_of(response)["error"]["code"]; }
std::string error_message_of(const Response& response) { return json_of(response)["error"]["message"]; }

asio::awaitable<HttpResponse> echo(HttpRequest& request) {
  nlohmann::json out{{"path", request.path},    {"target", request.target}, {"params", request.params},
                     {"query", request.query},  {"route", request.route},   {"body", request.body},
                     {"remote", request.remote}};
  if (request.principal) {
    out["identity"] = request.principal->identity;
    out["role"] = to_string(request.principal->role);
    out["git_authors"] = request.principal->git_authors;
  } else {
    out["identity"] = nullptr;
  }
  co_return HttpResponse::json(200, out);
}

struct AuthFailure {
  unsigned status;
  std::string reason;
  std::string route;
  std::optional<std::string> identity;
};

struct RequestRecord {
  std::string method;
  std::string route;
  unsigned status;
  double seconds;
};

// A server on 127.0.0.1:<free port> run by its own thread. The destructor stops it and checks that
// the io_context then runs out of work.
class TestServer {
 public:
  explicit TestServer(ServerLimits limits = test_limits()) : tokens(test_tokens()) {
    const RouteAccess anyone{true, {Role::viewer, Role::ci, Role::operator_}};
    const RouteAccess operators{true, {Role::operator_}};
    router.add(http::verb::get, "/healthz", RouteAccess{false, {}}, [](HttpRequest&) -> asio::awaitable<HttpResponse> {
      co_return HttpResponse::json(200, {{"status", "ok"}});
    });
    router.add(http::verb::get, "/v1/releases/{sha}", anyone, echo);
    router.add(http::verb::get, "/v1/releases/latest", anyone, [](HttpRequest&) -> asio::awaitable<HttpResponse> {
      co_return HttpResponse::json(200, {{"latest", true}});
    });
    router.add(http::verb::post, "/v1/releases/{sha}/approve", operators, echo);
    router.add(http::verb::post, "/v1/releases/{sha}/smoke-results", RouteAccess{true, {Role::ci, Role::operator_}},
               echo);
    router.add(http::verb::get, "/v1/items", anyone, echo);
    router.add(http::verb::post, "/v1/items", operators, echo);
    router.add(http::verb::get, "/v1/boom", RouteAccess{false, {}}, [](HttpRequest&) -> asio::awaitable<HttpResponse> {
      throw std::runtime_error("kaboom: internal detail that must not reach the client");
      co_return HttpResponse::json(200, {});
    });
    router.add(http::verb::get, "/v1/slow", RouteAccess{false, {}},
               [this](HttpRequest&) -> asio::awaitable<HttpResponse> {
                 slow_entered.set_value();
                 beast::error_code ec;
                 co_await gate.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                 co_return HttpResponse::json(200, {{"finished", true}});
               });

    ServerHooks hooks;
    hooks.on_auth_failure = [this](const HttpRequest& request, unsigned status, promoter::daemon::AuthRefusal,
                                   std::string_view reason) {
      std::lock_guard lock(mutex);
      auth_failures.push_back(
          AuthFailure{status, std::string(reason), request.route,
                      request.principal ? std::optional<std::string>(request.principal->identity) : std::nullopt});
    };
    hooks.on_connection_refused = [this](promoter::daemon::ConnectionRefusal why) {
      std::lock_guard lock(mutex);
      refusals.push_back(why);
    };
    hooks.on_request = [this](std::string_view method, std::string_view route, unsigned status, double seconds) {
      std::lock_guard lock(mutex);
      requests.push_back(RequestRecord{std::string(method), std::string(route), status, seconds});
    };

    server = std::make_unique<HttpServer>(ioc, router, tokens, limits, std::move(hooks));
    auto listening = server->listen("127.0.0.1", 0);
    REQUIRE_MESSAGE(listening.has_value(), listening.error().message);
    REQUIRE(server->port() != 0);
    server->start();
    thread = std::thread([this] {
      ioc.run();
      ran_out.set_value();
    });
  }

  ~TestServer() {
    server->stop();
    auto finished = ran_out.get_future();
    const bool ran_out_of_work = finished.wait_for(10s) == std::future_status::ready;
    CHECK_MESSAGE(ran_out_of_work, "io_context still had work 10 s after stop()");
    if (!ran_out_of_work) ioc.stop();
    thread.join();
  }

  static ServerLimits test_limits() {
    ServerLimits limits;
    limits.max_body_bytes = 64 * 1024;
    limits.read_timeout = 2s;
    limits.header_timeout = 2s;
    return limits;
  }

  unsigned short port() const { return server->port(); }

  std::vector<AuthFailure> auth_failures_seen() {
    std::lock_guard lock(mutex);
    return auth_failures;
  }
  std::vector<RequestRecord> requests_seen() {
    std::lock_guard lock(mutex);
    return requests;
  }
  std::vector<promoter::daemon::ConnectionRefusal> refusals_seen() {
    std::lock_guard lock(mutex);
    return refusals;
  }

  asio::io_context ioc;
  Router router;
  TokenRegistry tokens;
  asio::steady_timer gate{ioc, std::chrono::steady_clock::time_point::max()};  // holds /v1/slow
  std::promise<void> slow_entered;
  std::unique_ptr<HttpServer> server;

 private:
  std::promise<void> ran_out;
  std::thread thread;
  std::mutex mutex;
  std::vector<AuthFailure> auth_failures;
  std::vector<RequestRecord> requests;
  std::vector<promoter::daemon::ConnectionRefusal> refusals;
};

// Compile-time checks that no plaintext token is reachable through the registry's types.
template <class T>
concept HoldsToken = requires(T stored) {
  stored.token;
};
template <class T>
concept ListsTokens = requires(const T& registry) {
  registry.tokens();
};

void check_standard_headers(const Response& response) {
  CHECK(sv(response[http::field::cache_control]) == "no-store");
  CHECK_FALSE(response[http::field::content_type].empty());
  CHECK(sv(response[http::field::content_length]) == std::to_string(response.body().size()));
}

}  // namespace

TEST_CASE("route parameters and query parameters reach the handler percent-decoded") {
  TestServer server;
  Client client(server.port());
  auto response = client.request(http::verb::get, "/v1/releases/abc%20def?limit=5&q=a+b%26c&empty", viewer_token);
  REQUIRE(response.result_int() == 200);
  check_standard_headers(response);
  CHECK(sv(response[http::field::content_type]) == "application/json");
  auto body = json_of(response);
  CHECK(body["params"]["sha"] == "abc def");
  CHECK(body["path"] == "/v1/releases/abc def");
  CHECK(body["target"] == "/v1/releases/abc%20def?limit=5&q=a+b%26c&empty");
  CHECK(body["query"]["limit"] == "5");
  CHECK(body["query"]["q"] == "a b&c");
  CHECK(body["query"]["empty"] == "");
  CHECK(body["route"] == "/v1/releases/{sha}");
  CHECK(body["remote"] == "127.0.0.1");

  // A literal segment beats a parameter.
  CHECK(json_of(client.request(http::verb::get, "/v1/releases/latest", viewer_token))["latest"] == true);
}

TEST_CASE("a target that could smuggle segments or is ambiguous is refused with 400") {
  TestServer server;
  Client client(server.port());
  auto encoded_slash = client.request(http::verb::post, "/v1/releases/abc%2Fapprove", operator_token);
  CHECK(encoded_slash.result_int() == 400);
  CHECK(error_code_of(encoded_slash) == "invalid_argument");
  auto repeated = client.request(http::verb::get, "/v1/items?limit=1&limit=2", viewer_token);
  CHECK(repeated.result_int() == 400);
  CHECK(error_message_of(repeated) == "query parameter 'limit' is given more than once");
  auto bad_escape = client.request(http::verb::get, "/v1/items?x=%zz", viewer_token);
  CHECK(bad_escape.result_int() == 400);
}

TEST_CASE("an unknown route is 404 not_found with the error shape and the metrics label 'unmatched'") {
  TestServer server;
  Client client(server.port());
  auto response = client.request(http::verb::get, "/v1/nope", viewer_token);
  CHECK(response.result_int() == 404);
  check_standard_headers(response);
  CHECK(error_code_of(response) == "not_found");
  CHECK(client.request(http::verb::get, "/v1/releases/", viewer_token).result_int() == 404);  // empty parameter

  auto seen = server.requests_seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].route == "unmatched");
  CHECK(seen[0].status == 404);
  CHECK(seen[0].seconds >= 0.0);
}

TEST_CASE("a known path with another method is 405 with an exact Allow header") {
  TestServer server;
  Client client(server.port());
  auto items = client.request(http::verb::delete_, "/v1/items", operator_token);
  CHECK(items.result_int() == 405);
  CHECK(sv(items[http::field::allow]) == "GET, POST");
  CHECK(error_code_of(items) == "method_not_allowed");
  check_standard_headers(items);

  auto approve = client.request(http::verb::get, "/v1/releases/abc/approve", operator_token);
  CHECK(approve.result_int() == 405);
  CHECK(sv(approve[http::field::allow]) == "POST");
}

TEST_CASE("a protected route without a valid bearer token is 401 and the token is never echoed") {
  TestServer server;
  Client client(server.port());

  auto missing = client.request(http::verb::get, "/v1/items");
  CHECK(missing.result_int() == 401);
  CHECK(sv(missing[http::field::www_authenticate]) == "Bearer");
  CHECK(error_code_of(missing) == "unauthorized");
  CHECK(error_message_of(missing) == "missing bearer token");

  const std::string wrong = "not-a-real-token-but-long-enough";
  auto invalid = client.request(http::verb::get, "/v1/items", wrong);
  CHECK(invalid.result_int() == 401);
  CHECK(sv(invalid[http::field::www_authenticate]) == "Bearer");
  CHECK(error_message_of(invalid) == "invalid bearer token");
  CHECK(invalid.body().find(wrong) == std::string::npos);

  // Another scheme is no bearer token at all.
  http::request<http::string_body> basic{http::verb::get, "/v1/items", 11};
  basic.set(http::field::host, "x");
  basic.set(http::field::authorization, "Basic dmVyYTpzZWNyZXQ=");
  basic.prepare_payload();
  std::ostringstream raw;
  raw << basic;
  REQUIRE(!client.write_raw(raw.str()));
  auto basic_response = client.read_response();
  REQUIRE(basic_response);
  CHECK(error_message_of(*basic_response) == "missing bearer token");

  auto failures = server.auth_failures_seen();
  REQUIRE(failures.size() == 3);
  CHECK(failures[0].status == 401);
  CHECK(failures[0].reason == "missing bearer token");
  CHECK(failures[0].route == "/v1/items");
  CHECK_FALSE(failures[0].identity.has_value());
  CHECK(failures[1].reason == "invalid bearer token");
  for (const auto& failure : failures) CHECK(failure.reason.find(wrong) == std::string::npos);

  // Public routes need nothing.
  CHECK(client.request(http::verb::get, "/healthz").result_int() == 200);
}

TEST_CASE("a valid token whose role is not allowed is 403 naming the role needed") {
  TestServer server;
  Client client(server.port());
  auto response = client.request(http::verb::post, "/v1/releases/abc/approve", viewer_token, R"({"reason":"x"})");
  CHECK(response.result_int() == 403);
  CHECK(error_code_of(response) == "forbidden");
  CHECK(error_message_of(response) == "role viewer may not POST /v1/releases/{sha}/approve; needs operator");

  auto ci = client.request(http::verb::post, "/v1/items", ci_token);
  CHECK(error_message_of(ci) == "role ci may not POST /v1/items; needs operator");
  auto smoke = client.request(http::verb::post, "/v1/releases/abc/smoke-results", viewer_token);
  CHECK(error_message_of(smoke) == "role viewer may not POST /v1/releases/{sha}/smoke-results; needs ci or operator");

  auto failures = server.auth_failures_seen();
  REQUIRE(failures.size() == 3);
  CHECK(failures[0].status == 403);
  CHECK(failures[0].identity == std::optional<std::string>("vera"));
  CHECK(failures[0].route == "/v1/releases/{sha}/approve");
}

TEST_CASE("a valid token with an allowed role reaches the handler with its principal") {
  TestServer server;
  Client client(server.port());
  auto response = client.request(http::verb::post, "/v1/releases/abc/approve", operator_token, R"({"reason":"lgtm"})");
  REQUIRE(response.result_int() == 200);
  auto body = json_of(response);
  CHECK(body["identity"] == "olga");
  CHECK(body["role"] == "operator");
  CHECK(body["git_authors"] == nlohmann::json::array({"olga-gh", "olga@example.com"}));
  CHECK(body["body"] == R"({"reason":"lgtm"})");
  CHECK(body["params"]["sha"] == "abc");

  auto smoke = client.request(http::verb::post, "/v1/releases/abc/smoke-results", ci_token, R"({"suite":"e2e"})");
  CHECK(smoke.result_int() == 200);
  CHECK(json_of(smoke)["identity"] == "ci-bot");
  CHECK(server.auth_failures_seen().empty());

  auto seen = server.requests_seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].route == "/v1/releases/{sha}/approve");
  CHECK(seen[0].status == 200);
}

TEST_CASE("a body over max_body_bytes is 413 and the connection is closed") {
  TestServer server;  // max_body_bytes = 64 KiB

  SUBCASE("announced by Content-Length, body not sent") {
    Client client(server.port());
    REQUIRE(!client.write_raw("POST /v1/items HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->result_int() == 413);
    CHECK(error_code_of(*response) == "payload_too_large");
    check_standard_headers(*response);
    CHECK(closed_by_peer(client.wait_closed()));
  }
  SUBCASE("the whole body sent: the client still reads the 413 rather than a reset") {
    Client client(server.port());
    const std::string body(4 * 1024 * 1024, 'x');
    REQUIRE(!client.write_raw("POST /v1/items HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                              "\r\n\r\n" + body));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->result_int() == 413);
  }
  SUBCASE("chunked, without a length up front") {
    Client client(server.port());
    std::string chunk(32 * 1024, 'y');
    std::string raw = "POST /v1/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) raw += "8000\r\n" + chunk + "\r\n";
    raw += "0\r\n\r\n";
    REQUIRE(!client.write_raw(raw));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->result_int() == 413);
  }
}

TEST_CASE("headers over max_header_bytes are 431 and a target over max_target_bytes is 414") {
  TestServer server;
  {
    Client client(server.port());
    REQUIRE(!client.write_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fill: " + std::string(10000, 'a') + "\r\n\r\n"));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->result_int() == 431);
    CHECK(error_code_of(*response) == "headers_too_large");
    CHECK(closed_by_peer(client.wait_closed()));
  }
  {
    Client client(server.port());
    auto response = client.request(http::verb::get, "/v1/items?x=" + std::string(3000, 'a'), viewer_token);
    CHECK(response.result_int() == 414);
    CHECK(error_code_of(response) == "uri_too_long");
    check_standard_headers(response);
    CHECK(closed_by_peer(client.wait_closed()));
  }
}

TEST_CASE("a malformed request is answered 400 and the connection closed") {
  TestServer server;
  Client client(server.port());
  REQUIRE(!client.write_raw("this is not HTTP at all\r\n\r\n"));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->result_int() == 400);
  CHECK(error_code_of(*response) == "invalid_argument");
  CHECK(closed_by_peer(client.wait_closed()));
}

TEST_CASE("keep-alive serves several requests on one connection until the client asks to close") {
  TestServer server;
  Client client(server.port());
  auto first = client.request(http::verb::get, "/healthz");
  CHECK(first.result_int() == 200);
  CHECK(first.keep_alive());
  auto second = client.request(http::verb::get, "/v1/releases/abc", viewer_token);
  CHECK(second.result_int() == 200);
  CHECK(json_of(second)["identity"] == "vera");
  auto last = client.request(http::verb::get, "/healthz", std::nullopt, {}, false);
  CHECK(last.result_int() == 200);
  CHECK_FALSE(last.keep_alive());
  CHECK(closed_by_peer(client.wait_closed()));
}

TEST_CASE("a client that sends half a request header is disconnected after header_timeout") {
  auto limits = TestServer::test_limits();
  limits.header_timeout = 200ms;
  TestServer server(limits);

  Client slow(server.port());
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(!slow.write_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: "));
  const auto ended_with = slow.wait_closed();
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK_MESSAGE(closed_by_peer(ended_with), ended_with.message());
  CHECK(elapsed >= 190ms);
  CHECK(elapsed < 4s);

  // A connection that never says anything is closed too.
  Client silent(server.port());
  CHECK(closed_by_peer(silent.wait_closed()));
}

TEST_CASE("a keep-alive connection idle for header_timeout is closed") {
  auto limits = TestServer::test_limits();
  limits.header_timeout = 200ms;
  TestServer server(limits);
  Client client(server.port());
  REQUIRE(client.request(http::verb::get, "/healthz").result_int() == 200);
  const auto started = std::chrono::steady_clock::now();
  const auto ended_with = client.wait_closed();
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK_MESSAGE(closed_by_peer(ended_with), ended_with.message());
  CHECK(elapsed >= 150ms);  // the server's clock started a little before ours
  CHECK(elapsed < 1500ms);  // header_timeout applied, not the 2 s read_timeout
}

TEST_CASE("connections beyond max_connections are answered 503 and closed, then served once a slot frees") {
  auto limits = TestServer::test_limits();
  limits.max_connections = 2;
  limits.reserve_connections = 0;  // no probes-only reserve: every connection past the limit is refused
  TestServer server(limits);

  auto first = std::make_unique<Client>(server.port());
  Client second(server.port());
  // A completed exchange proves the server accepted (and counts) each connection.
  REQUIRE(first->request(http::verb::get, "/healthz").result_int() == 200);
  REQUIRE(second.request(http::verb::get, "/healthz").result_int() == 200);

  Client third(server.port());
  beast::error_code read_error;
  REQUIRE(!third.write_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto refused = third.read_response(&read_error);
  REQUIRE_MESSAGE(refused, read_error.message());
  CHECK(refused->result_int() == 503);
  CHECK(error_code_of(*refused) == "unavailable");
  check_standard_headers(*refused);
  CHECK(closed_by_peer(third.wait_closed()));

  // The server notices the close asynchronously, so poll with fresh connections until a slot is free.
  first->close();
  first.reset();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  bool served = false;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    Client retry(server.port());
    if (retry.write_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) continue;
    auto response = retry.read_response();
    served = response && response->result_int() == 200;
  }
  CHECK(served);
}

TEST_CASE("past max_connections a reserve answers only health checks; one address past its limit is refused") {
  using promoter::daemon::ConnectionRefusal;
  auto limits = TestServer::test_limits();
  limits.header_timeout = 30s;  // the idle connections below hold their slots for the whole test
  limits.max_connections = 2;
  limits.reserve_connections = 1;
  limits.reserve_paths = {"/healthz"};
  limits.max_connections_per_peer = 1;
  TestServer server(limits);

  // A completed exchange proves the server accepted (and counts) each connection.
  Client first(server.port(), "127.0.0.2");
  REQUIRE(first.request(http::verb::get, "/healthz").result_int() == 200);
  Client second(server.port(), "127.0.0.3");
  REQUIRE(second.request(http::verb::get, "/healthz").result_int() == 200);

  // The first address again: over its own limit, refused at once without reading the request.
  Client again(server.port(), "127.0.0.2");
  beast::error_code read_error;
  auto per_peer = again.read_response(&read_error);
  REQUIRE_MESSAGE(per_peer, read_error.message());
  CHECK(per_peer->result_int() == 503);
  CHECK(error_code_of(*per_peer) == "too_many_connections");
  CHECK(sv((*per_peer)["Retry-After"]) == "1");
  check_standard_headers(*per_peer);
  CHECK(closed_by_peer(again.wait_closed()));

  // Every slot is taken: a third address lands in the reserve, which answers a health check once...
  Client monitor(server.port(), "127.0.0.4");
  auto health = monitor.request(http::verb::get, "/healthz");
  CHECK(health.result_int() == 200);
  CHECK_FALSE(health.keep_alive());
  CHECK(closed_by_peer(monitor.wait_closed()));
  // ...and nothing else.
  Client api(server.port(), "127.0.0.5");
  auto busy = api.request(http::verb::get, "/v1/items", viewer_token);
  CHECK(busy.result_int() == 503);
  CHECK(error_code_of(busy) == "unavailable");
  CHECK(sv(busy["Retry-After"]) == "1");
  CHECK(closed_by_peer(api.wait_closed()));

  const std::vector<ConnectionRefusal> expected{ConnectionRefusal::per_peer, ConnectionRefusal::max_connections};
  CHECK(server.refusals_seen() == expected);
  // Refusals are not requests: only the three health checks were.
  CHECK(server.requests_seen().size() == 3);
}

TEST_CASE("a handler that throws is a 500 with a generic message and the connection stays usable") {
  TestServer server;
  Client client(server.port());
  auto response = client.request(http::verb::get, "/v1/boom");
  CHECK(response.result_int() == 500);
  CHECK(error_code_of(response) == "internal");
  CHECK(response.body().find("kaboom") == std::string::npos);
  check_standard_headers(response);
  CHECK(client.request(http::verb::get, "/healthz").result_int() == 200);
}

TEST_CASE("stop lets an in-flight handler answer, closes idle connections and lets the io_context run out") {
  TestServer server;
  Client idle(server.port());
  REQUIRE(idle.request(http::verb::get, "/healthz").result_int() == 200);

  Client busy(server.port());
  REQUIRE(!busy.write_raw("GET /v1/slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  server.slow_entered.get_future().wait();

  server.server->stop();
  // Posted after stop(), so the handler resumes only once the server is stopping.
  asio::post(server.ioc, [&server] { server.gate.cancel(); });

  auto response = busy.read_response();
  REQUIRE(response);
  CHECK(response->result_int() == 200);
  CHECK_FALSE(response->keep_alive());
  CHECK(closed_by_peer(busy.wait_closed()));
  CHECK(closed_by_peer(idle.wait_closed()));

  // No new connections: the listening socket is closed (connect refused) — checked by the
  // destructor's run-out as well.
  tcp::socket probe(server.ioc);
  beast::error_code ec;
  probe.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()), ec);
  CHECK(ec);
}

TEST_CASE("the token registry keeps only SHA-256 digests and authenticates each token to its principal") {
  static_assert(!HoldsToken<StoredToken>, "StoredToken must not hold the plaintext");
  static_assert(!ListsTokens<TokenRegistry>);

  TokenRegistry registry(test_tokens());
  CHECK(registry.size() == 3);

  auto vera = registry.authenticate(viewer_token);
  REQUIRE(vera);
  CHECK(vera->identity == "vera");
  CHECK(vera->role == Role::viewer);
  auto ci = registry.authenticate(ci_token);
  REQUIRE(ci);
  CHECK(ci->identity == "ci-bot");
  CHECK(ci->role == Role::ci);
  auto olga = registry.authenticate(operator_token);
  REQUIRE(olga);
  CHECK(olga->identity == "olga");
  CHECK(olga->role == Role::operator_);
  CHECK(olga->git_authors == std::vector<std::string>{"olga-gh", "olga@example.com"});

  CHECK_FALSE(registry.authenticate(""));
  CHECK_FALSE(registry.authenticate("viewer-token-012345678"));    // a prefix
  CHECK_FALSE(registry.authenticate("viewer-token-01234567890"));  // one more character
  CHECK_FALSE(registry.authenticate("Viewer-token-0123456789"));   // case matters

  // What is stored is the digest, computed here independently.
  auto sha256 = [](std::string_view text) {
    std::array<unsigned char, 32> out{};
    unsigned int length = 0;
    REQUIRE(EVP_Digest(text.data(), text.size(), out.data(), &length, EVP_sha256(), nullptr) == 1);
    return out;
  };
  const auto stored = registry.entries();
  REQUIRE(stored.size() == 3);
  CHECK(stored[0].sha256 == sha256(viewer_token));
  CHECK(stored[2].sha256 == sha256(operator_token));
  for (const auto& entry : stored) {
    const std::string_view raw(reinterpret_cast<const char*>(entry.sha256.data()), entry.sha256.size());
    for (auto token : {viewer_token, ci_token, operator_token}) {
      CHECK(entry.identity.find(token) == std::string::npos);
      CHECK(raw.find(token) == std::string_view::npos);
      for (const auto& author : entry.git_authors) CHECK(author.find(token) == std::string::npos);
    }
  }

  // An empty token can never be presented, so it is not kept.
  TokenRegistry with_empty({{"nobody", Role::operator_, "", {}}});
  CHECK(with_empty.size() == 0);
  CHECK_FALSE(with_empty.authenticate(""));
}

TEST_CASE("replacing the token registry takes effect for the next request") {
  TestServer server;
  Client client(server.port());
  REQUIRE(client.request(http::verb::get, "/v1/items", viewer_token).result_int() == 200);

  server.tokens.replace({{"victor", Role::viewer, "rotated-viewer-token", {}}});
  CHECK(server.tokens.size() == 1);
  CHECK_FALSE(server.tokens.authenticate(viewer_token));

  auto old_token = client.request(http::verb::get, "/v1/items", viewer_token);
  CHECK(old_token.result_int() == 401);
  auto new_token = client.request(http::verb::get, "/v1/items", std::string_view("rotated-viewer-token"));
  REQUIRE(new_token.result_int() == 200);
  CHECK(json_of(new_token)["identity"] == "victor");
}

TEST_CASE("bearer_token takes the token of a Bearer authorization header and nothing else") {
  using promoter::daemon::bearer_token;
  CHECK(bearer_token("Bearer abc") == std::optional<std::string_view>("abc"));
  CHECK(bearer_token("bearer   abc  ") == std::optional<std::string_view>("abc"));
  CHECK(bearer_token("BEARER abc") == std::optional<std::string_view>("abc"));
  CHECK_FALSE(bearer_token(""));
  CHECK_FALSE(bearer_token("Bearer"));
  CHECK_FALSE(bearer_token("Bearer "));
  CHECK_FALSE(bearer_token("Bearerabc"));
  CHECK_FALSE(bearer_token("Basic abc"));
  CHECK_FALSE(bearer_token("Bearer a b"));
}

TEST_CASE("the router refuses wiring mistakes and lists its routes for the OpenAPI check") {
  auto handler = [](HttpRequest&) -> asio::awaitable<HttpResponse> { co_return HttpResponse::json(200, {}); };
  const RouteAccess viewers{true, {Role::viewer}};
  Router router;
  router.add(http::verb::get, "/v1/releases/{sha}", viewers, handler);
  router.add(http::verb::post, "/v1/releases/{sha}/approve", RouteAccess{true, {Role::operator_}}, handler);
  router.add(http::verb::get, "/healthz", RouteAccess{false, {}}, handler);

  CHECK_THROWS_AS(router.add(http::verb::get, "/v1/releases/{id}", viewers, handler), std::invalid_argument);
  CHECK_THROWS_AS(router.add(http::verb::get, "v1/x", viewers, handler), std::invalid_argument);
  CHECK_THROWS_AS(router.add(http::verb::get, "/v1/{a-b}", viewers, handler), std::invalid_argument);
  CHECK_THROWS_AS(router.add(http::verb::get, "/v1/x{y}", viewers, handler), std::invalid_argument);
  CHECK_THROWS_AS(router.add(http::verb::get, "/v1/{a}/{a}", viewers, handler), std::invalid_argument);
  CHECK_THROWS_AS(router.add(http::verb::get, "/v1/open", RouteAccess{true, {}}, handler), std::invalid_argument);

  using Routes = std::vector<std::pair<std::string, std::string>>;
  CHECK(router.routes() ==
        Routes{{"GET", "/v1/releases/{sha}"}, {"POST", "/v1/releases/{sha}/approve"}, {"GET", "/healthz"}});

  auto match = router.match(http::verb::get, "/v1/releases/abc");
  REQUIRE(match);
  CHECK(match->pattern == "/v1/releases/{sha}");
  CHECK(match->params.at("sha") == "abc");
  CHECK(match->access->roles == std::vector<Role>{Role::viewer});
  CHECK(router.match(http::verb::get, "/v1/releases/abc/").error().status == 404);
  CHECK(router.match(http::verb::get, "/").error().status == 404);
}

TEST_CASE("listen reports an address it cannot bind, naming it") {
  asio::io_context ioc;
  Router router;
  TokenRegistry tokens({});
  HttpServer first(ioc, router, tokens, ServerLimits{});
  REQUIRE(first.listen("127.0.0.1", 0));
  HttpServer second(ioc, router, tokens, ServerLimits{});
  auto result = second.listen("127.0.0.1", first.port());
  REQUIRE_FALSE(result);
  CHECK(result.error().code == promoter::core::ErrorCode::unavailable);
  CHECK(result.error().message.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())) == 0);
}

TEST_CASE("roles have a text form that parses back") {
  for (auto role : {Role::viewer, Role::ci, Role::operator_}) {
    CHECK(promoter::daemon::parse_role(promoter::daemon::to_string(role)) == role);
  }
  CHECK(promoter::daemon::to_string(Role::operator_) == "operator");
  CHECK_FALSE(promoter::daemon::parse_role("admin"));
}
