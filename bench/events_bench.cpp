// GET /v1/events with many subscribers (issue 18): promoterd's RSS with 500 open streams, the CPU each event
// costs per subscriber it is fanned out to, and the delivery latency (an event's row written -> a subscriber
// read it). The floor is the same run with one subscriber: the poll interval (200 ms) and the writes' own cost
// are in both, so the difference is the fan-out's. Printed, never asserted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fmt/format.h>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/bench_support.hpp"
#include "core/time.hpp"
#include "tests/support/config_builder.hpp"

using namespace promoter;
using namespace promoter::bench;

namespace {

constexpr int writes = 200;  // staging deployments posted, one every 10 ms
constexpr int many = 500;    // subscribers in the measured run

int open_stream(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw std::runtime_error("cannot connect a subscriber");
  const std::string request = "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                              testing::tokens::viewer + "\r\nAccept: text/event-stream\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
    throw std::runtime_error("cannot send a subscription");
  return fd;
}

struct Run {
  double rss_before_mb = 0, rss_with_mb = 0;
  long long cpu_ticks = 0;  // promoterd's CPU over the write phase
  std::size_t events = 0;   // distinct events one subscriber saw
  std::size_t deliveries = 0;
  std::vector<double> latency_ms;
};

Run measure(int subscribers) {
  const auto dir = testing::temp_dir(fmt::format("bench-events-{}", subscribers));
  auto env = testing::auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = fresh_database(fmt::format("promoter_bench_events_{}", subscribers));
  const std::string toml = testing::ConfigBuilder("30m")
                               .services({"api"})
                               .simulated(dir)
                               .shared_tokens()
                               .set("server", "max_connections", 2000)
                               .set("server", "max_connections_per_peer", 2000)
                               .set("server", "max_event_streams", 2000)
                               .set("server", "max_event_streams_per_peer", 2000)
                               .toml();
  Promoterd daemon(dir, toml, env);
  daemon.start();
  Run run;
  std::this_thread::sleep_for(std::chrono::seconds(1));  // start-up settles
  run.rss_before_mb = sample_process(daemon.pid()).rss_kb / 1024.0;

  std::vector<int> fds;
  std::vector<std::string> buffers(subscribers);
  std::vector<std::size_t> seen(subscribers, 0);
  for (int i = 0; i < subscribers; ++i) fds.push_back(open_stream(daemon.port()));
  // Every stream answered its header and "connected" comment before the writes start.
  std::vector<pollfd> polls;
  for (int fd : fds) polls.push_back(pollfd{fd, POLLIN, 0});
  std::vector<bool> ready(subscribers, false);
  int connected = 0;
  const auto give_up = Clock::now() + std::chrono::seconds(60);
  while (connected < subscribers && Clock::now() < give_up) {
    ::poll(polls.data(), polls.size(), 100);
    for (int i = 0; i < subscribers; ++i) {
      if (!(polls[i].revents & POLLIN)) continue;
      char chunk[4096];
      const auto n = ::recv(fds[i], chunk, sizeof chunk, 0);
      if (n > 0) buffers[i].append(chunk, static_cast<std::size_t>(n));
      if (!ready[i] && buffers[i].find(": connected") != std::string::npos) {
        ready[i] = true;
        ++connected;
        buffers[i].clear();
      }
    }
  }
  if (connected < subscribers)
    throw std::runtime_error(fmt::format("only {} of {} streams connected", connected, subscribers));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  run.rss_with_mb = sample_process(daemon.pid()).rss_kb / 1024.0;

  // Writes on a thread of their own, paced; the main thread reads every stream meanwhile.
  const auto cpu0 = sample_process(daemon.pid()).cpu_ticks;
  std::atomic<bool> written{false};
  std::thread writer([&] {
    for (int i = 0; i < writes; ++i) {
      const auto next = Clock::now() + std::chrono::milliseconds(10);
      const nlohmann::json body{{"service", "api"},
                                {"sha", sha_of(static_cast<std::uint64_t>(i) + 1)},
                                {"deployment_id", fmt::format("dep-{}", i)},
                                {"status", "BUILDING"},
                                {"author", "alice-gh"}};
      auto r = daemon.post("/v1/staging-deployments", body.dump(), testing::tokens::ci);
      if (r.status != 200) std::cerr << "write answered " << r.status << ": " << r.body << '\n';
      std::this_thread::sleep_until(next);
    }
    written = true;
  });
  // Until every write is done and the streams have been quiet for 3 s (the poll is 200 ms).
  auto quiet_since = Clock::now();
  for (;;) {
    if (written && Clock::now() - quiet_since > std::chrono::seconds(3)) break;
    ::poll(polls.data(), polls.size(), 50);
    const auto now = std::chrono::system_clock::now();
    for (int i = 0; i < subscribers; ++i) {
      if (!(polls[i].revents & POLLIN)) continue;
      char chunk[65536];
      const auto n = ::recv(fds[i], chunk, sizeof chunk, 0);
      if (n <= 0) continue;
      quiet_since = Clock::now();
      buffers[i].append(chunk, static_cast<std::size_t>(n));
      std::size_t line;
      while ((line = buffers[i].find('\n')) != std::string::npos) {
        const std::string text = buffers[i].substr(0, line);
        buffers[i].erase(0, line + 1);
        if (!text.starts_with("data: ")) continue;
        const auto event = nlohmann::json::parse(text.substr(6));
        auto at = promoter::core::parse_timestamp(event["at"].get<std::string>());
        if (!at) continue;
        ++seen[i];
        ++run.deliveries;
        run.latency_ms.push_back(std::chrono::duration<double, std::milli>(now - *at).count());
      }
    }
  }
  writer.join();
  run.cpu_ticks = sample_process(daemon.pid()).cpu_ticks - cpu0;
  run.events = seen[0];
  for (int fd : fds) ::close(fd);
  daemon.terminate();
  return run;
}

}  // namespace

int main() {
  const Run floor = measure(1);
  const Run wide = measure(many);
  const double tick_us = 1e6 / static_cast<double>(clock_ticks_per_second());
  const double per_delivery_us = wide.deliveries > floor.deliveries
                                     ? static_cast<double>(wide.cpu_ticks - floor.cpu_ticks) * tick_us /
                                           static_cast<double>(wide.deliveries - floor.deliveries)
                                     : 0;
  std::cout << fmt::format(
      "events: {} writes -> {} events each subscriber saw (1 subscriber) / {} ({} subscribers, {} deliveries)\n"
      "  RSS {:.1f} MB -> {:.1f} MB with 1 stream; {:.1f} MB -> {:.1f} MB with {} streams\n"
      "  promoterd CPU over the writes: {:.0f} ms (1 subscriber), {:.0f} ms ({} subscribers)\n",
      writes, floor.events, wide.events, many, wide.deliveries, floor.rss_before_mb, floor.rss_with_mb,
      wide.rss_before_mb, wide.rss_with_mb, many, floor.cpu_ticks * tick_us / 1000, wide.cpu_ticks * tick_us / 1000,
      many);
  info("floor: delivery latency p50 / p99, 1 subscriber",
       fmt::format("{} / {}", ms(percentile(floor.latency_ms, 50)), ms(percentile(floor.latency_ms, 99))));
  row(fmt::format("delivery latency p50 / p99, {} subscribers", many),
      fmt::format("{} / {}", ms(percentile(wide.latency_ms, 50)), ms(percentile(wide.latency_ms, 99))), "p99 <= 1 s",
      percentile(wide.latency_ms, 99) <= 1000);
  info(fmt::format("RSS with {} open streams (before them)", many),
       fmt::format("{:.1f} MB ({:.1f} MB; {:.1f} KB per stream)", wide.rss_with_mb, wide.rss_before_mb,
                   (wide.rss_with_mb - wide.rss_before_mb) * 1024 / many));
  info("CPU per event per subscriber (fan-out, over the 1-subscriber floor)",
       fmt::format("{:.1f} us", per_delivery_us));
  info("events each subscriber missed", fmt::format("{}", floor.events - std::min(floor.events, wide.events)));
  return 0;
}
