#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>

#include "core/identity.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

namespace {

// Two git_authors entries that normalise alike name one commit author: the author check treats them as
// one person, which is rarely what whoever wrote two spellings (or gave two tokens one login) meant.
void warn_colliding_git_authors(const TomlReader& r, const toml::array& tokens, Config& c) {
  struct Seen {
    std::string spelling, identity;
  };
  std::map<std::string, Seen> seen;  // by normalised form
  for (std::size_t i = 0; i < tokens.size() && i < c.tokens.size(); ++i) {
    const TokenConfig& token = c.tokens[i];
    const toml::array* authors = nullptr;
    if (const toml::table* t = tokens.get(i)->as_table())
      if (const toml::node* node = t->get("git_authors")) authors = node->as_array();
    for (std::size_t k = 0; k < token.git_authors.size(); ++k) {
      const std::string& author = token.git_authors[k];
      auto [it, fresh] = seen.emplace(core::normalise_identity(author), Seen{author, token.identity});
      if (fresh || (it->second.identity == token.identity && it->second.spelling == author)) continue;
      const toml::node* where = authors && k < authors->size() ? authors->get(k) : nullptr;
      c.warnings.push_back(r.at(
          where,
          fmt::format(
              "warning: auth.tokens.git_authors \"{}\" (identity {}) and \"{}\" (identity {}) are the same commit "
              "author once case, width and surrounding space are ignored; an approval by either identity is refused "
              "for releases by that author",
              author, token.identity, it->second.spelling, it->second.identity)));
    }
  }
}

}  // namespace

// [auth]: API tokens (from the environment or files, never the config), roles, git author names.
void read_auth_section(const TomlReader& r, const toml::table& root, Config& c) {
  if (const auto* auth = r.table(root, "auth", "[auth]")) {
    r.only(*auth, "auth", {"tokens"});
    if (const toml::node* tokens = auth->get("tokens")) {
      const toml::array* arr = tokens->as_array();
      if (!arr) r.error(tokens, "auth.tokens must be an array of tables ([[auth.tokens]])");
      std::set<std::string> identities;
      for (const auto& node : *arr) {
        const toml::table* t = node.as_table();
        if (!t) r.error(&node, "each [[auth.tokens]] entry must be a table");
        r.only(*t, "auth.tokens", {"identity", "role", "token_env", "token_file", "git_authors"});
        if (t->get("token"))
          r.error(t->get("token"),
                  "auth.tokens.token is not accepted: secrets never live in the config file; use "
                  "token_env or token_file");
        TokenConfig tc;
        tc.identity = r.required_string(*t, &node, "identity", "auth.tokens.identity");
        if (!identities.insert(tc.identity).second)
          r.error(t->get("identity"), fmt::format("identity '{}' has two tokens", tc.identity));
        const auto role = r.required_string(*t, &node, "role", "auth.tokens.role");
        auto parsed = parse_role(role);
        if (!parsed)
          r.error(t->get("role"), fmt::format("auth.tokens.role = \"{}\": use viewer, ci or operator", role));
        tc.role = *parsed;
        tc.token_env = r.string(*t, "token_env", "auth.tokens.token_env").value_or("");
        tc.token_file = r.string(*t, "token_file", "auth.tokens.token_file").value_or("");
        if (tc.token_env.empty() == tc.token_file.empty())
          r.error(&node, fmt::format("token of '{}' needs exactly one of token_env or token_file", tc.identity));
        tc.git_authors = r.strings(*t, "git_authors", "auth.tokens.git_authors").value_or(std::vector<std::string>{});
        c.tokens.push_back(std::move(tc));
      }
      warn_colliding_git_authors(r, *arr, c);
    }
  }
  for (const auto& t : c.tokens) {
    c.policy.known_identities.insert(core::normalise_identity(t.identity));
    for (const auto& author : t.git_authors) c.policy.known_identities.insert(core::normalise_identity(author));
  }
}

}  // namespace promoter::daemon
