// Rollback's pure rules: which releases a rollback may go to, the schema refusal and --accept-schema, the
// rollback's plan (reverse order, no migration, no tag) and the pin's reason.
#include <doctest/doctest.h>

#include <string>

#include "core/rollback.hpp"
#include "core_fixtures.hpp"

namespace promoter::core {
namespace {

using namespace std::chrono_literals;
using namespace testing;

const Sha A = sha_of(0xa), B = sha_of(0xb), C = sha_of(0xc), D = sha_of(0xd);

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

ProductionEntry entry(const Sha& sha, int id, Duration at, std::vector<std::string> migrations = {}) {
  return ProductionEntry{sha, PromotionId{id}, t0() + at, std::move(migrations)};
}

// Newest first: C is production; B before it (its promotion migrated 0007); A before that (0006).
const std::vector<ProductionEntry> history{entry(C, 3, 2h, {"0008_add_index"}), entry(B, 2, 1h, {"0007_add_note"}),
                                           entry(A, 1, 0h, {"0006_create_invoices"})};

TEST_CASE("without a target a rollback goes to the release production had before") {
  auto target = choose_rollback_target(history, std::nullopt);
  REQUIRE(target.has_value());
  CHECK(target->sha == B);
  CHECK(target->was_production_at == t0() + 1h);
  CHECK(target->migrations_since == std::vector<std::string>{"0008_add_index"});
}

TEST_CASE("a named target must have been production here, and not be production now") {
  auto older = choose_rollback_target(history, A);
  REQUIRE(older.has_value());
  CHECK(older->migrations_since == std::vector<std::string>{"0007_add_note", "0008_add_index"});  // oldest first

  auto never = choose_rollback_target(history, D);
  REQUIRE_FALSE(never.has_value());
  CHECK(never.error().code == ErrorCode::failed_precondition);
  CHECK(contains(never.error().message, std::string(D.abbrev()) + " was never production here"));
  CHECK(contains(never.error().message, "valid targets: " + std::string(B.abbrev()) +
                                            " (production from 2026-11-25T04:00:00.000Z); " + std::string(A.abbrev())));

  auto current = choose_rollback_target(history, C);
  REQUIRE_FALSE(current.has_value());
  CHECK(contains(current.error().message, std::string(C.abbrev()) + " is production already"));
}

TEST_CASE("a release production returned to counts once, and the current one is never a target") {
  // A, then B, then a rollback to A, then C: the targets are A (its latest time) and B.
  const std::vector<ProductionEntry> h{entry(C, 4, 3h), entry(A, 3, 2h), entry(B, 2, 1h, {"0007"}), entry(A, 1, 0h)};
  auto target = choose_rollback_target(h, std::nullopt);
  REQUIRE(target.has_value());
  CHECK(target->sha == A);
  CHECK(target->was_production_at == t0() + 2h);
  // B's migration stayed when production went back to A: A is still older than it.
  CHECK(target->migrations_since == std::vector<std::string>{"0007"});
  auto to_b = choose_rollback_target(h, B);
  REQUIRE(to_b.has_value());
  CHECK(to_b->migrations_since.empty());  // B's own promotion's migration is not after it

  const std::vector<ProductionEntry> once{entry(A, 1, 0h)};
  auto none = choose_rollback_target(once, std::nullopt);
  REQUIRE_FALSE(none.has_value());
  CHECK(contains(none.error().message, "the only release that has been production here"));
  CHECK_FALSE(choose_rollback_target({}, std::nullopt).has_value());
}

TEST_CASE("a target older than a migration needs --accept-schema, and the refusal names the migrations") {
  auto target = choose_rollback_target(history, A);
  REQUIRE(target.has_value());
  auto refused = check_rollback_schema(*target, false);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == ErrorCode::failed_precondition);
  CHECK(contains(refused.error().message, "before 2 migrations ran (0007_add_note, 0008_add_index)"));
  CHECK(contains(refused.error().message, "\"Rollback\" section of each migration's PR description"));
  CHECK(contains(refused.error().message, "--accept-schema"));
  CHECK(check_rollback_schema(*target, true).has_value());
  const RollbackTarget clean{B, t0(), {}};
  CHECK(check_rollback_schema(clean, false).has_value());
}

TEST_CASE("a rollback deploys in reverse restart order, or the configured order, and never migrates or tags") {
  Policy p = standard_policy();  // worker, api, www
  p.tag_production = true;
  auto names = [](const PromotionPlan& plan) {
    std::vector<std::string> out;
    for (const auto& s : plan.steps) out.push_back(s.name());
    return out;
  };
  CHECK(names(make_rollback_plan(p)) ==
        std::vector<std::string>{"preflight", "deploy:www", "deploy:api", "deploy:worker", "verify", "record"});
  p.rollback_order = {"api", "worker", "www"};
  p.verify_after_deploy = false;
  CHECK(names(make_rollback_plan(p)) ==
        std::vector<std::string>{"preflight", "deploy:api", "deploy:worker", "deploy:www", "record"});
  const PromotionPlan plan = make_rollback_plan(p);
  for (std::size_t i = 0; i < plan.steps.size(); ++i) CHECK(plan.steps[i].index == static_cast<int>(i));
}

TEST_CASE("the pin's reason says who pinned, when and why, and how to resume") {
  const Pin pin{"carol", t0(), "checkout broke after 1a2b"};
  CHECK(pin_reason(pin) ==
        "environment pinned by carol at 2026-11-25T03:00:00.000Z: checkout broke after 1a2b; no promotion starts until "
        "promotectl resume --reason ...");
}

}  // namespace
}  // namespace promoter::core
