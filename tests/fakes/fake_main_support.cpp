#include "tests/fakes/fake_main_support.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace promoter::fakes {

long long flag_number(const std::string& flag, const std::string& text, long long min, long long max,
                      const std::function<void(const std::string&)>& usage) {
  try {
    std::size_t used = 0;
    const long long value = std::stoll(text, &used);
    if (used == text.size() && value >= min && value <= max) return value;
  } catch (const std::exception&) {
  }
  usage(flag + " wants a number from " + std::to_string(min) + " to " + std::to_string(max) + ", not \"" + text + "\"");
  std::abort();  // usage() exits
}

void save_state_file(std::string_view program, const nlohmann::json& state, const std::string& path) {
  const auto temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << state.dump(2) << "\n";
    if (!out) {
      std::cerr << program << ": cannot write " << temporary << "\n";
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) std::cerr << program << ": cannot replace " << path << ": " << ec.message() << "\n";
}

nlohmann::json read_state_document(const std::string& path, bool& exists) {
  exists = std::filesystem::exists(path);
  if (!exists) return nullptr;
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, false);
}

}  // namespace promoter::fakes
