#include "daemon/http/api.hpp"

#include <charconv>
#include <fmt/format.h>

#include "core/approver_standing.hpp"
#include "daemon/http/api_requests.hpp"
#include "daemon/http/config_api.hpp"
#include "daemon/http/freeze_json.hpp"
#include "daemon/auditor.hpp"
#include "ports/blocking.hpp"
#include "daemon/uses_ports.hpp"
#include "daemon/http/json_views.hpp"
#include "daemon/log.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

HttpResponse error_response(const core::Error& e) {
  unsigned status = 500;
  switch (e.code) {
    case core::ErrorCode::invalid_argument:
      status = 400;
      break;
    case core::ErrorCode::not_found:
      status = 404;
      break;
    case core::ErrorCode::conflict:
    case core::ErrorCode::failed_precondition:
    case core::ErrorCode::aborted:
      status = 409;
      break;
    case core::ErrorCode::forbidden:
      status = 403;
      break;
    case core::ErrorCode::unavailable:
    case core::ErrorCode::not_leader:
      status = 503;
      break;
    case core::ErrorCode::internal:
      status = 500;
      break;
  }
  // The client gets the sentence; the driver's own words (constraint names, libpq's text) only the log.
  if (!e.detail.empty())
    log(LogLevel::warn, "request failed",
        {{"status", status}, {"code", core::to_string(e.code)}, {"error", e.message}, {"detail", e.detail}});
  return HttpResponse::error(status, e.code, e.message);
}

namespace {

core::Error bad(std::string message) { return core::Error{core::ErrorCode::invalid_argument, std::move(message)}; }

core::Result<int> limit_param(const HttpRequest& req, int fallback, int max) {
  auto it = req.query.find("limit");
  if (it == req.query.end()) return fallback;
  int v = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc{} || p != it->second.data() + it->second.size() || v < 1 || v > max)
    return std::unexpected(bad(fmt::format("query parameter 'limit' must be a whole number from 1 to {}", max)));
  return v;
}

// Keyset paging: ?before=N lists what comes after N in newest-first order (a release's seq, an entry's id).
core::Result<std::optional<std::int64_t>> before_param(const HttpRequest& req) {
  auto it = req.query.find("before");
  if (it == req.query.end()) return std::nullopt;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc{} || p != it->second.data() + it->second.size() || v < 1)
    return std::unexpected(bad("query parameter 'before' must be a positive whole number (a next_before cursor)"));
  return v;
}

std::map<std::string, int> nonzero(const std::map<std::string, int>& counts) {
  std::map<std::string, int> out;
  for (const auto& [state, n] : counts)
    if (n > 0) out.emplace(state, n);
  return out;
}

core::Result<core::Sha> sha_param(const HttpRequest& req) {
  auto sha = core::Sha::parse(req.params.at("sha"));
  if (!sha) return std::unexpected(bad(fmt::format("path parameter 'sha': {}", sha.error().message)));
  return sha;
}

core::Result<std::int64_t> id_param(const HttpRequest& req) {
  const std::string& text = req.params.at("id");
  std::int64_t id = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || p != text.data() + text.size() || id <= 0)
    return std::unexpected(bad("path parameter 'id' must be a positive whole number"));
  return id;
}

const std::vector<Role> readers{Role::viewer, Role::ci, Role::operator_};
const std::vector<Role> reporters{Role::ci, Role::operator_};
const std::vector<Role> operators{Role::operator_};

class Api {
 public:
  explicit Api(ApiContext ctx) : ctx_(std::move(ctx)) {}

  void add(Router& router) {
    auto self = std::make_shared<Api>(ctx_);
    auto bind = [self](asio::awaitable<HttpResponse> (Api::*fn)(HttpRequest&)) -> Handler {
      return [self, fn](HttpRequest& req) { return ((*self).*fn)(req); };
    };
    router.add(http::verb::get, "/healthz", {false, {}}, bind(&Api::healthz));
    router.add(http::verb::get, "/readyz", {false, {}}, bind(&Api::readyz));
    router.add(http::verb::get, "/metrics", {false, {}}, bind(&Api::metrics));
    router.add(http::verb::get, "/v1/status", {true, readers}, bind(&Api::status));
    router.add(http::verb::get, "/v1/releases", {true, readers}, bind(&Api::releases));
    router.add(http::verb::get, "/v1/releases/{sha}", {true, readers}, bind(&Api::release));
    router.add(http::verb::post, "/v1/releases/{sha}/approve", {true, operators}, bind(&Api::approve));
    router.add(http::verb::post, "/v1/releases/{sha}/reject", {true, operators}, bind(&Api::reject));
    router.add(http::verb::post, "/v1/releases/{sha}/smoke-results", {true, reporters}, bind(&Api::smoke));
    router.add(http::verb::post, "/v1/staging-deployments", {true, reporters}, bind(&Api::staging_deployment));
    router.add(http::verb::get, "/v1/promotions", {true, readers}, bind(&Api::promotions));
    router.add(http::verb::get, "/v1/promotions/{id}", {true, readers}, bind(&Api::promotion));
    router.add(http::verb::post, "/v1/promotions/{id}/abort", {true, operators}, bind(&Api::abort_promotion));
    router.add(http::verb::get, "/v1/audit", {true, readers}, bind(&Api::audit));
    router.add(http::verb::post, "/v1/hotfixes", {true, operators}, bind(&Api::hotfix));
    router.add(http::verb::get, "/v1/obligations", {true, readers}, bind(&Api::obligations));
    router.add(http::verb::post, "/v1/obligations/{id}/close", {true, operators}, bind(&Api::close_obligation));
    router.add(http::verb::get, "/v1/freezes", {true, readers}, bind(&Api::freezes));
    router.add(http::verb::post, "/v1/freeze", {true, operators}, bind(&Api::stop_line));
    router.add(http::verb::post, "/v1/unfreeze", {true, operators}, bind(&Api::lift_line_stop));
    router.add(http::verb::post, "/v1/rollbacks", {true, operators}, bind(&Api::rollback));
    router.add(http::verb::post, "/v1/resume", {true, operators}, bind(&Api::resume));
  }

 private:
  template <class F>
  asio::awaitable<std::invoke_result_t<F&>> blocking(F f) {
    co_return co_await run_blocking(ctx_.blocking, std::move(f));
  }

  // The configured operators, read once per answer however many releases it shows.
  std::vector<core::Approver> configured_operators() const {
    std::vector<core::Approver> out;
    for (const auto& token : ctx_.tokens.entries())
      if (token.role == Role::operator_) out.push_back(core::Approver{token.identity, token.git_authors});
    return out;
  }

  // A release as the API shows it: its gates, and the operators who may still approve it (or why not).
  json release_view(const core::Release& r, core::Timestamp now, const std::optional<core::Sha>& production,
                    const std::vector<core::Approver>& operators) const {
    json view = release_json(r, ctx_.config.policy, now, production);
    json approvers = json::array();
    for (const auto& s : core::approver_standings(r, operators))
      approvers.push_back({{"identity", s.identity},
                           {"may_approve", s.may_approve},
                           {"reason", s.may_approve ? json(nullptr) : json(s.reason)}});
    view["approvers"] = std::move(approvers);
    return view;
  }

  // A release answer, or the error. Events are decided on the leader, whose World knows production.
  asio::awaitable<HttpResponse> answer(const core::Result<std::optional<core::Release>>& r) {
    if (!r) co_return error_response(r.error());
    if (!*r) co_return HttpResponse::error(500, core::ErrorCode::internal, "the release vanished after the event");
    auto production = co_await ctx_.releases.read([](const core::World& w) { return w.production; });
    co_return HttpResponse::json(200,
                                 release_view(**r, ctx_.releases.clock().now(), production, configured_operators()));
  }

  // Production as the database has it (leader and standby alike): where the evidence gates' range starts.
  // Unreadable: nullopt, and the read that needs it fails on the same database anyway.
  asio::awaitable<std::optional<core::Sha>> production() {
    auto read = [this] { return ctx_.store.production(ctx_.config.environment); };
    auto record = co_await blocking(std::move(read));
    if (!record || !*record) co_return std::nullopt;
    auto sha = core::Sha::parse((*record)->sha);
    if (!sha) co_return std::nullopt;
    co_return *sha;
  }

  asio::awaitable<HttpResponse> healthz(HttpRequest&) { co_return HttpResponse::json(200, {{"status", "ok"}}); }

  asio::awaitable<HttpResponse> readyz(HttpRequest&) {
    auto r = co_await blocking([this] { return ctx_.store.ping(); });
    ctx_.metrics.set_database_up(r.has_value());
    if (!r) co_return HttpResponse::error(503, core::ErrorCode::unavailable, "database unreachable");
    // A standby serves reads from the database: ready. A leader is ready once its World is loaded; until
    // then /v1 answers would describe an empty world.
    const NodeRole role = ctx_.leadership.role();
    if (role == NodeRole::starting)
      co_return HttpResponse::error(503, core::ErrorCode::unavailable, "joining the leadership");
    if (role == NodeRole::leader && !ctx_.releases.loaded())
      co_return HttpResponse::error(503, core::ErrorCode::unavailable, "loading releases");
    co_return HttpResponse::json(200, {{"status", "ready"}, {"role", to_string(role)}});
  }

  asio::awaitable<HttpResponse> metrics(HttpRequest&) {
    ctx_.obligations.counts();  // an obligation may have become overdue since its timer last fired
    co_return HttpResponse::text(200, ctx_.metrics.serialize(), "text/plain; version=0.0.4; charset=utf-8");
  }

  asio::awaitable<HttpResponse> status(HttpRequest&) {
    const auto& policy = ctx_.config.policy;
    std::optional<PromotionId> active_id;
    // The leader counts as it goes; a standby asks the database.
    json body;
    if (ctx_.releases.loaded()) {
      auto read = ctx_.releases.read([&](const core::World& w) {
        json active = nullptr;
        if (w.promoting)
          if (const auto* r = w.find(*w.promoting)) {
            active_id = r->promotion_id;
            active = {{"id", r->promotion_id ? json(core::to_string(*r->promotion_id)) : json(nullptr)},
                      {"sha", r->sha.str()},
                      {"state", to_string(PromotionState::running)},
                      {"kind", "promotion"},
                      {"abort", nullptr}};
          }
        // A running rollback is the environment's active promotion; one still waiting for an abort is shown too.
        if (!w.promoting && w.rollback && w.rollback->promotion_id) {
          active_id = w.rollback->promotion_id;
          active = {{"id", core::to_string(*w.rollback->promotion_id)},
                    {"sha", w.rollback->target.str()},
                    {"state", to_string(PromotionState::running)},
                    {"kind", "rollback"},
                    {"abort", nullptr}};
        }
        return json{{"release_counts", nonzero(ctx_.releases.state_counts())},
                    {"active_promotion", active},
                    {"rollback", w.rollback ? rollback_json(*w.rollback) : json(nullptr)}};
      });
      body = co_await std::move(read);
    } else {
      auto counts = co_await blocking([this] { return ctx_.store.release_counts(); });
      if (!counts) co_return error_response(counts.error());
      auto running = co_await blocking([this] { return ctx_.store.running_promotions(ctx_.config.environment); });
      if (!running) co_return error_response(running.error());
      json active = nullptr;
      if (!running->empty()) {
        const PromotionId id = running->front();
        auto p = co_await blocking([this, id] { return ctx_.store.promotion(id); });
        if (!p) co_return error_response(p.error());
        if (*p) {
          active_id = id;
          active = {{"id", core::to_string(id)},
                    {"sha", (*p)->sha},
                    {"state", to_string(PromotionState::running)},
                    {"kind", (*p)->rollback ? "rollback" : "promotion"},
                    {"abort", nullptr}};
        }
      }
      // A standby does not know of a rollback still waiting for an abort: the leader's status does.
      body = json{{"release_counts", nonzero(*counts)}, {"active_promotion", active}, {"rollback", nullptr}};
    }
    auto production = co_await blocking([this] { return ctx_.store.production(ctx_.config.environment); });
    if (!production) co_return error_response(production.error());
    // Whoever asked to abort the running promotion is what on-call wants to see first.
    if (active_id) {
      const PromotionId id = *active_id;
      auto running = co_await blocking([this, id] { return ctx_.store.promotion(id); });
      if (!running) co_return error_response(running.error());
      if (*running && (*running)->abort) body["active_promotion"]["abort"] = promotion_json(**running)["abort"];
    }
    json warnings = json::array();
    if (policy.short_soak())
      warnings.push_back(
          fmt::format("SHORT SOAK MODE: policy.soak = {} is below the policy floor of {} "
                      "(allow_short_soak = true); for demos and tests only",
                      core::format_duration(policy.soak), core::format_duration(core::soak_floor)));
    const auto now = ctx_.releases.clock().now();
    ObligationCounts obligations;
    if (ctx_.leadership.role() == NodeRole::leader) {
      obligations = ctx_.obligations.counts();
    } else {
      auto open = co_await blocking([this] { return ctx_.store.obligations(true); });
      if (!open) co_return error_response(open.error());
      obligations = count_obligations(*open, now);
    }
    json overdue = json::array();
    for (const auto& o : obligations.overdue_items) {
      overdue.push_back(obligation_json(o, now));
      warnings.push_back(fmt::format("hotfix obligation {} ({}) for {} was due {}", o.id, core::to_string(o.kind),
                                     o.sha.abbrev(), core::format_timestamp(o.due_at)));
    }
    body["obligations"] = {{"open", obligations.open}, {"overdue", obligations.overdue}, {"overdue_items", overdue}};
    // Production configuration changes not made on staging first: reported here, never blocking.
    auto violation_total = co_await blocking([this] { return ctx_.store.config_violation_count(); });
    if (!violation_total) co_return error_response(violation_total.error());
    auto recent_violations =
        co_await blocking([this] { return ctx_.store.config_violations(std::nullopt, std::nullopt, 10); });
    if (!recent_violations) co_return error_response(recent_violations.error());
    json recent = json::array();
    for (const auto& v : *recent_violations) recent.push_back(violation_json(v));
    body["config_violations"] = {{"total", *violation_total}, {"recent", recent}};
    // The line stop from the database, so a standby shows what the leader decides on.
    auto stop = co_await blocking([this] { return ctx_.store.line_stop(ctx_.config.environment); });
    if (!stop) co_return error_response(stop.error());
    body["freeze"] = freeze_state_json(policy.freezes, *stop, now);
    if (body["freeze"]["frozen"].get<bool>())
      warnings.push_back(fmt::format("no promotion starts: {}", body["freeze"]["active"]["text"].get<std::string>()));
    auto pin = co_await blocking([this] { return ctx_.store.pin(ctx_.config.environment); });
    if (!pin) co_return error_response(pin.error());
    body["pin"] = pin_json(*pin);
    if (*pin) warnings.push_back(core::pin_reason(**pin));
    body["version"] = ctx_.version;
    const auto& leader = ctx_.leadership.leader();
    body["leadership"] = {{"role", to_string(ctx_.leadership.role())},
                          {"instance", ctx_.leadership.instance()},
                          {"epoch", leader ? json(leader->epoch) : json(nullptr)},
                          {"leader", leader ? json{{"instance", leader->holder},
                                                   {"advertise_url", leader->advertise_url},
                                                   {"since", core::format_timestamp(leader->acquired_at)}}
                                            : json(nullptr)}};
    body["environment"] = ctx_.config.environment;
    body["short_soak"] = policy.short_soak();
    body["warnings"] = warnings;
    body["policy"] = {{"soak_seconds", std::chrono::duration<double>(policy.soak).count()},
                      {"require_smoke", policy.require_smoke},
                      {"required_smoke_suites", policy.required_smoke_suites},
                      {"approvals_required", policy.approvals_required},
                      {"hotfix",
                       {{"require_smoke", policy.hotfix.require_smoke},
                        {"review_backfill_business_days", policy.hotfix.review_backfill_business_days},
                        {"incident_report_within_seconds",
                         std::chrono::duration<double>(policy.hotfix.incident_report_within).count()}}},
                      {"services", policy.services}};
    body["production"] =
        *production
            ? json{{"sha", (*production)->sha},
                   {"promoted_at", core::format_timestamp((*production)->promoted_at)},
                   {"promotion_id",
                    (*production)->promotion_id ? json(core::to_string(*(*production)->promotion_id)) : json(nullptr)}}
            : json(nullptr);
    co_return HttpResponse::json(200, body);
  }

  asio::awaitable<HttpResponse> releases(HttpRequest& req) {
    auto limit = limit_param(req, 50, 1000);
    if (!limit) co_return error_response(limit.error());
    if (req.query.contains("sha_prefix")) co_return co_await releases_with_sha_prefix(req, *limit);
    std::optional<core::ReleaseState> state;
    if (auto it = req.query.find("state"); it != req.query.end()) {
      state = core::parse_release_state(it->second);
      if (!state)
        co_return HttpResponse::error(400, core::ErrorCode::invalid_argument,
                                      fmt::format("query parameter 'state': unknown state '{}'", it->second));
    }
    auto before = before_param(req);
    if (!before) co_return error_response(before.error());
    const int n = *limit;
    // History is the database's: leader and standby answer from it alike, newest first, a page at a time.
    auto read = [this, state, before = *before, n] { return ctx_.store.releases(state, before, n); };
    auto page = co_await blocking(std::move(read));
    if (!page) co_return error_response(page.error());
    const auto now = ctx_.releases.clock().now();
    const auto current = co_await production();
    json list = json::array();
    const auto approvers = configured_operators();
    for (const auto& r : *page) list.push_back(release_view(r, now, current, approvers));
    json next = static_cast<int>(page->size()) == n ? json(std::to_string(page->back().seq)) : json(nullptr);
    co_return HttpResponse::json(200, {{"releases", list}, {"next_before", next}});
  }

  // ?sha_prefix=abcd: the releases whose SHA starts so, newest first, as one page (promotectl resolves an
  // abbreviated SHA with it). It is a lookup, not a listing: state and before do not combine with it.
  asio::awaitable<HttpResponse> releases_with_sha_prefix(const HttpRequest& req, int limit) {
    if (req.query.contains("state") || req.query.contains("before"))
      co_return HttpResponse::error(400, "invalid_argument",
                                    "query parameter 'sha_prefix' does not combine with 'state' or 'before'");
    auto prefix = core::Sha::parse_prefix(req.query.at("sha_prefix"));
    if (!prefix)
      co_return HttpResponse::error(400, "invalid_argument",
                                    fmt::format("query parameter 'sha_prefix': {}", prefix.error().message));
    const std::string wanted = *prefix;
    auto read = [this, wanted, limit] { return ctx_.store.releases_with_sha_prefix(wanted, limit); };
    auto found = co_await blocking(std::move(read));
    if (!found) co_return error_response(found.error());
    const auto now = ctx_.releases.clock().now();
    const auto current = co_await production();
    json list = json::array();
    const auto approvers = configured_operators();
    for (const auto& r : *found) list.push_back(release_view(r, now, current, approvers));
    co_return HttpResponse::json(200, {{"releases", list}, {"next_before", nullptr}});
  }

  asio::awaitable<HttpResponse> release(HttpRequest& req) {
    auto sha = sha_param(req);
    if (!sha) co_return error_response(sha.error());
    const core::Sha wanted = *sha;
    auto read = [this, wanted] { return ctx_.store.release(wanted); };
    auto found = co_await blocking(std::move(read));
    if (!found) co_return error_response(found.error());
    const auto now = ctx_.releases.clock().now();
    const auto current = co_await production();
    const json body = *found ? release_view(**found, now, current, configured_operators()) : json(nullptr);
    if (body.is_null())
      co_return HttpResponse::error(404, core::ErrorCode::not_found, fmt::format("no release {} is known", sha->str()));
    co_return HttpResponse::json(200, body);
  }

  // Refusals of operator decisions are audited too: who tried what, and why it was refused.
  // `sha` may be null: the refusal concerns no one release.
  asio::awaitable<void> audit_refusal(const HttpRequest& req, std::string action, const core::Sha* sha,
                                      const core::Error& e) {
    if (e.code != core::ErrorCode::forbidden && e.code != core::ErrorCode::failed_precondition) co_return;
    core::AuditNote note{req.principal->identity, std::move(action),
                         sha ? std::optional<core::Sha>(*sha) : std::nullopt, e.message};
    auto write = auditor_.write(std::move(note), ctx_.releases.clock().now());
    (void)co_await std::move(write);  // a failure is logged by the auditor; the refusal is answered anyway
  }

  asio::awaitable<HttpResponse> approve(HttpRequest& req) {
    auto sha = sha_param(req);
    if (!sha) co_return error_response(sha.error());
    auto body = parse_approve_request(req.body);
    if (!body) co_return error_response(body.error());
    core::Event event = core::ApprovalGiven{*sha, req.principal->identity, req.principal->git_authors, body->reason};
    auto r = co_await ctx_.releases.submit(std::move(event));
    if (!r) co_await audit_refusal(req, "release.approval_refused", &*sha, r.error());
    co_return co_await answer(r);
  }

  asio::awaitable<HttpResponse> reject(HttpRequest& req) {
    auto sha = sha_param(req);
    if (!sha) co_return error_response(sha.error());
    auto body = parse_reject_request(req.body);
    if (!body) co_return error_response(body.error());
    core::Event event = core::RejectionGiven{*sha, req.principal->identity, body->reason};
    auto r = co_await ctx_.releases.submit(std::move(event));
    if (!r) co_await audit_refusal(req, "release.rejection_refused", &*sha, r.error());
    co_return co_await answer(r);
  }

  asio::awaitable<HttpResponse> smoke(HttpRequest& req) {
    auto sha = sha_param(req);
    if (!sha) co_return error_response(sha.error());
    auto body = parse_smoke_request(req.body);
    if (!body) co_return error_response(body.error());
    core::Event event =
        core::SmokeResultReported{*sha, body->suite, body->passed, req.principal->identity, body->details};
    auto r = co_await ctx_.releases.submit(std::move(event));
    co_return co_await answer(r);
  }

  asio::awaitable<HttpResponse> staging_deployment(HttpRequest& req) {
    auto body = parse_staging_deployment_request(req.body);
    if (!body) co_return error_response(body.error());
    const auto parsed = core::parse_deploy_status(body->status);
    if (parsed == core::DeployStatus::unknown)
      log(LogLevel::warn, "unknown staging deployment status; treated as not live",
          {{"status", body->status}, {"service", body->service}, {"sha", body->sha.str()}});
    core::Event event = core::StagingDeploymentObserved{
        body->sha,    body->service,    body->deployment_id,     parsed,
        body->author, body->created_at, req.principal->identity, std::move(body->ancestors)};
    auto r = co_await ctx_.releases.submit(std::move(event));
    co_return co_await answer(r);
  }

  asio::awaitable<HttpResponse> promotions(HttpRequest& req) {
    auto limit = limit_param(req, 20, 500);
    if (!limit) co_return error_response(limit.error());
    auto before = before_param(req);
    if (!before) co_return error_response(before.error());
    const int n = *limit;
    auto r = co_await blocking([this, n, before = *before] { return ctx_.store.promotions(n, before); });
    if (!r) co_return error_response(r.error());
    json list = json::array();
    for (const auto& p : *r) {
      json j = promotion_json(p);
      j.erase("steps");
      list.push_back(std::move(j));
    }
    json next = static_cast<int>(r->size()) == n ? json(core::to_string(r->back().id)) : json(nullptr);
    co_return HttpResponse::json(200, {{"promotions", list}, {"next_before", next}});
  }

  asio::awaitable<HttpResponse> promotion(HttpRequest& req) {
    auto parsed = id_param(req);
    if (!parsed) co_return error_response(parsed.error());
    const PromotionId id{*parsed};
    auto r = co_await blocking([this, id] { return ctx_.store.promotion(id); });
    if (!r) co_return error_response(r.error());
    if (!*r) co_return HttpResponse::error(404, core::ErrorCode::not_found, fmt::format("no promotion {}", id));
    co_return HttpResponse::json(200, promotion_json(**r));
  }

  // 202: the executor honours the request before the promotion's next step that could change production;
  // a step already running is not cut short (a Fly rollout stops between machines).
  asio::awaitable<HttpResponse> abort_promotion(HttpRequest& req) {
    auto parsed = id_param(req);
    if (!parsed) co_return error_response(parsed.error());
    const PromotionId id{*parsed};
    auto body = parse_abort_promotion_request(req.body);
    if (!body) co_return error_response(body.error());
    const auto now = ctx_.releases.clock().now();
    const std::string by = req.principal->identity;
    auto request = [this, id, by, reason = body->reason, now] { return ctx_.store.request_abort(id, by, reason, now); };
    auto r = co_await blocking(std::move(request));
    if (!r) {
      co_await audit_refusal(req, "promotion.abort_refused", nullptr, r.error());
      co_return error_response(r.error());
    }
    log(LogLevel::warn, "promotion abort requested",
        {{"promotion_id", id.value()}, {"sha", r->sha}, {"aborted_by", r->abort->by}});
    co_return HttpResponse::json(202, promotion_json(*r));
  }

  asio::awaitable<HttpResponse> audit(HttpRequest& req) {
    auto limit = limit_param(req, 100, 1000);
    if (!limit) co_return error_response(limit.error());
    std::optional<std::string> sha;
    if (auto it = req.query.find("sha"); it != req.query.end()) {
      auto parsed = core::Sha::parse(it->second);
      if (!parsed)
        co_return HttpResponse::error(400, core::ErrorCode::invalid_argument,
                                      fmt::format("query parameter 'sha': {}", parsed.error().message));
      sha = parsed->str();
    }
    auto before = before_param(req);
    if (!before) co_return error_response(before.error());
    const int n = *limit;
    auto read = [this, sha, n, before = *before] { return ctx_.store.audit(sha, n, before); };
    auto r = co_await blocking(std::move(read));
    if (!r) co_return error_response(r.error());
    json list = json::array();
    for (const auto& e : *r) list.push_back(audit_json(e));
    json next = static_cast<int>(r->size()) == n ? json(std::to_string(r->back().id)) : json(nullptr);
    co_return HttpResponse::json(200, {{"entries", list}, {"next_before", next}});
  }

  asio::awaitable<HttpResponse> hotfix(HttpRequest& req) {
    auto body = parse_hotfix_request(req.body);
    if (!body) co_return error_response(body.error());
    const core::Sha* sha = &body->sha;
    core::Event event = core::HotfixRequested{body->sha, req.principal->identity, body->reason, body->incident_url,
                                              body->override_freeze};
    auto r = co_await ctx_.releases.submit(std::move(event));
    if (!r) {
      co_await audit_refusal(req, "hotfix.refused", sha, r.error());
      co_return error_response(r.error());
    }
    if (auto reloaded = co_await ctx_.obligations.reload(); !reloaded)
      log(LogLevel::error, "hotfix recorded but its obligations could not be re-read",
          {{"sha", sha->str()}, {"error", reloaded.error().message}});
    auto listed = co_await blocking([this] { return ctx_.store.obligations(false); });
    if (!listed) co_return error_response(listed.error());
    const auto now = ctx_.releases.clock().now();
    json obligations = json::array();
    for (const auto& o : *listed)
      if (o.sha == *sha) obligations.push_back(obligation_json(o, now));
    HttpResponse response = co_await answer(r);
    if (response.status != 200) co_return response;
    co_return HttpResponse::json(200, {{"release", json::parse(response.body)}, {"obligations", obligations}});
  }

  // GET /v1/freezes: the configured windows, the line stop, what holds promotions back now, and overlaps.
  asio::awaitable<HttpResponse> freezes(HttpRequest&) {
    auto stop = co_await blocking([this] { return ctx_.store.line_stop(ctx_.config.environment); });
    if (!stop) co_return error_response(stop.error());
    const auto now = ctx_.releases.clock().now();
    const auto& windows = ctx_.config.policy.freezes;
    json list = json::array();
    for (const auto& w : windows) list.push_back(freeze_window_json(w));
    json overlaps = json::array();
    for (auto& o : core::freeze_overlaps(windows, now)) overlaps.push_back(std::move(o));
    json body = freeze_state_json(windows, *stop, now);
    body["windows"] = list;
    body["overlaps"] = overlaps;
    co_return HttpResponse::json(200, body);
  }

  // The freeze state after a line stop changed, as the leader's World has it.
  asio::awaitable<HttpResponse> freeze_answer() {
    auto stop = co_await ctx_.releases.read([](const core::World& w) { return w.line_stop; });
    co_return HttpResponse::json(200, freeze_state_json(ctx_.config.policy.freezes, stop, ctx_.releases.clock().now()));
  }

  // POST /v1/freeze: stop the line now (a running promotion is not touched: abort is for that).
  asio::awaitable<HttpResponse> stop_line(HttpRequest& req) {
    auto body = parse_line_stop_request(req.body);
    if (!body) co_return error_response(body.error());
    const auto until = body->lasting ? std::optional(ctx_.releases.clock().now() + *body->lasting) : body->until;
    core::Event event = core::LineStopRequested{req.principal->identity, body->reason, until};
    auto r = co_await ctx_.releases.submit(std::move(event));
    if (!r) {
      co_await audit_refusal(req, "environment.freeze_refused", nullptr, r.error());
      co_return error_response(r.error());
    }
    co_return co_await freeze_answer();
  }

  // POST /v1/unfreeze: lift the line stop (freeze windows end by themselves).
  asio::awaitable<HttpResponse> lift_line_stop(HttpRequest& req) {
    auto body = parse_line_stop_lift_request(req.body);
    if (!body) co_return error_response(body.error());
    core::Event event = core::LineStopLifted{req.principal->identity, body->reason};
    auto r = co_await ctx_.releases.submit(std::move(event));
    if (!r) {
      co_await audit_refusal(req, "environment.unfreeze_refused", nullptr, r.error());
      co_return error_response(r.error());
    }
    co_return co_await freeze_answer();
  }

  // POST /v1/rollbacks: back to the release before (or a named one that was production here). A running
  // promotion is aborted first; the rollback runs when it has stopped. 202: the rollback as recorded.
  asio::awaitable<HttpResponse> rollback(HttpRequest& req) {
    auto body = parse_rollback_request(req.body);
    if (!body) co_return error_response(body.error());
    auto history = co_await blocking([this] { return ctx_.store.production_history(ctx_.config.environment); });
    if (!history) co_return error_response(history.error());
    core::Event event = core::RollbackRequested{req.principal->identity, body->reason,     body->to,
                                                body->accept_schema,     history->entries, history->schema_state};
    auto r = co_await ctx_.releases.submit(std::move(event));
    if (!r) {
      co_await audit_refusal(req, "rollback.refused", body->to ? &*body->to : nullptr, r.error());
      co_return error_response(r.error());
    }
    auto owed = co_await ctx_.releases.read([](const core::World& w) { return w.rollback; });
    log(LogLevel::warn, "rollback requested",
        {{"by", req.principal->identity}, {"to", owed ? owed->target.str() : ""}});
    co_return HttpResponse::json(202, owed ? rollback_json(*owed) : json(nullptr));
  }

  // POST /v1/resume: lift the pin a rollback left, so releases whose gates hold may start again.
  asio::awaitable<HttpResponse> resume(HttpRequest& req) {
    auto body = parse_line_stop_lift_request(req.body);
    if (!body) co_return error_response(body.error());
    core::Event event = core::ResumeRequested{req.principal->identity, body->reason};
    auto r = co_await ctx_.releases.submit(std::move(event));
    if (!r) {
      co_await audit_refusal(req, "environment.resume_refused", nullptr, r.error());
      co_return error_response(r.error());
    }
    auto pin = co_await ctx_.releases.read([](const core::World& w) { return w.pin; });
    co_return HttpResponse::json(200, pin_json(pin));
  }

  asio::awaitable<HttpResponse> obligations(HttpRequest& req) {
    bool open_only = true;
    if (auto it = req.query.find("state"); it != req.query.end()) {
      if (it->second != "open" && it->second != "all")
        co_return HttpResponse::error(400, core::ErrorCode::invalid_argument,
                                      "query parameter 'state' must be 'open' or 'all'");
      open_only = it->second == "open";
    }
    auto r = co_await blocking([this, open_only] { return ctx_.store.obligations(open_only); });
    if (!r) co_return error_response(r.error());
    const auto now = ctx_.releases.clock().now();
    json list = json::array();
    for (const auto& o : *r) list.push_back(obligation_json(o, now));
    co_return HttpResponse::json(200, {{"obligations", list}});
  }

  asio::awaitable<HttpResponse> close_obligation(HttpRequest& req) {
    auto parsed = id_param(req);
    if (!parsed) co_return error_response(parsed.error());
    const std::int64_t id = *parsed;
    auto body = parse_close_obligation_request(req.body);
    if (!body) co_return error_response(body.error());
    const std::string* link = &body->link;
    const auto now = ctx_.releases.clock().now();
    const std::string by = req.principal->identity;
    // Wrapped in an optional: co_spawn needs a default-constructible result, and an Obligation has none.
    auto close = [this, id, by, link = *link, now] {
      return std::optional<core::Result<core::Obligation>>(ctx_.store.close_obligation(id, by, link, now));
    };
    auto closed = co_await blocking(std::move(close));
    const core::Result<core::Obligation>& r = *closed;
    if (!r) co_return error_response(r.error());
    if (auto reloaded = co_await ctx_.obligations.reload(); !reloaded)
      log(LogLevel::error, "obligation closed but the open ones could not be re-read",
          {{"error", reloaded.error().message}});
    co_return HttpResponse::json(200, obligation_json(*r, now));
  }

  ApiContext ctx_;
  Auditor auditor_{ctx_.store, ctx_.blocking};
};

}  // namespace

const std::vector<Role>& reader_roles() { return readers; }

void add_api_routes(Router& router, ApiContext ctx) { Api(std::move(ctx)).add(router); }

}  // namespace promoter::daemon
