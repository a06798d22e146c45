#pragma once

// Railway's public GraphQL API (https://backboard.railway.com/graphql/v2) over HttpClient.
// Every document sent is listed by railway_documents() and validated against Railway's
// schema by tests/integration/railway_schema_test.cpp.

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/adapter_error.hpp"
#include "adapters/http_client.hpp"

namespace promoter::adapters {

// account (or workspace/team) token → `Authorization: Bearer`; project token →
// `Project-Access-Token` (scoped to one environment of one project).
enum class RailwayTokenKind { account, project };

struct RailwayClientOptions {
  std::string endpoint = "https://backboard.railway.com/graphql/v2";
  std::string token;  // given by the caller (read from the environment), never from a config file
  RailwayTokenKind token_kind = RailwayTokenKind::account;
  // The token's allowance, shared with every other client of the same token (TokenBudgets); empty: none.
  std::shared_ptr<TokenBudget> budget{};
};

struct RailwayDeployment {
  std::string id;
  std::string status;      // raw DeploymentStatus text; unknown values are kept as they came
  std::string created_at;  // raw RFC 3339
  std::string service_id;  // empty when Railway sends null
  std::string environment_id;
  // From the free-form `meta` JSON (GitHub-sourced deploys); absent when missing or not a string.
  std::optional<std::string> commit_hash, commit_author, commit_message, branch;
};

// A variable as Railway's `Variable` type lists it: the type has no value field, so none can come back.
struct RailwayVariableName {
  std::string name;
  std::optional<std::string> service_id;              // nullopt: a shared (environment-wide) variable
  std::optional<std::string> created_at, updated_at;  // raw RFC 3339; nullopt when Railway sends none
  bool sealed = false;                                // isSealed: the value cannot be read back even in the UI
};

// The 13 values of DeploymentStatus in the schema; anything else is unknown (and tolerated).
bool is_known_railway_deployment_status(std::string_view status);

class RailwayClient {
 public:
  // `http` must outlive the client.
  RailwayClient(HttpClient& http, RailwayClientOptions options);

  template <class T>
  using Result = boost::asio::awaitable<std::expected<T, AdapterError>>;

  // Newest first (sorted by createdAt here: the API does not promise an order).
  Result<std::vector<RailwayDeployment>> list_deployments(std::string project_id, std::string environment_id,
                                                          std::string service_id, int first);

  // One request for several services of one environment (GraphQL aliases s0, s1, ...).
  // Every requested service id is a key of the answer, newest first.
  Result<std::map<std::string, std::vector<RailwayDeployment>>> list_deployments_batch(
      std::string environment_id, std::string project_id, std::vector<std::string> service_ids, int first);

  Result<RailwayDeployment> get_deployment(std::string deployment_id);
  // As get_deployment, but nullopt when Railway answers definitively that no deployment has this id
  // (a GraphQL error at path ["deployment"] saying "not found", the field null). Anything else that
  // goes wrong (unreachable, 5xx, 429, "Not Authorized") stays an error: it may pass.
  Result<std::optional<RailwayDeployment>> find_deployment(std::string deployment_id);

  // serviceInstanceDeployV2 with an exact commit (a 40-hex SHA); returns the new deployment id.
  // Sent once, never retried after it may have reached Railway: the caller reconciles.
  Result<std::string> deploy_commit(std::string service_id, std::string environment_id, std::string commit_sha);

  // Names only (Environment.variables → Variable, a type without a value field), with Railway's
  // createdAt/updatedAt and isSealed, all pages. Never the root `variables` query, which returns values.
  Result<std::vector<RailwayVariableName>> environment_variable_names(std::string environment_id);

 private:
  // POSTs {"query","variables","operationName"}; returns `data`, or an error for a non-2xx
  // answer, a non-empty `errors` array, or an answer that is not GraphQL JSON.
  // With `missing_field` set, an answer whose only errors say that field's object was not found is
  // `data` with that field null instead of an error.
  Result<nlohmann::json> execute(std::string operation, std::string document, nlohmann::json variables, bool idempotent,
                                 std::string missing_field = {});

  HttpClient& http_;
  RailwayClientOptions options_;
};

// (operation name, GraphQL document) of every document the client can send; the batched
// query appears as built for three services.
std::vector<std::pair<std::string, std::string>> railway_documents();

// The batched deployments query for `count` services: variables $first and $s0..$s{count-1}.
std::string railway_batch_deployments_document(std::size_t count);

}  // namespace promoter::adapters
