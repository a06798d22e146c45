// Timestamps and durations: the text forms operators and webhooks use.
#include <doctest/doctest.h>

#include <string>

#include "core/time.hpp"

namespace promoter::core {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

Timestamp at(int y, unsigned mo, unsigned d, int h, int mi, int s, int ms = 0) {
  return Timestamp{sys_days{year{y} / month{mo} / day{d}}} + hours{h} + minutes{mi} + seconds{s} + milliseconds{ms};
}

TEST_CASE("format_timestamp writes RFC 3339 UTC with milliseconds") {
  CHECK(format_timestamp(at(2026, 11, 25, 3, 11, 0, 123)) == "2026-11-25T03:11:00.123Z");
  CHECK(format_timestamp(at(1970, 1, 1, 0, 0, 0)) == "1970-01-01T00:00:00.000Z");
  CHECK(format_timestamp(at(2028, 2, 29, 23, 59, 59, 999)) == "2028-02-29T23:59:59.999Z");
}

TEST_CASE("parse_timestamp reads what format_timestamp writes") {
  for (Timestamp t : {at(2026, 11, 25, 3, 11, 0, 123), at(1999, 12, 31, 23, 59, 59, 1), at(2030, 6, 1, 12, 0, 0)}) {
    CAPTURE(format_timestamp(t));
    auto parsed = parse_timestamp(format_timestamp(t));
    REQUIRE(parsed.has_value());
    CHECK(*parsed == t);
  }
}

TEST_CASE("parse_timestamp accepts the RFC 3339 variants staging sends") {
  struct Case {
    const char* text;
    Timestamp expected;
  };
  const Case cases[] = {
      {"2026-11-25T03:11:00Z", at(2026, 11, 25, 3, 11, 0)},
      {"2026-11-25t03:11:00z", at(2026, 11, 25, 3, 11, 0)},
      {"2026-11-25 03:11:00Z", at(2026, 11, 25, 3, 11, 0)},
      {"2026-11-25T03:11:00.5Z", at(2026, 11, 25, 3, 11, 0, 500)},
      {"2026-11-25T03:11:00.123456789Z", at(2026, 11, 25, 3, 11, 0, 123)},  // beyond ms is truncated
      {"2026-11-25T04:11:00+01:00", at(2026, 11, 25, 3, 11, 0)},
      {"2026-11-24T22:41:00-04:30", at(2026, 11, 25, 3, 11, 0)},
      {"2026-11-25T03:11:00.250+00:00", at(2026, 11, 25, 3, 11, 0, 250)},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto parsed = parse_timestamp(c.text);
    REQUIRE(parsed.has_value());
    CHECK(format_timestamp(*parsed) == format_timestamp(c.expected));
  }
}

TEST_CASE("parse_timestamp rejects malformed text with a message naming the input") {
  const char* bad[] = {
      "",
      "2026-11-25",
      "2026-11-25T03:11:00",       // no zone
      "2026-11-25T03:11Z",         // no seconds
      "2026-13-01T00:00:00Z",      // month 13
      "2026-02-30T00:00:00Z",      // no such day
      "2026-11-25T24:00:00Z",      // hour 24
      "2026-11-25T03:60:00Z",      // minute 60
      "2026-11-25T03:11:00.Z",     // empty fraction
      "2026-11-25T03:11:00Zjunk",  // trailing text
      "2026-11-25T03:11:00+0100",  // offset without colon
      "2026/11/25T03:11:00Z",
      "2026-11-25T-1:00:00Z",       // signed hour
      "2026-11-25T03:-1:00Z",       // signed minute
      "2026-11-25T03:11:-1Z",       // signed second
      "-026-01-01T00:00:00Z",       // signed year
      "2026-11-25T03:11:00+99:00",  // offset hour out of range
      "2026-11-25T03:11:00+01:75",  // offset minute out of range
      "2026-11-25T03:11:00+-1:00",  // signed offset digits
  };
  for (const char* c : bad) {
    const std::string text = c;
    CAPTURE(text);
    auto parsed = parse_timestamp(text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code == ErrorCode::invalid_argument);
    CHECK(parsed.error().message == "'" + text + "' is not an RFC 3339 timestamp");
  }
}

TEST_CASE("format_duration writes the short form an operator reads in gate reasons") {
  struct Case {
    Duration d;
    const char* text;
  };
  const Case cases[] =
      {
          {30min, "30m"},       {12min + 40s, "12m40s"},
          {1h + 5min, "1h5m"},  {450ms, "450ms"},
          {0ms, "0s"},          {1s, "1s"},
          {2h, "2h"},           {1h + 1s, "1h1s"},
          {90s, "1m30s"},       {-5min, "-5m"},
          {59s + 999ms, "59s"},  // sub-second remainder is not shown above one second
      };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(format_duration(c.d) == c.text);
  }
}

TEST_CASE("parse_duration reads the forms the config and API accept") {
  struct Case {
    const char* text;
    Duration d;
  };
  const Case cases[] = {
      {"30m", 30min},       {"90s", 90s}, {"1h30m", 90min}, {"250ms", 250ms}, {"2h", 2h}, {"1h5m3s", 1h + 5min + 3s},
      {"1m500ms", 60500ms}, {"0s", 0ms},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto parsed = parse_duration(c.text);
    REQUIRE(parsed.has_value());
    CHECK(*parsed == c.d);
  }
}

TEST_CASE("format_duration and parse_duration round-trip whole seconds and sub-second values") {
  for (Duration d : {Duration{30min}, Duration{12min + 40s}, Duration{3h + 7s}, Duration{999ms}, Duration{1ms}}) {
    CAPTURE(d.count());
    auto parsed = parse_duration(format_duration(d));
    REQUIRE(parsed.has_value());
    CHECK(*parsed == d);
  }
}

TEST_CASE("parse_duration rejects malformed text and says which forms work") {
  const char* bad[] = {"", "30", "m", "30x", "-5m", "+5m", "1.5h", " 30m", "30m ", "30M", "1h-5m", "5mss"};
  for (const char* c : bad) {
    const std::string text = c;
    CAPTURE(text);
    auto parsed = parse_duration(text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code == ErrorCode::invalid_argument);
    CHECK(parsed.error().message.starts_with("'" + text + "' is not a duration"));
    CHECK(parsed.error().message.find("\"30m\"") != std::string::npos);
  }
}

TEST_CASE("parse_duration rejects a sum too large to represent instead of overflowing") {
  std::string huge;
  for (int i = 0; i < 3000; ++i) huge += "1000000000h";  // 3e12 hours: past the range of milliseconds in 64 bits
  auto parsed = parse_duration(huge);
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().code == ErrorCode::invalid_argument);
}

TEST_CASE("parse_timestamp refuses an offset that moves the time out of the years 0000..9999") {
  auto early = parse_timestamp("0000-01-01T00:00:00+00:01");
  REQUIRE_FALSE(early.has_value());
  CHECK(early.error().message.find("outside the years 0000 to 9999") != std::string::npos);
  CHECK_FALSE(parse_timestamp("9999-12-31T23:59:59-00:01").has_value());
  CHECK(parse_timestamp("0000-01-01T00:00:00Z").has_value());
  CHECK(parse_timestamp("9999-12-31T23:59:59Z").has_value());
}

}  // namespace
}  // namespace promoter::core
