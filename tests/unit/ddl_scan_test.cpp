// The DDL scan of a PR: which migration files add DDL, and whether the description has a rollback section.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "core/ddl_scan.hpp"

namespace promoter::core {
namespace {

TEST_CASE("glob_match: * and ? stay within a segment, ** spans any number of segments, zero included") {
  struct Case {
    std::string pattern;
    std::string path;
    bool matches;
  };
  const Case cases[] = {
      {"db/migrations/**", "db/migrations/2026/001.sql", true},
      {"db/migrations/**", "db/migrations/001.sql", true},
      {"db/migrations/**", "db/seeds/001.sql", false},
      {"db/**", "db/a/b/c.sql", true},
      {"db/**", "dbx/a.sql", false},
      {"db/**/x.sql", "db/x.sql", true},  // ** as zero segments
      {"db/**/x.sql", "db/a/b/x.sql", true},
      {"db/**/x.sql", "db/a/b/y.sql", false},
      {"**/*.sql", "a.sql", true},
      {"**/*.sql", "a/b/c.sql", true},
      {"**/*.sql", "a/b/c.sql.bak", false},
      {"db/*.sql", "db/001.sql", true},
      {"db/*.sql", "db/a/001.sql", false},  // * does not cross /
      {"db/*", "db/a/b", false},
      {"*", "a/b", false},
      {"db/?.sql", "db/1.sql", true},
      {"db/?.sql", "db/12.sql", false},
      {"db?x.sql", "db/x.sql", false},  // ? does not match /
      {"db/0*_*.sql", "db/001_init.sql", true},
      {"db/0*_*.sql", "db/001-init.sql", false},
      {"db/migrations/*.sql", "db/migrations/001.SQL", false},  // case matters, as in git
      {"packages/db/migrations/**", "packages/api/src/schema.ts", false},
      {"db/migrations/001.sql", "db/migrations/001.sql", true},
      {"db/migrations/001.sql", "db/migrations/001.sql/x", false},
      {"db/**/**/x.sql", "db/x.sql", true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.pattern);
    CAPTURE(c.path);
    CHECK(glob_match(c.pattern, c.path) == c.matches);
  }
}

TEST_CASE("glob_match never backtracks exponentially on pathological patterns") {
  const std::string as(20000, 'a');
  CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", as));
  CHECK(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", as + "b"));

  std::string deep;  // a/a/.../a: 2,000 segments
  for (int i = 0; i < 2000; ++i) deep += i ? "/a" : "a";
  std::string stars;  // **/**/.../**/b: 40 double stars
  for (int i = 0; i < 40; ++i) stars += "**/";
  CHECK_FALSE(glob_match(stars + "b", deep));
  CHECK(glob_match(stars + "b", deep + "/b"));
  CHECK_FALSE(glob_match(stars + "*a*a*a*a*a*b", deep + "/" + as));
}

TEST_CASE("ddl_in_patch: DDL keywords on added lines, whole words, any case, outside -- comments") {
  struct Case {
    std::string name;
    std::string patch;
    std::vector<std::string> keywords;
  };
  const Case cases[] = {
      {"an added CREATE", "@@ -0,0 +1 @@\n+CREATE TABLE t (id int);", {"CREATE"}},
      {"removed lines do not count", "@@ -1 +0,0 @@\n-DROP TABLE t;", {}},
      {"context lines do not count", "@@ -1,2 +1,2 @@\n ALTER TABLE t ADD x int;\n+select 1;", {}},
      {"a +++ header is not an added line", "+++ b/db/drop.sql\n+select 1;", {}},
      {"DDL in a comment only", "+-- DROP TABLE t;\n+  -- ALTER TABLE t\n+select 1; -- truncate later", {}},
      {"each once, upper case, in order of first appearance",
       "+create table a (id int);\n+Alter table a add x int; -- rename later\n+drop index i;\n+CREATE index j",
       {"CREATE", "ALTER", "DROP"}},
      {"all five",
       "+truncate t;\n+ALTER TABLE t RENAME COLUMN a TO b;\n+drop table u;\n+create view v",
       {"TRUNCATE", "ALTER", "RENAME", "DROP", "CREATE"}},
      {"whole words only", "+created_at timestamp, dropped boolean, my_drop() , CREATED int, renames", {}},
      {"CRLF lines", "@@ -0,0 +1 @@\r\n+ALTER TABLE t ADD x int;\r\n", {"ALTER"}},
      {"punctuation is a word boundary", "+(DROP)", {"DROP"}},
      {"an empty patch", "", {}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(ddl_in_patch(c.patch) == c.keywords);
  }
}

TEST_CASE("has_rollback_section: the heading, then before the next heading a closed code block with text") {
  struct Case {
    std::string name;
    std::string body;
    bool has;
  };
  const Case cases[] = {
      {"heading and a ``` block", "Adds a table.\n\n## Rollback\n```sql\nDROP TABLE t;\n```\n", true},
      {"heading in another case, text and ~~~ fences",
       "Intro\n\n  ## rollback  \n\nRun this:\n\n~~~\nDROP TABLE t;\n~~~\n\n## Notes\n", true},
      {"CRLF line ends", "## Rollback\r\n```\r\nDROP TABLE t;\r\n```\r\n", true},
      {"indented fences", "## Rollback\n  ```sql\n  DROP TABLE t;\n  ```\n", true},
      {"a # comment inside the block is code, not a heading", "## Rollback\n```sh\n# undo\npsql -f down.sql\n```",
       true},
      {"an empty block, then one with text", "## Rollback\n```\n\n```\n```\nDROP TABLE t;\n```\n", true},
      {"a longer fence holds a shorter one", "## Rollback\n````\n```\nDROP TABLE t;\n```\n````\n", true},
      {"heading but an empty code block", "## Rollback\n```sql\n   \n\n```\n", false},
      {"heading but no block", "## Rollback\nJust revert the PR.\n", false},
      {"block under a different heading", "## Rollback\nSee below.\n## Notes\n```\nDROP TABLE t;\n```\n", false},
      {"block before the heading", "```\nDROP TABLE t;\n```\n## Rollback\nnone\n", false},
      {"unclosed fence", "## Rollback\n```\nDROP TABLE t;\n", false},
      {"fences that do not match", "## Rollback\n```\nDROP TABLE t;\n~~~\n", false},
      {"a shorter fence does not close a longer one", "## Rollback\n````\nDROP TABLE t;\n```\n", false},
      {"the heading with other spacing inside", "##  Rollback\n```\nDROP TABLE t;\n```\n", false},
      {"a deeper heading is another heading", "### Rollback\n```\nDROP TABLE t;\n```\n", false},
      {"the heading as text inside a code block", "```\n## Rollback\n```\n```\nDROP TABLE t;\n```\n", false},
      {"the heading as part of a line", "## Rollback plan\n```\nDROP TABLE t;\n```\n", false},
      {"no heading", "```\nDROP TABLE t;\n```\n", false},
      {"empty body", "", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(has_rollback_section(c.body, "## Rollback") == c.has);
  }
  // The configured heading is trimmed as well.
  CHECK(has_rollback_section("## Rollback\n```\nx\n```", "  ## Rollback \t"));
  CHECK(has_rollback_section("# Undo\n```\nx\n```", "# undo"));
}

TEST_CASE("scan_pull lists the migration files that add DDL or whose patch GitHub did not show") {
  EvidencePolicy policy;
  policy.migration_globs = {"db/migrations/**", "packages/*/sql/*.sql"};
  const std::vector<PullFilePatch> files = {
      {"db/migrations/002.sql", "added", "@@ -0,0 +1 @@\n+CREATE TABLE t (id int);"},
      {"db/migrations/003.sql", "modified", "@@ -1 +1,2 @@\n+-- DROP TABLE t;\n+select 1;"},  // DDL in a comment
      {"src/schema.ts", "modified", "@@ -1 +1 @@\n+const sql = 'CREATE TABLE t';"},           // outside the globs
      {"db/migrations/2026/004.sql", "modified", std::nullopt},                               // patch omitted
      {"db/migrations/001.sql", "removed", "@@ -1 +0,0 @@\n-CREATE TABLE old (id int);"},     // only removed lines
      {"packages/api/sql/005.sql", "renamed", "@@ -1 +1 @@\n-select 1;\n+alter table t add x int;"},
      {"packages/api/sql/nested/006.sql", "added", "+DROP TABLE t;"},  // * does not cross /
  };
  const std::string body = "Adds t.\n\n## Rollback\n```sql\nDROP TABLE t;\n```\n";

  const DdlFinding finding = scan_pull(policy, files, body);
  CHECK(finding.ddl_files ==
        std::vector<std::string>{"db/migrations/002.sql", "db/migrations/2026/004.sql", "packages/api/sql/005.sql"});
  CHECK(finding.rollback_section);

  CHECK_FALSE(scan_pull(policy, files, "Adds t.").rollback_section);
  policy.rollback_heading = "## Undo";
  CHECK_FALSE(scan_pull(policy, files, body).rollback_section);
  CHECK(scan_pull(policy, {}, body).ddl_files.empty());
  policy.migration_globs.clear();
  CHECK(scan_pull(policy, files, body).ddl_files.empty());
}

}  // namespace
}  // namespace promoter::core
