#include "adapters/fly_client.hpp"

#include "adapters/url_encode.hpp"

#include "adapters/json_field.hpp"

#include <algorithm>
#include <cctype>

namespace promoter::adapters {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// Fly's wait endpoint sits behind a proxy that cuts requests at 60 s (flaps' proxyTimeoutThreshold).
constexpr std::chrono::seconds kMaxWait{60};
// The HTTP deadline of a /wait request: its own timeout plus this margin for the answer to arrive.
constexpr std::chrono::seconds kWaitMargin{15};

const json* object_field(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  if (it == object.end() || !it->is_object()) return nullptr;
  return &*it;
}

std::string join_keys(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

std::string clip(std::string_view text, std::size_t limit = 300) {
  std::string out;
  for (const char c : text.substr(0, limit)) out += std::isprint(static_cast<unsigned char>(c)) ? c : ' ';
  if (text.size() > limit) out += "...";
  return out;
}

// exit_code of a request object: request.exit_event.exit_code, or (newer flyd)
// request.MonitorEvent.exit_event.exit_code. Fly's Go types mark exit_code `omitempty`, so an
// exit_event without it means 0.
std::optional<int> exit_code_of(const json& request) {
  const json* exit_event = nullptr;
  if (const json* monitor = object_field(request, "MonitorEvent")) exit_event = object_field(*monitor, "exit_event");
  if (exit_event == nullptr) exit_event = object_field(request, "exit_event");
  if (exit_event == nullptr) return std::nullopt;
  const auto it = exit_event->find("exit_code");
  if (it == exit_event->end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<int>();
  return std::nullopt;
}

}  // namespace

std::string FlyMachine::process_group() const {
  const auto it = metadata.find("fly_process_group");
  return it == metadata.end() ? std::string() : it->second;
}

bool FlyMachine::checks_passing() const {
  return std::ranges::all_of(checks, [](const FlyCheck& c) { return c.status == "passing"; });
}

std::optional<int> FlyMachine::exit_code() const {
  for (const auto& event : events) {
    if (event.type == "exit") return event.exit_code;
  }
  return std::nullopt;
}

std::expected<FlyMachine, std::string> FlyClient::parse_machine(const json& j) {
  if (!j.is_object()) return std::unexpected("machine is not a JSON object");
  FlyMachine m;
  auto id = string_field(j, "id");
  if (!id || id->empty()) return std::unexpected("machine has no string `id`");
  m.id = std::move(*id);
  m.name = string_field(j, "name").value_or("");
  m.state = string_field(j, "state").value_or("");
  m.region = string_field(j, "region").value_or("");
  m.instance_id = string_field(j, "instance_id").value_or("");
  if (const json* config = object_field(j, "config")) {
    m.config = *config;
    m.image = string_field(*config, "image").value_or("");
    if (const json* metadata = object_field(*config, "metadata")) {
      for (const auto& [key, value] : metadata->items()) {
        if (value.is_string()) m.metadata[key] = value.get<std::string>();
      }
    }
  } else {
    m.config = json::object();
  }
  if (const auto it = j.find("checks"); it != j.end() && it->is_array()) {
    for (const auto& check : *it) {
      if (!check.is_object()) continue;
      m.checks.push_back(FlyCheck{string_field(check, "name").value_or(""), string_field(check, "status").value_or(""),
                                  string_field(check, "output").value_or("")});
    }
  }
  if (const auto it = j.find("events"); it != j.end() && it->is_array()) {
    for (const auto& event : *it) {
      if (!event.is_object()) continue;
      FlyEvent e;
      e.type = string_field(event, "type").value_or("");
      e.status = string_field(event, "status").value_or("");
      if (const auto ts = event.find("timestamp"); ts != event.end() && ts->is_number_integer()) {
        e.timestamp = ts->get<std::int64_t>();
      }
      if (const json* request = object_field(event, "request")) e.exit_code = exit_code_of(*request);
      m.events.push_back(std::move(e));
    }
  }
  return m;
}

std::expected<std::vector<FlySecret>, std::string> FlyClient::parse_secrets(const json& j) {
  const json* list = &j;
  if (j.is_object()) {
    const auto it = j.find("secrets");
    if (it == j.end() || !it->is_array()) return std::unexpected("the answer has no `secrets` array");
    list = &*it;
  } else if (!j.is_array()) {
    return std::unexpected("the answer is neither {\"secrets\": [...]} nor an array");
  }
  std::vector<FlySecret> out;
  out.reserve(list->size());
  for (const auto& item : *list) {
    // Only these four fields are read: a `value` (show_secrets) is never copied anywhere.
    auto name = string_field(item, "name");
    if (!name || name->empty()) return std::unexpected("a secret has no string `name`");
    FlySecret secret;
    secret.name = std::move(*name);
    secret.digest = string_field(item, "digest").value_or("");
    secret.created_at = string_field(item, "created_at");
    secret.updated_at = string_field(item, "updated_at");
    out.push_back(std::move(secret));
  }
  std::ranges::sort(out, {}, &FlySecret::name);
  return out;
}

FlyClient::FlyClient(HttpClient& http, FlyClientOptions options) : http_(http), options_(std::move(options)) {}

namespace {

struct Call {
  HttpMethod method = HttpMethod::get;
  std::string path;  // after base_url, starting with /
  std::optional<json> body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool idempotent = false;
  std::optional<std::chrono::milliseconds> timeout;
  std::string operation;  // the endpoint kind, e.g. "machines.list": a bounded metrics label
};

// The Authorization value as sent, and what must never appear in a message.
std::string authorization_value(const FlyClientOptions& options) {
  const auto& given = options.authorization;
  if (given.empty() || given.find(' ') != std::string::npos) return given;
  return "Bearer " + given;
}

std::string redact(std::string message, const FlyClientOptions& options) {
  std::vector<std::string> secrets{options.authorization};
  if (const auto space = options.authorization.find(' '); space != std::string::npos) {
    secrets.push_back(options.authorization.substr(space + 1));
  }
  for (const auto& secret : secrets) {
    if (secret.size() < 4) continue;  // too short to be a token; replacing would garble text
    for (auto at = message.find(secret); at != std::string::npos; at = message.find(secret, at)) {
      message.replace(at, secret.size(), "[redacted]");
      at += 10;
    }
  }
  return message;
}

// The JSON answer of a 2xx, or an AdapterError for anything else ("<what>: <status> <fly's error>").
asio::awaitable<std::expected<json, AdapterError>> perform(HttpClient& http, const FlyClientOptions& options,
                                                           std::string what, Call call) {
  HttpRequestSpec spec;
  spec.method = call.method;
  spec.url = options.base_url + call.path;
  spec.idempotent = call.idempotent;
  spec.timeout = call.timeout;
  spec.operation = call.operation;
  spec.budget = options.budget;
  spec.headers = {{"Accept", "application/json"}};
  if (const auto authorization = authorization_value(options); !authorization.empty()) {
    spec.headers.emplace_back("Authorization", authorization);
  }
  for (auto& header : call.headers) spec.headers.push_back(std::move(header));
  if (call.body) {
    spec.headers.emplace_back("Content-Type", "application/json");
    spec.body = call.body->dump();
  }

  auto answer = co_await http.request(std::move(spec));
  if (!answer) {
    AdapterError error = std::move(answer.error());
    error.message = redact(what + ": " + error.message, options);
    co_return std::unexpected(std::move(error));
  }
  const HttpResult& response = *answer;
  json body = json::parse(response.body, nullptr, false);
  if (response.status < 200 || response.status > 299) {
    std::string message = what + ": " + std::to_string(response.status);
    if (auto fly_error = string_field(body, "error"); fly_error && !fly_error->empty()) {
      message += " " + clip(*fly_error);
    } else if (!response.body.empty() && !body.is_discarded()) {
      // Not echoed: a JSON answer may carry a machine config, whose env holds values (adapters/config_reference.md).
      std::vector<std::string> keys;
      if (body.is_object())
        for (const auto& [key, value] : body.items()) keys.push_back(key);
      message += keys.empty() ? std::string(" (a JSON answer with no error field)")
                              : " (a JSON answer with no error field; keys: " + clip(join_keys(keys), 120) + ")";
    } else if (!response.body.empty()) {
      message += " " + clip(response.body, 120);
    } else {
      message += " (no error message)";
    }
    if (response.attempts > 1) message += " (after " + std::to_string(response.attempts) + " attempts)";
    if (response.status == 401 || response.status == 403) {
      message += " (check the Fly API token: a deploy token is sent as \"FlyV1 <token>\", others as Bearer)";
    } else if (response.status == 429) {
      message += " (rate limited by Fly; retry later)";
    }
    const auto kind = response.status == 408 ? AdapterError::Kind::timeout : AdapterError::Kind::http_status;
    co_return std::unexpected(AdapterError{kind, response.status, redact(std::move(message), options)});
  }
  if (body.is_discarded()) {
    if (response.body.empty()) co_return json::object();
    co_return std::unexpected(
        protocol_error(redact(what + ": the answer is not JSON: " + clip(response.body, 120), options)));
  }
  co_return body;
}

std::string machine_path(const std::string& app, const std::string& machine_id) {
  return "/apps/" + percent_encode(app) + "/machines/" + percent_encode(machine_id);
}

std::string describe(std::string_view verb, const std::string& app, const std::string& machine_id) {
  return "fly: " + std::string(verb) + " machine " + machine_id + " of app " + app;
}

}  // namespace

FlyClient::Result<std::vector<FlyMachine>> FlyClient::list_machines(std::string app) {
  Call call;
  call.operation = "machines.list";
  call.path = "/apps/" + percent_encode(app) + "/machines";
  call.idempotent = true;
  const std::string what = "fly: list machines of app " + app;
  auto answer = co_await perform(http_, options_, what, std::move(call));
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  const json machines = std::move(*answer);
  if (!machines.is_array()) co_return std::unexpected(protocol_error(what + ": the answer is not a JSON array"));
  std::vector<FlyMachine> out;
  out.reserve(machines.size());
  for (const auto& item : machines) {
    auto machine = parse_machine(item);
    if (!machine) co_return std::unexpected(protocol_error(what + ": " + machine.error()));
    out.push_back(std::move(*machine));
  }
  co_return out;
}

FlyClient::Result<std::vector<FlySecret>> FlyClient::list_secrets(std::string app) {
  Call call;
  call.operation = "secrets.list";
  call.path = "/apps/" + percent_encode(app) + "/secrets";  // never ?show_secrets=true: that answers values
  call.idempotent = true;
  const std::string what = "fly: list secrets of app " + app;
  auto answer = co_await perform(http_, options_, what, std::move(call));
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  const json listing = std::move(*answer);
  auto secrets = parse_secrets(listing);
  if (!secrets) co_return std::unexpected(protocol_error(what + ": " + secrets.error()));
  co_return std::move(*secrets);
}

FlyClient::Result<FlyMachine> FlyClient::get_machine(std::string app, std::string machine_id) {
  Call call;
  call.operation = "machines.get";
  call.path = machine_path(app, machine_id);
  call.idempotent = true;
  const std::string what = describe("get", app, machine_id);
  auto answer = co_await perform(http_, options_, what, std::move(call));
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  auto machine = parse_machine(*answer);
  if (!machine) co_return std::unexpected(protocol_error(what + ": " + machine.error()));
  co_return std::move(*machine);
}

FlyClient::Result<FlyMachine> FlyClient::update_machine(std::string app, std::string machine_id, json config,
                                                        std::optional<std::string> lease_nonce,
                                                        std::optional<std::string> current_version) {
  const std::string what = describe("update", app, machine_id);
  if (!config.is_object()) co_return std::unexpected(protocol_error(what + ": the config is not a JSON object"));
  json body = json::object();
  body["config"] = std::move(config);
  if (current_version && !current_version->empty()) body["current_version"] = *current_version;
  Call call;
  call.operation = "machines.update";
  call.method = HttpMethod::post;
  call.path = machine_path(app, machine_id);
  call.body = std::move(body);
  call.idempotent = false;  // a repeat could replace the machine twice: the caller reconciles
  if (lease_nonce && !lease_nonce->empty()) call.headers.emplace_back("fly-machine-lease-nonce", *lease_nonce);
  auto answer = co_await perform(http_, options_, what, std::move(call));
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  auto machine = parse_machine(*answer);
  if (!machine) co_return std::unexpected(protocol_error(what + ": " + machine.error()));
  co_return std::move(*machine);
}

FlyClient::Result<void> FlyClient::wait_for_state(std::string app, std::string machine_id, std::string state,
                                                  std::optional<std::string> instance_id,
                                                  std::chrono::seconds timeout) {
  const auto seconds = std::clamp(timeout, std::chrono::seconds(1), kMaxWait);
  Call call;
  call.operation = "machines.wait";
  call.path = machine_path(app, machine_id) + "/wait?state=" + percent_encode(state);
  if (instance_id && !instance_id->empty()) call.path += "&instance_id=" + percent_encode(*instance_id);
  call.path += "&timeout=" + std::to_string(seconds.count());
  call.idempotent = true;
  call.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(seconds + kWaitMargin);
  std::string what = "fly: wait for machine " + machine_id + " of app " + app;
  if (instance_id && !instance_id->empty()) what += " (instance " + *instance_id + ")";
  what += " to be " + state;
  auto answer = co_await perform(http_, options_, std::move(what), std::move(call));
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  co_return std::expected<void, AdapterError>{};
}

FlyClient::Result<FlyLease> FlyClient::acquire_lease(std::string app, std::string machine_id, std::chrono::seconds ttl,
                                                     std::string description) {
  json body = json::object();
  body["ttl"] = std::max<std::int64_t>(1, ttl.count());
  body["description"] = std::move(description);
  Call call;
  call.operation = "lease.acquire";
  call.method = HttpMethod::post;
  call.path = machine_path(app, machine_id) + "/lease";
  call.body = std::move(body);
  call.idempotent = false;  // a lost answer leaves a lease we hold without its nonce: the caller reconciles
  const std::string what = "fly: acquire lease on machine " + machine_id + " of app " + app;
  auto answer = co_await perform(http_, options_, what, std::move(call));
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  const json* data = object_field(*answer, "data");
  const auto status = string_field(*answer, "status");
  if (status && *status != "success") {
    co_return std::unexpected(protocol_error(what + ": Fly answered status \"" + clip(*status, 80) + "\""));
  }
  auto nonce = data != nullptr ? string_field(*data, "nonce") : std::nullopt;
  if (!nonce || nonce->empty()) co_return std::unexpected(protocol_error(what + ": the answer has no data.nonce"));
  FlyLease lease;
  lease.nonce = std::move(*nonce);
  if (const auto it = data->find("expires_at"); it != data->end() && it->is_number_integer()) {
    lease.expires_at = it->get<std::int64_t>();
  }
  co_return lease;
}

FlyClient::Result<void> FlyClient::release_lease(std::string app, std::string machine_id, std::string nonce) {
  Call call;
  call.operation = "lease.release";
  call.method = HttpMethod::delete_;
  call.path = machine_path(app, machine_id) + "/lease";
  call.headers.emplace_back("fly-machine-lease-nonce", nonce);
  call.idempotent = true;
  std::string what = "fly: release lease on machine " + machine_id + " of app " + app;
  auto answer = co_await perform(http_, options_, std::move(what), std::move(call));
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  co_return std::expected<void, AdapterError>{};
}

FlyClient::Result<FlyMachine> FlyClient::create_machine(std::string app, json body) {
  const std::string what = "fly: create machine in app " + app;
  if (!body.is_object() || !body.contains("config") || !body["config"].is_object()) {
    co_return std::unexpected(protocol_error(what + ": the request body has no `config` object"));
  }
  Call call;
  call.operation = "machines.create";
  call.method = HttpMethod::post;
  call.path = "/apps/" + percent_encode(app) + "/machines";
  call.body = std::move(body);
  call.idempotent = false;  // a repeat would create a second machine: the caller reconciles
  auto answer = co_await perform(http_, options_, what, std::move(call));
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  auto machine = parse_machine(*answer);
  if (!machine) co_return std::unexpected(protocol_error(what + ": " + machine.error()));
  co_return std::move(*machine);
}

FlyClient::Result<void> FlyClient::destroy_machine(std::string app, std::string machine_id, bool force) {
  Call call;
  call.operation = "machines.destroy";
  call.method = HttpMethod::delete_;
  call.path = machine_path(app, machine_id) + (force ? "?force=true" : "?force=false");
  call.idempotent = true;
  std::string what = describe("destroy", app, machine_id);
  auto answer = co_await perform(http_, options_, std::move(what), std::move(call));
  if (!answer && !(answer.error().kind == AdapterError::Kind::http_status && answer.error().http_status == 404)) {
    co_return std::unexpected(std::move(answer.error()));
  }
  co_return std::expected<void, AdapterError>{};
}

}  // namespace promoter::adapters
