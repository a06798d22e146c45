#include "adapters/github_tag_step.hpp"

#include <chrono>
#include <fmt/format.h>

namespace promoter::adapters {

namespace {

constexpr std::string_view progress_prefix = "tag ";

// Why the tag is not there, and how an operator makes it.
std::string not_tagged(const std::string& name, const core::Sha& sha, std::string_view why) {
  return fmt::format("production tag {} NOT created ({}); make it by hand: git tag {} {} && git push origin {}", name,
                     why, name, sha.str(), name);
}

}  // namespace

std::string production_tag_name(const std::string& prefix, core::Timestamp at) {
  const auto day = std::chrono::floor<std::chrono::days>(at);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss time{std::chrono::floor<std::chrono::seconds>(at - day)};
  return fmt::format("{}{:04}{:02}{:02}T{:02}{:02}{:02}Z", prefix, static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), time.hours().count(),
                     time.minutes().count(), time.seconds().count());
}

GitHubTagStep::GitHubTagStep(GitHubClient& client, std::string prefix) : client_(client), prefix_(std::move(prefix)) {}

boost::asio::awaitable<core::Result<std::string>> GitHubTagStep::perform(const ports::StepContext& ctx) {
  // A resumed step keeps the name it noted; a fresh one names the tag after the moment it started.
  std::string name;
  if (ctx.progress.starts_with(progress_prefix)) {
    name = ctx.progress.substr(progress_prefix.size());
  } else {
    name = production_tag_name(prefix_, ctx.started_at.value_or(core::Timestamp{}));
    if (ctx.note) {
      auto noted = co_await ctx.note(std::string(progress_prefix) + name);
      if (!noted) co_return std::unexpected(noted.error());  // not noted: not sent either; the step resumes
    }
  }
  auto tagged = co_await client_.create_tag(name, ctx.sha.str());
  if (!tagged) co_return not_tagged(name, ctx.sha, tagged.error().message);
  co_return fmt::format("production tag {} {} on {}", name,
                        *tagged == TagResult::created ? "created" : "was already there", ctx.sha.abbrev());
}

boost::asio::awaitable<core::Result<std::optional<std::string>>> GitHubTagStep::find_done(
    const ports::StepContext& ctx) {
  if (!ctx.progress.starts_with(progress_prefix)) co_return std::optional<std::string>();  // nothing was sent
  const std::string name = ctx.progress.substr(progress_prefix.size());
  auto status = co_await client_.compare_status(name, ctx.sha.str());
  if (status && *status == "identical")
    co_return std::optional<std::string>(fmt::format("production tag {} found on {}", name, ctx.sha.abbrev()));
  // Not there (404), elsewhere, or GitHub cannot say now: perform() sends the same name again, and a tag that
  // does exist elsewhere ends as a detail, never as a failed promotion.
  co_return std::optional<std::string>();
}

}  // namespace promoter::adapters
