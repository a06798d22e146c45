#include "tests/fakes/http_receiver.hpp"

#include "tests/fakes/fake_listener.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/algorithm/string/case_conv.hpp>
#include <deque>

namespace promoter::fakes {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct HttpReceiver::State : std::enable_shared_from_this<HttpReceiver::State> {
  explicit State(asio::any_io_executor e) : listener(e) {}
  FakeListener listener;
  std::map<std::string, std::pair<int, std::string>> answers;
  struct Once {
    int status;
    std::string body;
    std::map<std::string, std::string> headers;
  };
  std::map<std::string, std::deque<Once>> once;
  std::vector<ReceivedRequest> received;
};

namespace {

std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

asio::awaitable<void> serve(std::shared_ptr<HttpReceiver::State> state, std::shared_ptr<beast::tcp_stream> stream) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    boost::system::error_code ec;
    co_await http::async_read(*stream, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    ReceivedRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& f : req)
      r.headers[boost::algorithm::to_lower_copy(std::string(f.name_string()))] = std::string(f.value());
    r.body = req.body();
    r.at = std::chrono::system_clock::now();
    const std::string path = path_of(r.target);
    state->received.push_back(std::move(r));
    int status = 200;
    std::string body = "ok";
    std::map<std::string, std::string> headers;
    if (auto q = state->once.find(path); q != state->once.end() && !q->second.empty()) {
      status = q->second.front().status;
      body = std::move(q->second.front().body);
      headers = std::move(q->second.front().headers);
      q->second.pop_front();
    } else if (auto it = state->answers.find(path); it != state->answers.end()) {
      std::tie(status, body) = it->second;
    }
    http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
    res.set(http::field::content_type, "text/plain");
    for (const auto& [name, value] : headers) res.set(name, value);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    co_await http::async_write(*stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !req.keep_alive()) co_return;
  }
}

}  // namespace

HttpReceiver::HttpReceiver(asio::any_io_executor executor) : state_(std::make_shared<State>(executor)) {}
HttpReceiver::~HttpReceiver() { stop(); }

void HttpReceiver::start(unsigned short port) {
  state_->listener.start(
      port, [state = state_](std::shared_ptr<beast::tcp_stream> stream) { return serve(state, std::move(stream)); });
}

void HttpReceiver::stop() { state_->listener.stop(); }

unsigned short HttpReceiver::port() const { return state_->listener.port(); }

std::string HttpReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + (path.starts_with('/') ? "" : "/") + path;
}

void HttpReceiver::respond(const std::string& path, int status, std::string body) {
  state_->answers[path] = {status, std::move(body)};
}

void HttpReceiver::respond_once(const std::string& path, int status, std::string body,
                                std::map<std::string, std::string> headers) {
  state_->once[path].push_back(State::Once{status, std::move(body), std::move(headers)});
}

std::vector<ReceivedRequest> HttpReceiver::requests() const { return state_->received; }

int HttpReceiver::count(const std::string& path) const {
  int n = 0;
  for (const auto& r : state_->received) n += path_of(r.target) == path;
  return n;
}

}  // namespace promoter::fakes
