#include <chrono>
#include <limits>
#include <fmt/format.h>
#include <set>

#include "daemon/config/config_sections.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

namespace {

// [[github.members]]: { id = 583231, login = "alice" }, the reviewing team when GitHub is not asked.
std::vector<GitHubMember> read_members(const TomlReader& r, const toml::node& node) {
  const toml::array* list = node.as_array();
  if (!list) r.error(&node, "github.members must be an array of tables ({ id = 583231, login = \"alice\" })");
  std::vector<GitHubMember> out;
  std::set<std::int64_t> ids;
  for (const auto& entry : *list) {
    const toml::table* t = entry.as_table();
    if (!t) r.error(&entry, "each github.members entry must be a table ({ id = 583231, login = \"alice\" })");
    r.only(*t, "github.members", {"id", "login"});
    GitHubMember m;
    // The id, not the login, is what a review is matched by: a login can be renamed and taken by someone else.
    auto id = r.integer(*t, "id", "github.members.id", 1, std::numeric_limits<std::int64_t>::max());
    if (!id) r.error(&entry, "github.members.id is required (the user's numeric GitHub id)");
    m.id = *id;
    m.login = r.required_string(*t, &entry, "login", "github.members.login");
    if (!ids.insert(m.id).second) r.error(&entry, fmt::format("github.members lists id {} twice", m.id));
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

// [github]: the REST API, its token, webhooks, the reviewing team and production tags. Required once the
// policy enables an evidence gate.
void read_github_section(const TomlReader& r, const toml::table& root, Config& c) {
  if (const auto* gh = r.table(root, "github", "[github]")) {
    r.only(*gh, "github",
           {"endpoint", "owner", "repo", "branch", "token_env", "token_file", "ca_file", "webhook_secret_env", "team",
            "members", "tag_prefix", "reconcile_interval", "requests_per_hour"});
    GitHubConfig g;
    if (auto v = r.string(*gh, "endpoint", "github.endpoint")) g.endpoint = *v;
    if (!g.endpoint.starts_with("https://") && !g.endpoint.starts_with("http://"))
      r.error(gh->get("endpoint"), "github.endpoint must be an http:// or https:// URL");
    while (g.endpoint.ends_with('/')) g.endpoint.pop_back();
    g.owner = r.required_string(*gh, gh, "owner", "github.owner");
    g.repo = r.required_string(*gh, gh, "repo", "github.repo");
    if (auto v = r.string(*gh, "branch", "github.branch")) g.branch = *v;
    if (g.branch.empty()) r.error(gh->get("branch"), "github.branch must not be empty");
    if (auto v = r.string(*gh, "token_env", "github.token_env")) g.token_env = *v;
    if (auto v = r.string(*gh, "token_file", "github.token_file")) g.token_file = *v;
    if (g.token_env.empty() == g.token_file.empty())
      r.error(gh, "[github] needs exactly one of token_env or token_file (the token is never written in the config)");
    if (auto v = r.string(*gh, "ca_file", "github.ca_file")) g.ca_file = *v;
    if (auto v = r.string(*gh, "webhook_secret_env", "github.webhook_secret_env")) g.webhook_secret_env = *v;
    if (auto v = r.string(*gh, "team", "github.team")) {
      const auto slash = v->find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == v->size() || v->find('/', slash + 1) != v->npos)
        r.error(gh->get("team"), "github.team must be \"org/team-slug\"");
      g.team = *v;
    }
    if (const toml::node* members = gh->get("members")) g.members = read_members(r, *members);
    if (!g.team.empty() && !g.members.empty())
      r.error(gh->get("members"), "github.team and github.members name the reviewing team twice: keep one");
    if (auto v = r.string(*gh, "tag_prefix", "github.tag_prefix")) g.tag_prefix = *v;
    if (g.tag_prefix.find_first_of(" ~^:?*[\\") != std::string::npos || g.tag_prefix.find("..") != std::string::npos)
      r.error(gh->get("tag_prefix"), "github.tag_prefix has a character a git tag name cannot hold");
    if (auto v = r.duration(*gh, "reconcile_interval", "github.reconcile_interval")) g.reconcile_interval = *v;
    if (g.reconcile_interval < std::chrono::seconds(1))
      r.error(gh->get("reconcile_interval"), "github.reconcile_interval must be at least 1s");
    if (auto v = r.integer(*gh, "requests_per_hour", "github.requests_per_hour", 1, 1'000'000))
      g.requests_per_hour = static_cast<int>(*v);
    if (c.policy.evidence.require_review && g.team.empty() && g.members.empty())
      r.error(gh, "policy.require_review = true needs the reviewing team: github.team or github.members");
    c.policy.evidence.main_branch = g.branch;
    c.policy.tag_production = !g.tag_prefix.empty();
    c.github = std::move(g);
  }
  if (c.policy.evidence.any() && !c.github)
    r.error(nullptr,
            "policy.require_review, require_ci and require_ddl_rollback read GitHub: add a [github] section "
            "(owner, repo, token_env, ...)");
}

}  // namespace promoter::daemon
