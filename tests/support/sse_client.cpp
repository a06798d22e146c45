#include "tests/support/sse_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <stdexcept>

namespace promoter::testing {

SseClient::SseClient(unsigned short port, const std::string& target,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) throw std::runtime_error("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  request += "\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    const auto n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("cannot send the request");
    sent += static_cast<std::size_t>(n);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (buffer_.find("\r\n\r\n") == std::string::npos)
    if (!fill(deadline)) throw std::runtime_error("no response header");
  const auto end = buffer_.find("\r\n\r\n");
  const std::string head = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);
  status_ = static_cast<unsigned>(std::stoul(head.substr(head.find(' ') + 1, 3)));
  std::size_t line = head.find("\r\n");
  while (line != std::string::npos) {
    const auto next = head.find("\r\n", line + 2);
    const std::string field = head.substr(line + 2, next == std::string::npos ? std::string::npos : next - line - 2);
    if (const auto colon = field.find(':'); colon != std::string::npos) {
      std::string name = field.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      headers_[name] = field.substr(field.find_first_not_of(' ', colon + 1));
    }
    line = next;
  }
  // A plain (error) answer: read its body so body() has it.
  if (auto it = headers_.find("content-length"); it != headers_.end()) {
    const std::size_t length = std::stoul(it->second);
    while (buffer_.size() < length && fill(deadline)) {
    }
  }
}

SseClient::~SseClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool SseClient::fill(std::chrono::steady_clock::time_point deadline) {
  if (closed_) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char chunk[4096];
  const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::optional<SseEvent> SseClient::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // One block of lines ends at a blank line.
    const auto end = buffer_.find("\n\n");
    if (end == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
      continue;
    }
    const std::string block = buffer_.substr(0, end);
    buffer_.erase(0, end + 2);
    SseEvent event;
    bool any = false;
    std::size_t start = 0;
    while (start <= block.size()) {
      const auto stop = block.find('\n', start);
      const std::string line = block.substr(start, stop == std::string::npos ? std::string::npos : stop - start);
      start = stop == std::string::npos ? block.size() + 1 : stop + 1;
      if (line.starts_with(":")) {
        ++comments_;
        continue;
      }
      const auto colon = line.find(':');
      const std::string field = line.substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      if (value.starts_with(" ")) value.erase(0, 1);
      if (field == "id") event.id = value, any = true;
      if (field == "event") event.event = value, any = true;
      if (field == "data") event.data += (event.data.empty() ? "" : "\n") + value, any = true;
    }
    if (!any) continue;  // a comment-only or retry block
    if (event.event.empty()) event.event = "message";
    return event;
  }
}

std::optional<SseEvent> SseClient::next_matching(const std::function<bool(const SseEvent&)>& match,
                                                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto event = next(left);
    if (!event) return std::nullopt;
    if (match(*event)) return event;
  }
}

}  // namespace promoter::testing
