#pragma once
// The promotion's tag step: refs/tags/<prefix><UTC time> on the production SHA, so the hotfix procedure has
// "the last production tag" to branch from. The name is noted in the journal before the POST, so a step
// resumed after a crash asks GitHub about the same tag and never makes a second one.
//
// It never fails the promotion: by this step production already runs the release, and the production record
// must say so. A tag GitHub refuses (or that cannot be made now) is reported in the step's detail, with the
// commands that make it by hand, and counted by the daemon.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/awaitable.hpp>
#include <string>

#include "adapters/github_client.hpp"
#include "ports/step_performer.hpp"

namespace promoter::adapters {

// "production-20261202T031100Z": sortable, and a valid ref name (no colons).
std::string production_tag_name(const std::string& prefix, core::Timestamp at);

class GitHubTagStep final : public ports::StepPerformer {
 public:
  // `client` must outlive the step.
  GitHubTagStep(GitHubClient& client, std::string prefix);

  boost::asio::awaitable<core::Result<std::string>> perform(const ports::StepContext&) override;
  boost::asio::awaitable<core::Result<std::optional<std::string>>> find_done(const ports::StepContext&) override;

 private:
  GitHubClient& client_;
  std::string prefix_;
};

}  // namespace promoter::adapters
