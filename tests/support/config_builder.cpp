#include "tests/support/config_builder.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace promoter::testing {

namespace {

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

}  // namespace

TomlValue::TomlValue(const char* text) : text_(quoted(text)) {}
TomlValue::TomlValue(const std::string& text) : text_(quoted(text)) {}
TomlValue::TomlValue(int number) : text_(std::to_string(number)) {}
TomlValue::TomlValue(bool flag) : text_(flag ? "true" : "false") {}

TomlValue::TomlValue(const std::vector<std::string>& strings) {
  text_ = "[";
  for (std::size_t i = 0; i < strings.size(); ++i) text_ += (i ? ", " : "") + quoted(strings[i]);
  text_ += "]";
}

TomlValue TomlValue::inline_table(const std::vector<std::pair<std::string, TomlValue>>& keys) {
  std::string text = "{ ";
  for (std::size_t i = 0; i < keys.size(); ++i)
    text += fmt::format("{}{} = {}", i ? ", " : "", keys[i].first, keys[i].second.toml());
  return TomlValue(Raw{}, text + " }");
}

ConfigBuilder::ConfigBuilder(const std::string& soak) {
  table("server", {{"listen", "127.0.0.1:0"}});
  table("database", {{"url_env", "PROMOTER_DATABASE_URL"}});
  table("policy", {{"soak", soak},
                   {"allow_short_soak", true},
                   {"require_smoke", true},
                   {"required_smoke_suites", std::vector<std::string>{"e2e"}}});
}

ConfigBuilder& ConfigBuilder::set(const std::string& name, const std::string& key, TomlValue value) {
  auto table = std::ranges::find_if(tables_, [&](const Table& t) { return !t.array && t.name == name; });
  if (table == tables_.end()) table = tables_.insert(tables_.end(), Table{name, false, {}});
  auto existing = std::ranges::find(table->keys, key, &std::pair<std::string, TomlValue>::first);
  if (existing != table->keys.end())
    existing->second = std::move(value);
  else
    table->keys.emplace_back(key, std::move(value));
  return *this;
}

ConfigBuilder& ConfigBuilder::table(const std::string& name, const TomlKeys& keys) {
  for (const auto& [key, value] : keys) set(name, key, value);
  return *this;
}

ConfigBuilder& ConfigBuilder::entry(const std::string& name, const TomlKeys& keys) {
  tables_.push_back(Table{name, true, keys});
  return *this;
}

ConfigBuilder& ConfigBuilder::service(const std::string& name, const TomlKeys& keys) {
  TomlKeys all{{"name", name}, {"restart_order", next_restart_order_++}};
  all.insert(all.end(), keys.begin(), keys.end());
  return entry("services", all);
}

ConfigBuilder& ConfigBuilder::services(const std::vector<std::string>& names) {
  for (const auto& name : names) service(name);
  return *this;
}

ConfigBuilder& ConfigBuilder::simulated(const std::filesystem::path& dir, const std::string& step_delay) {
  table("migrations", {{"provider", "simulated"}});
  return table("simulation", {{"record_file", (dir / "effects.jsonl").string()}, {"step_delay", step_delay}});
}

ConfigBuilder& ConfigBuilder::shared_tokens() {
  entry("auth.tokens", {{"identity", "alice"},
                        {"role", "operator"},
                        {"token_env", "T_ALICE"},
                        {"git_authors", std::vector<std::string>{"alice-gh"}}});
  entry("auth.tokens", {{"identity", "bob"}, {"role", "operator"}, {"token_env", "T_BOB"}});
  entry("auth.tokens", {{"identity", "ci-bot"}, {"role", "ci"}, {"token_env", "T_CI"}});
  return entry("auth.tokens", {{"identity", "dashboard"}, {"role", "viewer"}, {"token_env", "T_VIEWER"}});
}

std::string ConfigBuilder::toml() const {
  std::string out;
  for (const auto& t : tables_) {
    out += t.array ? fmt::format("[[{}]]\n", t.name) : fmt::format("[{}]\n", t.name);
    for (const auto& [key, value] : t.keys) out += fmt::format("{} = {}\n", key, value.toml());
  }
  return out;
}

}  // namespace promoter::testing
