#include "core/error.hpp"

#include "core/enum_names.hpp"

namespace promoter::core {

namespace {

// The text is what API clients see as an error's "code".
constexpr EnumNames<ErrorCode, 9> names{{{
    {ErrorCode::invalid_argument, "invalid_argument"},
    {ErrorCode::not_found, "not_found"},
    {ErrorCode::conflict, "conflict"},
    {ErrorCode::failed_precondition, "failed_precondition"},
    {ErrorCode::forbidden, "forbidden"},
    {ErrorCode::unavailable, "unavailable"},
    {ErrorCode::aborted, "aborted"},
    {ErrorCode::not_leader, "not_leader"},
    {ErrorCode::internal, "internal"},
}}};

}  // namespace

std::string_view to_string(ErrorCode code) { return names.name(code, "internal"); }

std::optional<ErrorCode> parse_error_code(std::string_view text) { return names.parse(text); }

}  // namespace promoter::core
