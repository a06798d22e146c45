#include "daemon/config/config.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "core/identity.hpp"

namespace promoter::daemon {

namespace {

// Thrown inside the loader only; load_config turns it into its error value.
struct ConfigError {
  std::string message;
};

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void error(const toml::node* node, std::string_view message) const {
    throw ConfigError{at(node, message)};
  }

  // "file:line:col: message", or "file: message" when the node has no position.
  std::string at(const toml::node* node, std::string_view message) const {
    if (node && node->source().begin.line)
      return fmt::format("{}:{}:{}: {}", path_, node->source().begin.line, node->source().begin.column, message);
    return fmt::format("{}: {}", path_, message);
  }

  // Unknown keys are mistakes (a typo silently ignored is a policy silently not applied).
  void only(const toml::table& table, std::string_view where, std::initializer_list<std::string_view> allowed) const {
    for (const auto& [key, value] : table) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end())
        error(&value, fmt::format("unknown key '{}{}' (allowed here: {})", where.empty() ? "" : std::string(where) + ".",
                                  key.str(), fmt::join(allowed, ", ")));
    }
  }

  const toml::table* table(const toml::table& parent, std::string_view key, std::string_view where) const {
    const toml::node* node = parent.get(key);
    if (!node) return nullptr;
    if (!node->is_table()) error(node, fmt::format("{} must be a table", where));
    return node->as_table();
  }

  std::optional<std::string> string(const toml::table& t, std::string_view key, std::string_view where) const {
    const toml::node* node = t.get(key);
    if (!node) return std::nullopt;
    if (!node->is_string()) error(node, fmt::format("{} must be a string", where));
    return node->value<std::string>();
  }

  std::string required_string(const toml::table& t, const toml::node* owner, std::string_view key,
                              std::string_view where) const {
    auto v = string(t, key, where);
    if (!v || v->empty()) error(owner, fmt::format("{} is required", where));
    return *v;
  }

  std::optional<bool> boolean(const toml::table& t, std::string_view key, std::string_view where) const {
    const toml::node* node = t.get(key);
    if (!node) return std::nullopt;
    if (!node->is_boolean()) error(node, fmt::format("{} must be true or false", where));
    return node->value<bool>();
  }

  std::optional<std::int64_t> integer(const toml::table& t, std::string_view key, std::string_view where,
                                      std::int64_t min, std::int64_t max) const {
    const toml::node* node = t.get(key);
    if (!node) return std::nullopt;
    if (!node->is_integer()) error(node, fmt::format("{} must be an integer", where));
    const auto v = *node->value<std::int64_t>();
    if (v < min || v > max) error(node, fmt::format("{} = {} is out of range ({}..{})", where, v, min, max));
    return v;
  }

  std::optional<core::Duration> duration(const toml::table& t, std::string_view key, std::string_view where) const {
    auto text = string(t, key, where);
    if (!text) return std::nullopt;
    auto d = core::parse_duration(*text);
    if (!d) error(t.get(key), fmt::format("{}: {}", where, d.error().message));
    return *d;
  }

  std::optional<std::vector<std::string>> strings(const toml::table& t, std::string_view key,
                                                  std::string_view where) const {
    const toml::node* node = t.get(key);
    if (!node) return std::nullopt;
    const toml::array* arr = node->as_array();
    if (!arr) error(node, fmt::format("{} must be an array of strings", where));
    std::vector<std::string> out;
    for (const auto& item : *arr) {
      if (!item.is_string()) error(&item, fmt::format("{} must contain only strings", where));
      out.push_back(*item.value<std::string>());
    }
    return out;
  }

  // An image reference with "{sha}" where the release's commit goes.
  std::string image_template(const toml::table& t, const toml::node* owner, std::string_view where) const {
    auto v = required_string(t, owner, "image", where);
    if (v.find("{sha}") == std::string::npos)
      error(t.get("image"), fmt::format("{} = \"{}\" must contain {{sha}} (e.g. \"registry.fly.io/app:{{sha}}\"), so "
                                        "each release deploys its own image",
                                        where, v));
    return v;
  }

  std::vector<ProbeConfig> probes(const toml::table& t, std::string_view key, std::string_view where) const {
    std::vector<ProbeConfig> out;
    const toml::node* node = t.get(key);
    if (!node) return out;
    const toml::array* arr = node->as_array();
    if (!arr) error(node, fmt::format("{} must be an array of tables ([[{}]])", where, where));
    std::set<std::string> names;
    for (const auto& item : *arr) {
      const toml::table* p = item.as_table();
      if (!p) error(&item, fmt::format("each [[{}]] entry must be a table", where));
      only(*p, where, {"name", "url", "expect_status", "expect_body", "timeout"});
      ProbeConfig probe;
      probe.url = required_string(*p, &item, "url", fmt::format("{}.url", where));
      if (!probe.url.starts_with("https://") && !probe.url.starts_with("http://"))
        error(p->get("url"), fmt::format("{}.url must be an http:// or https:// URL", where));
      probe.name = string(*p, "name", fmt::format("{}.name", where)).value_or(probe.url);
      if (!names.insert(probe.name).second)
        error(p->get("name") ? p->get("name") : &item, fmt::format("probe '{}' is configured twice", probe.name));
      if (auto v = integer(*p, "expect_status", fmt::format("{}.expect_status", where), 100, 599))
        probe.expect_status = static_cast<int>(*v);
      probe.expect_body = string(*p, "expect_body", fmt::format("{}.expect_body", where)).value_or("");
      if (auto v = duration(*p, "timeout", fmt::format("{}.timeout", where))) probe.timeout = *v;
      if (probe.timeout < std::chrono::milliseconds(10))
        error(p->get("timeout"), fmt::format("{}.timeout must be at least 10ms", where));
      out.push_back(std::move(probe));
    }
    return out;
  }

  // [[policy.approval_rules]]: services = [...], approvals_required = N.
  void read_approval_rules(const toml::node& node, const std::set<std::string>& services, core::Policy& p) const {
    const toml::array* rules = node.as_array();
    if (!rules) error(&node, "policy.approval_rules must be an array of tables ([[policy.approval_rules]])");
    for (const auto& entry : *rules) {
      const toml::table* t = entry.as_table();
      if (!t) error(&entry, "each [[policy.approval_rules]] entry must be a table");
      only(*t, "policy.approval_rules", {"services", "approvals_required"});
      core::ApprovalRule rule;
      auto names = strings(*t, "services", "policy.approval_rules.services");
      if (!names || names->empty()) error(&entry, "policy.approval_rules.services must name at least one service");
      for (const auto& name : *names)
        if (!services.contains(name))
          error(t->get("services"), fmt::format("policy.approval_rules.services names '{}', which is not a "
                                                "configured service",
                                                name));
      rule.services = *names;
      auto required = integer(*t, "approvals_required", "policy.approval_rules.approvals_required", 1, 10);
      if (!required) error(&entry, "policy.approval_rules.approvals_required is required");
      rule.approvals_required = static_cast<int>(*required);
      p.approval_rules.push_back(std::move(rule));
    }
  }

  // [hotfix]: the emergency path's smoke requirement and obligation due times.
  void read_hotfix(const toml::table& t, core::HotfixPolicy& h) const {
    only(t, "hotfix", {"require_smoke", "review_backfill_business_days", "incident_report_within", "holidays"});
    if (auto v = boolean(t, "require_smoke", "hotfix.require_smoke")) h.require_smoke = *v;
    if (auto v = integer(t, "review_backfill_business_days", "hotfix.review_backfill_business_days", 1, 30))
      h.review_backfill_business_days = static_cast<int>(*v);
    if (auto v = duration(t, "incident_report_within", "hotfix.incident_report_within")) {
      if (*v < std::chrono::hours{1} || *v > std::chrono::days{30})
        error(t.get("incident_report_within"), "hotfix.incident_report_within must be between 1h and 30 days");
      h.incident_report_within = *v;
    }
    if (const toml::node* holidays = t.get("holidays")) {
      const toml::array* list = holidays->as_array();
      if (!list) error(holidays, "hotfix.holidays must be an array of dates like \"2026-12-25\"");
      for (const auto& day : *list) {
        const auto* text = day.as_string();
        unsigned y = 0, m = 0, d = 0;
        char tail = 0;
        const bool parsed = text && std::sscanf(text->get().c_str(), "%4u-%2u-%2u%c", &y, &m, &d, &tail) == 3 &&
                            text->get().size() == 10;
        const std::chrono::year_month_day ymd{std::chrono::year(static_cast<int>(y)), std::chrono::month(m),
                                              std::chrono::day(d)};
        if (!parsed || !ymd.ok())
          error(&day, "hotfix.holidays entries must be dates like \"2026-12-25\" (UTC calendar days)");
        h.holidays.insert(std::chrono::sys_days{ymd});
      }
    }
  }

  Config read(const toml::table& root) const {
    Config c;
    c.path = path_;
    only(root, "",
         {"environment", "server", "database", "policy", "services", "migrations", "simulation", "auth", "railway",
          "fly", "smoke", "hotfix", "notifications"});
    if (auto v = string(root, "environment", "environment")) c.environment = *v;

    if (const auto* server = table(root, "server", "[server]")) {
      only(*server, "server",
           {"listen", "advertise_url", "instance_name", "max_connections", "max_connections_per_peer",
            "header_timeout"});
      if (auto v = integer(*server, "max_connections", "server.max_connections", 1, 100000))
        c.max_connections = static_cast<std::size_t>(*v);
      if (auto v = integer(*server, "max_connections_per_peer", "server.max_connections_per_peer", 1, 100000))
        c.max_connections_per_peer = static_cast<std::size_t>(*v);
      if (!server->get("max_connections_per_peer"))
        c.max_connections_per_peer = std::min(c.max_connections_per_peer, c.max_connections);
      if (c.max_connections_per_peer > c.max_connections)
        error(server->get("max_connections_per_peer"),
              fmt::format("server.max_connections_per_peer = {} is above server.max_connections = {}; one address "
                          "would be allowed more than every address together",
                          c.max_connections_per_peer, c.max_connections));
      if (auto v = duration(*server, "header_timeout", "server.header_timeout")) {
        if (*v < std::chrono::milliseconds(100) || *v > std::chrono::minutes(5))
          error(server->get("header_timeout"),
                fmt::format("server.header_timeout = \"{}\" must be between 100ms and 5m: how long a connection may "
                            "take to send a complete request header",
                            core::format_duration(*v)));
        c.header_timeout = *v;
      }
      if (auto url = string(*server, "advertise_url", "server.advertise_url")) {
        std::string trimmed = *url;
        while (trimmed.ends_with('/')) trimmed.pop_back();
        const auto scheme_end = trimmed.find("://");
        const bool http = trimmed.starts_with("http://") || trimmed.starts_with("https://");
        if (!http || trimmed.size() <= scheme_end + 3 || trimmed.find_first_of("/?#", scheme_end + 3) != std::string::npos)
          error(server->get("advertise_url"),
                fmt::format("server.advertise_url = \"{}\" must be http[s]://HOST[:PORT] with no path: where other "
                            "instances reach this one",
                            *url));
        c.advertise_url = trimmed;
      }
      if (auto name = string(*server, "instance_name", "server.instance_name")) {
        const bool printable = std::all_of(name->begin(), name->end(), [](char ch) { return ch > 0x20 && ch < 0x7f; });
        if (name->empty() || name->size() > 63 || !printable)
          error(server->get("instance_name"),
                fmt::format("server.instance_name must be 1 to 63 printable ASCII characters without spaces"));
        c.instance_name = *name;
      }
      if (auto listen = string(*server, "listen", "server.listen")) {
        const auto colon = listen->rfind(':');
        int port = -1;
        if (colon != std::string::npos) {
          try {
            port = std::stoi(listen->substr(colon + 1));
          } catch (...) {
          }
        }
        if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535)
          error(server->get("listen"), fmt::format("server.listen = \"{}\" must be HOST:PORT, e.g. \"127.0.0.1:8080\"",
                                                   *listen));
        c.listen_host = listen->substr(0, colon);
        if (c.listen_host.size() > 2 && c.listen_host.front() == '[') c.listen_host = c.listen_host.substr(1, c.listen_host.size() - 2);
        c.listen_port = static_cast<std::uint16_t>(port);
      }
    }

    if (const auto* db = table(root, "database", "[database]")) {
      only(*db, "database", {"url_env", "max_connections"});
      if (db->get("url")) error(db->get("url"), "database.url is not accepted: name an environment variable in url_env");
      if (auto v = string(*db, "url_env", "database.url_env")) c.database_url_env = *v;
      if (auto v = integer(*db, "max_connections", "database.max_connections", 1, 64)) c.database_max_connections = *v;
    }

    const auto* policy = table(root, "policy", "[policy]");
    if (policy) {
      only(*policy, "policy",
           {"soak", "allow_short_soak", "require_smoke", "required_smoke_suites", "approvals_required",
            "approval_rules"});
      if (auto v = duration(*policy, "soak", "policy.soak")) c.policy.soak = *v;
      if (auto v = boolean(*policy, "allow_short_soak", "policy.allow_short_soak")) c.policy.allow_short_soak = *v;
      if (auto v = boolean(*policy, "require_smoke", "policy.require_smoke")) c.policy.require_smoke = *v;
      if (auto v = strings(*policy, "required_smoke_suites", "policy.required_smoke_suites"))
        c.policy.required_smoke_suites = *v;
      if (auto v = integer(*policy, "approvals_required", "policy.approvals_required", 1, 10))
        c.policy.approvals_required = static_cast<int>(*v);
      if (c.policy.short_soak() && !c.policy.allow_short_soak)
        error(policy->get("soak"), fmt::format("policy.soak = \"{}\" is below the policy floor of {}; set "
                                               "policy.allow_short_soak = true only for demos and tests",
                                               core::format_duration(c.policy.soak),
                                               core::format_duration(core::soak_floor)));
      if (c.policy.require_smoke && c.policy.required_smoke_suites.empty())
        error(policy->get("require_smoke") ? policy->get("require_smoke") : policy,
              "policy.require_smoke = true needs at least one suite in policy.required_smoke_suites");
    } else {
      error(nullptr, "[policy] is required (soak, require_smoke, required_smoke_suites)");
    }

    const toml::node* services_node = root.get("services");
    if (!services_node) error(nullptr, "at least one [[services]] entry is required");
    const toml::array* services = services_node->as_array();
    if (!services || services->empty()) error(services_node, "services must be an array of tables ([[services]])");
    std::set<std::string> names;
    std::set<std::int64_t> orders;
    for (const auto& node : *services) {
      const toml::table* s = node.as_table();
      if (!s) error(&node, "each [[services]] entry must be a table");
      only(*s, "services", {"name", "restart_order", "staging", "production"});
      ServiceConfig svc;
      svc.name = required_string(*s, &node, "name", "services.name");
      if (!names.insert(svc.name).second) error(s->get("name"), fmt::format("service '{}' is configured twice", svc.name));
      auto order = integer(*s, "restart_order", "services.restart_order", 1, 100000);
      if (!order) error(&node, fmt::format("service '{}' needs restart_order (1 restarts first)", svc.name));
      if (!orders.insert(*order).second)
        error(s->get("restart_order"), fmt::format("restart_order {} is used by two services", *order));
      svc.restart_order = static_cast<int>(*order);
      if (const auto* st = table(*s, "staging", "services.staging")) {
        only(*st, "services.staging", {"provider", "project_id", "environment_id", "service_id"});
        if (auto v = string(*st, "provider", "services.staging.provider")) svc.staging.provider = *v;
        if (svc.staging.provider != "generic" && svc.staging.provider != "railway")
          error(st->get("provider"), fmt::format("services.staging.provider = \"{}\": use \"railway\" or \"generic\"",
                                                 svc.staging.provider));
        if (svc.staging.provider == "railway") {
          svc.staging.project_id = required_string(*st, st, "project_id", "services.staging.project_id");
          svc.staging.environment_id = required_string(*st, st, "environment_id", "services.staging.environment_id");
          svc.staging.service_id = required_string(*st, st, "service_id", "services.staging.service_id");
        }
      }
      if (const auto* pr = table(*s, "production", "services.production")) {
        only(*pr, "services.production",
             {"provider", "project_id", "environment_id", "service_id", "app", "image", "process_group"});
        if (auto v = string(*pr, "provider", "services.production.provider")) svc.production.provider = *v;
        if (svc.production.provider == "railway") {
          svc.production.project_id = required_string(*pr, pr, "project_id", "services.production.project_id");
          svc.production.environment_id =
              required_string(*pr, pr, "environment_id", "services.production.environment_id");
          svc.production.service_id = required_string(*pr, pr, "service_id", "services.production.service_id");
        } else if (svc.production.provider == "fly") {
          svc.production.app = required_string(*pr, pr, "app", "services.production.app");
          svc.production.image = image_template(*pr, pr, "services.production.image");
          svc.production.process_group = string(*pr, "process_group", "services.production.process_group").value_or("");
        } else if (svc.production.provider != "simulated") {
          error(pr->get("provider"),
                fmt::format("services.production.provider = \"{}\": use \"railway\", \"fly\" or \"simulated\"",
                            svc.production.provider));
        }
      }
      c.services.push_back(std::move(svc));
    }
    std::sort(c.services.begin(), c.services.end(),
              [](const auto& a, const auto& b) { return a.restart_order < b.restart_order; });
    for (const auto& s : c.services) c.policy.services.push_back(s.name);
    if (const toml::node* rules = policy->get("approval_rules")) read_approval_rules(*rules, names, c.policy);
    if (const auto* hotfix = table(root, "hotfix", "[hotfix]")) read_hotfix(*hotfix, c.policy.hotfix);

    if (const auto* rw = table(root, "railway", "[railway]")) {
      only(*rw, "railway",
           {"endpoint", "token_env", "token_kind", "ca_file", "webhook_secret_env", "reconcile_interval",
            "poll_interval", "deploy_timeout", "requests_per_hour"});
      RailwayConfig r;
      if (auto v = string(*rw, "endpoint", "railway.endpoint")) r.endpoint = *v;
      if (!r.endpoint.starts_with("https://") && !r.endpoint.starts_with("http://"))
        error(rw->get("endpoint"), "railway.endpoint must be an http:// or https:// URL");
      if (auto v = string(*rw, "token_env", "railway.token_env")) r.token_env = *v;
      if (auto v = string(*rw, "token_kind", "railway.token_kind")) r.token_kind = *v;
      if (r.token_kind != "account" && r.token_kind != "project")
        error(rw->get("token_kind"), "railway.token_kind must be \"account\" or \"project\"");
      if (auto v = string(*rw, "ca_file", "railway.ca_file")) r.ca_file = *v;
      if (auto v = string(*rw, "webhook_secret_env", "railway.webhook_secret_env")) r.webhook_secret_env = *v;
      if (auto v = duration(*rw, "reconcile_interval", "railway.reconcile_interval")) r.reconcile_interval = *v;
      if (auto v = duration(*rw, "poll_interval", "railway.poll_interval")) r.poll_interval = *v;
      if (auto v = duration(*rw, "deploy_timeout", "railway.deploy_timeout")) r.deploy_timeout = *v;
      if (auto v = integer(*rw, "requests_per_hour", "railway.requests_per_hour", 1, 1'000'000))
        r.requests_per_hour = static_cast<int>(*v);
      if (r.reconcile_interval < std::chrono::seconds(1))
        error(rw->get("reconcile_interval"), "railway.reconcile_interval must be at least 1s");
      if (r.poll_interval < std::chrono::milliseconds(50))
        error(rw->get("poll_interval"), "railway.poll_interval must be at least 50ms");
      c.railway = r;
    }
    for (const auto& s : c.services)
      if ((s.staging.provider == "railway" || s.production.provider == "railway") && !c.railway)
        error(nullptr, fmt::format("service '{}' uses Railway: add a [railway] section (token_env, ...)", s.name));

    if (const auto* fl = table(root, "fly", "[fly]")) {
      only(*fl, "fly",
           {"endpoint", "token_env", "ca_file", "poll_interval", "lease_ttl", "lease_wait", "machine_timeout",
            "requests_per_hour"});
      FlyConfig f;
      if (auto v = string(*fl, "endpoint", "fly.endpoint")) f.endpoint = *v;
      if (!f.endpoint.starts_with("https://") && !f.endpoint.starts_with("http://"))
        error(fl->get("endpoint"), "fly.endpoint must be an http:// or https:// URL");
      while (f.endpoint.ends_with('/')) f.endpoint.pop_back();
      if (auto v = string(*fl, "token_env", "fly.token_env")) f.token_env = *v;
      if (auto v = string(*fl, "ca_file", "fly.ca_file")) f.ca_file = *v;
      if (auto v = duration(*fl, "poll_interval", "fly.poll_interval")) f.poll_interval = *v;
      if (auto v = duration(*fl, "lease_ttl", "fly.lease_ttl")) f.lease_ttl = *v;
      if (auto v = duration(*fl, "lease_wait", "fly.lease_wait")) f.lease_wait = *v;
      if (auto v = duration(*fl, "machine_timeout", "fly.machine_timeout")) f.machine_timeout = *v;
      if (auto v = integer(*fl, "requests_per_hour", "fly.requests_per_hour", 1, 1'000'000))
        f.requests_per_hour = static_cast<int>(*v);
      if (f.poll_interval < std::chrono::milliseconds(50))
        error(fl->get("poll_interval"), "fly.poll_interval must be at least 50ms");
      if (f.lease_ttl < std::chrono::seconds(10)) error(fl->get("lease_ttl"), "fly.lease_ttl must be at least 10s");
      c.fly = f;
    }

    if (const auto* m = table(root, "migrations", "[migrations]")) {
      only(*m, "migrations",
           {"enabled", "provider", "command", "workdir", "timeout", "pass_env", "database_url_env", "app", "image",
            "region"});
      if (auto v = boolean(*m, "enabled", "migrations.enabled")) c.migrations.enabled = *v;
      if (auto v = string(*m, "provider", "migrations.provider")) c.migrations.provider = *v;
      if (c.migrations.provider != "simulated" && c.migrations.provider != "local" && c.migrations.provider != "fly")
        error(m->get("provider"), fmt::format("migrations.provider = \"{}\": use \"local\", \"fly\" or \"simulated\"",
                                              c.migrations.provider));
      if (auto v = strings(*m, "command", "migrations.command")) {
        if (v->empty() || v->front().empty()) error(m->get("command"), "migrations.command must name a program");
        c.migrations.command = *v;
      }
      if (auto v = string(*m, "workdir", "migrations.workdir")) c.migrations.workdir = *v;
      if (auto v = duration(*m, "timeout", "migrations.timeout")) c.migrations.timeout = *v;
      if (c.migrations.timeout < std::chrono::seconds(1))
        error(m->get("timeout"), "migrations.timeout must be at least 1s");
      if (auto v = strings(*m, "pass_env", "migrations.pass_env")) c.migrations.pass_env = *v;
      if (auto v = string(*m, "database_url_env", "migrations.database_url_env")) c.migrations.database_url_env = *v;
      if (c.migrations.provider == "fly") {
        c.migrations.app = required_string(*m, m, "app", "migrations.app");
        c.migrations.image = image_template(*m, m, "migrations.image");
        c.migrations.region = string(*m, "region", "migrations.region").value_or("");
      }
    }
    c.policy.run_migrations = c.migrations.enabled;
    bool uses_fly = c.migrations.enabled && c.migrations.provider == "fly";
    for (const auto& s : c.services) uses_fly = uses_fly || s.production.provider == "fly";
    if (uses_fly && !c.fly) error(nullptr, "a production target or the migrations use Fly: add a [fly] section (token_env, ...)");

    if (const auto* sm = table(root, "smoke", "[smoke]")) {
      only(*sm, "smoke", {"suite", "staging", "production", "ca_file"});
      if (auto v = string(*sm, "suite", "smoke.suite")) c.smoke.suite = *v;
      if (c.smoke.suite.empty()) error(sm->get("suite"), "smoke.suite must not be empty");
      if (auto v = string(*sm, "ca_file", "smoke.ca_file")) c.smoke.ca_file = *v;
      c.smoke.staging = probes(*sm, "staging", "smoke.staging");
      c.smoke.production = probes(*sm, "production", "smoke.production");
    }

    if (const auto* sim = table(root, "simulation", "[simulation]")) {
      only(*sim, "simulation", {"record_file", "step_delay", "fail_steps"});
      if (auto v = string(*sim, "record_file", "simulation.record_file")) c.simulation.record_file = *v;
      if (auto v = duration(*sim, "step_delay", "simulation.step_delay")) c.simulation.step_delay = *v;
      if (auto v = strings(*sim, "fail_steps", "simulation.fail_steps")) c.simulation.fail_steps = *v;
    }

    if (const auto* n = table(root, "notifications", "[notifications]")) {
      if (n->get("slack_webhook_url"))
        error(n->get("slack_webhook_url"), "notifications.slack_webhook_url is not accepted: the URL is a secret; "
                                           "name an environment variable in slack_webhook_url_env");
      only(*n, "notifications", {"slack_webhook_url_env", "kinds", "ca_file", "max_attempts", "backoff"});
      NotificationsConfig nc;
      if (auto v = string(*n, "slack_webhook_url_env", "notifications.slack_webhook_url_env")) nc.slack_webhook_url_env = *v;
      if (nc.slack_webhook_url_env.empty())
        error(n->get("slack_webhook_url_env"), "notifications.slack_webhook_url_env must name an environment variable");
      if (auto v = strings(*n, "kinds", "notifications.kinds")) {
        for (const auto& kind : *v)
          if (kind.empty() || kind.find('.') == std::string::npos)
            error(n->get("kinds"), fmt::format("notifications.kinds: \"{}\" is not a notification kind (e.g. "
                                               "\"promotion.failed\", \"release.ready_for_approval\")",
                                               kind));
        nc.kinds = *v;
      }
      if (auto v = string(*n, "ca_file", "notifications.ca_file")) nc.ca_file = *v;
      if (auto v = integer(*n, "max_attempts", "notifications.max_attempts", 1, 20)) nc.max_attempts = static_cast<int>(*v);
      if (auto v = duration(*n, "backoff", "notifications.backoff")) nc.backoff = *v;
      if (nc.backoff < std::chrono::milliseconds(10) || nc.backoff > std::chrono::minutes(5))
        error(n->get("backoff"), "notifications.backoff must be between 10ms and 5m");
      c.notifications = nc;
    }

    if (const auto* auth = table(root, "auth", "[auth]")) {
      only(*auth, "auth", {"tokens"});
      if (const toml::node* tokens = auth->get("tokens")) {
        const toml::array* arr = tokens->as_array();
        if (!arr) error(tokens, "auth.tokens must be an array of tables ([[auth.tokens]])");
        std::set<std::string> identities;
        for (const auto& node : *arr) {
          const toml::table* t = node.as_table();
          if (!t) error(&node, "each [[auth.tokens]] entry must be a table");
          only(*t, "auth.tokens", {"identity", "role", "token_env", "token_file", "git_authors"});
          if (t->get("token"))
            error(t->get("token"), "auth.tokens.token is not accepted: secrets never live in the config file; use "
                                   "token_env or token_file");
          TokenConfig tc;
          tc.identity = required_string(*t, &node, "identity", "auth.tokens.identity");
          if (!identities.insert(tc.identity).second)
            error(t->get("identity"), fmt::format("identity '{}' has two tokens", tc.identity));
          const auto role = required_string(*t, &node, "role", "auth.tokens.role");
          auto parsed = parse_role(role);
          if (!parsed)
            error(t->get("role"), fmt::format("auth.tokens.role = \"{}\": use viewer, ci or operator", role));
          tc.role = *parsed;
          tc.token_env = string(*t, "token_env", "auth.tokens.token_env").value_or("");
          tc.token_file = string(*t, "token_file", "auth.tokens.token_file").value_or("");
          if (tc.token_env.empty() == tc.token_file.empty())
            error(&node, fmt::format("token of '{}' needs exactly one of token_env or token_file", tc.identity));
          tc.git_authors = strings(*t, "git_authors", "auth.tokens.git_authors").value_or(std::vector<std::string>{});
          c.tokens.push_back(std::move(tc));
        }
        warn_colliding_git_authors(*arr, c);
      }
    }
    for (const auto& t : c.tokens) {
      c.policy.known_identities.insert(core::normalise_identity(t.identity));
      for (const auto& author : t.git_authors) c.policy.known_identities.insert(core::normalise_identity(author));
    }
    return c;
  }

  // Two git_authors entries that normalise alike name one commit author: the author check treats them as
  // one person, which is rarely what whoever wrote two spellings (or gave two tokens one login) meant.
  void warn_colliding_git_authors(const toml::array& tokens, Config& c) const {
    struct Seen {
      std::string spelling, identity;
    };
    std::map<std::string, Seen> seen;  // by normalised form
    for (std::size_t i = 0; i < tokens.size() && i < c.tokens.size(); ++i) {
      const TokenConfig& token = c.tokens[i];
      const toml::array* authors = nullptr;
      if (const toml::table* t = tokens.get(i)->as_table())
        if (const toml::node* node = t->get("git_authors")) authors = node->as_array();
      for (std::size_t k = 0; k < token.git_authors.size(); ++k) {
        const std::string& author = token.git_authors[k];
        auto [it, fresh] = seen.emplace(core::normalise_identity(author), Seen{author, token.identity});
        if (fresh || (it->second.identity == token.identity && it->second.spelling == author)) continue;
        const toml::node* where = authors && k < authors->size() ? authors->get(k) : nullptr;
        c.warnings.push_back(at(where, fmt::format(
            "warning: auth.tokens.git_authors \"{}\" (identity {}) and \"{}\" (identity {}) are the same commit "
            "author once case, width and surrounding space are ignored; an approval by either identity is refused "
            "for releases by that author",
            author, token.identity, it->second.spelling, it->second.identity)));
      }
    }
  }

 private:
  std::string path_;
};

// toml++ 3.3 (Debian 12) reaches __builtin_unreachable(), undefined behaviour, when it asks whether a
// character in U+00A1..U+0499, U+2C5E..U+3057 (but U+3000) or U+FB26..U+FEFE is whitespace (marzer/tomlplusplus#190 and #295, fixed
// upstream by #305; found by tests/fuzz/fuzz_config). It asks outside strings and comments, where such a
// character is an error anyway, and after a backslash in a """string""". unsafe_for_toml finds both
// before toml++ reads the text.
bool trips_toml_whitespace_check(char32_t c) {
  if (c < 0xA0 || c > 0xFEFF || c == 0xA0 || c == 0x3000 || c == 0xFEFF) return false;
  const auto block = (c - 0xA0) / 0x3FA;  // toml++'s generated table: blocks 0, 11 and 63 have no case
  return block == 0 || block == 11 || block == 63;
}

// The code point starting at text[i]; 0 for malformed UTF-8, which toml++ refuses on its own.
char32_t code_point_at(std::string_view text, std::size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (lead < 0x80) return lead;
  const std::size_t n = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  char32_t c = lead & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
  return c;
}

std::string refusal(std::string_view text, std::string_view path, std::size_t i, std::string_view why) {
  std::size_t line = 1, column = 1;  // columns count characters, as toml++'s do
  for (std::size_t k = 0; k < i; ++k) {
    if (text[k] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[k]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return fmt::format("{}:{}:{}: the character U+{:04X} {}", path, line, column,
                     static_cast<std::uint32_t>(code_point_at(text, i)), why);
}

std::optional<std::string> unsafe_for_toml(std::string_view text, std::string_view path) {
  enum class In { code, comment, basic, literal, multiline_basic, multiline_literal } in = In::code;
  auto trips = [&](std::size_t i) {
    return static_cast<unsigned char>(text[i]) >= 0x80 && trips_toml_whitespace_check(code_point_at(text, i));
  };
  // toml++ reads a bare value (number, date, boolean) up to a value terminator, looking at every
  // character, quotes included; so a quote opens a string only where a token starts.
  std::string nesting;  // '[' per open array, '{' per open inline table
  bool value = false;   // the next token is a value, else a key
  bool bare = false;    // inside a bare key or value
  auto terminates = [&](char c) {
    if (value) return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ']' || c == '}' || c == ',' || c == '#';
    return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const char ch = text[i];
    switch (in) {
      case In::code:
        if (bare && !terminates(ch)) {
          if (trips(i)) return refusal(text, path, i, "is not allowed outside strings and comments");
          break;
        }
        bare = false;
        if (ch == '#') {
          in = In::comment;
        } else if (ch == '\n') {
          if (nesting.empty()) value = false;
        } else if (ch == '=') {
          value = true;
        } else if (ch == '[' || ch == '{') {
          if (value) nesting.push_back(ch);  // else '[' opens a table header: keys follow
          if (value && ch == '{') value = false;
        } else if (ch == ']' || ch == '}') {
          if (!nesting.empty()) nesting.pop_back();
          value = true;
        } else if (ch == ',') {
          value = !nesting.empty() && nesting.back() == '[';
        } else if (text.substr(i, 3) == "\"\"\"" || text.substr(i, 3) == "\'\'\'") {
          in = ch == '"' ? In::multiline_basic : In::multiline_literal;
          i += 2;
        } else if (ch == '"' || ch == '\'') {
          in = ch == '"' ? In::basic : In::literal;
        } else if (trips(i)) {
          return refusal(text, path, i, "is not allowed outside strings and comments");
        } else if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '.') {
          bare = true;
        }
        break;
      case In::comment:
        if (ch == '\n') {
          in = In::code;
          if (nesting.empty()) value = false;
        }
        break;
      case In::basic:
        if (ch == '\\') ++i;  // skips the escaped character
        else if (ch == '"' || ch == '\n') in = In::code;
        break;
      case In::literal:
        if (ch == '\'' || ch == '\n') in = In::code;
        break;
      case In::multiline_basic:
      case In::multiline_literal: {
        const std::string_view closing = in == In::multiline_basic ? "\"\"\"" : "\'\'\'";
        if (text.substr(i, 3) == closing) {
          i += 2;
          // Up to two more quotes belong to the string: """a""""" is a"".
          for (int extra = 0; extra < 2 && i + 1 < text.size() && text[i + 1] == closing[0]; ++extra) ++i;
          in = In::code;
        } else if (in == In::multiline_basic && ch == '\\') {
          // toml++ tests whether the escaped character is whitespace and, after a line-ending backslash,
          // each character up to the next that is not.
          std::size_t j = i + 1;
          while (j < text.size() && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r' || text[j] == '\n')) ++j;
          if (j < text.size() && trips(j))
            return refusal(text, path, j,
                           "cannot follow a backslash in a multi-line string (toml++ 3.3 misreads it); put an ASCII "
                           "character first");
          ++i;  // skips the escaped character
        }
        break;
      }
    }
    ++i;
  }
  return std::nullopt;
}

}  // namespace

std::expected<Config, std::string> load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected(fmt::format("{}: cannot read the file", path));
  std::stringstream text;
  text << in.rdbuf();
  return load_config_text(text.str(), path);
}

std::expected<Config, std::string> load_config_text(std::string_view text, const std::string& path) {
  if (auto unsafe = unsafe_for_toml(text, path)) return std::unexpected(std::move(*unsafe));
  try {
    toml::table root = toml::parse(text, path);
    Config config = Reader(path).read(root);
    for (const auto& [key, node] : root) {
      std::ostringstream section;
      node.visit([&section](const auto& n) { section << n; });
      config.section_texts[std::string(key.str())] = section.str();
    }
    return config;
  } catch (const toml::parse_error& e) {
    return std::unexpected(fmt::format("{}:{}:{}: {}", path, e.source().begin.line, e.source().begin.column,
                                       e.description()));
  } catch (const ConfigError& e) {
    return std::unexpected(e.message);
  }
}

bool NotificationsConfig::wants(std::string_view kind) const {
  return kinds.empty() || std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

std::expected<std::vector<TokenEntry>, std::string> resolve_tokens(const Config& c, const EnvLookup& env) {
  std::vector<TokenEntry> out;
  for (const auto& t : c.tokens) {
    std::string token;
    if (!t.token_env.empty()) {
      auto v = env(t.token_env);
      if (!v || v->empty())
        return std::unexpected(fmt::format("{}: token of '{}': environment variable {} is not set", c.path, t.identity,
                                           t.token_env));
      token = *v;
    } else {
      std::ifstream f(t.token_file);
      if (!f)
        return std::unexpected(fmt::format("{}: token of '{}': cannot read {}", c.path, t.identity, t.token_file));
      std::getline(f, token);
      while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
      if (token.empty())
        return std::unexpected(fmt::format("{}: token of '{}': {} is empty", c.path, t.identity, t.token_file));
    }
    if (token.size() < 16)
      return std::unexpected(fmt::format("{}: token of '{}' is shorter than 16 characters; use a long random token",
                                         c.path, t.identity));
    out.push_back(TokenEntry{t.identity, t.role, std::move(token), t.git_authors});
  }
  return out;
}

}  // namespace promoter::daemon
