#include "core/time.hpp"

#include <charconv>
#include <fmt/format.h>

namespace promoter::core {

namespace {

// Exactly `digits` decimal digits: no sign (from_chars would take a '-').
bool read_int(std::string_view& s, std::size_t digits, int& out) {
  if (s.size() < digits) return false;
  for (std::size_t i = 0; i < digits; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + digits, out);
  if (ec != std::errc{} || p != s.data() + digits) return false;
  s.remove_prefix(digits);
  return true;
}

bool expect(std::string_view& s, char c) {
  if (s.empty() || (s.front() != c && !(c == 'T' && (s.front() == 't' || s.front() == ' ')))) return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace

std::string format_timestamp(Timestamp t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", int(ymd.year()), unsigned(ymd.month()),
                     unsigned(ymd.day()), hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                     hms.subseconds().count());
}

Result<Timestamp> parse_timestamp(std::string_view text) {
  using namespace std::chrono;
  auto bad = [&] { return fail(ErrorCode::invalid_argument, fmt::format("'{}' is not an RFC 3339 timestamp", text)); };
  std::string_view s = text;
  int y, mo, d, h, mi, sec;
  if (!read_int(s, 4, y) || !expect(s, '-') || !read_int(s, 2, mo) || !expect(s, '-') || !read_int(s, 2, d) ||
      !expect(s, 'T') || !read_int(s, 2, h) || !expect(s, ':') || !read_int(s, 2, mi) || !expect(s, ':') ||
      !read_int(s, 2, sec))
    return bad();
  long long millis = 0;
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    int digits = 0;
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
      if (digits < 3) millis = millis * 10 + (s.front() - '0');
      ++digits;
      s.remove_prefix(1);
    }
    if (digits == 0) return bad();
    for (int i = digits; i < 3; ++i) millis *= 10;
  }
  minutes offset{0};
  if (!s.empty() && (s.front() == 'Z' || s.front() == 'z')) {
    s.remove_prefix(1);
  } else if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    const int sign = s.front() == '-' ? -1 : 1;
    s.remove_prefix(1);
    int oh, om;
    if (!read_int(s, 2, oh) || !expect(s, ':') || !read_int(s, 2, om) || oh > 23 || om > 59) return bad();
    offset = minutes(sign * (oh * 60 + om));
  } else {
    return bad();
  }
  if (!s.empty()) return bad();
  const year_month_day ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return bad();
  const Timestamp t = Timestamp{sys_days{ymd}} + hours{h} + minutes{mi} + seconds{sec} + milliseconds{millis} - offset;
  // An offset can carry a valid text out of the years RFC 3339 can write ("0000-01-01T00:00:00+01:00" is in
  // year -1): such a time could not be written back and read again (found by fuzz_api_requests).
  if (t < sys_days{year{0} / 1 / 1} || t >= sys_days{year{10000} / 1 / 1})
    return fail(ErrorCode::invalid_argument, fmt::format("'{}' is outside the years 0000 to 9999 in UTC", text));
  return t;
}

std::string format_duration(Duration d) {
  using namespace std::chrono;
  if (d < Duration::zero()) return "-" + format_duration(-d);
  if (d > Duration::zero() && d < seconds{1}) return fmt::format("{}ms", d.count());
  auto h = duration_cast<hours>(d);
  auto m = duration_cast<minutes>(d - h);
  auto s = duration_cast<seconds>(d - h - m);
  std::string out;
  if (h.count()) out += fmt::format("{}h", h.count());
  if (m.count()) out += fmt::format("{}m", m.count());
  if (s.count() || out.empty()) out += fmt::format("{}s", s.count());
  return out;
}

Result<Duration> parse_duration(std::string_view text) {
  auto bad = [&] {
    return fail(ErrorCode::invalid_argument,
                fmt::format("'{}' is not a duration (use e.g. \"30m\", \"90s\", \"1h30m\", \"250ms\")", text));
  };
  if (text.empty()) return bad();
  std::string_view s = text;
  Duration total{0};
  while (!s.empty()) {
    long long n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc{} || p == s.data() || n < 0 || n > 1'000'000'000) return bad();
    s.remove_prefix(static_cast<std::size_t>(p - s.data()));
    if (s.starts_with("ms")) {
      total += Duration{n};
      s.remove_prefix(2);
    } else if (s.starts_with("h")) {
      total += std::chrono::hours{n};
      s.remove_prefix(1);
    } else if (s.starts_with("m")) {
      total += std::chrono::minutes{n};
      s.remove_prefix(1);
    } else if (s.starts_with("s")) {
      total += std::chrono::seconds{n};
      s.remove_prefix(1);
    } else {
      return bad();
    }
    if (total > std::chrono::hours{1'000'000'000}) return bad();  // keeps the sum far from overflow
  }
  return total;
}

}  // namespace promoter::core
