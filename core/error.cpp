#include "core/error.hpp"

namespace promoter::core {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::failed_precondition: return "failed_precondition";
    case ErrorCode::forbidden: return "forbidden";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::aborted: return "aborted";
    case ErrorCode::not_leader: return "not_leader";
    case ErrorCode::internal: return "internal";
  }
  return "internal";
}

}  // namespace promoter::core
