#include "daemon/staging_smoke.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "daemon/log.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;

StagingSmoke::StagingSmoke(asio::io_context& io, adapters::HttpClient& http, ReleaseService& releases,
                           std::string suite, std::vector<adapters::Probe> probes)
    : io_(io), http_(http), releases_(releases), suite_(std::move(suite)), probes_(std::move(probes)) {}

void StagingSmoke::run(const core::Sha& sha) {
  if (stopping_ || probes_.empty() || !running_.insert(sha.str()).second) return;
  asio::co_spawn(io_, probe(sha), asio::detached);
}

asio::awaitable<void> StagingSmoke::probe(core::Sha sha) {
  try {
    log(LogLevel::info, "running staging smoke probes",
        {{"sha", sha.str()}, {"suite", suite_}, {"probes", probes_.size()}});
    const adapters::ProbeReport report = co_await adapters::run_probes(http_, probes_);
    if (!stopping_) {
      core::Event event = core::SmokeResultReported{sha, suite_, report.passed(), "promoterd", report.summary()};
      auto r = co_await releases_.submit(std::move(event));
      log(report.passed() ? LogLevel::info : LogLevel::warn, "staging smoke probes finished",
          {{"sha", sha.str()},
           {"suite", suite_},
           {"passed", report.passed()},
           {"detail", report.summary()},
           {"recorded", r.has_value()},
           {"error", r ? "" : r.error().message}});
    }
  } catch (const std::exception& e) {
    log(LogLevel::error, "staging smoke probes failed unexpectedly", {{"sha", sha.str()}, {"error", e.what()}});
  }
  running_.erase(sha.str());
}

}  // namespace promoter::daemon
