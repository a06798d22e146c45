// The production tag step against the fake GitHub over real HTTP: the name is noted before the request, a
// step resumed after a crash finds or re-sends the same tag (never a second one), and a tag GitHub refuses
// ends as a detail, not as a failed promotion.
#include <utility>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "adapters/github_tag_step.hpp"
#include "tests/fakes/fake_github.hpp"
#include "tests/support/on_thread.hpp"

using namespace promoter;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

const std::string token = "github-tag-step-token-000001";

fakes::FakeGitHubOptions github_options() {
  fakes::FakeGitHubOptions o;
  o.token = token;
  return o;
}

struct Tagging {
  testing::OnThread<fakes::FakeGitHub> github{github_options()};
  adapters::HttpClient http{github.executor(), adapters::HttpClientOptions{}};
  adapters::GitHubClient client{http, [this] {
                                  adapters::GitHubClientOptions o;
                                  o.endpoint = github.call([this] { return github.fake().url(); });
                                  o.owner = "acme";
                                  o.repo = "monorepo";
                                  o.token = token;
                                  return o;
                                }()};
  adapters::GitHubTagStep step{client, "production-"};
  std::vector<std::string> notes;

  ports::StepContext context(const core::Sha& sha, std::string progress = {}) {
    ports::StepContext ctx{
        core::PromotionId{7}, sha, core::PlanStep{5, core::StepKind::tag, ""}, "7:5:tag", {}, {}, {}, {}};
    ctx.started_at = core::Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 12 / 2}} + 3h + 11min + 5s;
    ctx.progress = std::move(progress);
    ctx.note = [this](std::string note) -> asio::awaitable<core::Result<void>> {
      notes.push_back(std::move(note));
      co_return core::Result<void>{};
    };
    return ctx;
  }

  core::Result<std::string> perform(const ports::StepContext& ctx) { return github.await(step.perform(ctx)); }
  core::Result<std::optional<std::string>> find_done(const ports::StepContext& ctx) {
    return github.await(step.find_done(ctx));
  }
  core::Sha commit() {
    return *core::Sha::parse(github.call([this] { return github.fake().push_commit(); }));
  }
  int tag_posts() {
    return github.call([this] { return github.fake().count("/repos/acme/monorepo/git/refs"); });
  }
};

}  // namespace

TEST_CASE("the tag is named after the step's start, noted before it is sent, and made once") {
  Tagging t;
  const core::Sha sha = t.commit();
  CHECK(adapters::production_tag_name("production-", t.context(sha).started_at.value()) ==
        "production-20261202T031105Z");
  auto done = t.perform(t.context(sha));
  REQUIRE(done.has_value());
  CHECK(done->find("production-20261202T031105Z created") != std::string::npos);
  REQUIRE(t.notes.size() == 1);
  CHECK(t.notes[0] == "tag production-20261202T031105Z");
  CHECK(t.github.call([&] { return t.github.fake().tag("production-20261202T031105Z"); }) == sha.str());
}

TEST_CASE("after a crash the step finds the tag it noted, or sends the same name again") {
  Tagging t;
  const core::Sha sha = t.commit();
  // Crashed before anything was noted: nothing was sent, so it simply runs.
  auto nothing = t.find_done(t.context(sha));
  REQUIRE(nothing.has_value());
  CHECK_FALSE(nothing->has_value());
  // Crashed after the note but before the POST: not there, so perform() sends the noted name (not a new one).
  const std::string noted = "tag production-20261201T000000Z";
  auto missing = t.find_done(t.context(sha, noted));
  REQUIRE(missing.has_value());
  CHECK_FALSE(missing->has_value());
  auto sent = t.perform(t.context(sha, noted));
  REQUIRE(sent.has_value());
  CHECK(t.notes.empty());  // the name was noted already
  CHECK(t.github.call([&] { return t.github.fake().tags(); }).size() == 1);
  // Crashed after the POST: the tag is found on the release, and nothing is sent again.
  const int posts = t.tag_posts();
  auto found = t.find_done(t.context(sha, noted));
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CHECK(found->value().find("found") != std::string::npos);
  CHECK(t.tag_posts() == posts);
  // And a second perform of the same name finds it already there instead of failing.
  auto again = t.perform(t.context(sha, noted));
  REQUIRE(again.has_value());
  CHECK(again->find("already there") != std::string::npos);
  CHECK(t.github.call([&] { return t.github.fake().tags(); }).size() == 1);
}

TEST_CASE("a tag GitHub refuses is reported in the detail, never as a failed step") {
  Tagging t;
  const core::Sha sha = t.commit(), other = t.commit();
  const std::string noted = "tag production-20261202T000000Z";
  REQUIRE(t.perform(t.context(other, noted)).has_value());  // the name is taken, on another commit
  auto refused = t.perform(t.context(sha, noted));
  REQUIRE(refused.has_value());
  CHECK(refused->find("NOT created") != std::string::npos);
  CHECK(refused->find("git tag production-20261202T000000Z " + sha.str()) != std::string::npos);
  CHECK(t.github.call([&] { return t.github.fake().tag("production-20261202T000000Z"); }) == other.str());
}
