#pragma once
// promoter.toml for the end-to-end tests, built from what a test means ("these services, simulated
// production, the shared tokens") instead of hand-formatted copies. Tables come out in the order they were
// added, keys in the order they were set; the sections are those of conf/promoter.toml (daemon/config.cpp).
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace promoter::testing {

// One TOML value, written as TOML.
class TomlValue {
 public:
  TomlValue(const char* text);  // a string, quoted and escaped
  TomlValue(const std::string& text);
  TomlValue(int number);
  TomlValue(bool flag);
  TomlValue(const std::vector<std::string>& strings);  // ["a", "b"]
  // { key = value, ... } on one line, e.g. a service's `staging` or `production` target.
  static TomlValue inline_table(const std::vector<std::pair<std::string, TomlValue>>& keys);
  // TOML written out by the caller, for what the constructors do not spell: 0.95, [{ id = 1 }, ...].
  static TomlValue literal(std::string toml) { return TomlValue(Raw{}, std::move(toml)); }
  const std::string& toml() const { return text_; }

 private:
  struct Raw {};
  TomlValue(Raw, std::string text) : text_(std::move(text)) {}
  std::string text_;
};

using TomlKeys = std::vector<std::pair<std::string, TomlValue>>;

class ConfigBuilder {
 public:
  // The base every e2e config shares: [server] on a port the OS picks, [database] from
  // PROMOTER_DATABASE_URL, and a [policy] soaking for `soak` (short soaks allowed) that requires the smoke
  // suite "e2e".
  explicit ConfigBuilder(const std::string& soak);

  // Sets `key` in the first [table] of that name, adding the table (at the end) if there is none yet;
  // a key already set keeps its place and takes the new value.
  ConfigBuilder& set(const std::string& table, const std::string& key, TomlValue value);
  // Sets each of `keys` in [table], as set() does.
  ConfigBuilder& table(const std::string& table, const TomlKeys& keys);
  // Adds one [[name]] entry, e.g. [[smoke.staging]] or [[auth.tokens]].
  ConfigBuilder& entry(const std::string& name, const TomlKeys& keys);
  // One [[services]] entry with the next restart_order (1, 2, ...), then `keys` (its staging and
  // production targets).
  ConfigBuilder& service(const std::string& name, const TomlKeys& keys = {});
  ConfigBuilder& services(const std::vector<std::string>& names);
  // Simulated migrations and production, recording each effect to dir/effects.jsonl, each step taking
  // `step_delay` (tests/e2e read the file to see what ran, and in which order).
  ConfigBuilder& simulated(const std::filesystem::path& dir, const std::string& step_delay = "0ms");
  // The [[auth.tokens]] of testing::tokens (alice and bob operators, ci-bot, a viewer), read from the
  // environment auth_tokens_env() gives promoterd.
  ConfigBuilder& shared_tokens();

  std::string toml() const;

 private:
  struct Table {
    std::string name;
    bool array = false;  // [[name]]
    TomlKeys keys;
  };
  std::vector<Table> tables_;
  int next_restart_order_ = 1;
};

}  // namespace promoter::testing
