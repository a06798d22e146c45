#pragma once
// How a step performer turns an adapter failure into the executor's terms.
#include <string_view>

#include "adapters/adapter_error.hpp"
#include "core/error.hpp"

namespace promoter::adapters {

// Transport failures, timeouts, 5xx and 429 may pass: ErrorCode::unavailable (the executor resumes later
// and reconciles). A provider refusing the request (other 4xx, GraphQL errors, answers we cannot read)
// will not: ErrorCode::failed_precondition, so the step fails with the provider's message.
core::Error step_error(const AdapterError&, std::string_view what);

bool is_transient(const AdapterError&);

}  // namespace promoter::adapters
