#pragma once
// HTTP probes: smoke checks against staging and the promotion's verification against production.
// A probe passes when the answer has the expected status and (if given) contains the expected text.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "adapters/http_client.hpp"

namespace promoter::adapters {

struct Probe {
  std::string name;
  std::string url;
  int expect_status = 200;
  std::string expect_body;  // substring; "" = any body
  std::chrono::milliseconds timeout{10'000};
};

struct ProbeOutcome {
  std::string name;
  bool passed = false;
  std::string detail;  // "200 in 12 ms", "expected 200, got 503", "timeout after 5s", ...
};

struct ProbeReport {
  std::vector<ProbeOutcome> outcomes;
  bool passed() const;          // every probe passed (true for none)
  std::string summary() const;  // "2/3 probes passed: api health: 200 in 3 ms; www: expected 200, got 503"
};

// Runs every probe, one after another, through `http` (its retry policy applies: a probe that fails to
// connect or gets a 5xx is tried again before it counts as failed). Never throws; never logs bodies.
boost::asio::awaitable<ProbeReport> run_probes(HttpClient& http, std::vector<Probe> probes);

}  // namespace promoter::adapters
