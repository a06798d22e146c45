#include "core/evidence_gates.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "core/capped_list.hpp"
#include "core/pull_approval.hpp"
#include "core/test_pass_rate.hpp"

namespace promoter::core {

namespace {

// Longest list a reason spells out in full.
constexpr std::size_t reason_list_cap = 10;

std::string_view abbrev(std::string_view sha) { return sha.substr(0, 12); }

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// The reason of a gate that lists what is wrong: items that may hold commas, so joined with "; ".
GateStatus failing(std::string_view gate, const std::vector<std::string>& problems) {
  return {false, fmt::format("{}: {}", gate, capped_list(problems, reason_list_cap, "; "))};
}

// What every evidence gate does first: hold when the policy does not ask for it, and wait while the
// release has no evidence for exactly production..release. Returns the evidence to judge otherwise.
struct Start {
  const Evidence* evidence = nullptr;
  std::optional<GateStatus> decided;
};

Start start(std::string_view gate, bool required, const Release& r, const std::optional<Sha>& production) {
  if (!required) return {nullptr, GateStatus{true, fmt::format("{}: not required by policy", gate)}};
  if (const Evidence* e = current_evidence(r, production)) return {e, std::nullopt};
  // Evidence of another range: production moved since it was gathered.
  if (r.evidence && production)
    return {nullptr, GateStatus{false, fmt::format("{}: waiting for GitHub evidence for the range from production {}",
                                                   gate, production->abbrev())}};
  return {nullptr, GateStatus{false, fmt::format("{}: waiting for GitHub evidence", gate)}};
}

// Why a PR does not count as approved; empty when it does. A PR is approved when some user's latest decisive
// review (APPROVED, CHANGES_REQUESTED or DISMISSED; COMMENTED and PENDING change nothing) approves the PR's
// head commit, and that user is on the reviewing team and is not the PR's author (by id, never by login).
std::vector<std::string> approval_problems(const PullEvidence& pr, const Evidence& e) {
  // One rule decides (the hotfix review backfill applies the same); what follows only explains a refusal.
  if (approving_review(pr, e.team_members)) return {};
  std::vector<const PullReview*> ordered;
  for (const auto& review : pr.reviews) ordered.push_back(&review);
  std::stable_sort(ordered.begin(), ordered.end(), [](const PullReview* a, const PullReview* b) {
    return std::tie(a->submitted_at, a->id) < std::tie(b->submitted_at, b->id);
  });
  std::map<std::int64_t, const PullReview*> latest;  // by user id: the latest decisive review
  std::set<std::int64_t> approved_once;              // users with an APPROVED review, however old
  std::vector<std::int64_t> order;                   // users in order of their first decisive review
  for (const PullReview* review : ordered) {
    if (review->state == ReviewState::commented || review->state == ReviewState::pending) continue;
    if (!latest.contains(review->user.id)) order.push_back(review->user.id);
    latest[review->user.id] = review;
    if (review->state == ReviewState::approved) approved_once.insert(review->user.id);
  }

  std::vector<std::string> notes;
  bool author_approved = false;
  for (const std::int64_t user : order) {
    const PullReview& review = *latest.at(user);
    const std::string& who = review.user.login;
    switch (review.state) {
      case ReviewState::approved:
        if (user == pr.author.id) {
          author_approved = true;
        } else if (review.commit_id != pr.head_sha) {
          notes.push_back(fmt::format("PR #{}: {}'s approval is for an older commit ({}), not the merged head",
                                      pr.number, who, abbrev(review.commit_id)));
        } else if (!e.team_members.contains(user)) {
          notes.push_back(fmt::format("PR #{}: {} is not on the reviewing team", pr.number, who));
        }
        break;
      case ReviewState::dismissed:
        // GitHub rewrites a dismissed review's state, so only an earlier approval says what it was.
        notes.push_back(approved_once.contains(user)
                            ? fmt::format("PR #{}: approval by {} was dismissed", pr.number, who)
                            : fmt::format("PR #{}: {}'s review was dismissed", pr.number, who));
        break;
      case ReviewState::changes_requested:
        notes.push_back(fmt::format("PR #{}: {} requested changes", pr.number, who));
        break;
      case ReviewState::commented:
      case ReviewState::pending:
        break;
    }
  }
  if (notes.empty())
    notes.push_back(author_approved ? fmt::format("PR #{}: only its author approved", pr.number)
                                    : fmt::format("PR #{} (by {}) has no approving review from a team member other "
                                                  "than its author",
                                                  pr.number, pr.author.login));
  else if (author_approved)
    notes.push_back(fmt::format("PR #{}: its author's own approval does not count", pr.number));
  return notes;
}

// Why a PR does not bring its commit to the main branch reviewed; empty when it does.
std::vector<std::string> pull_problems(const PullEvidence& pr, const Evidence& e, const EvidencePolicy& p) {
  if (!pr.merged) return {fmt::format("PR #{} is not merged", pr.number)};
  if (pr.base_ref != p.main_branch)
    return {fmt::format("PR #{} was merged into {}, not {}", pr.number, pr.base_ref, p.main_branch)};
  return approval_problems(pr, e);
}

// Wide enough for passed * 1000 of any long long; __extension__ keeps -Wpedantic quiet about the GNU type.
__extension__ typedef unsigned __int128 wide;

// "949 of 1000 (94.9%)": integers only, the percentage rounded down to a tenth, so that a rate below the
// minimum never reads as the minimum.
std::string format_rate(const TestCounts& c) {
  // parse_test_counts gives counts >= 0 that fit a long long, so their sum fits an unsigned long long; the
  // caller has ruled out a total of 0.
  const auto passed = static_cast<unsigned long long>(c.passed);
  const unsigned long long total = passed + static_cast<unsigned long long>(c.failed);
  const auto tenths = static_cast<unsigned>(static_cast<wide>(passed) * 1000 / total);
  if (tenths % 10 == 0) return fmt::format("{} of {} ({}%)", passed, total, tenths / 10);
  return fmt::format("{} of {} ({}.{}%)", passed, total, tenths / 10, tenths % 10);
}

// "1000 of 1000"
std::string format_count(const TestCounts& c) {
  const auto passed = static_cast<unsigned long long>(c.passed);
  return fmt::format("{} of {}", passed, passed + static_cast<unsigned long long>(c.failed));
}

// 9500 -> "95%", 9550 -> "95.5%", 9525 -> "95.25%".
std::string format_basis_points(int bp) {
  if (bp % 100 == 0) return fmt::format("{}%", bp / 100);
  if (bp % 10 == 0) return fmt::format("{}.{}%", bp / 100, bp % 100 / 10);
  return fmt::format("{}.{:02}%", bp / 100, bp % 100);
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

const Evidence* current_evidence(const Release& r, const std::optional<Sha>& production) {
  if (!r.evidence) return nullptr;
  const Evidence& e = *r.evidence;
  if (e.head != r.sha.str()) return nullptr;
  const std::optional<std::string> base = production ? std::optional<std::string>(production->str()) : std::nullopt;
  if (e.base != base) return nullptr;
  return &e;
}

std::optional<Sha> evidence_range_start(const Release& r, const std::optional<Sha>& production) {
  const bool gathering = r.state == ReleaseState::deploying || r.state == ReleaseState::soaking ||
                         r.state == ReleaseState::ready || r.state == ReleaseState::staging_failed;
  if (gathering || !r.evidence) return production;
  if (!r.evidence->base) return std::nullopt;
  auto base = Sha::parse(*r.evidence->base);
  return base ? std::optional<Sha>(*base) : production;
}

GateStatus review_gate(const Release& r, const Policy& p, const std::optional<Sha>& production) {
  if (!p.evidence.require_review) return {true, "review: not required by policy"};
  if (r.hotfix) return {true, "review: hotfix; the review is backfilled afterwards (obligation)"};
  const Start s = start("review", true, r, production);
  if (s.decided) return *s.decided;
  const Evidence& e = *s.evidence;

  std::vector<std::string> problems;
  std::set<int> approved;   // PRs that brought a commit in reviewed
  std::set<int> explained;  // PRs whose problems are listed already (one PR often brings many commits)
  for (const auto& commit : e.commits) {
    std::vector<std::string> why_not;
    bool reviewed = false;
    int known = 0;
    for (const int number : commit.pulls) {
      auto it = e.pulls.find(number);
      if (it == e.pulls.end()) continue;
      ++known;
      if (approved.contains(number)) {
        reviewed = true;
        break;
      }
      auto pr_problems = pull_problems(it->second, e, p.evidence);
      if (pr_problems.empty()) {
        approved.insert(number);
        reviewed = true;
        break;
      }
      if (explained.insert(number).second) why_not.insert(why_not.end(), pr_problems.begin(), pr_problems.end());
    }
    if (reviewed) continue;
    if (known == 0)
      problems.push_back(commit.pulls.empty() ? fmt::format("commit {} was pushed straight to {}", abbrev(commit.sha),
                                                            p.evidence.main_branch)
                                              : fmt::format("commit {} names PR #{}, which the evidence lacks",
                                                            abbrev(commit.sha), commit.pulls.front()));
    problems.insert(problems.end(), why_not.begin(), why_not.end());
  }
  if (!problems.empty()) return failing("review", problems);
  if (e.commits.empty()) return {true, "review: no commits since production"};
  return {true, fmt::format("review: {} through {} approved", plural(e.commits.size(), "commit", "commits"),
                            plural(approved.size(), "PR", "PRs"))};
}

GateStatus ci_gate(const Release& r, const Policy& p, const std::optional<Sha>& production) {
  // No hotfix exemption: the policy lets a hotfix skip the soak and the review, never CI.
  const Start s = start("ci", p.evidence.require_ci, r, production);
  if (s.decided) return *s.decided;
  const Evidence& e = *s.evidence;
  const EvidencePolicy& policy = p.evidence;

  std::vector<std::string> problems;
  std::vector<std::string> passed;
  for (const auto& name : policy.required_checks) {
    // Check runs and commit statuses share one name space; the latest of the name decides.
    const CheckEvidence* check = nullptr;
    for (const auto& c : e.checks)
      if (c.name == name && (!check || c.at >= check->at)) check = &c;
    if (!check) {
      problems.push_back(fmt::format("{} is missing", name));
      continue;
    }
    if (!check->completed) {
      problems.push_back(fmt::format("{} is pending", name));
      continue;
    }
    if (check->conclusion != "success") {
      problems.push_back(check->conclusion.empty() ? fmt::format("{} completed without a conclusion", name)
                                                   : fmt::format("{} concluded {}", name, check->conclusion));
      continue;
    }
    if (name != policy.test_check || !policy.min_test_pass_rate_bp) {
      passed.push_back(name);
      continue;
    }
    const auto counts = parse_test_counts(check->summary);
    if (!counts) {
      problems.push_back(fmt::format("{} reported no pass count", name));
    } else if (counts->passed == 0 && counts->failed == 0) {
      problems.push_back(fmt::format("{} ran no tests", name));
    } else if (!meets_pass_rate(*counts, *policy.min_test_pass_rate_bp)) {
      problems.push_back(fmt::format("{} passed {}, below {}", name, format_rate(*counts),
                                     format_basis_points(*policy.min_test_pass_rate_bp)));
    } else {
      passed.push_back(fmt::format("{} ({} passed)", name, format_count(*counts)));
    }
  }
  if (!problems.empty()) return failing("ci", problems);
  if (passed.empty()) return {true, "ci: no checks required"};
  return {true, fmt::format("ci: {} succeeded", capped_list(passed, reason_list_cap))};
}

GateStatus ddl_rollback_gate(const Release& r, const Policy& p, const std::optional<Sha>& production) {
  // No hotfix exemption: an emergency migration needs a way back all the more.
  const Start s = start("ddl_rollback", p.evidence.require_ddl_rollback, r, production);
  if (s.decided) return *s.decided;
  const Evidence& e = *s.evidence;

  std::set<int> numbers;  // every PR of the range, once, in number order
  for (const auto& commit : e.commits)
    for (const int number : commit.pulls)
      if (e.pulls.contains(number)) numbers.insert(number);

  std::vector<std::string> problems;
  std::vector<std::string> with_ddl;
  for (const int number : numbers) {
    const PullEvidence& pr = e.pulls.at(number);
    if (pr.ddl.ddl_files.empty()) continue;
    with_ddl.push_back(fmt::format("#{}", number));
    if (pr.ddl.rollback_section) continue;
    problems.push_back(fmt::format("PR #{} changes DDL in {} but has no '{}' section with a code block", number,
                                   capped_list(pr.ddl.ddl_files, reason_list_cap), trim(p.evidence.rollback_heading)));
  }
  if (!problems.empty()) return failing("ddl_rollback", problems);
  if (with_ddl.empty()) return {true, "ddl_rollback: no PR of the range changes DDL"};
  return {true, fmt::format("ddl_rollback: every PR that changes DDL has a rollback section ({})",
                            capped_list(with_ddl, reason_list_cap))};
}

}  // namespace promoter::core
