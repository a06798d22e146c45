#pragma once
// A Server-Sent Events client for tests and benches: one GET over its own socket, then events parsed as they
// arrive (id, event, data; comment lines counted as heartbeats). Blocking, with a deadline per wait.
#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace promoter::testing {

struct SseEvent {
  std::string id;
  std::string event;  // "message" when the stream names none
  std::string data;
};

class SseClient {
 public:
  // Connects to 127.0.0.1:port and sends GET `target` with `headers`; reads the status line and headers.
  // Throws std::runtime_error when it cannot connect.
  SseClient(unsigned short port, const std::string& target,
            const std::vector<std::pair<std::string, std::string>>& headers);
  ~SseClient();
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  unsigned status() const { return status_; }
  const std::map<std::string, std::string>& headers() const { return headers_; }  // lower-case names
  const std::string& body() const { return buffer_; }                             // for a response that is not a stream

  // The next event within `timeout`; nullopt when none came, or the server closed the stream (see closed()).
  std::optional<SseEvent> next(std::chrono::milliseconds timeout);
  // Waits until an event satisfying `match` arrives (others are skipped), or `timeout` passes.
  std::optional<SseEvent> next_matching(const std::function<bool(const SseEvent&)>& match,
                                        std::chrono::milliseconds timeout);
  bool closed() const { return closed_; }
  int comments() const { return comments_; }  // comment lines seen so far (heartbeats)

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);  // false on timeout or close
  int fd_ = -1;
  unsigned status_ = 0;
  std::map<std::string, std::string> headers_;
  std::string buffer_;
  bool closed_ = false;
  int comments_ = 0;
};

}  // namespace promoter::testing
