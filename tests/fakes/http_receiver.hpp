#pragma once
// A small HTTP/1.1 server on 127.0.0.1 for tests: answers each path with a status and body the test sets,
// and records every request (probe targets, chat webhooks). Single-threaded: call it from the thread
// running its executor (tests/support/on_thread.hpp), or before that thread starts.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace promoter::fakes {

struct ReceivedRequest {
  std::string method;
  std::string target;                          // path and query
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::chrono::system_clock::time_point at;
};

class HttpReceiver {
 public:
  explicit HttpReceiver(boost::asio::any_io_executor executor);
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  void start(unsigned short port = 0);  // throws if it cannot bind
  void stop();
  unsigned short port() const;
  std::string url(const std::string& path) const;  // http://127.0.0.1:PORT/path

  // How `path` (without query) is answered from now on; unset paths answer 200 "ok".
  void respond(const std::string& path, int status, std::string body);
  // Answers the next request to `path` this way (with these extra headers, e.g. Retry-After), once;
  // queued answers are used in order before the respond() one.
  void respond_once(const std::string& path, int status, std::string body,
                    std::map<std::string, std::string> headers = {});

  std::vector<ReceivedRequest> requests() const;
  int count(const std::string& path) const;  // requests whose path (without query) is `path`

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace promoter::fakes
