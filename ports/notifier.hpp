#pragma once
// Tells people (chat) what they may act on: a release ready for approval, a promotion started, succeeded or
// failed, an overdue hotfix obligation, a configuration change made in production first. The daemon owns the interface;
// adapters deliver (SlackNotifier).
#include <optional>
#include <string>

#include "core/sha.hpp"

namespace promoter::ports {

struct Notification {
  std::string kind;              // core::Notify::kind, e.g. "promotion.started"
  std::optional<core::Sha> sha;  // none for what concerns no release (a configuration violation)
  std::string text;
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Queues the notification and returns at once: delivery, retries and giving up happen later and never
  // hold up the caller (a promotion, the release strand). Io thread only.
  virtual void notify(Notification) = 0;
  // Drops whatever is still queued; later notify() calls are ignored. Io thread only.
  virtual void stop() = 0;
};

}  // namespace promoter::ports
