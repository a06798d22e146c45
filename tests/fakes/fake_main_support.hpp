#pragma once
// What the standalone fake servers (fake_railway, fake_fly, fake_github) share: bounded numeric flags and the
// demo's --state FILE, loaded at start and rewritten (atomically) after every change.
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace promoter::fakes {

// `text` as a whole number in [min, max]; otherwise `usage` is called with what is wrong (it must not return).
long long flag_number(const std::string& flag, const std::string& text, long long min, long long max,
                      const std::function<void(const std::string&)>& usage);

// Writes `state` to `path` through a temporary file and a rename, so a reader never sees half of it. A failure
// is said on stderr, prefixed with `program`.
void save_state_file(std::string_view program, const nlohmann::json& state, const std::string& path);

// The document in `path`; a discarded value when it is not JSON (load_state_json then says why).
nlohmann::json read_state_document(const std::string& path, bool& exists);

// Loads `path` into `fake` (its load_state_json) when the file exists. False, after saying why on stderr, when
// the file cannot be read back.
template <class Fake>
bool load_state_file(std::string_view program, Fake& fake, const std::string& path) {
  bool exists = false;
  const nlohmann::json state = read_state_document(path, exists);
  if (!exists) return true;
  auto loaded = fake.load_state_json(state);
  if (loaded) return true;
  std::cerr << program << ": " << path << ": " << loaded.error() << " (delete the file to start empty)\n";
  return false;
}

}  // namespace promoter::fakes
