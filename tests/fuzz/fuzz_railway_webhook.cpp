// parse_railway_webhook on arbitrary bytes: total (never throws or crashes), and an accepted event
// survives being written back as a payload of its own shape and parsed again.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "adapters/railway_webhook.hpp"
#include "core/safe_text.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using nlohmann::json;
using promoter::adapters::parse_railway_webhook;
using promoter::adapters::RailwayWebhookEvent;

bool same(const RailwayWebhookEvent& a, const RailwayWebhookEvent& b) {
  return a.kind == b.kind && a.type == b.type && a.deployment_id == b.deployment_id && a.status == b.status &&
         a.project_id == b.project_id && a.environment_id == b.environment_id &&
         a.environment_name == b.environment_name && a.service_id == b.service_id && a.service_name == b.service_name &&
         a.commit_hash == b.commit_hash && a.commit_author == b.commit_author && a.timestamp == b.timestamp;
}

// The payload Railway would have sent for `e`: the legacy shape for "DEPLOY", else the current one.
json payload_of(const RailwayWebhookEvent& e) {
  json j = json::object();
  j["type"] = e.type;
  j["timestamp"] = e.timestamp;
  if (e.kind == RailwayWebhookEvent::Kind::ignored) return j;
  json meta = json::object();
  if (e.commit_hash) meta["commitHash"] = *e.commit_hash;
  if (e.commit_author) meta["commitAuthor"] = *e.commit_author;
  const json project = {{"id", e.project_id}};
  const json environment = {{"id", e.environment_id}, {"name", e.environment_name}};
  const json service = {{"id", e.service_id}, {"name", e.service_name}};
  if (e.type == "DEPLOY") {
    j["status"] = e.status;
    j["project"] = project;
    j["environment"] = environment;
    j["service"] = service;
    j["deployment"] = {{"id", e.deployment_id}, {"meta", meta}};
  } else {
    meta["status"] = e.status;
    j["details"] = meta;
    j["resource"] = {{"project", project},
                     {"environment", environment},
                     {"service", service},
                     {"deployment", {{"id", e.deployment_id}}}};
  }
  return j;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto event = parse_railway_webhook(body);
  if (!event) {
    FUZZ_CHECK(event.error().starts_with("Railway webhook: "));
    return 0;
  }
  if (event->kind == RailwayWebhookEvent::Kind::deployment) {
    // A deployment event is only useful with every id and a status: the parser promises them.
    FUZZ_CHECK(!event->deployment_id.empty());
    FUZZ_CHECK(!event->project_id.empty());
    FUZZ_CHECK(!event->environment_id.empty());
    FUZZ_CHECK(!event->service_id.empty());
    FUZZ_CHECK(!event->status.empty());
    FUZZ_CHECK(!event->commit_hash || !event->commit_hash->empty());
    FUZZ_CHECK(!event->commit_author || !event->commit_author->empty());
    // The input rules: every field shows as what it is.
    for (const std::string* text :
         {&event->type, &event->deployment_id, &event->status, &event->project_id, &event->environment_id,
          &event->environment_name, &event->service_id, &event->service_name, &event->timestamp})
      FUZZ_CHECK(!promoter::core::unsafe_text(*text, promoter::core::TextKind::single_line));
  }
  // Strict dump: every string must be valid UTF-8, since events end up in logs and the audit trail.
  const std::string again_text = payload_of(*event).dump();
  const auto again = parse_railway_webhook(again_text);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(same(*event, *again));
  return 0;
}
