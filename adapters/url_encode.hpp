#pragma once
// Percent-encoding of one URL path segment or query value (RFC 3986): what a provider's path pieces (an app
// name, a tag, a login) need before they go into a URL.
#include <string>
#include <string_view>

namespace promoter::adapters {

// Unreserved characters (letters, digits, - _ . ~) stay; every other byte, '/' included, becomes %XX.
std::string percent_encode(std::string_view text);

}  // namespace promoter::adapters
