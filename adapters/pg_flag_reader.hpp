#pragma once
// Reads an environment's feature-flag table (the application's own database, not promoter's): every row's
// key, enabled and updated_at, read only. Blocking (libpqxx): call it from the blocking pool, never the I/O
// thread.
#include <chrono>
#include <expected>
#include <string>
#include <vector>

#include "adapters/adapter_error.hpp"
#include "core/config_drift.hpp"

namespace promoter::adapters {

// Where the flags live. `table` may be schema-qualified ("app.feature_flags"); every identifier is quoted
// (quote_name), so a name is only ever a name.
struct FlagTable {
  std::string table = "feature_flags";
  std::string key_column = "key";
  std::string enabled_column = "enabled";
  std::string updated_at_column = "updated_at";
};

// Every row, sorted by key, in a READ ONLY transaction whose statements time out after `timeout` (the
// connection attempt too, rounded up to whole seconds). A NULL updated_at is nullopt; a NULL enabled is false.
// Errors never contain `url` or its password: libpq quotes connection strings, so messages are redacted.
std::expected<std::vector<core::FlagSighting>, AdapterError> read_feature_flags(const std::string& url,
                                                                                const FlagTable& table,
                                                                                std::chrono::milliseconds timeout);

}  // namespace promoter::adapters
