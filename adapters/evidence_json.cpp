#include "adapters/evidence_json.hpp"

#include <fmt/format.h>

namespace promoter::adapters {

namespace {

using nlohmann::json;

json user_json(const core::GitHubUser& u) { return {{"id", u.id}, {"login", u.login}}; }

core::GitHubUser user_of(const json& j) { return {j.at("id").get<std::int64_t>(), j.at("login").get<std::string>()}; }

core::Timestamp time_of(const json& j) {
  auto t = core::parse_timestamp(j.get<std::string>());
  if (!t) throw std::invalid_argument(t.error().message);
  return *t;
}

}  // namespace

json evidence_to_json(const core::Evidence& e) {
  json commits = json::array();
  for (const auto& c : e.commits) commits.push_back({{"sha", c.sha}, {"pulls", c.pulls}});
  json pulls = json::array();
  for (const auto& [number, p] : e.pulls) {
    json reviews = json::array();
    for (const auto& r : p.reviews)
      reviews.push_back({{"id", r.id},
                         {"user", user_json(r.user)},
                         {"state", core::to_string(r.state)},
                         {"commit_id", r.commit_id},
                         {"submitted_at", core::format_timestamp(r.submitted_at)}});
    pulls.push_back({{"number", p.number},
                     {"author", user_json(p.author)},
                     {"url", p.url},
                     {"merged", p.merged},
                     {"base_ref", p.base_ref},
                     {"head_sha", p.head_sha},
                     {"reviews", reviews},
                     {"ddl_files", p.ddl.ddl_files},
                     {"rollback_section", p.ddl.rollback_section},
                     {"flag_guarded_files", p.flags.guarded_files},
                     {"flag_keys", p.flags.keys}});
  }
  json checks = json::array();
  for (const auto& c : e.checks)
    checks.push_back({{"name", c.name},
                      {"source", c.source == core::CheckSource::check_run ? "check_run" : "status"},
                      {"completed", c.completed},
                      {"conclusion", c.conclusion},
                      {"summary", c.summary},
                      {"at", core::format_timestamp(c.at)}});
  return {{"version", evidence_json_version},
          {"head", e.head},
          {"base", e.base ? json(*e.base) : json(nullptr)},
          {"relation", e.relation},
          {"commits", commits},
          {"pulls", pulls},
          {"checks", checks},
          {"team_members", e.team_members},
          {"observed_at", core::format_timestamp(e.observed_at)}};
}

std::expected<core::Evidence, std::string> evidence_from_json(const json& j) {
  try {
    if (j.at("version").get<int>() != evidence_json_version)
      return std::unexpected(
          fmt::format("evidence version {} is not {}", j.at("version").dump(), evidence_json_version));
    core::Evidence e;
    e.head = j.at("head").get<std::string>();
    if (!j.at("base").is_null()) e.base = j.at("base").get<std::string>();
    e.relation = j.value("relation", std::string());  // absent in documents written before it existed
    for (const auto& c : j.at("commits"))
      e.commits.push_back({c.at("sha").get<std::string>(), c.at("pulls").get<std::vector<int>>()});
    for (const auto& p : j.at("pulls")) {
      core::PullEvidence pull;
      pull.number = p.at("number").get<int>();
      pull.author = user_of(p.at("author"));
      pull.url = p.at("url").get<std::string>();
      pull.merged = p.at("merged").get<bool>();
      pull.base_ref = p.at("base_ref").get<std::string>();
      pull.head_sha = p.at("head_sha").get<std::string>();
      for (const auto& r : p.at("reviews")) {
        auto state = core::parse_review_state(r.at("state").get<std::string>());
        if (!state) return std::unexpected(fmt::format("review state {} is not known", r.at("state").dump()));
        pull.reviews.push_back({r.at("id").get<std::int64_t>(), user_of(r.at("user")), *state,
                                r.at("commit_id").get<std::string>(), time_of(r.at("submitted_at"))});
      }
      pull.ddl.ddl_files = p.at("ddl_files").get<std::vector<std::string>>();
      pull.ddl.rollback_section = p.at("rollback_section").get<bool>();
      // Absent from evidence recorded before the flag gate existed.
      if (p.contains("flag_guarded_files"))
        pull.flags.guarded_files = p.at("flag_guarded_files").get<std::vector<std::string>>();
      if (p.contains("flag_keys")) pull.flags.keys = p.at("flag_keys").get<std::vector<std::string>>();
      e.pulls.emplace(pull.number, std::move(pull));
    }
    for (const auto& c : j.at("checks")) {
      core::CheckEvidence check;
      check.name = c.at("name").get<std::string>();
      check.source =
          c.at("source").get<std::string>() == "status" ? core::CheckSource::status : core::CheckSource::check_run;
      check.completed = c.at("completed").get<bool>();
      check.conclusion = c.at("conclusion").get<std::string>();
      check.summary = c.at("summary").get<std::string>();
      check.at = time_of(c.at("at"));
      e.checks.push_back(std::move(check));
    }
    e.team_members = j.at("team_members").get<std::set<std::int64_t>>();
    e.observed_at = time_of(j.at("observed_at"));
    return e;
  } catch (const std::exception& ex) {
    return std::unexpected(fmt::format("evidence is not valid: {}", ex.what()));
  }
}

}  // namespace promoter::adapters
