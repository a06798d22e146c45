#include "daemon/http/config_api.hpp"

#include <map>
#include <set>

#include "ports/blocking.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

constexpr int history_limit = 100;
constexpr int violation_limit = 50;

json time_or_null(const std::optional<core::Timestamp>& t) {
  return t ? json(core::format_timestamp(*t)) : json(nullptr);
}

json names_json(const core::VariableSnapshot* s) {
  if (!s) return nullptr;
  json names = json::array();
  for (const auto& v : s->variables) names.push_back(v.name);
  return {{"observed_at", core::format_timestamp(s->observed_at)}, {"names", names}};
}

json exempt_json(const core::EnvPolicy& p) {
  json out = json::array();
  for (const auto& e : p.production_only)
    out.push_back({{"name", e.name}, {"only_in", "production"}, {"reason", e.reason}});
  for (const auto& e : p.staging_only) out.push_back({{"name", e.name}, {"only_in", "staging"}, {"reason", e.reason}});
  return out;
}

json flag_json(const core::FlagSighting* f) {
  if (!f) return nullptr;
  return {{"enabled", f->enabled}, {"updated_at", time_or_null(f->updated_at)}};
}

class ConfigApi {
 public:
  explicit ConfigApi(ApiContext ctx) : ctx_(std::move(ctx)) {}

  template <class F>
  asio::awaitable<std::invoke_result_t<F&>> blocking(F f) {
    co_return co_await run_blocking(ctx_.blocking, std::move(f));
  }

  asio::awaitable<HttpResponse> env(HttpRequest& req) {
    std::optional<std::string> only;
    if (auto it = req.query.find("service"); it != req.query.end()) {
      bool known = false;
      for (const auto& s : ctx_.config.services) known = known || s.name == it->second;
      if (!known)
        co_return HttpResponse::error(404, core::ErrorCode::not_found,
                                      fmt::format("no service is named {}", it->second));
      only = it->second;
    }
    auto state = co_await blocking([this] { return ctx_.store.config_state(); });
    if (!state) co_return error_response(state.error());
    auto read_history = [this, only] { return ctx_.store.variable_changes(only, history_limit); };
    auto history = co_await blocking(std::move(read_history));
    if (!history) co_return error_response(history.error());
    auto read_violations = [this, only] {
      return ctx_.store.config_violations(core::ViolationKind::env_production_first, only, violation_limit);
    };
    auto violations = co_await blocking(std::move(read_violations));
    if (!violations) co_return error_response(violations.error());
    const core::EnvPolicy& policy = ctx_.config.policy.env;
    json services = json::array();
    for (const auto& s : ctx_.config.services) {
      if (only && s.name != *only) continue;
      if (!s.lists_variables()) continue;
      const core::VariableSnapshot* staging = nullptr;
      const core::VariableSnapshot* production = nullptr;
      for (const auto& v : state->variables)
        if (v.service == s.name) (v.tier == core::ConfigTier::staging ? staging : production) = &v;
      core::ServiceNames names;
      if (staging)
        for (const auto& v : staging->variables) names.staging.insert(v.name);
      if (production)
        for (const auto& v : production->variables) names.production.insert(v.name);
      json missing = json::array();
      json only_in_production = json::array();
      if (staging && production) {
        for (const auto& n : core::missing_in_production(names, policy)) missing.push_back(n);
        for (const auto& n : names.production)
          if (!names.staging.contains(n)) only_in_production.push_back(n);
      }
      services.push_back({{"service", s.name},
                          {"staging", names_json(staging)},
                          {"production", names_json(production)},
                          {"missing_in_production", missing},
                          {"only_in_production", only_in_production},
                          {"exempt", exempt_json(policy)}});
    }
    json changes = json::array();
    for (const auto& r : *history) {
      const auto& c = r.judged.change;
      changes.push_back({{"id", r.id},
                         {"service", c.service},
                         {"environment", core::to_string(c.tier)},
                         {"name", c.name},
                         {"kind", core::to_string(c.kind)},
                         {"observed_at", core::format_timestamp(c.observed_at)},
                         {"provider_at", time_or_null(c.provider_at)},
                         {"violation", r.judged.violation ? json(r.judged.violation->reason) : json(nullptr)}});
    }
    json listed = json::array();
    for (const auto& v : *violations) listed.push_back(violation_json(v));
    co_return HttpResponse::json(200, {{"services", services}, {"history", changes}, {"violations", listed}});
  }

  asio::awaitable<HttpResponse> flags(HttpRequest&) {
    if (!ctx_.config.flags)
      co_return HttpResponse::json(200, {{"configured", false},
                                         {"observed_at", {{"staging", nullptr}, {"production", nullptr}}},
                                         {"flags", json::array()},
                                         {"history", json::array()},
                                         {"violations", json::array()}});
    auto state = co_await blocking([this] { return ctx_.store.config_state(); });
    if (!state) co_return error_response(state.error());
    auto history = co_await blocking([this] { return ctx_.store.flag_changes(history_limit); });
    if (!history) co_return error_response(history.error());
    auto violations = co_await blocking([this] {
      return ctx_.store.config_violations(core::ViolationKind::flag_production_first, std::nullopt, violation_limit);
    });
    if (!violations) co_return error_response(violations.error());
    std::map<std::string, std::pair<const core::FlagSighting*, const core::FlagSighting*>> keys;
    json observed = {{"staging", nullptr}, {"production", nullptr}};
    for (const auto& snapshot : state->flags) {
      const bool staging = snapshot.tier == core::ConfigTier::staging;
      observed[std::string(core::to_string(snapshot.tier))] = core::format_timestamp(snapshot.observed_at);
      for (const auto& f : snapshot.flags) (staging ? keys[f.key].first : keys[f.key].second) = &f;
    }
    json flags = json::array();
    for (const auto& [key, sides] : keys)
      flags.push_back({{"key", key},
                       {"staging", flag_json(sides.first)},
                       {"production", flag_json(sides.second)},
                       {"staging_ever_enabled", state->staging_flags_ever_enabled.contains(key)}});
    json changes = json::array();
    for (const auto& r : *history) {
      const auto& c = r.judged.change;
      changes.push_back({{"id", r.id},
                         {"environment", core::to_string(c.tier)},
                         {"key", c.key},
                         {"kind", core::to_string(c.kind)},
                         {"enabled", c.enabled},
                         {"observed_at", core::format_timestamp(c.observed_at)},
                         {"provider_at", time_or_null(c.provider_at)},
                         {"violation", r.judged.violation ? json(r.judged.violation->reason) : json(nullptr)}});
    }
    json listed = json::array();
    for (const auto& v : *violations) listed.push_back(violation_json(v));
    co_return HttpResponse::json(200, {{"configured", true},
                                       {"observed_at", observed},
                                       {"flags", flags},
                                       {"history", changes},
                                       {"violations", listed}});
  }

 private:
  ApiContext ctx_;
};

}  // namespace

json violation_json(const core::ConfigViolation& v) {
  return {{"kind", core::to_string(v.kind)},
          {"service", v.service},
          {"name", v.name},
          {"at", core::format_timestamp(v.at)},
          {"reason", v.reason}};
}

void add_config_routes(Router& router, ApiContext ctx) {
  auto api = std::make_shared<ConfigApi>(std::move(ctx));
  const std::vector<Role>& readers = reader_roles();
  router.add(http::verb::get, "/v1/env", {true, readers}, [api](HttpRequest& req) { return api->env(req); });
  router.add(http::verb::get, "/v1/flags", {true, readers}, [api](HttpRequest& req) { return api->flags(req); });
}

}  // namespace promoter::daemon
