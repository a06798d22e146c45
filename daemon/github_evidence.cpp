#include "daemon/github_evidence.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <fmt/format.h>

#include "adapters/github_webhook.hpp"
#include "core/ddl_scan.hpp"
#include "core/flag_scan.hpp"
#include "core/pull_approval.hpp"
#include "core/release.hpp"
#include "daemon/log.hpp"
#include "ports/blocking.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

// Delivery ids remembered to drop repeats: GitHub redelivers by hand or through the API, rarely more than a
// few at a time, and a repeat past this window costs one more pass, never a wrong gate.
constexpr std::size_t delivery_memory = 4096;

// What a pass gathers evidence for: releases still gathering gates, and where their range starts.
struct Pending {
  std::vector<core::Sha> releases;
  std::optional<core::Sha> production;
};

// A PR as the gates read it, before its reviews and files are added.
core::PullEvidence pull_evidence(const adapters::GitHubPull& pull) {
  core::PullEvidence p;
  p.number = pull.number;
  p.author = pull.author;
  p.url = pull.url;
  p.merged = pull.merged;
  p.base_ref = pull.base_ref;
  p.head_sha = pull.head_sha;
  return p;
}

std::string_view kind_label(adapters::GitHubWebhookEvent::Kind kind) {
  switch (kind) {
    case adapters::GitHubWebhookEvent::Kind::review:
      return "review";
    case adapters::GitHubWebhookEvent::Kind::check:
      return "check";
    case adapters::GitHubWebhookEvent::Kind::pull:
      return "pull";
    case adapters::GitHubWebhookEvent::Kind::ignored:
      return "other";
  }
  return "other";
}

auto github_unavailable(std::string_view what, const adapters::AdapterError& e) {
  return core::fail(core::ErrorCode::unavailable, fmt::format("{}: {}", what, e.message));
}

}  // namespace

GitHubEvidence::GitHubEvidence(asio::io_context& io, asio::any_io_executor blocking, adapters::GitHubClient& client,
                               ReleaseService& releases, Ledger& ledger, ObligationWatch& obligations,
                               const Config& config, std::optional<std::string> webhook_secret, Auditor audit,
                               Metrics& metrics, const Clock& clock)
    : io_(io),
      blocking_(std::move(blocking)),
      client_(client),
      releases_(releases),
      ledger_(ledger),
      obligations_(obligations),
      policy_(config.policy.evidence),
      flags_(config.policy.flags),
      config_(config.github.value_or(GitHubConfig{})),
      webhook_secret_(std::move(webhook_secret)),
      audit_(std::move(audit)),
      metrics_(metrics),
      clock_(clock),
      wake_(io) {}

void GitHubEvidence::add_routes(Router& router) {
  if (!webhook_secret_) return;
  router.add(http::verb::post, "/webhooks/github", RouteAccess{false, {}},
             [this](HttpRequest& req) { return on_webhook(req); });
}

void GitHubEvidence::start() { asio::co_spawn(io_, loop(), asio::detached); }

void GitHubEvidence::stop() {
  stopped_ = true;
  wake_.cancel();
}

void GitHubEvidence::poke() {
  pending_ = true;
  wake_.cancel();
}

asio::awaitable<void> GitHubEvidence::loop() {
  while (!stopped_) {
    pending_ = false;
    auto r = co_await reconcile();
    metrics_.github_reconcile_finished(r.has_value());
    if (!r) log(LogLevel::warn, "GitHub evidence pass failed; will retry", {{"error", r.error().message}});
    if (stopped_ || pending_) continue;
    wake_.expires_after(config_.reconcile_interval);
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

bool GitHubEvidence::first_delivery(const std::string& id) {
  if (!deliveries_.insert(id).second) return false;
  delivery_order_.push_back(id);
  if (delivery_order_.size() > delivery_memory) {
    deliveries_.erase(delivery_order_.front());
    delivery_order_.pop_front();
  }
  return true;
}

asio::awaitable<HttpResponse> GitHubEvidence::on_webhook(HttpRequest& req) {
  auto header = [&](const char* name) -> std::string {
    auto it = req.webhook_headers.find(name);
    return it == req.webhook_headers.end() ? std::string() : it->second;
  };
  const std::string event = header("x-github-event");
  const std::string delivery = header("x-github-delivery");
  // Verified before anything in the body is believed, and with the same answer for every kind of mistake:
  // a sender without the secret learns nothing from it.
  if (!adapters::github_signature_valid(*webhook_secret_, req.body, header("x-hub-signature-256"))) {
    metrics_.github_webhook("other", "refused");
    // Nothing the sender wrote is repeated: unverified text has no place in the log or the audit.
    log(LogLevel::warn, "GitHub webhook refused: bad or missing signature", {{"remote", req.remote}});
    if (audit_)
      audit_(core::AuditNote{
          "github", "github.webhook_refused", std::nullopt,
          fmt::format("a delivery from {} carried no valid X-Hub-Signature-256; dropped unread", req.remote)});
    co_return HttpResponse::error(401, "unauthenticated",
                                  "X-Hub-Signature-256 is missing or does not match the webhook secret");
  }
  if (event.empty() || delivery.empty()) {
    metrics_.github_webhook("other", "invalid");
    co_return HttpResponse::error(400, core::ErrorCode::invalid_argument,
                                  "X-GitHub-Event and X-GitHub-Delivery are required");
  }
  auto parsed = adapters::parse_github_webhook(event, req.body);
  if (!parsed) {
    metrics_.github_webhook("other", "invalid");
    co_return HttpResponse::error(400, core::ErrorCode::invalid_argument, parsed.error());
  }
  const std::string_view kind = kind_label(parsed->kind);
  if (!first_delivery(delivery)) {
    metrics_.github_webhook(kind, "duplicate");
    co_return HttpResponse::json(200, {{"status", "duplicate"}, {"delivery", delivery}});
  }
  // GitHub owner and repository names are case-insensitive: "Acme/Monorepo" is acme/monorepo.
  auto lower = [](std::string text) {
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  const std::string repository = lower(fmt::format("{}/{}", config_.owner, config_.repo));
  if (parsed->kind == adapters::GitHubWebhookEvent::Kind::ignored ||
      (!parsed->repository.empty() && lower(parsed->repository) != repository)) {
    metrics_.github_webhook(kind, "ignored");
    co_return HttpResponse::json(200, {{"status", "ignored"}});
  }
  metrics_.github_webhook(kind, "queued");
  poke();
  // Accepted for a pass, which reads the evidence itself: nothing of the body is recorded.
  co_return HttpResponse::json(202, {{"status", "queued"}});
}

asio::awaitable<core::Result<void>> GitHubEvidence::reconcile() {
  auto snapshot = [](const core::World& w) {
    Pending p;
    p.production = w.production;
    for (const auto& sha : w.active) {
      const core::Release& r = w.releases.at(sha);
      if (core::is_gathering(r.state)) p.releases.push_back(r.sha);
    }
    return p;
  };
  const Pending pending = co_await releases_.read(snapshot);
  core::Result<void> outcome;
  if (policy_.any() || flags_.require_flag)
    for (const auto& sha : pending.releases) {
      auto evidence = co_await gather(sha, pending.production);
      if (!evidence) {
        outcome = std::unexpected(evidence.error());
        continue;  // the others may still be readable
      }
      core::Event event = core::EvidenceObserved{sha, std::move(*evidence)};
      auto r = co_await releases_.submit(std::move(event));
      if (!r && r.error().code == core::ErrorCode::unavailable) co_return std::unexpected(r.error());
      if (!r) log(LogLevel::warn, "GitHub evidence not applied", {{"sha", sha.str()}, {"error", r.error().message}});
    }
  auto backfills = co_await close_backfills();
  if (!backfills) co_return backfills;
  co_return outcome;
}

asio::awaitable<core::Result<core::Evidence>> GitHubEvidence::gather(core::Sha head,
                                                                     std::optional<core::Sha> production) {
  core::Evidence e;
  e.head = head.str();
  if (production) e.base = production->str();
  // Whether the release descends from production: what the hotfix procedure's ancestry check asks. The
  // production tag points at this SHA, so comparing with it is comparing with the last production tag.
  if (production && *production != head) {
    auto relation = co_await client_.compare_status(production->str(), head.str());
    if (!relation) co_return github_unavailable("comparing production with the release", relation.error());
    e.relation = std::move(*relation);
  }
  // The review and ddl_rollback gates read the PRs of every commit in the range; ci reads the head alone.
  if (policy_.require_review || policy_.require_ddl_rollback || flags_.require_flag) {
    std::vector<std::string> commits{head.str()};
    if (production && *production != head) {
      auto range = co_await client_.compare(production->str(), head.str());
      if (!range) co_return github_unavailable("comparing production with the release", range.error());
      commits = std::move(*range);
    } else if (production) {
      commits.clear();  // promoting production again: an empty range
    }
    std::set<int> numbers;
    for (const auto& sha : commits) {
      auto pulls = co_await client_.commit_pulls(sha);
      if (!pulls) co_return github_unavailable(fmt::format("listing the PRs of {}", sha), pulls.error());
      core::CommitEvidence commit{sha, {}};
      for (const auto& pull : *pulls) {
        if (!pull.merged || pull.base_ref != policy_.main_branch) continue;
        commit.pulls.push_back(pull.number);
        if (!numbers.insert(pull.number).second) continue;
        core::PullEvidence p = pull_evidence(pull);
        if (policy_.require_review) {
          auto reviews = co_await client_.pull_reviews(pull.number);
          if (!reviews)
            co_return github_unavailable(fmt::format("reading PR #{}'s reviews", pull.number), reviews.error());
          p.reviews = std::move(*reviews);
        }
        if (policy_.require_ddl_rollback || flags_.require_flag) {
          auto files = co_await client_.pull_files(pull.number);
          if (!files) co_return github_unavailable(fmt::format("reading PR #{}'s files", pull.number), files.error());
          if (policy_.require_ddl_rollback) p.ddl = core::scan_pull(policy_, *files, pull.body);
          if (flags_.require_flag) p.flags = core::scan_flags(flags_, *files, pull.body);
        }
        e.pulls.emplace(p.number, std::move(p));
      }
      e.commits.push_back(std::move(commit));
    }
  }
  if (policy_.require_ci) {
    auto checks = co_await client_.checks(head.str());
    if (!checks) co_return github_unavailable("reading the release's checks", checks.error());
    e.checks = std::move(*checks);
  }
  if (policy_.require_review) {
    std::map<std::int64_t, std::string> reviewers;
    for (const auto& [number, pull] : e.pulls)
      for (const auto& review : pull.reviews)
        if (review.state == core::ReviewState::approved) reviewers.emplace(review.user.id, review.user.login);
    auto members = co_await team_members(std::move(reviewers));
    if (!members) co_return std::unexpected(members.error());
    e.team_members = std::move(*members);
  }
  e.observed_at = clock_.now();
  co_return e;
}

asio::awaitable<core::Result<std::set<std::int64_t>>> GitHubEvidence::team_members(
    std::map<std::int64_t, std::string> users) {
  std::set<std::int64_t> members;
  if (!config_.members.empty()) {
    for (const auto& m : config_.members)
      if (users.contains(m.id)) members.insert(m.id);
    co_return members;
  }
  if (config_.team.empty()) co_return members;
  const auto slash = config_.team.find('/');
  const std::string org = config_.team.substr(0, slash), slug = config_.team.substr(slash + 1);
  for (const auto& [id, login] : users) {
    // Asked by login (the API's key), kept by id; a login renamed since the review answers 404: not a member.
    auto member = co_await client_.team_member(org, slug, login);
    if (!member)
      co_return core::fail(core::ErrorCode::unavailable, fmt::format("asking whether {} is on team {}: {}", login,
                                                                     config_.team, member.error().message));
    if (*member) members.insert(id);
  }
  co_return members;
}

asio::awaitable<core::Result<void>> GitHubEvidence::close_backfills() {
  std::vector<core::Obligation> open;
  for (const auto& o : obligations_.open())
    if (o.kind == core::ObligationKind::review_backfill) open.push_back(o);
  bool closed_any = false;
  for (const auto& o : open) {
    auto pulls = co_await client_.commit_pulls(o.sha.str());
    if (!pulls)
      co_return github_unavailable(fmt::format("listing the PRs of hotfix {}", o.sha.abbrev()), pulls.error());
    std::optional<std::pair<core::PullEvidence, core::PullReview>> found;
    std::map<std::int64_t, std::string> reviewers;
    std::vector<core::PullEvidence> candidates;
    for (const auto& pull : *pulls) {
      core::PullEvidence p = pull_evidence(pull);
      auto reviews = co_await client_.pull_reviews(pull.number);
      if (!reviews) co_return github_unavailable(fmt::format("reading PR #{}'s reviews", pull.number), reviews.error());
      p.reviews = std::move(*reviews);
      for (const auto& review : p.reviews)
        if (review.state == core::ReviewState::approved) reviewers.emplace(review.user.id, review.user.login);
      candidates.push_back(std::move(p));
    }
    auto members = co_await team_members(std::move(reviewers));
    if (!members) co_return std::unexpected(members.error());
    for (const auto& p : candidates)
      if (auto review = core::approving_review(p, *members); review && !found) found.emplace(p, *review);
    if (!found) continue;
    // GitHub's own anchor for one review of a PR page.
    const std::string link = fmt::format("{}#pullrequestreview-{}", found->first.url, found->second.id);
    const std::int64_t id = o.id;
    const auto now = clock_.now();
    auto close = [this, id, link, now] {
      return std::optional<core::Result<core::Obligation>>(ledger_.close_obligation(id, "github", link, now));
    };
    auto closed = co_await run_blocking(blocking_, std::move(close));
    const core::Result<core::Obligation>& r = *closed;
    if (!r && r.error().code == core::ErrorCode::unavailable) co_return std::unexpected(r.error());
    if (!r) {
      // Closed by an operator in the meantime, say: nothing left to do for it.
      log(LogLevel::info, "hotfix review backfill not closed", {{"obligation", id}, {"error", r.error().message}});
      continue;
    }
    closed_any = true;
    log(LogLevel::info, "hotfix review backfill closed by GitHub evidence",
        {{"obligation", id},
         {"sha", o.sha.str()},
         {"pull", found->first.number},
         {"reviewer", found->second.user.login}});
  }
  if (closed_any) {
    auto reloaded = co_await obligations_.reload();
    if (!reloaded) co_return reloaded;
  }
  co_return core::Result<void>{};
}

}  // namespace promoter::daemon
