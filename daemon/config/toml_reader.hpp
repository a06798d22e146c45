#pragma once
// Typed reads from a toml++ table, each failure a "file:line:col: message" error. The section readers
// (config_sections.hpp) share it; load_config catches its ConfigError and returns the message.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fmt/format.h>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <vector>

#include "core/time.hpp"
#include "daemon/config/config.hpp"

namespace promoter::daemon {

// Thrown inside the loader only; load_config turns it into its error value.
struct ConfigError {
  std::string message;
};

class TomlReader {
 public:
  explicit TomlReader(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }

  [[noreturn]] void error(const toml::node* node, std::string_view message) const {
    throw ConfigError{at(node, message)};
  }

  // "file:line:col: message", or "file: message" when the node has no position.
  std::string at(const toml::node* node, std::string_view message) const {
    if (node && node->source().begin.line)
      return fmt::format("{}:{}:{}: {}", path_, node->source().begin.line, node->source().begin.column, message);
    return fmt::format("{}: {}", path_, message);
  }

  // Unknown keys are mistakes (a typo silently ignored is a policy silently not applied).
  void only(const toml::table& table, std::string_view where, std::initializer_list<std::string_view> allowed) const {
    for (const auto& [key, value] : table) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end())
        error(&value, fmt::format("unknown key '{}{}' (allowed here: {})",
                                  where.empty() ? "" : std::string(where) + ".", key.str(), fmt::join(allowed, ", ")));
    }
  }

  const toml::table* table(const toml::table& parent, std::string_view key, std::string_view where) const {
    const toml::node* node = parent.get(key);
    if (!node) return nullptr;
    if (!node->is_table()) error(node, fmt::format("{} must be a table", where));
    return node->as_table();
  }

  std::optional<std::string> string(const toml::table& t, std::string_view key, std::string_view where) const {
    const toml::node* node = t.get(key);
    if (!node) return std::nullopt;
    if (!node->is_string()) error(node, fmt::format("{} must be a string", where));
    return node->value<std::string>();
  }

  std::string required_string(const toml::table& t, const toml::node* owner, std::string_view key,
                              std::string_view where) const {
    auto v = string(t, key, where);
    if (!v || v->empty()) error(owner, fmt::format("{} is required", where));
    return *v;
  }

  std::optional<bool> boolean(const toml::table& t, std::string_view key, std::string_view where) const {
    const toml::node* node = t.get(key);
    if (!node) return std::nullopt;
    if (!node->is_boolean()) error(node, fmt::format("{} must be true or false", where));
    return node->value<bool>();
  }

  std::optional<std::int64_t> integer(const toml::table& t, std::string_view key, std::string_view where,
                                      std::int64_t min, std::int64_t max) const {
    const toml::node* node = t.get(key);
    if (!node) return std::nullopt;
    if (!node->is_integer()) error(node, fmt::format("{} must be an integer", where));
    const auto v = *node->value<std::int64_t>();
    if (v < min || v > max) error(node, fmt::format("{} = {} is out of range ({}..{})", where, v, min, max));
    return v;
  }

  std::optional<core::Duration> duration(const toml::table& t, std::string_view key, std::string_view where) const {
    auto text = string(t, key, where);
    if (!text) return std::nullopt;
    auto d = core::parse_duration(*text);
    if (!d) error(t.get(key), fmt::format("{}: {}", where, d.error().message));
    return *d;
  }

  std::optional<std::vector<std::string>> strings(const toml::table& t, std::string_view key,
                                                  std::string_view where) const {
    const toml::node* node = t.get(key);
    if (!node) return std::nullopt;
    const toml::array* arr = node->as_array();
    if (!arr) error(node, fmt::format("{} must be an array of strings", where));
    std::vector<std::string> out;
    for (const auto& item : *arr) {
      if (!item.is_string()) error(&item, fmt::format("{} must contain only strings", where));
      out.push_back(*item.value<std::string>());
    }
    return out;
  }

  // An image reference with "{sha}" where the release's commit goes.
  std::string image_template(const toml::table& t, const toml::node* owner, std::string_view where) const {
    auto v = required_string(t, owner, "image", where);
    if (v.find("{sha}") == std::string::npos)
      error(t.get("image"), fmt::format("{} = \"{}\" must contain {{sha}} (e.g. \"registry.fly.io/app:{{sha}}\"), so "
                                        "each release deploys its own image",
                                        where, v));
    return v;
  }

  std::vector<ProbeConfig> probes(const toml::table& t, std::string_view key, std::string_view where) const {
    std::vector<ProbeConfig> out;
    const toml::node* node = t.get(key);
    if (!node) return out;
    const toml::array* arr = node->as_array();
    if (!arr) error(node, fmt::format("{} must be an array of tables ([[{}]])", where, where));
    std::set<std::string> names;
    for (const auto& item : *arr) {
      const toml::table* p = item.as_table();
      if (!p) error(&item, fmt::format("each [[{}]] entry must be a table", where));
      only(*p, where, {"name", "url", "expect_status", "expect_body", "timeout"});
      ProbeConfig probe;
      probe.url = required_string(*p, &item, "url", fmt::format("{}.url", where));
      if (!probe.url.starts_with("https://") && !probe.url.starts_with("http://"))
        error(p->get("url"), fmt::format("{}.url must be an http:// or https:// URL", where));
      probe.name = string(*p, "name", fmt::format("{}.name", where)).value_or(probe.url);
      if (!names.insert(probe.name).second)
        error(p->get("name") ? p->get("name") : &item, fmt::format("probe '{}' is configured twice", probe.name));
      if (auto v = integer(*p, "expect_status", fmt::format("{}.expect_status", where), 100, 599))
        probe.expect_status = static_cast<int>(*v);
      probe.expect_body = string(*p, "expect_body", fmt::format("{}.expect_body", where)).value_or("");
      if (auto v = duration(*p, "timeout", fmt::format("{}.timeout", where))) probe.timeout = *v;
      if (probe.timeout < std::chrono::milliseconds(10))
        error(p->get("timeout"), fmt::format("{}.timeout must be at least 10ms", where));
      out.push_back(std::move(probe));
    }
    return out;
  }

 private:
  std::string path_;
};

}  // namespace promoter::daemon
