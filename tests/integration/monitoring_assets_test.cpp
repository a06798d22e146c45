// The monitoring assets in deploy/: the Prometheus alerting rules pass promtool's checks and unit tests,
// and every metric the rules and the Grafana dashboard query is one promoterd exports, so a renamed
// metric cannot silently blank a panel or mute an alert.
#include <doctest/doctest.h>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "daemon/metrics.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter::testing;
using nlohmann::json;

namespace {

const std::filesystem::path source_dir = PROMOTER_SOURCE_DIR;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot read " << path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool ident_char(char c) { return ident_start(c) || std::isdigit(static_cast<unsigned char>(c)); }

// The metric names a PromQL expression selects: identifiers outside strings, label matchers ({...}),
// range and offset brackets ([...]) and grouping lists (by (...), on (...)), that are neither functions
// (followed by "(") nor operators and keywords.
std::set<std::string> metric_names(const std::string& expr) {
  static const std::set<std::string> keywords{
      "by",     "without", "on",       "ignoring",     "group_left", "group_right", "and",   "or",     "unless",
      "offset", "bool",    "sum",      "min",          "max",        "avg",         "count", "stddev", "stdvar",
      "topk",   "bottomk", "quantile", "count_values", "group",      "inf",         "nan"};
  static const std::set<std::string> grouping{"by", "without", "on", "ignoring", "group_left", "group_right"};
  std::set<std::string> out;
  bool skip_next_parens = false;
  for (std::size_t i = 0; i < expr.size();) {
    const char c = expr[i];
    if (c == '"' || c == '\'' || c == '`') {
      const auto end = expr.find(c, i + 1);
      i = end == std::string::npos ? expr.size() : end + 1;
    } else if (c == '{' || c == '[' || (c == '(' && skip_next_parens)) {
      const char close = c == '{' ? '}' : c == '[' ? ']' : ')';
      const auto end = expr.find(close, i + 1);
      i = end == std::string::npos ? expr.size() : end + 1;
      if (c == '(') skip_next_parens = false;
    } else if (c == '$') {  // a Grafana variable such as $__rate_interval
      ++i;
      while (i < expr.size() && ident_char(expr[i])) ++i;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {  // numbers, also 1e3 and 0x10
      while (i < expr.size() && (ident_char(expr[i]) || expr[i] == '.')) ++i;
    } else if (ident_start(c)) {
      const auto start = i;
      while (i < expr.size() && ident_char(expr[i])) ++i;
      const std::string word = expr.substr(start, i - start);
      auto next = i;
      while (next < expr.size() && std::isspace(static_cast<unsigned char>(expr[next]))) ++next;
      if (grouping.contains(word)) {
        skip_next_parens = true;
      } else if (keywords.contains(word) || (next < expr.size() && expr[next] == '(')) {
        // an aggregation operator or a function
      } else {
        out.insert(word);
      }
    } else {
      ++i;
    }
  }
  return out;
}

// Every series name a scrape can hold: each family's name, plus _bucket/_sum/_count for histograms.
std::set<std::string> exported_names(const std::string& exposition) {
  std::set<std::string> out;
  std::istringstream in(exposition);
  std::string line;
  const std::regex type_line(R"(^# TYPE (\S+) (\S+)$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (!std::regex_match(line, m, type_line)) continue;
    out.insert(m[1]);
    if (m[2] == "histogram" || m[2] == "summary")
      for (const char* suffix : {"_bucket", "_sum", "_count"}) out.insert(m[1].str() + suffix);
  }
  return out;
}

// Series Prometheus itself adds to every scrape job.
const std::set<std::string> prometheus_generated{"up", "scrape_duration_seconds", "scrape_samples_scraped"};

std::vector<std::string> dashboard_exprs() {
  const json dashboard = json::parse(read_file(source_dir / "deploy/grafana/promoter.json"));
  std::vector<std::string> out;
  // Panels may nest inside collapsed rows; walk the whole document for "expr" fields.
  std::function<void(const json&)> walk = [&](const json& j) {
    if (j.is_object()) {
      for (const auto& [key, value] : j.items()) {
        if (key == "expr" && value.is_string())
          out.push_back(value.get<std::string>());
        else
          walk(value);
      }
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(dashboard);
  return out;
}

// rules.yml keeps each expr on one line, so no YAML parser is needed to read them.
std::vector<std::string> rule_exprs() {
  std::vector<std::string> out;
  std::istringstream in(read_file(source_dir / "deploy/prometheus/rules.yml"));
  std::string line;
  const std::regex expr_line(R"(^\s*expr:\s*(.+?)\s*$)");
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_match(line, m, expr_line)) out.push_back(m[1]);
  return out;
}

// prometheus-cpp leaves a labelled family out of the scrape until it has a series: touch every one.
std::string all_families_exposition() {
  promoter::daemon::Metrics metrics("test", false);
  const promoter::core::Timestamp now{};
  metrics.http_request("GET", "/v1/status", 200, 0.01);
  metrics.event("approve", "accepted");
  metrics.promotion_started();
  metrics.promotion_finished("succeeded", 1, now);
  metrics.step_finished("deploy", "api", "succeeded", 1);
  metrics.set_release_states({{"soaking", 1}});
  metrics.set_soak_remaining(5);
  metrics.set_promotion_running(true);
  metrics.set_database_up(true);
  metrics.set_step_started(now);
  metrics.migration_finished(true, 1);
  metrics.adapter_request("railway", "DeployCommit", 200, 0.1, 2);
  metrics.promotion_retry();
  metrics.webhook("deployment", "accepted");
  metrics.reconcile_finished(true, now);
  metrics.set_hotfix_obligations(1, 0);
  metrics.set_leader(true);
  return metrics.serialize();
}

}  // namespace

TEST_CASE("the metric-name extractor finds selectors and skips functions, labels, ranges and groupings") {
  CHECK(metric_names(R"(histogram_quantile(0.95, sum by (le, kind) (rate(a_bucket{job="$job"}[$__rate_interval]))))") ==
        std::set<std::string>{"a_bucket"});
  CHECK(metric_names(R"(time() - b > 600 and on (job, instance) sum by (job) (increase(c[10m])) > 0)") ==
        std::set<std::string>{"b", "c"});
  CHECK(metric_names(R"(up{job="promoterd"} == 0 or d offset 5m)") == std::set<std::string>{"up", "d"});
}

TEST_CASE("promtool accepts the alerting rules and their unit tests pass") {
  std::string output;
  const int checked =
      run_program({"promtool", "check", "rules", (source_dir / "deploy/prometheus/rules.yml").string()}, {}, output);
  CHECK_MESSAGE(checked == 0, output);
  CHECK_MESSAGE(output.find("SUCCESS") != std::string::npos, output);
  const int tested = run_program(
      {"promtool", "test", "rules", (source_dir / "deploy/prometheus/rules_test.yml").string()}, {}, output);
  CHECK_MESSAGE(tested == 0, output);
  CHECK_MESSAGE(output.find("FAILED") == std::string::npos, output);
}

TEST_CASE("every metric the Grafana dashboard queries is one promoterd exports") {
  const auto exported = exported_names(all_families_exposition());
  REQUIRE(exported.contains("promoter_promotions_total"));
  const auto exprs = dashboard_exprs();
  REQUIRE_FALSE(exprs.empty());
  std::set<std::string> used;
  for (const auto& expr : exprs) {
    const auto names = metric_names(expr);
    CHECK_MESSAGE(!names.empty(), "the query selects no metric: " << expr);
    for (const auto& name : names) {
      used.insert(name);
      CHECK_MESSAGE((exported.contains(name) || prometheus_generated.contains(name)),
                    "dashboard query names " << name << ", which promoterd does not export: " << expr);
    }
  }
  // The dashboard covers what the issue asks to watch.
  for (const char* name : {"promoter_promotions_total", "promoter_promotion_step_duration_seconds_bucket",
                           "promoter_hotfix_obligations_overdue", "promoter_reconciler_last_success_timestamp_seconds",
                           "promoter_adapter_requests_total", "promoter_leader", "promoter_short_soak_enabled"})
    CHECK_MESSAGE(used.contains(name), "the dashboard does not show " << name);
}

TEST_CASE("every metric the alerting rules query is one promoterd exports") {
  const auto exported = exported_names(all_families_exposition());
  const auto exprs = rule_exprs();
  REQUIRE(exprs.size() >= 5);
  for (const auto& expr : exprs) {
    const auto names = metric_names(expr);
    CHECK_MESSAGE(!names.empty(), "the rule selects no metric: " << expr);
    for (const auto& name : names)
      CHECK_MESSAGE((exported.contains(name) || prometheus_generated.contains(name)),
                    "rule names " << name << ", which promoterd does not export: " << expr);
  }
}
