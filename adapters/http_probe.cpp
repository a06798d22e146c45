#include "adapters/http_probe.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace promoter::adapters {

bool ProbeReport::passed() const {
  return std::all_of(outcomes.begin(), outcomes.end(), [](const ProbeOutcome& o) { return o.passed; });
}

std::string ProbeReport::summary() const {
  const auto ok = std::count_if(outcomes.begin(), outcomes.end(), [](const ProbeOutcome& o) { return o.passed; });
  std::vector<std::string> parts;
  for (const auto& o : outcomes) parts.push_back(fmt::format("{}: {}", o.name, o.detail));
  return fmt::format("{}/{} probes passed{}{}", ok, outcomes.size(), parts.empty() ? "" : ": ", fmt::join(parts, "; "));
}

namespace {

ProbeOutcome judge(const Probe& probe, const std::expected<HttpResult, AdapterError>& answer, long long ms) {
  ProbeOutcome o{probe.name, false, ""};
  if (!answer) {
    o.detail = fmt::format("{} ({})", answer.error().message, to_string(answer.error().kind));
    return o;
  }
  if (answer->status != probe.expect_status) {
    o.detail =
        fmt::format("expected {}, got {} after {} attempt(s)", probe.expect_status, answer->status, answer->attempts);
    return o;
  }
  if (!probe.expect_body.empty() && answer->body.find(probe.expect_body) == std::string::npos) {
    o.detail = fmt::format("{} but the body does not contain \"{}\"", answer->status, probe.expect_body);
    return o;
  }
  o.passed = true;
  o.detail = fmt::format("{} in {} ms", answer->status, ms);
  return o;
}

}  // namespace

boost::asio::awaitable<ProbeReport> run_probes(HttpClient& http, std::vector<Probe> probes) {
  ProbeReport report;
  for (const auto& probe : probes) {
    HttpRequestSpec spec;
    spec.method = HttpMethod::get;
    spec.url = probe.url;
    spec.timeout = probe.timeout;
    spec.idempotent = true;
    spec.operation = "probe";  // not the probe's name: that is configuration, not a bounded set we control
    const auto t0 = std::chrono::steady_clock::now();
    auto answer = co_await http.request(std::move(spec));
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    report.outcomes.push_back(judge(probe, answer, ms));
  }
  co_return report;
}

}  // namespace promoter::adapters
