#pragma once
// Prometheus metrics of the daemon. Labels are bounded: per service, step kind, route and result,
// never per SHA or promotion id.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "core/time.hpp"

namespace promoter::daemon {

class Metrics {
 public:
  Metrics(std::string_view version, bool short_soak);

  // Text exposition format 0.0.4.
  std::string serialize() const;

  void http_request(std::string_view method, std::string_view route, unsigned status, double seconds);
  void event(std::string_view event, std::string_view result);  // result: accepted, refused, error
  void promotion_started();
  void promotion_finished(bool succeeded, std::optional<double> seconds, core::Timestamp now);
  void step_finished(std::string_view kind, std::string_view result, double seconds);
  void set_release_states(const std::map<std::string, int>& counts);
  void set_soak_remaining(std::optional<double> seconds);
  // Owned by whoever runs executors (App): 1 while any promotion runs in this process.
  void set_promotion_running(bool running);
  void set_database_up(bool up);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_duration_;
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Counter>& promotions_;
  prometheus::Family<prometheus::Histogram>& promotion_duration_;
  prometheus::Family<prometheus::Histogram>& step_duration_;
  prometheus::Family<prometheus::Gauge>& releases_;
  prometheus::Gauge& soak_remaining_;
  prometheus::Gauge& promotion_running_;
  prometheus::Gauge& last_success_;
  prometheus::Gauge& database_up_;
};

}  // namespace promoter::daemon
