#pragma once
// The web console's files, compiled into promoterd by cmake/embed_console.cmake.
#include <string_view>
#include <vector>

namespace promoter::daemon {

struct ConsoleAsset {
  std::string_view name;          // as served: "index.html", or a hashed name like "console-1a2b3c4d5e6f.js"
  std::string_view content_type;  // with charset
  std::string_view body;
  std::string_view gzip;   // the same, gzip-compressed
  std::string_view etag;   // of `body`, without quotes; the gzip form's is this with "-gzip" appended
  bool immutable = false;  // a hashed name: cacheable for good
};

const std::vector<ConsoleAsset>& console_assets();

}  // namespace promoter::daemon
