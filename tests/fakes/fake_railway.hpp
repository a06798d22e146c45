#pragma once

// A fake Railway GraphQL API on 127.0.0.1 for tests and the demo. It speaks the request and
// response shapes of the operations promoter sends (it parses the GraphQL document: operation,
// aliases, arguments, variables, selection sets, and answers only the fields selected, so a
// client reading a field it did not ask for fails here as it would against Railway), checks the
// auth header, keeps deployments in memory, injects failures, and sends webhooks.
//
// Single-threaded: call it from the thread running its executor (or before that thread starts).

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/adapter_error.hpp"
#include "adapters/railway_client.hpp"

namespace promoter::fakes {

struct FakeDeployment {
  std::string id;
  std::string project_id, environment_id, service_id;
  std::string status;      // DeploymentStatus text
  std::string created_at;  // RFC 3339 UTC with milliseconds, strictly increasing per fake
  std::optional<std::string> commit_hash, commit_author, commit_message, branch;
};

struct FakeDeploymentSpec {
  std::string project_id;  // empty: options.default_project_id
  std::string environment_id, service_id;
  std::string status = "SUCCESS";
  std::optional<std::string> commit_hash, commit_author, commit_message;
  std::optional<std::string> branch = "main";
  std::optional<std::string> id;  // default: generated
};

// A variable as the fake keeps it. Only the root `variables(...)` query answers `value` (as Railway does);
// `environment(id).variables` answers the Variable type, which has no value field.
struct FakeVariable {
  std::string name;
  std::optional<std::string> service_id{};  // nullopt: shared variable
  std::string value{};                      // stored as "<value>-<options.value_marker>" when a marker is set
  std::string created_at{}, updated_at{};   // RFC 3339; empty: the fake's now() when stored
  bool sealed = false;
};

enum class WebhookShape { current, legacy };

struct FakeRailwayOptions {
  std::string token = "fake-railway-token";
  adapters::RailwayTokenKind token_kind = adapters::RailwayTokenKind::account;
  // A deployment made by serviceInstanceDeployV2 starts BUILDING, turns DEPLOYING after half of
  // this many deployment(id) reads of it, and `deploy_final_status` after all; 0 = at once.
  int deploy_reads_to_finish = 0;
  std::string deploy_final_status = "SUCCESS";
  // A deployment turning SUCCESS turns the older SUCCESS ones of its service+environment REMOVED.
  bool remove_superseded = true;
  std::string default_project_id = "proj-fake";
  std::function<std::chrono::system_clock::time_point()> now;  // default: system_clock::now
  // Appended (after a '-') to every value the fake stores, so a test can grep a process's output for it.
  std::string value_marker{};
  // Serve the /_fake/... admin routes (the standalone main): variables upsert/delete, value-read count.
  bool admin_routes = false;
};

// One GraphQL request as the fake saw it (never the auth header).
struct FakeRequestRecord {
  std::string operation;  // operationName, or the document's operation name
  nlohmann::json variables;
  bool authorized = false;
};

class FakeRailway {
 public:
  explicit FakeRailway(boost::asio::any_io_executor executor, FakeRailwayOptions options = {});
  ~FakeRailway();
  FakeRailway(const FakeRailway&) = delete;
  FakeRailway& operator=(const FakeRailway&) = delete;

  // Listens on 127.0.0.1:port (0: a free port chosen now). Throws if it cannot bind.
  void start(unsigned short port = 0);
  void stop();  // closes the listener and open connections
  unsigned short port() const;
  std::string url() const;  // http://127.0.0.1:PORT/graphql/v2

  // ---- state ----
  std::string add_deployment(FakeDeploymentSpec spec);                           // returns its id
  bool set_status(const std::string& deployment_id, const std::string& status);  // false: unknown id
  std::vector<FakeDeployment> deployments() const;                               // creation order
  std::optional<FakeDeployment> deployment(const std::string& id) const;
  // Replaces an environment's variables (values marked, empty times set to now).
  void set_variables(const std::string& environment_id, std::vector<FakeVariable> variables);
  // Adds the variable, or replaces the value (and isSealed) of the one with its service and name: created_at
  // kept, updated_at bumped to now (strictly later than before).
  void upsert_variable(const std::string& environment_id, FakeVariable variable);
  // false: no such variable.
  bool remove_variable(const std::string& environment_id, const std::optional<std::string>& service_id,
                       const std::string& name);
  std::vector<FakeVariable> variables(const std::string& environment_id) const;  // values as stored (marked)
  // Requests of the root `variables(projectId, environmentId, serviceId)` query: the one that answers values.
  int value_reads() const;
  // Names used in webhooks (ids are used where none is given).
  void name_service(const std::string& service_id, std::string name);
  void name_environment(const std::string& environment_id, std::string name);
  void name_project(const std::string& project_id, std::string name);

  // ---- what was asked ----
  int request_count(std::string_view operation) const;  // every request with that operation name
  int total_requests() const;                           // every HTTP request to the endpoint
  std::vector<FakeRequestRecord> requests() const;

  // ---- failure injection: each affects the next N GraphQL requests, in the order queued ----
  void fail_next(int n, int http_status = 500);
  // The request takes effect (a deploy is made), but the answer is this status: a gateway that gave up
  // after the backend acted, the ambiguous case a step must settle by asking.
  void fail_next_after_effect(int n, int http_status = 502);
  void rate_limit_next(int n, int retry_after_seconds);
  void delay_next(int n, std::chrono::milliseconds delay);  // then answered normally
  void graphql_error_next(int n, std::string message);      // HTTP 200 with `errors`
  void drop_next(int n);                                    // connection closed, no answer

  // ---- webhooks ----
  // With a URL, every status change (add_deployment, set_status, deploys and their progress)
  // is POSTed there, one at a time in order, with the given payload shape.
  void set_webhook(std::optional<std::string> url, WebhookShape shape = WebhookShape::current);
  std::string webhook_payload(const FakeDeployment& deployment, WebhookShape shape) const;
  // POSTs one body; the value is the HTTP status the receiver answered.
  boost::asio::awaitable<std::expected<int, adapters::AdapterError>> send_webhook(std::string url, std::string body);
  // POSTs bodies one after another, in the given order.
  boost::asio::awaitable<std::vector<std::expected<int, adapters::AdapterError>>> send_webhooks(
      std::string url, std::vector<std::string> bodies);
  static std::vector<std::string> duplicated(std::vector<std::string> bodies);  // a, a, b, b, ...
  static std::vector<std::string> reordered(std::vector<std::string> bodies, std::uint64_t seed);
  // Waits until the automatic webhooks queued so far were delivered (or failed).
  boost::asio::awaitable<void> flush_webhooks();
  int webhooks_delivered() const;  // answered 2xx/3xx
  int webhooks_failed() const;

  // ---- persistence (the demo's --state FILE) ----
  nlohmann::json state_json() const;
  std::expected<void, std::string> load_state_json(const nlohmann::json& state);
  void on_change(std::function<void()> callback);  // after every state change

  // Parses a GraphQL document as the fake does; an error message when it cannot.
  static std::optional<std::string> check_document(std::string_view document);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace promoter::fakes
