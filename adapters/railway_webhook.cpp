#include "adapters/railway_webhook.hpp"

#include <nlohmann/json.hpp>

#include "adapters/strict_json.hpp"
#include "core/identity.hpp"
#include "core/safe_text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace promoter::adapters {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxBodyBytes = 1024 * 1024;
constexpr int kMaxNesting = 64;

// Type suffixes seen from Railway (docs example "Deployment.failed"; public receivers handle
// deployed, redeployed, crashed, oomKilled, failed, building, deploying, restarted, queued,
// needsApproval, removed, slept). Keys are lower-case with '_' removed.
constexpr std::array<std::pair<std::string_view, std::string_view>, 18> kStatusBySuffix = {{
    {"deployed", "SUCCESS"},
    {"succeeded", "SUCCESS"},
    {"success", "SUCCESS"},
    {"redeployed", "SUCCESS"},
    {"failed", "FAILED"},
    {"crashed", "CRASHED"},
    {"oomkilled", "CRASHED"},
    {"building", "BUILDING"},
    {"deploying", "DEPLOYING"},
    {"queued", "QUEUED"},
    {"waiting", "WAITING"},
    {"initializing", "INITIALIZING"},
    {"needsapproval", "NEEDS_APPROVAL"},
    {"removed", "REMOVED"},
    {"removing", "REMOVING"},
    {"slept", "SLEEPING"},
    {"sleeping", "SLEEPING"},
    {"skipped", "SKIPPED"},
}};

std::string folded(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c != '_' && c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// "oomKilled" → "OOM_KILLED", "needs_approval" → "NEEDS_APPROVAL"
std::string upper_snake(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (std::isupper(c) && i > 0 && std::islower(static_cast<unsigned char>(text[i - 1]))) out += '_';
    out += std::isalnum(c) ? static_cast<char>(std::toupper(c)) : '_';
  }
  return out;
}

std::string status_from_suffix(std::string_view suffix) {
  const auto key = folded(suffix);
  for (const auto& [name, status] : kStatusBySuffix) {
    if (name == key) return std::string(status);
  }
  return upper_snake(suffix);
}

const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<std::string> string_at(const json& object, std::string_view key) {
  const json* value = member(object, key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return value->get<std::string>();
}

std::optional<std::string> string_at(const json& object, std::string_view key, std::string_view inner) {
  const json* value = member(object, key);
  return value == nullptr ? std::nullopt : string_at(*value, inner);
}

std::optional<std::string> non_empty(std::optional<std::string> value) {
  if (value && value->empty()) return std::nullopt;
  return value;
}

std::string missing(std::string_view field) {
  return "Railway webhook: missing or non-string field `" + std::string(field) + "`";
}

// Every text the event carries is shown to people or stored, so control, invisible and bidirectional
// characters are refused (NUL would be cut off by PostgreSQL), and a commit author that imitates another
// name by mixing scripts is refused as the /v1 API refuses it.
std::optional<std::string> refused_text(const RailwayWebhookEvent& event,
                                        std::initializer_list<std::pair<std::string_view, const std::string*>> fields,
                                        std::string_view author_field) {
  for (const auto& [name, value] : fields) {
    if (value == nullptr) continue;
    if (auto why = promoter::core::unsafe_text(*value, promoter::core::TextKind::single_line))
      return "Railway webhook: field `" + std::string(name) + "` " + *why;
  }
  if (event.commit_author) {
    if (auto spelled = promoter::core::check_identity_spelling(*event.commit_author); !spelled)
      return "Railway webhook: field `" + std::string(author_field) + "`: " + spelled.error().message;
  }
  return std::nullopt;
}

const std::string* optional_text(const std::optional<std::string>& value) { return value ? &*value : nullptr; }

std::expected<RailwayWebhookEvent, std::string> parse_current(const json& root, RailwayWebhookEvent event,
                                                              std::string_view suffix) {
  static const json kEmpty = json::object();
  const json* details_ptr = member(root, "details");
  const json& details = details_ptr != nullptr && details_ptr->is_object() ? *details_ptr : kEmpty;
  const json* resource_ptr = member(root, "resource");
  if (resource_ptr == nullptr || !resource_ptr->is_object()) return std::unexpected(missing("resource"));
  const json& resource = *resource_ptr;

  auto deployment_id = non_empty(string_at(resource, "deployment", "id"));
  if (!deployment_id) deployment_id = non_empty(string_at(details, "id"));
  if (!deployment_id) return std::unexpected(missing("resource.deployment.id"));
  event.deployment_id = std::move(*deployment_id);

  auto project_id = non_empty(string_at(resource, "project", "id"));
  if (!project_id) return std::unexpected(missing("resource.project.id"));
  event.project_id = std::move(*project_id);
  auto environment_id = non_empty(string_at(resource, "environment", "id"));
  if (!environment_id) return std::unexpected(missing("resource.environment.id"));
  event.environment_id = std::move(*environment_id);
  auto service_id = non_empty(string_at(resource, "service", "id"));
  if (!service_id) return std::unexpected(missing("resource.service.id"));
  event.service_id = std::move(*service_id);
  event.environment_name = string_at(resource, "environment", "name").value_or("");
  event.service_name = string_at(resource, "service", "name").value_or("");

  auto status = non_empty(string_at(details, "status"));
  event.status = status ? std::move(*status) : status_from_suffix(suffix);
  if (event.status.empty()) return std::unexpected(missing("details.status"));
  event.commit_hash = non_empty(string_at(details, "commitHash"));
  event.commit_author = non_empty(string_at(details, "commitAuthor"));
  event.timestamp = string_at(root, "timestamp").value_or("");
  if (auto refused = refused_text(event,
                                  {{"type", &event.type},
                                   {"resource.deployment.id", &event.deployment_id},
                                   {"details.status", &event.status},
                                   {"resource.project.id", &event.project_id},
                                   {"resource.environment.id", &event.environment_id},
                                   {"resource.environment.name", &event.environment_name},
                                   {"resource.service.id", &event.service_id},
                                   {"resource.service.name", &event.service_name},
                                   {"details.commitHash", optional_text(event.commit_hash)},
                                   {"details.commitAuthor", optional_text(event.commit_author)},
                                   {"timestamp", &event.timestamp}},
                                  "details.commitAuthor"))
    return std::unexpected(std::move(*refused));
  return event;
}

std::expected<RailwayWebhookEvent, std::string> parse_legacy(const json& root, RailwayWebhookEvent event) {
  auto status = non_empty(string_at(root, "status"));
  if (!status) return std::unexpected(missing("status"));
  event.status = std::move(*status);
  auto deployment_id = non_empty(string_at(root, "deployment", "id"));
  if (!deployment_id) return std::unexpected(missing("deployment.id"));
  event.deployment_id = std::move(*deployment_id);
  auto project_id = non_empty(string_at(root, "project", "id"));
  if (!project_id) return std::unexpected(missing("project.id"));
  event.project_id = std::move(*project_id);
  auto environment_id = non_empty(string_at(root, "environment", "id"));
  if (!environment_id) return std::unexpected(missing("environment.id"));
  event.environment_id = std::move(*environment_id);
  auto service_id = non_empty(string_at(root, "service", "id"));
  if (!service_id) return std::unexpected(missing("service.id"));
  event.service_id = std::move(*service_id);
  event.environment_name = string_at(root, "environment", "name").value_or("");
  event.service_name = string_at(root, "service", "name").value_or("");
  if (const json* deployment = member(root, "deployment")) {
    if (const json* meta = member(*deployment, "meta")) {
      event.commit_hash = non_empty(string_at(*meta, "commitHash"));
      event.commit_author = non_empty(string_at(*meta, "commitAuthor"));
    }
  }
  event.timestamp = string_at(root, "timestamp").value_or("");
  if (auto refused = refused_text(event,
                                  {{"type", &event.type},
                                   {"status", &event.status},
                                   {"deployment.id", &event.deployment_id},
                                   {"project.id", &event.project_id},
                                   {"environment.id", &event.environment_id},
                                   {"environment.name", &event.environment_name},
                                   {"service.id", &event.service_id},
                                   {"service.name", &event.service_name},
                                   {"deployment.meta.commitHash", optional_text(event.commit_hash)},
                                   {"deployment.meta.commitAuthor", optional_text(event.commit_author)},
                                   {"timestamp", &event.timestamp}},
                                  "deployment.meta.commitAuthor"))
    return std::unexpected(std::move(*refused));
  return event;
}

std::expected<RailwayWebhookEvent, std::string> parse(std::string_view body) {
  if (body.size() > kMaxBodyBytes) {
    return std::unexpected("Railway webhook: body of " + std::to_string(body.size()) + " bytes is over the " +
                           std::to_string(kMaxBodyBytes) + "-byte limit");
  }
  if (!json_nesting_within(body, kMaxNesting)) {
    return std::unexpected("Railway webhook: JSON nested deeper than " + std::to_string(kMaxNesting) + " levels");
  }
  auto parsed = parse_strict_json(body);
  if (!parsed) {
    if (parsed.error().kind == StrictJsonError::Kind::duplicate_key)
      return std::unexpected("Railway webhook: " + parsed.error().message);
    return std::unexpected("Railway webhook: malformed JSON: " + parsed.error().message);
  }
  const json root = std::move(*parsed);
  if (!root.is_object()) return std::unexpected("Railway webhook: the body is not a JSON object");
  auto type = string_at(root, "type");
  if (!type) return std::unexpected(missing("type"));

  RailwayWebhookEvent event;
  event.type = *type;
  const std::string_view type_view = event.type;
  if (type_view.size() > 11 && folded(type_view.substr(0, 11)) == "deployment.") {
    event.kind = RailwayWebhookEvent::Kind::deployment;
    return parse_current(root, std::move(event), type_view.substr(11));
  }
  if (type_view == "DEPLOY") {
    event.kind = RailwayWebhookEvent::Kind::deployment;
    return parse_legacy(root, std::move(event));
  }
  event.kind = RailwayWebhookEvent::Kind::ignored;  // alerts (volume, CPU/RAM) and anything newer
  event.timestamp = string_at(root, "timestamp").value_or("");
  return event;
}

}  // namespace

std::expected<RailwayWebhookEvent, std::string> parse_railway_webhook(std::string_view body) {
  try {
    return parse(body);
  } catch (const std::exception& e) {
    return std::unexpected(std::string("Railway webhook: cannot read the body: ") + e.what());
  } catch (...) {
    return std::unexpected("Railway webhook: cannot read the body");
  }
}

}  // namespace promoter::adapters
