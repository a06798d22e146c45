#pragma once
// The JSON shapes of the /v1 API (daemon/openapi.yaml).
#include <nlohmann/json.hpp>

#include "core/gates.hpp"
#include "core/release.hpp"
#include "core/rollback.hpp"
#include "ports/store.hpp"
#include "daemon/uses_ports.hpp"

namespace promoter::daemon {

// `production`: where the evidence gates' range starts (the gates need evidence for exactly that range).
nlohmann::json release_json(const core::Release&, const core::Policy&, core::Timestamp now,
                            const std::optional<core::Sha>& production = std::nullopt);
// A rollback owed or running, and the environment's pin ({"pinned": false} when none).
nlohmann::json rollback_json(const core::Rollback&);
nlohmann::json pin_json(const std::optional<core::Pin>&);

nlohmann::json promotion_json(const PromotionRecord&);
nlohmann::json obligation_json(const core::Obligation&, core::Timestamp now);
nlohmann::json audit_json(const AuditEntry&);

}  // namespace promoter::daemon
