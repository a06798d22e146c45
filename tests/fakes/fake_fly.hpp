#pragma once

// A fake Fly.io Machines API (https://api.machines.dev/v1) on 127.0.0.1 for tests and the demo:
// real HTTP/1.1, the real paths and JSON shapes, machines kept in memory, state changes on
// timers, failure injection, and a pause facility for crash tests.
//
// Single-threaded: call it from the thread running its executor (or before that thread starts),
// except pause(), resume_all(), clear_pauses() and paused_count(), which any thread may call.
//
// What it follows, checked against Fly's own sources (and where it had to choose):
// - Wait: GET /v1/apps/{app}/machines/{id}/wait?state=S&instance_id=I&timeout=N. Docs list 200,
//   400 and 408 (Request Timeout); states started|stopped|suspended|destroyed (default started);
//   timeout in seconds, default 60; instance_id "Required when waiting for Machine to be in
//   `stopped` state" (fly.io/docs/machines/api/machines-resource, superfly/docs
//   machines/api/machines-resource.html.markerb). flyctl's flaps client caps the timeout at
//   60 s (proxyTimeoutThreshold) and at least 1 s, and sends instance_id (superfly/flyctl
//   flaps/flaps.go); newer fly-go sends `version=` and repeatable `state=` instead
//   (superfly/fly-go flaps/flaps_machines_wait.go): both names are accepted here.
//   The fake answers 408 {"error":"deadline_exceeded: ..."} (the body text is this fake's choice).
//   A wait blocks on notifications (no polling) and succeeds if the machine version is in the
//   state on arrival or enters it while the request waits (even for an instant).
//   Choices: a wait on an instance_id that was replaced answers 400 at once (docs: an old
//   version's state is the terminal `replaced`, so it can never reach the wanted state — Fly
//   itself may instead let it time out); an unknown instance_id answers 400; a wait for any state
//   but `destroyed` on a destroyed machine answers 404 (flyctl's release-command code treats a
//   404 from wait as "exited and destroyed quickly": superfly/flyctl
//   internal/command/deploy/machines_releasecommand.go).
// - Machine states (fly.io/docs/machines/machine-states, superfly/docs
//   machines/machine-states.html.markerb): persistent created, started, stopped, suspended,
//   failed; transient creating, starting, stopping, restarting, suspending, destroying,
//   launch_failed, updating, replacing; terminal destroyed, replaced (per old version only),
//   migrated. The shared reference's list was right but missed `migrated`.
// - Update: POST .../machines/{id} {"config": full config, "current_version": "<instance_id>"}
//   (docs: "The latest instance_id value of the Machine"); the whole config is replaced, name and
//   region are immutable. Header fly-machine-lease-nonce; "If the Machine is leased, and you don't
//   provide this header, the request to update the Machine will fail." The fake answers 409 for a
//   missing or wrong nonce and for a current_version that is not the current instance_id (Fly's
//   status for the latter is not documented: 409 is this fake's choice). The update answer carries
//   the new instance_id and state `replacing`; then `starting` (start_delay/2), `started`
//   (start_delay), checks critical -> passing (checks_delay after start).
// - Leases: POST .../lease {"ttl": N, "description": "..."} (docs) — fly-go sends `?ttl=N` as a
//   query instead (superfly/fly-go flaps/flaps_machines.go): both accepted; answer 201
//   {"status":"success","data":{"nonce","expires_at"(unix seconds),"owner","description",
//   "version"}} (superfly/docs reference/machines/_machines_lease_create_resp.erb). POST with the
//   holder's nonce header refreshes (200, same nonce). Held by someone else: 409
//   {"error":"lease currently held by <owner> ..."} (message text is this fake's choice; Fly's
//   error bodies are {"error": "...", "status": "..."}: superfly/fly-go flaps/flaps_error.go).
//   DELETE .../lease needs the nonce header (docs: "Required to release a lease"; 400 without);
//   releasing when no lease is held answers 200 (so a retried release is harmless).
// - Events (superfly/fly-go machine_types.go, superfly/docs _machines_get_resp.erb): newest first,
//   {type, status, source, timestamp (ms), request}; an exit carries
//   request.exit_event.exit_code (newer flyd: request.MonitorEvent.exit_event.exit_code). Fly's Go
//   type marks exit_code `omitempty`, so exit code 0 is ABSENT from the JSON: the fake omits it too.
// - One-offs: flyctl runs release_command as a machine with the new image, waits for `started`,
//   then for `destroyed` (auto_destroy), then reads the newest "exit" event after "start" from
//   GET on the destroyed machine (machines_releasecommand.go). So a destroyed machine stays
//   gettable here (state `destroyed`, events kept) forever; GET .../machines lists it only with
//   ?include_deleted=true (docs). A created machine whose config has restart.policy "no" or
//   auto_destroy true is a one-off: started at once, stopped after oneoff_run_time with the exit
//   code of options.oneoff_exit_code(image, init.cmd, env), then destroyed if auto_destroy.
// - List filters: ?region=R and ?metadata.KEY=VALUE (docs), e.g. metadata.fly_process_group=app.
// - Destroy: DELETE .../machines/{id}?force=true|false (docs; fly-go sends kill=, accepted too).
//   A started machine without force: 412 {"error":"failed_precondition: ..."} (fake's choice;
//   flyctl docs: destroy "requires the machine to be in a stopped state unless the force flag is
//   used"). Destroyed or unknown: 404.
// - Auth: Authorization "Bearer <token>" or "FlyV1 <token>"; otherwise 401 {"error":"unauthorized"}.
// - Secrets: GET /v1/apps/{app}/secrets answers {"secrets": [{"name","digest","created_at","updated_at"}]}
//   (superfly/fly-go flaps/flaps_secrets.go ListAppSecrets, types ListAppSecretsResp/AppSecret; see
//   adapters/config_reference.md). Never a value: Fly only adds `value` with ?show_secrets=true, which this
//   fake refuses (400). The digest is this fake's choice: the first 16 hex digits of SHA-256 of the value.

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace promoter::fakes {

// What a request asks for, from its method and path.
enum class FlyOperation {
  any,            // in filters: every request
  list,           // GET    /v1/apps/{app}/machines
  create,         // POST   /v1/apps/{app}/machines
  get,            // GET    /v1/apps/{app}/machines/{id}
  update,         // POST   /v1/apps/{app}/machines/{id}
  destroy,        // DELETE /v1/apps/{app}/machines/{id}
  wait,           // GET    /v1/apps/{app}/machines/{id}/wait
  acquire_lease,  // POST   /v1/apps/{app}/machines/{id}/lease
  get_lease,      // GET    /v1/apps/{app}/machines/{id}/lease
  release_lease,  // DELETE /v1/apps/{app}/machines/{id}/lease
  list_secrets,   // GET    /v1/apps/{app}/secrets
  other,          // anything else (answered 404)
};

std::string_view to_string(FlyOperation operation);

using FlyExitCodeFunction = std::function<int(const std::string& image, const std::vector<std::string>& cmd,
                                              const std::map<std::string, std::string>& env)>;

struct FakeFlyOptions {
  std::string token = "fake-fly-token";
  std::string lease_owner = "deployer@fake.fly.io";  // `owner` of leases taken with the token
  std::string default_region = "iad";
  // After an update: `starting` at half of start_delay, `started` at start_delay.
  std::chrono::milliseconds start_delay{50};
  // Checks turn from critical to passing this long after the machine started.
  std::chrono::milliseconds checks_delay{50};
  // A one-off machine runs this long before it stops.
  std::chrono::milliseconds oneoff_run_time{50};
  std::function<std::chrono::system_clock::time_point()> now;  // default: system_clock::now
  FlyExitCodeFunction oneoff_exit_code;                        // default: always 0
  // Appended (after a '-') to every secret value the fake stores; with it, machines add_machine makes carry
  // config.env FAKE_CONFIG = "fake-config-value-<marker>". A test greps a process's output for it.
  std::string value_marker{};
  // Serve the /_fake/... admin routes (the standalone main): secrets set/unset. Not recorded, no auth.
  bool admin_routes = false;
};

// One app secret as the fake keeps it.
struct FakeSecret {
  std::string name;
  std::string value;                   // as stored: "<value>-<marker>" when a marker is set
  std::string digest;                  // first 16 hex digits of SHA-256 of the stored value
  std::string created_at, updated_at;  // RFC 3339
};

struct FakeMachineSpec {
  std::string app;
  std::optional<std::string> id;  // default: 14 random hex digits
  std::string name;               // default: derived from the id
  std::string region;             // default: options.default_region
  std::string image = "registry.fly.io/app:initial";
  std::string process_group = "app";            // config.metadata.fly_process_group
  std::map<std::string, std::string> metadata;  // more config.metadata entries
  std::map<std::string, std::string> env;       // config.env
  std::vector<std::string> checks;              // names of health checks (config.checks)
  std::string state = "started";                // initial state; checks pass when started
};

// One update the fake applied (a request answered 2xx or held after applying).
struct FakeMachineUpdate {
  std::string app, machine_id;
  std::string old_image, new_image;
  std::string old_instance_id, new_instance_id;
  std::chrono::system_clock::time_point at;
};

// One machine created with restart.policy "no" or auto_destroy.
struct FakeOneOff {
  std::string app, machine_id;
  std::string image;
  std::vector<std::string> cmd;  // config.init.cmd
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> metadata;
  bool auto_destroy = false;
  std::chrono::system_clock::time_point created_at;
  std::optional<std::chrono::system_clock::time_point> stopped_at;
  std::optional<int> exit_code;
  bool destroyed = false;
};

// One HTTP request as the fake saw it (never its headers).
struct FakeFlyRequest {
  std::string method;  // "GET", "POST", "DELETE", ...
  std::string path;    // target with the query string
  FlyOperation operation = FlyOperation::other;
  std::string app, machine_id;  // empty when the path has none
  int status = 0;               // answer status; 0: not answered yet, or dropped without an answer
  // The machine the path names, as it was when the answer was made (empty/false without a machine):
  // lets a test check what a request came after, e.g. a lease released only once checks passed.
  std::string machine_state;
  bool machine_checks_passing = false;  // every health check passing (and at least one defined)
};

// Holds matching requests until resume_all(): before the fake applies them, or after applying
// them but before answering (a client killed at that point never learns the outcome).
struct PausePoint {
  FlyOperation operation = FlyOperation::any;
  std::string method;      // "POST" etc.; empty: any
  std::string path_regex;  // std::regex_search on the target; empty: any
  bool after_apply = false;
};

class FakeFly {
 public:
  explicit FakeFly(boost::asio::any_io_executor executor, FakeFlyOptions options = {});
  ~FakeFly();
  FakeFly(const FakeFly&) = delete;
  FakeFly& operator=(const FakeFly&) = delete;

  // Listens on 127.0.0.1:port (0: a free port chosen now). Throws if it cannot bind.
  void start(unsigned short port = 0);
  void stop();  // closes the listener and connections; held and waiting requests end unanswered
  unsigned short port() const;
  std::string url() const;  // http://127.0.0.1:PORT/v1

  // ---- state ----
  void add_app(const std::string& app);                                // an app with no machines (creates need one)
  std::string add_machine(FakeMachineSpec spec);                       // returns the id; adds the app if new
  std::vector<nlohmann::json> machines(const std::string& app) const;  // as GET shows them, destroyed too
  std::optional<nlohmann::json> machine(const std::string& app, const std::string& id) const;
  std::vector<FakeMachineUpdate> updates() const;  // in the order applied
  std::vector<FakeOneOff> one_offs() const;        // in the order created
  // Sets an app secret (adds the app if new): created_at kept, updated_at now, digest of the stored value.
  void set_secret(const std::string& app, const std::string& name, const std::string& value);
  bool unset_secret(const std::string& app, const std::string& name);  // false: no such secret
  std::vector<FakeSecret> secrets(const std::string& app) const;       // by name

  // ---- persistence (the demo's --state FILE): the secrets ----
  nlohmann::json state_json() const;
  std::expected<void, std::string> load_state_json(const nlohmann::json& state);
  void on_change(std::function<void()> callback);  // after every change of the secrets

  // ---- what was asked ----
  std::vector<FakeFlyRequest> requests() const;
  int request_count(FlyOperation operation) const;  // FlyOperation::any: every request

  // ---- failure injection: each affects the next N matching requests, in the order queued ----
  void fail_next(int n, int http_status = 500, FlyOperation only = FlyOperation::any);
  void rate_limit_next(int n, int retry_after_seconds, FlyOperation only = FlyOperation::any);
  void drop_next(int n, FlyOperation only = FlyOperation::any);  // connection closed, no answer
  void wait_timeout_next(int n);                                 // the next /wait requests answer 408 at once
  // Someone else holds the machine's lease for `ttl` (by options.now): acquires, updates and
  // destroys without that nonce answer 409 naming `owner`.
  void hold_lease(const std::string& app, const std::string& id, std::string owner, std::chrono::seconds ttl);
  void release_foreign_lease(const std::string& app, const std::string& id);
  // The next update of that machine ends in state `failed` with failing checks, never `started`.
  void fail_to_start(const std::string& app, const std::string& id);
  // The machine's checks are critical now and stay critical (also across updates) until
  // checks_recover.
  void checks_fail(const std::string& app, const std::string& id);
  void checks_recover(const std::string& app, const std::string& id);

  // ---- pauses (thread-safe) ----
  void pause(PausePoint point);
  // Releases every held request (answered, or with drop=true closed without an answer) and
  // removes every pause point.
  void resume_all(bool drop = false);
  void clear_pauses();       // removes the pause points; held requests stay held
  int paused_count() const;  // requests held right now

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace promoter::fakes
