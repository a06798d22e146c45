#pragma once

#include <string>
#include <string_view>

namespace promoter::adapters {

// The one error type adapters return at their edge (as std::expected<T, AdapterError>).
// Messages name what failed and never contain credentials or request headers.
struct AdapterError {
  enum class Kind {
    transport,    // could not connect / TLS failure / connection dropped
    timeout,      // connect or request deadline passed
    http_status,  // the server answered with a status the caller treats as failure
    protocol,     // malformed or oversized answer, bad URL, answer we cannot understand
    graphql,      // a GraphQL server answered 200 with a non-empty `errors` array
  } kind;
  int http_status = 0;  // set for http_status (and for graphql: the HTTP status, usually 200)
  std::string message;
};

constexpr std::string_view to_string(AdapterError::Kind kind) {
  switch (kind) {
    case AdapterError::Kind::transport:
      return "transport";
    case AdapterError::Kind::timeout:
      return "timeout";
    case AdapterError::Kind::http_status:
      return "http_status";
    case AdapterError::Kind::protocol:
      return "protocol";
    case AdapterError::Kind::graphql:
      return "graphql";
  }
  return "unknown";
}

}  // namespace promoter::adapters
