#include "daemon/log.hpp"

#include <chrono>
#include <cstdio>
#include <mutex>

#include "core/time.hpp"

namespace promoter::daemon {

namespace {
std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "info";
}
}  // namespace

void log(LogLevel level, std::string_view message, const nlohmann::json& fields) {
  nlohmann::json line = {
      {"ts", core::format_timestamp(std::chrono::time_point_cast<core::Duration>(std::chrono::system_clock::now()))},
      {"level", level_name(level)},
      {"msg", message}};
  if (fields.is_object())
    for (const auto& [k, v] : fields.items()) line[k] = v;
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace promoter::daemon
