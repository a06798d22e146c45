#pragma once

// Fly.io's Machines REST API (https://api.machines.dev/v1) over HttpClient: the calls a rolling
// image update and a one-off release-command machine need. Facts it follows:
// ../shared/reference/fly.md.

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters/adapter_error.hpp"
#include "adapters/http_client.hpp"

namespace promoter::adapters {

struct FlyCheck {
  std::string name;
  std::string status;  // "passing", "warning", "critical"
  std::string output;
};

struct FlyEvent {
  std::string type;              // "launch", "start", "update", "exit", ...
  std::string status;            // "created", "started", "stopped", ...
  std::int64_t timestamp = 0;    // milliseconds since the epoch
  std::optional<int> exit_code;  // for type "exit": request.exit_event.exit_code
};

struct FlyMachine {
  std::string id;
  std::string name;
  std::string state;  // "started", "stopped", "replacing", "destroyed", ...
  std::string region;
  std::string instance_id;                      // the machine's current version; changes on every update
  std::string image;                            // config.image
  nlohmann::json config;                        // the whole config object, as the API returned it
  std::map<std::string, std::string> metadata;  // config.metadata (string values only)
  std::vector<FlyCheck> checks;
  std::vector<FlyEvent> events;  // newest first, as the API lists them

  std::string process_group() const;     // metadata "fly_process_group", "" if none
  bool checks_passing() const;           // every check "passing" (true when there are none)
  std::optional<int> exit_code() const;  // of the newest "exit" event, if any
};

// One app secret as Fly lists it: the name and Fly's digest of the value (it moves when the value changes),
// never the value. created_at/updated_at are raw RFC 3339 text, nullopt when Fly sends none.
struct FlySecret {
  std::string name;
  std::string digest;
  std::optional<std::string> created_at, updated_at;
};

struct FlyLease {
  std::string nonce;
  std::int64_t expires_at = 0;  // seconds since the epoch
};

struct FlyClientOptions {
  std::string base_url = "https://api.machines.dev/v1";  // no trailing slash
  // The Authorization header value as given: "Bearer <token>" or "FlyV1 <macaroon>". A bare token
  // (no space) is sent as "Bearer <token>". Never logged.
  std::string authorization;
  // The token's allowance, shared with every other client of the same token (TokenBudgets); empty: none.
  std::shared_ptr<TokenBudget> budget{};
};

// Every call converts a non-2xx answer into AdapterError{http_status, status, "<what>: <fly's
// error message>"}. GETs (and /wait) are retried by HttpClient on 5xx/429 (honouring Retry-After);
// mutating calls are marked idempotent only where repeating them is harmless (lease release,
// destroy). A 409 on acquire_lease means someone else holds the lease: never forced.
class FlyClient {
 public:
  // `http` must outlive the client.
  FlyClient(HttpClient& http, FlyClientOptions options);

  template <class T>
  using Result = boost::asio::awaitable<std::expected<T, AdapterError>>;

  Result<std::vector<FlyMachine>> list_machines(std::string app);
  Result<FlyMachine> get_machine(std::string app, std::string machine_id);

  // POST /apps/{app}/machines/{id} {"config": config[, "current_version": ...]}: replaces the
  // machine's config (it restarts on the new image). The answer's instance_id is the new version.
  Result<FlyMachine> update_machine(std::string app, std::string machine_id, nlohmann::json config,
                                    std::optional<std::string> lease_nonce, std::optional<std::string> current_version);

  // GET .../wait?state=S[&instance_id=I]&timeout=N: returns when the machine (version) reaches
  // `state`; AdapterError::Kind::timeout when Fly answers 408 (N is capped at 60 s per call; the
  // caller loops for longer waits).
  Result<void> wait_for_state(std::string app, std::string machine_id, std::string state,
                              std::optional<std::string> instance_id, std::chrono::seconds timeout);

  // POST .../lease {"ttl": N, "description": ...}. 409 → AdapterError{http_status, 409, message
  // naming the machine and, when Fly says, who holds it}.
  Result<FlyLease> acquire_lease(std::string app, std::string machine_id, std::chrono::seconds ttl,
                                 std::string description);
  // DELETE .../lease with fly-machine-lease-nonce.
  Result<void> release_lease(std::string app, std::string machine_id, std::string nonce);

  // POST /apps/{app}/machines with `body` ({"config": ..., "region": ...}); the new machine.
  Result<FlyMachine> create_machine(std::string app, nlohmann::json body);
  // DELETE /apps/{app}/machines/{id}?force=true|false. 404 counts as done.
  Result<void> destroy_machine(std::string app, std::string machine_id, bool force);

  // GET /apps/{app}/secrets (never with show_secrets): {"secrets": [{name, digest, created_at, updated_at}]} or
  // a bare array of the same. Any other field (a `value`, should one appear) is dropped here. Sorted by name.
  Result<std::vector<FlySecret>> list_secrets(std::string app);

  // Parses a secrets listing (exposed for tests).
  static std::expected<std::vector<FlySecret>, std::string> parse_secrets(const nlohmann::json& j);

  // Parses one machine object (exposed for tests and the fake). The config (env values included) is kept
  // whole because an update must send it back: never log or store FlyMachine::config.
  static std::expected<FlyMachine, std::string> parse_machine(const nlohmann::json& j);

 private:
  HttpClient& http_;
  FlyClientOptions options_;
};

}  // namespace promoter::adapters
