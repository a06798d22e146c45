#pragma once
// The daemon's own schema, sql/NNN_name.sql, compiled in. Applied in file-name order.
#include <string_view>
#include <vector>

namespace promoter::adapters {

struct SchemaMigration {
  std::string_view file;  // "001_initial_schema.sql": the number before '_' is the version
  std::string_view sql;
};

const std::vector<SchemaMigration>& schema_migrations();

}  // namespace promoter::adapters
