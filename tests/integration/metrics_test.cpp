// daemon::Metrics on its own: the series each call produces, in the text format promoterd serves.
#include <doctest/doctest.h>
#include <regex>
#include <string>

#include "core/time.hpp"
#include "daemon/metrics.hpp"

using promoter::daemon::Metrics;

namespace {

// The value of the one sample whose line starts with `series` (name and labels as serialized), or -1.
double sample(const std::string& exposition, const std::string& series) {
  const auto at = exposition.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(exposition.substr(at + series.size() + 2));
}

promoter::core::Timestamp at_unix(long seconds) {
  return promoter::core::Timestamp(std::chrono::duration_cast<promoter::core::Duration>(std::chrono::seconds(seconds)));
}

}  // namespace

TEST_CASE("hotfix obligation gauges are in every scrape from the start and follow set_hotfix_obligations") {
  Metrics metrics("1.2.3", false);
  CHECK(sample(metrics.serialize(), "promoter_hotfix_obligations_open") == 0);
  CHECK(sample(metrics.serialize(), "promoter_hotfix_obligations_overdue") == 0);
  metrics.set_hotfix_obligations(3, 1);
  const auto text = metrics.serialize();
  CHECK(sample(text, "promoter_hotfix_obligations_open") == 3);
  CHECK(sample(text, "promoter_hotfix_obligations_overdue") == 1);
}

TEST_CASE("build info, short soak and leader are exported") {
  Metrics metrics("1.2.3", true);
  CHECK(sample(metrics.serialize(), R"(promoter_build_info{version="1.2.3"})") == 1);
  CHECK(sample(metrics.serialize(), "promoter_short_soak_enabled") == 1);
  CHECK(sample(metrics.serialize(), "promoter_leader") == 0);
  metrics.set_leader(true);
  CHECK(sample(metrics.serialize(), "promoter_leader") == 1);
}

TEST_CASE("adapter attempts count by status class, a missing answer is 'error', and repeats count as retries") {
  Metrics metrics("test", false);
  metrics.adapter_request("fly", "machines.update", 503, 0.2, 1);
  metrics.adapter_request("fly", "machines.update", 0, 0.1, 2);
  metrics.adapter_request("fly", "machines.update", 200, 0.3, 3);
  const auto text = metrics.serialize();
  CHECK(sample(text, R"(promoter_adapter_requests_total{adapter="fly",code="5xx",operation="machines.update"})") == 1);
  CHECK(sample(text, R"(promoter_adapter_requests_total{adapter="fly",code="error",operation="machines.update"})") ==
        1);
  CHECK(sample(text, R"(promoter_adapter_requests_total{adapter="fly",code="2xx",operation="machines.update"})") == 1);
  CHECK(sample(text, R"(promoter_adapter_retries_total{adapter="fly",operation="machines.update"})") == 2);
  CHECK(sample(text, R"(promoter_adapter_request_duration_seconds_count{adapter="fly",operation="machines.update"})") ==
        3);
}

TEST_CASE("a promotion's end records its duration, result and, on success, the time") {
  Metrics metrics("test", false);
  metrics.promotion_finished("failed", 12.5, at_unix(1'000));
  CHECK(sample(metrics.serialize(), "promoter_last_successful_promotion_timestamp_seconds") == 0);
  metrics.promotion_finished("succeeded", 30, at_unix(2'000));
  const auto text = metrics.serialize();
  CHECK(sample(text, R"(promoter_promotions_total{result="failed"})") == 1);
  CHECK(sample(text, R"(promoter_promotions_total{result="succeeded"})") == 1);
  CHECK(sample(text, R"(promoter_promotion_duration_seconds_sum{result="failed"})") == 12.5);
  CHECK(sample(text, R"(promoter_promotion_duration_seconds_count{result="succeeded"})") == 1);
  CHECK(sample(text, "promoter_last_successful_promotion_timestamp_seconds") == 2000);
}

TEST_CASE("steps are labelled by kind and service; migrations and the running step are tracked") {
  Metrics metrics("test", false);
  metrics.set_step_started(at_unix(500));
  CHECK(sample(metrics.serialize(), "promoter_promotion_step_started_timestamp_seconds") == 500);
  metrics.set_step_started(std::nullopt);
  metrics.step_finished("deploy", "api", "succeeded", 4);
  metrics.migration_finished(false, 2);
  const auto text = metrics.serialize();
  CHECK(sample(text, "promoter_promotion_step_started_timestamp_seconds") == 0);
  CHECK(sample(text,
               R"(promoter_promotion_step_duration_seconds_count{kind="deploy",result="succeeded",service="api"})") ==
        1);
  CHECK(sample(text, R"(promoter_migrations_total{result="failed"})") == 1);
  CHECK(sample(text, R"(promoter_migrations_total{result="succeeded"})") == 0);
  CHECK(sample(text, R"(promoter_migration_duration_seconds_sum{result="failed"})") == 2);
}

TEST_CASE("reconciler passes and webhooks are counted; only a successful pass moves the last-success time") {
  Metrics metrics("test", false);
  metrics.reconcile_finished(true, at_unix(100));
  metrics.reconcile_finished(false, at_unix(160));
  metrics.webhook("deployment", "accepted");
  metrics.promotion_retry();
  const auto text = metrics.serialize();
  CHECK(sample(text, "promoter_reconciler_last_success_timestamp_seconds") == 100);
  CHECK(sample(text, R"(promoter_reconciler_passes_total{result="failed"})") == 1);
  CHECK(sample(text, R"(promoter_webhook_events_total{result="accepted",type="deployment"})") == 1);
  CHECK(sample(text, "promoter_promotion_retries_total") == 1);
}
