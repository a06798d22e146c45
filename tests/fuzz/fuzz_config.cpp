// load_config_text on arbitrary bytes: an error names the file (and a line and column inside the
// text, when it gives one); an accepted config obeys the rules the daemon relies on without checking
// again (services in restart order, the soak floor, tokens from exactly one source, ...).
#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "daemon/config/config.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

namespace core = promoter::core;
using namespace promoter::daemon;

const std::string kPath = "fuzz.toml";

bool http_url(const std::string& url) { return url.starts_with("http://") || url.starts_with("https://"); }

// "fuzz.toml:LINE:COL: ..." names a line of the text (or the line just past its end).
void check_error(const std::string& message, std::string_view text) {
  FUZZ_CHECK(message.starts_with(kPath + ":"));
  std::string_view rest = std::string_view(message).substr(kPath.size() + 1);
  unsigned line = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), line);
  if (ec != std::errc{} || end == rest.data() || *end != ':') return;  // "fuzz.toml: message": no position
  const auto lines = static_cast<unsigned>(std::count(text.begin(), text.end(), '\n')) + 1;
  FUZZ_CHECK(line >= 1 && line <= lines);
}

void check_config(const Config& c) {
  FUZZ_CHECK(c.path == kPath);
  FUZZ_CHECK(!c.services.empty());
  FUZZ_CHECK(c.policy.services.size() == c.services.size());
  std::set<std::string> names;
  for (std::size_t i = 0; i < c.services.size(); ++i) {
    const auto& s = c.services[i];
    FUZZ_CHECK(!s.name.empty());
    FUZZ_CHECK(names.insert(s.name).second);
    FUZZ_CHECK(c.policy.services[i] == s.name);  // the promotion deploys in this order
    FUZZ_CHECK(s.restart_order >= 1);
    if (i > 0) FUZZ_CHECK(c.services[i - 1].restart_order < s.restart_order);
    FUZZ_CHECK(s.staging.provider == "generic" || s.staging.provider == "railway");
    FUZZ_CHECK(s.production.provider == "simulated" || s.production.provider == "railway" ||
               s.production.provider == "fly");
    if (s.staging.provider == "railway" || s.production.provider == "railway") FUZZ_CHECK(c.railway.has_value());
    if (s.production.provider == "fly") {
      FUZZ_CHECK(c.fly.has_value());
      FUZZ_CHECK(s.production.image.find("{sha}") != std::string::npos);
    }
  }
  FUZZ_CHECK(c.policy.soak >= core::soak_floor || c.policy.allow_short_soak);
  FUZZ_CHECK(c.policy.short_soak() == (c.policy.soak < core::soak_floor));
  FUZZ_CHECK(!c.policy.require_smoke || !c.policy.required_smoke_suites.empty());
  FUZZ_CHECK(c.policy.approvals_required >= 1 && c.policy.approvals_required <= 10);
  FUZZ_CHECK(c.policy.run_migrations == c.migrations.enabled);
  FUZZ_CHECK(c.database_max_connections >= 1 && c.database_max_connections <= 64);
  FUZZ_CHECK(!c.migrations.command.empty() && !c.migrations.command.front().empty());
  if (c.migrations.enabled && c.migrations.provider == "fly") FUZZ_CHECK(c.fly.has_value());
  if (c.railway) FUZZ_CHECK(http_url(c.railway->endpoint));
  if (c.fly) {
    FUZZ_CHECK(http_url(c.fly->endpoint));
    FUZZ_CHECK(!c.fly->endpoint.ends_with('/'));
  }
  FUZZ_CHECK(!c.smoke.suite.empty());
  for (const auto* probes : {&c.smoke.staging, &c.smoke.production}) {
    std::set<std::string> probe_names;
    for (const auto& p : *probes) {
      FUZZ_CHECK(http_url(p.url));
      FUZZ_CHECK(probe_names.insert(p.name).second);
      FUZZ_CHECK(p.expect_status >= 100 && p.expect_status <= 599);
      FUZZ_CHECK(p.timeout >= std::chrono::milliseconds(10));
    }
  }
  std::set<std::string> identities;
  for (const auto& t : c.tokens) {
    FUZZ_CHECK(!t.identity.empty());
    FUZZ_CHECK(identities.insert(t.identity).second);
    FUZZ_CHECK(t.token_env.empty() != t.token_file.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto config = load_config_text(text, kPath);
  if (!config) {
    check_error(config.error(), text);
    return 0;
  }
  check_config(*config);
  return 0;
}
