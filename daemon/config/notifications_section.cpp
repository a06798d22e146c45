#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>

#include "core/identity.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

// [notifications]: the chat webhook (named by an environment variable), which kinds, retries.
void read_notifications_section(const TomlReader& r, const toml::table& root, Config& c) {
  if (const auto* n = r.table(root, "notifications", "[notifications]")) {
    if (n->get("slack_webhook_url"))
      r.error(n->get("slack_webhook_url"),
              "notifications.slack_webhook_url is not accepted: the URL is a secret; "
              "name an environment variable in slack_webhook_url_env");
    r.only(*n, "notifications", {"slack_webhook_url_env", "kinds", "ca_file", "max_attempts", "backoff"});
    NotificationsConfig nc;
    if (auto v = r.string(*n, "slack_webhook_url_env", "notifications.slack_webhook_url_env"))
      nc.slack_webhook_url_env = *v;
    if (nc.slack_webhook_url_env.empty())
      r.error(n->get("slack_webhook_url_env"), "notifications.slack_webhook_url_env must name an environment variable");
    if (auto v = r.strings(*n, "kinds", "notifications.kinds")) {
      for (const auto& kind : *v)
        if (kind.empty() || kind.find('.') == std::string::npos)
          r.error(n->get("kinds"), fmt::format("notifications.kinds: \"{}\" is not a notification kind (e.g. "
                                               "\"promotion.failed\", \"release.ready_for_approval\")",
                                               kind));
      nc.kinds = *v;
    }
    if (auto v = r.string(*n, "ca_file", "notifications.ca_file")) nc.ca_file = *v;
    if (auto v = r.integer(*n, "max_attempts", "notifications.max_attempts", 1, 20))
      nc.max_attempts = static_cast<int>(*v);
    if (auto v = r.duration(*n, "backoff", "notifications.backoff")) nc.backoff = *v;
    if (nc.backoff < std::chrono::milliseconds(10) || nc.backoff > std::chrono::minutes(5))
      r.error(n->get("backoff"), "notifications.backoff must be between 10ms and 5m");
    c.notifications = nc;
  }
}

}  // namespace promoter::daemon
