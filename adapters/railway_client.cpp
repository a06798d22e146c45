#include "adapters/railway_client.hpp"

#include "adapters/json_field.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/time.hpp"

namespace promoter::adapters {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// Every field and argument below is checked against shared/reference/railway-schema/schema.graphql
// (Railway CLI schema, see its README) by tests/integration/railway_schema_test.cpp.

constexpr std::string_view kDeploymentFields = "id status createdAt serviceId environmentId meta";

const std::string kListDeployments = std::string(R"(query ListDeployments($input: DeploymentListInput!, $first: Int) {
  deployments(input: $input, first: $first) {
    edges { node { )") + std::string(kDeploymentFields) +
                                     R"( } }
  }
})";

const std::string kGetDeployment = std::string(R"(query GetDeployment($id: String!) {
  deployment(id: $id) { )") + std::string(kDeploymentFields) +
                                   R"( }
})";

// serviceInstanceDeployV2(commitSha: String, environmentId: String!, serviceId: String!): String!
// $commitSha is declared non-null on purpose: a promotion always deploys an exact commit.
const std::string kDeployCommit =
    R"(mutation DeployCommit($serviceId: String!, $environmentId: String!, $commitSha: String!) {
  serviceInstanceDeployV2(serviceId: $serviceId, environmentId: $environmentId, commitSha: $commitSha)
})";

// Variable names without values: Environment.variables → Variable, a type with no value field. The root
// `variables(projectId, environmentId, serviceId)` query answers a name → value map: never sent
// (railway_schema_test fails on any document that selects it, see tests/schema/validate_railway.mjs).
const std::string kEnvironmentVariableNames =
    R"(query EnvironmentVariableNames($id: String!, $first: Int, $after: String) {
  environment(id: $id) {
    variables(first: $first, after: $after) {
      edges { node { name serviceId createdAt updatedAt isSealed } }
      pageInfo { hasNextPage endCursor }
    }
  }
})";

constexpr std::size_t kMaxServicesPerBatch = 25;
constexpr int kVariablesPageSize = 100;
constexpr int kMaxVariablePages = 50;

constexpr std::array<std::string_view, 13> kKnownStatuses = {
    "BUILDING", "CRASHED",  "DEPLOYING", "FAILED",   "INITIALIZING", "NEEDS_APPROVAL", "QUEUED",
    "REMOVED",  "REMOVING", "SKIPPED",   "SLEEPING", "SUCCESS",      "WAITING"};

std::expected<RailwayDeployment, std::string> parse_deployment(const json& node) {
  if (!node.is_object()) return std::unexpected("deployment is not an object");
  RailwayDeployment d;
  auto id = string_field(node, "id");
  if (!id) return std::unexpected("deployment has no string `id`");
  d.id = std::move(*id);
  auto status = string_field(node, "status");
  if (!status) return std::unexpected("deployment " + d.id + " has no string `status`");
  d.status = std::move(*status);
  auto created = string_field(node, "createdAt");
  if (!created) return std::unexpected("deployment " + d.id + " has no string `createdAt`");
  d.created_at = std::move(*created);
  d.service_id = string_field(node, "serviceId").value_or("");
  d.environment_id = string_field(node, "environmentId").value_or("");
  // meta is the free-form DeploymentMeta scalar: an object, null, or (seen in the wild) a JSON string.
  json meta = node.contains("meta") ? node["meta"] : json();
  if (meta.is_string()) meta = json::parse(meta.get<std::string>(), nullptr, false);
  if (meta.is_object()) {
    d.commit_hash = string_field(meta, "commitHash");
    d.commit_author = string_field(meta, "commitAuthor");
    d.commit_message = string_field(meta, "commitMessage");
    d.branch = string_field(meta, "branch");
  }
  return d;
}

std::expected<std::vector<RailwayDeployment>, std::string> parse_connection(const json& connection) {
  if (!connection.is_object()) return std::unexpected("deployments is not an object");
  const auto edges = connection.find("edges");
  if (edges == connection.end() || !edges->is_array()) return std::unexpected("deployments has no `edges` array");
  std::vector<RailwayDeployment> out;
  out.reserve(edges->size());
  for (const auto& edge : *edges) {
    if (!edge.is_object() || !edge.contains("node")) return std::unexpected("an edge has no `node`");
    auto deployment = parse_deployment(edge["node"]);
    if (!deployment) return std::unexpected(deployment.error());
    out.push_back(std::move(*deployment));
  }
  return out;
}

void sort_newest_first(std::vector<RailwayDeployment>& deployments) {
  // RFC 3339 strings only sort as text when they share a format and offset: compare instants.
  using Key = std::pair<bool, core::Timestamp>;
  const auto key = [](const RailwayDeployment& d) -> Key {
    auto parsed = core::parse_timestamp(d.created_at);
    return parsed ? Key{true, *parsed} : Key{false, core::Timestamp{}};
  };
  std::ranges::stable_sort(deployments, [&](const RailwayDeployment& a, const RailwayDeployment& b) {
    const auto ka = key(a);
    const auto kb = key(b);
    if (ka != kb) return ka > kb;  // unparseable timestamps last
    return a.id > b.id;            // a fixed order for equal instants
  });
}

bool is_full_sha(std::string_view sha) {
  return sha.size() == 40 && std::ranges::all_of(sha, [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

std::string clip(std::string_view text, std::size_t limit = 300) {
  std::string out;
  for (const char c : text.substr(0, limit)) out += std::isprint(static_cast<unsigned char>(c)) ? c : ' ';
  if (text.size() > limit) out += "...";
  return out;
}

// Railway (and GraphQL servers generally) report a missing object as an error whose path is the field and
// whose message says so ("Deployment not found"); the field, or all of `data` when the field is non-null in
// the schema, is null. The message is the only signal Railway gives: no error code tells it apart.
bool reports_not_found(const json& body, const std::string& field) {
  if (!body.is_object() || !body.contains("errors") || !body["errors"].is_array() || body["errors"].empty())
    return false;
  for (const auto& error : body["errors"]) {
    if (!error.is_object() || !error.contains("path") || !error["path"].is_array() || error["path"].size() != 1 ||
        error["path"][0] != field)
      return false;
    auto message = string_field(error, "message");
    if (!message) return false;
    std::string lower;
    for (const char c : *message) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("not found") == std::string::npos) return false;
  }
  const auto data = body.find("data");
  return data == body.end() || data->is_null() ||
         (data->is_object() && (!data->contains(field) || (*data)[field].is_null()));
}

}  // namespace

bool is_known_railway_deployment_status(std::string_view status) {
  return std::ranges::find(kKnownStatuses, status) != kKnownStatuses.end();
}

std::string railway_batch_deployments_document(std::size_t count) {
  std::string doc = "query ListDeploymentsBatch($first: Int";
  for (std::size_t i = 0; i < count; ++i) doc += ", $s" + std::to_string(i) + ": DeploymentListInput!";
  doc += ") {\n";
  for (std::size_t i = 0; i < count; ++i) {
    const auto alias = "s" + std::to_string(i);
    doc += "  " + alias + ": deployments(input: $" + alias + ", first: $first) {\n    edges { node { " +
           std::string(kDeploymentFields) + " } }\n  }\n";
  }
  doc += "}";
  return doc;
}

std::vector<std::pair<std::string, std::string>> railway_documents() {
  return {
      {"ListDeployments", kListDeployments},
      {"ListDeploymentsBatch", railway_batch_deployments_document(3)},
      {"GetDeployment", kGetDeployment},
      {"DeployCommit", kDeployCommit},
      {"EnvironmentVariableNames", kEnvironmentVariableNames},
  };
}

RailwayClient::RailwayClient(HttpClient& http, RailwayClientOptions options)
    : http_(http), options_(std::move(options)) {}

RailwayClient::Result<json> RailwayClient::execute(std::string operation, std::string document, json variables,
                                                   bool idempotent, std::string missing_field) {
  HttpRequestSpec spec;
  spec.method = HttpMethod::post;
  spec.url = options_.endpoint;
  spec.idempotent = idempotent;
  spec.operation = operation;  // one of the few GraphQL operation names above: a bounded label
  spec.budget = options_.budget;
  spec.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  if (options_.token_kind == RailwayTokenKind::project) {
    spec.headers.emplace_back("Project-Access-Token", options_.token);
  } else {
    spec.headers.emplace_back("Authorization", "Bearer " + options_.token);
  }
  spec.body = json{{"query", document}, {"variables", std::move(variables)}, {"operationName", operation}}.dump();

  auto answer = co_await http_.request(std::move(spec));
  const std::string what = "Railway " + operation;
  if (!answer) {
    answer.error().message = what + ": " + answer.error().message;
    co_return std::unexpected(std::move(answer.error()));
  }
  const auto& response = *answer;
  json body = json::parse(response.body, nullptr, false);

  // GraphQL errors: on a 200 they mean failure; on other statuses they explain it.
  std::string graphql_messages;
  if (body.is_object() && body.contains("errors") && body["errors"].is_array()) {
    for (const auto& error : body["errors"]) {
      auto message = string_field(error, "message");
      if (!graphql_messages.empty()) graphql_messages += "; ";
      graphql_messages += message ? *message : clip(error.dump());
    }
  }
  if (response.status < 200 || response.status > 299) {
    std::string message = what + ": Railway answered HTTP " + std::to_string(response.status);
    if (response.attempts > 1) message += " after " + std::to_string(response.attempts) + " attempts";
    if (!graphql_messages.empty()) {
      message += ": " + graphql_messages;
    } else if (!response.body.empty()) {
      message += ": " + clip(response.body);
    }
    if (response.status == 401 || response.status == 403) {
      message +=
          " (check the Railway token and its kind: account tokens use Authorization: Bearer, "
          "project tokens Project-Access-Token)";
    } else if (response.status == 429) {
      message += " (rate limited; see X-RateLimit-Reset)";
    }
    co_return std::unexpected(AdapterError{AdapterError::Kind::http_status, response.status, std::move(message)});
  }
  if (!graphql_messages.empty() && !missing_field.empty() && reports_not_found(body, missing_field)) {
    co_return json{{missing_field, nullptr}};
  }
  if (!graphql_messages.empty()) {
    co_return std::unexpected(AdapterError{AdapterError::Kind::graphql, response.status,
                                           what + ": Railway answered with errors: " + graphql_messages});
  }
  if (!body.is_object()) {
    co_return std::unexpected(protocol_error(what + ": the answer is not a JSON object: " + clip(response.body)));
  }
  if (!body.contains("data") || !body["data"].is_object()) {
    co_return std::unexpected(protocol_error(what + ": the answer has no `data` object"));
  }
  co_return std::move(body["data"]);
}

RailwayClient::Result<std::vector<RailwayDeployment>> RailwayClient::list_deployments(std::string project_id,
                                                                                      std::string environment_id,
                                                                                      std::string service_id,
                                                                                      int first) {
  json variables = {
      {"input", {{"projectId", project_id}, {"environmentId", environment_id}, {"serviceId", service_id}}},
      {"first", first},
  };
  auto data = co_await execute(std::string("ListDeployments"), kListDeployments, std::move(variables), true);
  if (!data) co_return std::unexpected(std::move(data.error()));
  auto deployments = parse_connection((*data)["deployments"]);
  if (!deployments) {
    co_return std::unexpected(protocol_error("Railway ListDeployments: " + deployments.error()));
  }
  sort_newest_first(*deployments);
  co_return std::move(*deployments);
}

RailwayClient::Result<std::map<std::string, std::vector<RailwayDeployment>>> RailwayClient::list_deployments_batch(
    std::string environment_id, std::string project_id, std::vector<std::string> service_ids, int first) {
  std::map<std::string, std::vector<RailwayDeployment>> out;
  for (std::size_t start = 0; start < service_ids.size(); start += kMaxServicesPerBatch) {
    const std::size_t count = std::min(kMaxServicesPerBatch, service_ids.size() - start);
    json variables = {{"first", first}};
    for (std::size_t i = 0; i < count; ++i) {
      variables["s" + std::to_string(i)] = {
          {"projectId", project_id}, {"environmentId", environment_id}, {"serviceId", service_ids[start + i]}};
    }
    auto data = co_await execute(std::string("ListDeploymentsBatch"), railway_batch_deployments_document(count),
                                 std::move(variables), true);
    if (!data) co_return std::unexpected(std::move(data.error()));
    for (std::size_t i = 0; i < count; ++i) {
      const auto alias = "s" + std::to_string(i);
      const auto& service_id = service_ids[start + i];
      if (!data->contains(alias)) {
        co_return std::unexpected(protocol_error("Railway ListDeploymentsBatch: the answer has no `" + alias +
                                                 "` (service " + service_id + ")"));
      }
      auto deployments = parse_connection((*data)[alias]);
      if (!deployments) {
        co_return std::unexpected(
            protocol_error("Railway ListDeploymentsBatch: service " + service_id + ": " + deployments.error()));
      }
      sort_newest_first(*deployments);
      out[service_id] = std::move(*deployments);
    }
  }
  co_return out;
}

RailwayClient::Result<RailwayDeployment> RailwayClient::get_deployment(std::string deployment_id) {
  json variables = {{"id", deployment_id}};
  auto data = co_await execute(std::string("GetDeployment"), kGetDeployment, std::move(variables), true);
  if (!data) co_return std::unexpected(std::move(data.error()));
  auto deployment = parse_deployment((*data)["deployment"]);
  if (!deployment) co_return std::unexpected(protocol_error("Railway GetDeployment: " + deployment.error()));
  co_return std::move(*deployment);
}

RailwayClient::Result<std::optional<RailwayDeployment>> RailwayClient::find_deployment(std::string deployment_id) {
  json variables = {{"id", deployment_id}};
  auto data = co_await execute(std::string("GetDeployment"), kGetDeployment, std::move(variables), true,
                               std::string("deployment"));
  if (!data) co_return std::unexpected(std::move(data.error()));
  if ((*data)["deployment"].is_null()) co_return std::optional<RailwayDeployment>();
  auto deployment = parse_deployment((*data)["deployment"]);
  if (!deployment) co_return std::unexpected(protocol_error("Railway GetDeployment: " + deployment.error()));
  co_return std::optional<RailwayDeployment>(std::move(*deployment));
}

RailwayClient::Result<std::string> RailwayClient::deploy_commit(std::string service_id, std::string environment_id,
                                                                std::string commit_sha) {
  if (!is_full_sha(commit_sha)) {
    co_return std::unexpected(protocol_error("Railway DeployCommit: commit \"" + clip(commit_sha, 80) +
                                             "\" is not a full 40-hex SHA; a promotion deploys an exact commit"));
  }
  json variables = {{"serviceId", service_id}, {"environmentId", environment_id}, {"commitSha", commit_sha}};
  auto data = co_await execute(std::string("DeployCommit"), kDeployCommit, std::move(variables), false);
  if (!data) co_return std::unexpected(std::move(data.error()));
  auto id = string_field(*data, "serviceInstanceDeployV2");
  if (!id || id->empty()) {
    co_return std::unexpected(
        protocol_error("Railway DeployCommit: serviceInstanceDeployV2 returned no deployment id"));
  }
  co_return std::move(*id);
}

RailwayClient::Result<std::vector<RailwayVariableName>> RailwayClient::environment_variable_names(
    std::string environment_id) {
  std::vector<RailwayVariableName> out;
  json after = nullptr;
  for (int page = 0; page < kMaxVariablePages; ++page) {
    json variables = {{"id", environment_id}, {"first", kVariablesPageSize}, {"after", after}};
    auto data = co_await execute(std::string("EnvironmentVariableNames"), kEnvironmentVariableNames,
                                 std::move(variables), true);
    if (!data) co_return std::unexpected(std::move(data.error()));
    const json& environment = (*data)["environment"];
    const json connection =
        environment.is_object() && environment.contains("variables") ? environment["variables"] : json();
    if (!connection.is_object() || !connection.contains("edges") || !connection["edges"].is_array()) {
      co_return std::unexpected(
          protocol_error("Railway EnvironmentVariableNames: environment.variables has no `edges` array"));
    }
    for (const auto& edge : connection["edges"]) {
      const json node = edge.is_object() && edge.contains("node") ? edge["node"] : json();
      auto name = string_field(node, "name");
      if (!name) {
        co_return std::unexpected(protocol_error("Railway EnvironmentVariableNames: a variable has no name"));
      }
      RailwayVariableName variable;
      variable.name = std::move(*name);
      variable.service_id = string_field(node, "serviceId");
      variable.created_at = string_field(node, "createdAt");
      variable.updated_at = string_field(node, "updatedAt");
      variable.sealed = node.contains("isSealed") && node["isSealed"].is_boolean() && node["isSealed"].get<bool>();
      out.push_back(std::move(variable));
    }
    const json page_info = connection.contains("pageInfo") ? connection["pageInfo"] : json();
    const bool more = page_info.is_object() && page_info.contains("hasNextPage") &&
                      page_info["hasNextPage"].is_boolean() && page_info["hasNextPage"].get<bool>();
    auto cursor = string_field(page_info, "endCursor");
    if (!more || !cursor) co_return out;
    after = *cursor;
  }
  co_return std::unexpected(protocol_error("Railway EnvironmentVariableNames: more than " +
                                           std::to_string(kMaxVariablePages * kVariablesPageSize) +
                                           " variables; refusing to page further"));
}

}  // namespace promoter::adapters
