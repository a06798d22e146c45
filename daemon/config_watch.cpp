#include "daemon/config_watch.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "adapters/pg_flag_reader.hpp"
#include "core/release.hpp"
#include "daemon/log.hpp"
#include "ports/blocking.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;

namespace {

std::optional<core::Timestamp> provider_time(const std::optional<std::string>& updated,
                                             const std::optional<std::string>& created) {
  for (const auto* text : {&updated, &created}) {
    if (!*text) continue;
    if (auto t = core::parse_timestamp(**text)) return *t;
  }
  return std::nullopt;
}

// Sorted by name, one sighting per name (a provider listing a name twice keeps the later change).
core::VariableSnapshot snapshot_of(std::string service, core::ConfigTier tier,
                                   std::vector<core::VariableSighting> sightings, core::Timestamp now) {
  std::sort(sightings.begin(), sightings.end(), [](const auto& a, const auto& b) {
    return a.name != b.name ? a.name < b.name : a.updated_at < b.updated_at;
  });
  std::vector<core::VariableSighting> unique;
  for (auto& s : sightings) {
    if (!unique.empty() && unique.back().name == s.name)
      unique.back() = std::move(s);
    else
      unique.push_back(std::move(s));
  }
  return core::VariableSnapshot{std::move(service), tier, std::move(unique), now};
}

// "added STRIPE_KEY, NEW_FLAG; changed API_URL": names only.
template <class Change>
std::string describe(const std::vector<Change>& changes) {
  std::map<std::string, std::vector<std::string>> by_kind;
  for (const auto& c : changes) {
    if constexpr (requires { c.name; })
      by_kind[std::string(core::to_string(c.kind))].push_back(c.name);
    else
      by_kind[std::string(core::to_string(c.kind))].push_back(c.key);
  }
  std::vector<std::string> parts;
  for (const auto& [kind, names] : by_kind) parts.push_back(fmt::format("{} {}", kind, fmt::join(names, ", ")));
  return fmt::format("{}", fmt::join(parts, "; "));
}

}  // namespace

ConfigWatch::ConfigWatch(asio::io_context& io, asio::any_io_executor blocking, Sources sources,
                         ReleaseService& releases, ports::ConfigHistory& history, const Config& config, Notify notify,
                         Metrics& metrics, const Clock& clock)
    : io_(io),
      blocking_(std::move(blocking)),
      sources_(std::move(sources)),
      releases_(releases),
      history_(history),
      config_(config),
      notify_(std::move(notify)),
      metrics_(metrics),
      clock_(clock),
      wake_(io) {}

void ConfigWatch::start() {
  stopped_ = false;
  loaded_ = false;  // a new leadership reads what the last leader recorded
  asio::co_spawn(io_, loop(), asio::detached);
}

void ConfigWatch::stop() {
  stopped_ = true;
  wake_.cancel();
  for (auto& w : waiters_) w->cancel();
}

asio::awaitable<void> ConfigWatch::loop() {
  core::Duration interval = std::chrono::hours(1);
  if (config_.env) interval = std::min(interval, config_.env->interval);
  if (config_.flags) interval = std::min(interval, config_.flags->interval);
  while (!stopped_) {
    auto r = co_await observe();
    if (stopped_) break;
    if (!r) log(LogLevel::warn, "configuration observation failed; will retry", {{"error", r.error().message}});
    wake_.expires_after(interval);
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<core::Result<void>> ConfigWatch::observe() {
  while (busy_) {
    auto waiter = std::make_shared<asio::steady_timer>(io_, asio::steady_timer::time_point::max());
    waiters_.push_back(waiter);
    boost::system::error_code ec;
    co_await waiter->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) co_return core::fail(core::ErrorCode::unavailable, "promoterd is stopping");
  }
  busy_ = true;
  auto r = co_await pass();
  busy_ = false;
  if (!waiters_.empty()) {
    waiters_.front()->cancel();
    waiters_.pop_front();
  }
  co_return r;
}

asio::awaitable<core::Result<void>> ConfigWatch::pass() {
  if (!loaded_) {
    auto loaded = co_await load();
    if (!loaded) co_return loaded;
  }
  // Only a source an enabled gate reads can hold releases back (and fail the preflight's re-check); one watched
  // for the record only is logged and counted, and the gates go on without it.
  core::Result<void> outcome;
  auto settle = [&](std::string_view source, core::Result<void> r, bool gating) {
    metrics_.config_observation(source, r.has_value());
    if (r) return;
    if (gating) {
      if (outcome) outcome = std::move(r);
    } else {
      log(LogLevel::warn, "configuration observation failed; no gate reads it, so nothing waits for it",
          {{"source", source}, {"error", r.error().message}});
    }
  };
  if (config_.env) {
    auto r = co_await observe_variables();
    settle("variables", std::move(r), config_.policy.env.require_env);
  }
  if (config_.flags) {
    auto r = co_await observe_flags();
    settle("flags", std::move(r), config_.policy.flags.require_flag);
  }
  // A view with a side missing would let a gate pass what it could not see: releases keep the last complete view
  // until every source a gate reads answers again.
  if (outcome) co_await feed_releases();
  co_return outcome;
}

asio::awaitable<core::Result<void>> ConfigWatch::load() {
  auto state = co_await run_blocking(blocking_, [this] { return history_.config_state(); });
  if (!state) co_return std::unexpected(state.error());
  variables_.clear();
  flags_.clear();
  for (auto& s : state->variables) variables_[{s.service, s.tier}] = std::move(s);
  for (auto& f : state->flags) flags_[f.tier] = std::move(f);
  staging_ever_enabled_ = std::move(state->staging_flags_ever_enabled);
  loaded_ = true;
  co_return core::Result<void>{};
}

asio::awaitable<core::Result<void>> ConfigWatch::observe_variables() {
  const core::Timestamp now = clock_.now();
  // One request per Railway environment, whichever services share it.
  std::map<std::string, std::vector<adapters::RailwayVariableName>> railway;
  for (const auto& s : config_.services) {
    if (!s.lists_variables()) continue;
    railway[s.staging.environment_id];
    if (s.production.provider == "railway") railway[s.production.environment_id];
  }
  if (!railway.empty() && !sources_.railway)
    co_return core::fail(core::ErrorCode::internal, "variable names need [railway]");
  for (auto& [environment, names] : railway) {
    auto listed = co_await sources_.railway->environment_variable_names(environment);
    if (!listed)
      co_return core::fail(core::ErrorCode::unavailable,
                           fmt::format("reading Railway variable names: {}", listed.error().message));
    names = std::move(*listed);
  }
  auto from_railway = [&](const std::string& service, core::ConfigTier tier, const std::string& environment,
                          const std::string& service_id) {
    std::vector<core::VariableSighting> sightings;
    // A service's own variables: a shared variable reaches a service only through a reference
    // (${{shared.NAME}}), which is itself one of the service's variables.
    for (const auto& v : railway[environment])
      if (v.service_id && *v.service_id == service_id)
        sightings.push_back(core::VariableSighting{v.name, provider_time(v.updated_at, v.created_at), ""});
    return snapshot_of(service, tier, std::move(sightings), now);
  };
  // Staging first: a production change is judged against staging's changes, this pass's included.
  for (const auto& s : config_.services) {
    if (!s.lists_variables()) continue;
    core::VariableSnapshot snapshot =
        from_railway(s.name, core::ConfigTier::staging, s.staging.environment_id, s.staging.service_id);
    auto r = co_await take(std::move(snapshot));
    if (!r) co_return r;
  }
  for (const auto& s : config_.services) {
    if (!s.lists_variables()) continue;
    core::VariableSnapshot snapshot;
    if (s.production.provider == "railway") {
      snapshot =
          from_railway(s.name, core::ConfigTier::production, s.production.environment_id, s.production.service_id);
    } else {
      if (!sources_.fly) co_return core::fail(core::ErrorCode::internal, "Fly secrets need [fly]");
      auto secrets = co_await sources_.fly->list_secrets(s.production.app);
      if (!secrets)
        co_return core::fail(core::ErrorCode::unavailable, fmt::format("reading the secrets of Fly app {}: {}",
                                                                       s.production.app, secrets.error().message));
      std::vector<core::VariableSighting> sightings;
      for (auto& secret : *secrets)
        sightings.push_back(
            core::VariableSighting{secret.name, provider_time(secret.updated_at, secret.created_at), secret.digest});
      snapshot = snapshot_of(s.name, core::ConfigTier::production, std::move(sightings), now);
    }
    auto r = co_await take(std::move(snapshot));
    if (!r) co_return r;
  }
  co_return core::Result<void>{};
}

asio::awaitable<core::Result<void>> ConfigWatch::take(core::VariableSnapshot snapshot) {
  const std::pair<std::string, core::ConfigTier> key{snapshot.service, snapshot.tier};
  auto known = variables_.find(key);
  const std::optional<core::VariableSnapshot> before =
      known == variables_.end() ? std::nullopt : std::optional<core::VariableSnapshot>(known->second);
  const std::vector<core::VariableChange> changes = core::diff_variables(before, snapshot);
  std::vector<ports::JudgedVariableChange> judged;
  std::vector<core::ConfigViolation> violations;
  const bool production = snapshot.tier == core::ConfigTier::production;
  std::vector<core::VariableChange> staging;
  if (production && !changes.empty()) {
    core::Timestamp earliest = changes.front().at();
    for (const auto& c : changes) earliest = std::min(earliest, c.at());
    const std::string service = snapshot.service;
    const core::Timestamp since = earliest - config_.policy.env.staging_window;
    // Closures with string captures are built outside co_await (g++ 12: see ports/blocking.hpp).
    auto staging_changes = [this, service, since] { return history_.staging_changes(service, since); };
    auto read = co_await run_blocking(blocking_, std::move(staging_changes));
    if (!read) co_return std::unexpected(read.error());
    staging = std::move(*read);
  }
  auto staging_now = variables_.find({snapshot.service, core::ConfigTier::staging});
  const std::optional<core::VariableSnapshot> staging_snapshot =
      staging_now == variables_.end() ? std::nullopt : std::optional<core::VariableSnapshot>(staging_now->second);
  for (const auto& c : changes) {
    ports::JudgedVariableChange j{c, std::nullopt};
    if (production) j.violation = core::judge_production_change(c, staging, staging_snapshot, config_.policy.env);
    if (j.violation) violations.push_back(*j.violation);
    judged.push_back(std::move(j));
  }
  std::vector<core::AuditNote> audit;
  if (!changes.empty())
    audit.push_back(core::AuditNote{
        "promoterd", "config.changed", std::nullopt,
        fmt::format("{} {} variables: {}", snapshot.service, core::to_string(snapshot.tier), describe(changes))});
  for (const auto& v : violations)
    audit.push_back(core::AuditNote{"promoterd", "config.violation", std::nullopt, v.reason});
  const core::Timestamp now = clock_.now();
  auto record = [this, snapshot, judged, audit, now] {
    return history_.record_variables(snapshot, judged, audit, now);
  };
  auto recorded = co_await run_blocking(blocking_, std::move(record));
  if (!recorded) co_return std::unexpected(recorded.error());
  variables_[key] = std::move(snapshot);
  for (const auto& v : violations) report(v);
  co_return core::Result<void>{};
}

asio::awaitable<core::Result<void>> ConfigWatch::observe_flags() {
  const FlagsConfig& f = *config_.flags;
  const adapters::FlagTable table{f.table, f.key_column, f.enabled_column, f.updated_at_column};
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(f.timeout);
  core::Result<void> outcome;
  // Staging first, so a key enabled on both in one pass counts as staging first.
  // Named, not a braced list in the range-for: g++ 12 ends such a temporary's life at the first co_await.
  const std::array<std::pair<core::ConfigTier, const std::optional<std::string>*>, 2> sides{
      {{core::ConfigTier::staging, &sources_.flags_staging_url},
       {core::ConfigTier::production, &sources_.flags_production_url}}};
  for (const auto& [tier, url] : sides) {
    if (!*url) continue;
    const std::string target = **url;
    const core::Timestamp now = clock_.now();
    auto read = [target, table, timeout] { return adapters::read_feature_flags(target, table, timeout); };
    auto rows = co_await run_blocking(blocking_, std::move(read));
    if (!rows) {
      if (outcome)
        outcome = core::fail(core::ErrorCode::unavailable, fmt::format("reading {}'s feature flags: {}",
                                                                       core::to_string(tier), rows.error().message));
      continue;
    }
    core::FlagSnapshot snapshot{tier, std::move(*rows), now};
    auto r = co_await take_flags(std::move(snapshot));
    if (!r && outcome) outcome = std::move(r);
  }
  co_return outcome;
}

asio::awaitable<core::Result<void>> ConfigWatch::take_flags(core::FlagSnapshot snapshot) {
  auto known = flags_.find(snapshot.tier);
  const std::optional<core::FlagSnapshot> before =
      known == flags_.end() ? std::nullopt : std::optional<core::FlagSnapshot>(known->second);
  const std::vector<core::FlagChange> changes = core::diff_flags(before, snapshot);
  std::set<std::string> ever = staging_ever_enabled_;
  if (snapshot.tier == core::ConfigTier::staging)
    for (const auto& f : snapshot.flags)
      if (f.enabled) ever.insert(f.key);
  std::vector<ports::JudgedFlagChange> judged;
  std::vector<core::ConfigViolation> violations;
  for (const auto& c : changes) {
    ports::JudgedFlagChange j{c, core::judge_flag_change(c, ever)};
    if (j.violation) violations.push_back(*j.violation);
    judged.push_back(std::move(j));
  }
  std::vector<core::AuditNote> audit;
  if (!changes.empty())
    audit.push_back(
        core::AuditNote{"promoterd", "config.changed", std::nullopt,
                        fmt::format("{} feature flags: {}", core::to_string(snapshot.tier), describe(changes))});
  for (const auto& v : violations)
    audit.push_back(core::AuditNote{"promoterd", "config.violation", std::nullopt, v.reason});
  const core::Timestamp now = clock_.now();
  auto record = [this, snapshot, judged, audit, now] { return history_.record_flags(snapshot, judged, audit, now); };
  auto recorded = co_await run_blocking(blocking_, std::move(record));
  if (!recorded) co_return std::unexpected(recorded.error());
  staging_ever_enabled_ = std::move(ever);
  flags_[snapshot.tier] = std::move(snapshot);
  for (const auto& v : violations) report(v);
  co_return core::Result<void>{};
}

void ConfigWatch::report(const core::ConfigViolation& v) {
  metrics_.config_violation(core::to_string(v.kind));
  log(LogLevel::warn, "configuration changed in production first",
      {{"event", "config.violation"},
       {"kind", core::to_string(v.kind)},
       {"service", v.service},
       {"name", v.name},
       {"reason", v.reason}});
  if (notify_) notify_(ports::Notification{"config.violation", std::nullopt, v.reason});
}

core::ConfigView ConfigWatch::view() const {
  core::ConfigView v;
  v.observed_at = clock_.now();
  if (config_.env)
    for (const auto& s : config_.services) {
      auto staging = variables_.find({s.name, core::ConfigTier::staging});
      auto production = variables_.find({s.name, core::ConfigTier::production});
      if (staging == variables_.end() || production == variables_.end()) continue;
      core::ServiceNames names;
      for (const auto& x : staging->second.variables) names.staging.insert(x.name);
      for (const auto& x : production->second.variables) names.production.insert(x.name);
      v.services[s.name] = std::move(names);
    }
  if (auto it = flags_.find(core::ConfigTier::production); it != flags_.end()) {
    std::set<std::string> keys;
    for (const auto& f : it->second.flags) keys.insert(f.key);
    v.production_flags = std::move(keys);
  }
  return v;
}

asio::awaitable<void> ConfigWatch::feed_releases() {
  auto active = [](const core::World& w) {
    std::vector<core::Sha> out;
    for (const auto& sha : w.active) {
      const core::Release& r = w.releases.at(sha);
      // A promoting release too: its preflight re-checks the env and flag gates on this view.
      if (core::is_gathering(r.state) || r.state == core::ReleaseState::promoting) out.push_back(r.sha);
    }
    return out;
  };
  const std::vector<core::Sha> shas = co_await releases_.read(active);
  const core::ConfigView v = view();
  for (const auto& sha : shas) {
    // decide() ignores a view equal to the release's but for its time, so this costs nothing when nothing moved.
    core::Event event = core::ConfigObserved{sha, v};
    auto r = co_await releases_.submit(std::move(event));
    if (!r) log(LogLevel::warn, "configuration view not applied", {{"sha", sha.str()}, {"error", r.error().message}});
  }
}

}  // namespace promoter::daemon
