#pragma once
// What GitHub shows about a release, as plain values the review, ci and ddl_rollback gates read. The GitHub
// adapter gathers it (compare, pulls, reviews, files, check runs, statuses, team membership); core never
// sees JSON or a socket. A pull request's patches are reduced to a DdlFinding by core::scan_pull before they
// get here, so a release holds findings, not diffs.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"

namespace promoter::core {

// A GitHub account. Gates compare `id` (immutable); `login` is only for reasons people read.
struct GitHubUser {
  std::int64_t id = 0;
  std::string login;
  auto operator<=>(const GitHubUser&) const = default;
};

enum class ReviewState { approved, changes_requested, commented, dismissed, pending };
std::string_view to_string(ReviewState);
// GitHub's upper-case text ("APPROVED", ...); nullopt for anything else.
std::optional<ReviewState> parse_review_state(std::string_view);

struct PullReview {
  std::int64_t id = 0;  // GitHub's review id: higher is later when submitted_at ties
  GitHubUser user;
  ReviewState state = ReviewState::commented;
  std::string commit_id;  // the PR head commit the review was submitted on
  Timestamp submitted_at{};
  auto operator<=>(const PullReview&) const = default;
};

// One changed file of a PR as GitHub lists it (pulls/{n}/files): the input of core::scan_pull.
struct PullFilePatch {
  std::string filename;
  std::string status;                // added, modified, removed, renamed, ...
  std::optional<std::string> patch;  // unified diff hunk text; nullopt when GitHub omits it (binary, too large)
};

// What the ddl_rollback gate needs of one PR, from core::scan_pull.
struct DdlFinding {
  // Files under a migration glob whose patch adds DDL, or whose patch GitHub did not show (which might).
  std::vector<std::string> ddl_files;
  bool rollback_section = false;  // its description has the rollback heading followed by a non-empty code block
  auto operator<=>(const DdlFinding&) const = default;
};

// What the flag gate needs of one PR, from core::scan_flags: the files it changes under a guarded glob, and the
// flag keys its description names ("Flag: billing_v2"); keys are read only when some file is guarded.
struct FlagFinding {
  std::vector<std::string> guarded_files;
  std::vector<std::string> keys;
  auto operator<=>(const FlagFinding&) const = default;
};

struct PullEvidence {
  int number = 0;
  GitHubUser author;
  std::string url;       // html_url, for reasons and obligation evidence
  bool merged = false;   // merged_at is set
  std::string base_ref;  // the branch it merged into
  std::string head_sha;  // the PR's last head commit: an approval of an older one is stale
  std::vector<PullReview> reviews;
  DdlFinding ddl;
  FlagFinding flags;
  auto operator<=>(const PullEvidence&) const = default;
};

// One commit of the range being promoted, with the merged PRs that brought it to the main branch
// (commits/{sha}/pulls, filtered to merged PRs into that branch). No PR: pushed straight to main.
struct CommitEvidence {
  std::string sha;
  std::vector<int> pulls;
  auto operator<=>(const CommitEvidence&) const = default;
};

enum class CheckSource { check_run, status };

// The latest check run or legacy commit status of one name on the release SHA.
struct CheckEvidence {
  std::string name;  // check run name, or commit status context
  CheckSource source = CheckSource::check_run;
  bool completed = false;  // check run status "completed"; a status whose state is not "pending"
  // success, failure, neutral, cancelled, skipped, timed_out, action_required, stale (check runs), or a
  // status's state (success, failure, error); empty while not completed.
  std::string conclusion;
  std::string summary;  // output title, summary and text (check runs) or description (statuses): the pass count
  Timestamp at{};
  auto operator<=>(const CheckEvidence&) const = default;
};

struct Evidence {
  std::string head;                 // the release SHA
  std::optional<std::string> base;  // the production SHA the range starts after; nullopt: the head commit alone
  // How head relates to base by GitHub's compare: "ahead" or "identical" (it descends from production, what
  // a hotfix must), "behind" or "diverged"; empty when not compared (no base).
  std::string relation;
  std::vector<CommitEvidence> commits;  // oldest first: every commit in base..head
  std::map<int, PullEvidence> pulls;    // every PR a commit of the range names
  std::vector<CheckEvidence> checks;    // on head
  // Ids of the users the evidence names (reviewers) who are members of the reviewing team.
  std::set<std::int64_t> team_members;
  Timestamp observed_at{};
  auto operator<=>(const Evidence&) const = default;
};

}  // namespace promoter::core
