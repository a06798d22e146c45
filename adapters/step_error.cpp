#include "adapters/step_error.hpp"

#include <fmt/format.h>

namespace promoter::adapters {

bool is_transient(const AdapterError& e) {
  return e.kind == AdapterError::Kind::transport || e.kind == AdapterError::Kind::timeout ||
         (e.kind == AdapterError::Kind::http_status && (e.http_status >= 500 || e.http_status == 429));
}

core::Error step_error(const AdapterError& e, std::string_view what) {
  return core::Error{is_transient(e) ? core::ErrorCode::unavailable : core::ErrorCode::failed_precondition,
                     fmt::format("{}: {}", what, e.message)};
}

}  // namespace promoter::adapters
