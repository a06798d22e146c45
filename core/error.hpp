#pragma once
// Errors as values at module boundaries: a code a program can branch on and a message a person can act on.
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace promoter::core {

enum class ErrorCode {
  invalid_argument,     // the input is malformed (400)
  not_found,            // the thing named does not exist (404)
  conflict,             // the request contradicts recorded state (409)
  failed_precondition,  // a rule of the policy refuses it (409)
  forbidden,            // authenticated but not allowed (403)
  unavailable,          // a dependency is down; retry later (503)
  aborted,              // an operator stopped it part-way (409)
  not_leader,           // this instance does not lead (a standby, or fenced by a newer leader); retry (503)
  internal,             // a bug or an unexpected failure (500)
};

std::string_view to_string(ErrorCode);
std::optional<ErrorCode> parse_error_code(std::string_view);

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;      // for people: what went wrong and what to do; sent to API clients
  std::string detail = {};  // for the log only: a driver's own words (libpq's, with constraint names); "" if none
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}

}  // namespace promoter::core
