#pragma once
// Smoke checks promoterd runs itself: when every service of a release went live on staging, the configured
// staging probes run and their result is reported for the release exactly like a result CI posts to
// /v1/releases/{sha}/smoke-results (suite `smoke.suite`, reported by "promoterd").
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/io_context.hpp>
#include <set>

#include "adapters/http_probe.hpp"
#include "daemon/release_service.hpp"

namespace promoter::daemon {

class StagingSmoke {
 public:
  StagingSmoke(boost::asio::io_context& io, adapters::HttpClient& http, ReleaseService& releases, std::string suite,
               std::vector<adapters::Probe> probes);

  // Runs the probes for `sha` unless a run for it is under way (io thread only).
  void run(const core::Sha& sha);
  void stop() { stopping_ = true; }

 private:
  boost::asio::awaitable<void> probe(core::Sha sha);

  boost::asio::io_context& io_;
  adapters::HttpClient& http_;
  ReleaseService& releases_;
  std::string suite_;
  std::vector<adapters::Probe> probes_;
  std::set<std::string> running_;  // io thread only
  bool stopping_ = false;
};

}  // namespace promoter::daemon
