#pragma once
// Reduces a PR's files and description to what the ddl_rollback gate needs: which migration files add DDL,
// and whether the description carries a rollback section.
#include <string>
#include <string_view>
#include <vector>

#include "core/evidence.hpp"
#include "core/policy.hpp"

namespace promoter::core {

// Glob match of a repository path: `*` and `?` within one path segment, `**` across segments
// ("db/migrations/**" matches "db/migrations/2026/001.sql").
bool glob_match(std::string_view pattern, std::string_view path);
// The DDL keywords (CREATE, ALTER, DROP, TRUNCATE, RENAME; any case, as whole words) on the lines a unified
// diff adds, ignoring "--" comments. Each keyword once, upper case, in order of first appearance.
std::vector<std::string> ddl_in_patch(std::string_view patch);
// The heading (a whole line, trimmed, compared without case) followed, before the next heading, by a fenced
// code block (``` or ~~~) with at least one non-blank line.
bool has_rollback_section(std::string_view body, std::string_view heading);
// The finding for one PR: files under a migration glob that add DDL or whose patch GitHub did not show.
DdlFinding scan_pull(const EvidencePolicy&, const std::vector<PullFilePatch>& files, std::string_view body);

}  // namespace promoter::core
