#pragma once
// Core never reads a clock: every rule gets `now` as a value of these types.
#include <chrono>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace promoter::core {

using Duration = std::chrono::milliseconds;
using Timestamp = std::chrono::sys_time<Duration>;

// "2026-11-25T03:11:00.123Z"
std::string format_timestamp(Timestamp);
// Accepts RFC 3339 with 'Z' or a numeric offset, optional fraction.
Result<Timestamp> parse_timestamp(std::string_view);

// "12m40s", "30m", "1h5m", "450ms": what an operator reads in a gate reason.
std::string format_duration(Duration);
// Accepts "30m", "90s", "1h30m", "250ms", "2h".
Result<Duration> parse_duration(std::string_view);

}  // namespace promoter::core
