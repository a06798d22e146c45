#include "tests/fakes/fake_fly.hpp"

#include "tests/fakes/fake_listener.hpp"

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <mutex>
#include <random>
#include <regex>
#include <set>

#include <openssl/evp.h>

#include "core/time.hpp"

namespace promoter::fakes {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::system_clock;

std::string_view to_string(FlyOperation operation) {
  switch (operation) {
    case FlyOperation::any:
      return "any";
    case FlyOperation::list:
      return "list";
    case FlyOperation::create:
      return "create";
    case FlyOperation::get:
      return "get";
    case FlyOperation::update:
      return "update";
    case FlyOperation::destroy:
      return "destroy";
    case FlyOperation::wait:
      return "wait";
    case FlyOperation::acquire_lease:
      return "acquire_lease";
    case FlyOperation::get_lease:
      return "get_lease";
    case FlyOperation::release_lease:
      return "release_lease";
    case FlyOperation::list_secrets:
      return "list_secrets";
    case FlyOperation::other:
      return "other";
  }
  return "other";
}

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

struct Lease {
  std::string nonce, owner, description;
  std::int64_t expires_at = 0;  // unix seconds
};

// A state a machine version entered, numbered so a waiter can see states it missed.
struct Transition {
  std::uint64_t seq = 0;
  std::string instance_id;
  std::string state;
};

struct Machine {
  std::string app, id, name, region, state, instance_id, private_ip;
  json config = json::object();
  std::vector<json> checks;        // {name, status, output, updated_at}
  std::deque<json> events;         // newest first
  std::set<std::string> replaced;  // instance ids of earlier versions
  std::string created_at, updated_at;
  std::optional<Lease> lease;
  bool fail_next_start = false;
  bool checks_failing = false;
  std::uint64_t generation = 0;  // bumped by every update; stale timers check it
  std::vector<Transition> transitions;
  std::optional<std::size_t> one_off;  // index into State::one_offs
};

struct Fault {
  enum class Kind { status, rate_limit, drop, wait_timeout } kind;
  int value = 0;  // status, or Retry-After seconds
  FlyOperation only = FlyOperation::any;
};

struct Hold {
  explicit Hold(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;
  bool released = false;  // guarded by State::pause_mutex
  bool drop = false;
};

const std::set<std::string> kWaitableStates = {"started", "stopped", "suspended", "destroyed"};

}  // namespace

struct FakeFly::State : std::enable_shared_from_this<FakeFly::State> {
  State(asio::any_io_executor ex, FakeFlyOptions opts)
      : executor(std::move(ex)), options(std::move(opts)), listener(executor), rng(std::random_device{}()) {
    if (!options.now) options.now = [] { return Clock::now(); };
  }

  asio::any_io_executor executor;
  FakeFlyOptions options;
  FakeListener listener;

  std::map<std::string, std::vector<std::string>> apps;  // app -> machine ids, in creation order
  std::map<std::string, Machine> machines;               // by id (ids are unique across apps)
  std::vector<FakeMachineUpdate> updates;
  std::vector<FakeOneOff> one_offs;
  std::vector<FakeFlyRequest> records;
  std::map<std::string, std::map<std::string, FakeSecret>> secrets;  // app -> name -> secret
  std::function<void()> change_callback;
  std::deque<Fault> faults;
  std::map<std::string, std::vector<std::weak_ptr<asio::steady_timer>>> waiters;  // by machine id
  std::vector<std::weak_ptr<asio::steady_timer>> timers;                          // scheduled changes
  std::uint64_t seq = 0;
  std::mt19937_64 rng;
  std::int64_t ulid_ms = -1;
  std::uint64_t ulid_low = 0;
  std::uint16_t ulid_high = 0;

  mutable std::mutex pause_mutex;
  std::vector<PausePoint> pauses;
  std::vector<std::shared_ptr<Hold>> holds;
  std::atomic<int> paused{0};

  // ---- secrets ----
  void set_secret(const std::string& app, const std::string& name, const std::string& value) {
    apps.try_emplace(app);
    auto& secret = secrets[app][name];
    const bool fresh = secret.name.empty();
    secret.name = name;
    secret.value = options.value_marker.empty() ? value : value + "-" + options.value_marker;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(secret.value.data(), secret.value.size(), digest, &size, EVP_sha256(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    secret.digest.clear();
    for (unsigned int i = 0; i < size && secret.digest.size() < 16; ++i) {
      secret.digest += kHex[digest[i] >> 4];
      secret.digest += kHex[digest[i] & 0xF];
    }
    secret.updated_at = stamp();
    if (fresh) secret.created_at = secret.updated_at;
    if (change_callback) change_callback();
  }

  bool unset_secret(const std::string& app, const std::string& name) {
    const auto it = secrets.find(app);
    if (it == secrets.end() || it->second.erase(name) == 0) return false;
    if (change_callback) change_callback();
    return true;
  }

  // ---- helpers ----
  Clock::time_point now() const { return options.now(); }
  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
  }
  std::int64_t now_s() const {
    return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  }
  std::string stamp() const { return core::format_timestamp(std::chrono::time_point_cast<core::Duration>(now())); }

  // 26 Crockford base32 characters: 48 bits of milliseconds, 80 bits that only grow within one
  // millisecond (as ULIDs do), so ids are unique and sort by creation.
  std::string ulid() {
    static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    std::int64_t ms = std::max<std::int64_t>(0, now_ms());
    if (ms <= ulid_ms) {
      ms = ulid_ms;
      if (++ulid_low == 0) ++ulid_high;
    } else {
      ulid_ms = ms;
      ulid_low = rng() >> 1;  // room to grow without carrying
      ulid_high = static_cast<std::uint16_t>(rng() & 0x7FFF);
    }
    std::string out(26, '0');
    auto time = static_cast<std::uint64_t>(ms);
    for (int i = 9; i >= 0; --i) {
      out[static_cast<std::size_t>(i)] = kAlphabet[time & 31];
      time >>= 5;
    }
    // 80 random bits: high 16, low 64.
    std::uint64_t low = ulid_low;
    std::uint64_t high = ulid_high;
    for (int i = 25; i >= 10; --i) {
      out[static_cast<std::size_t>(i)] = kAlphabet[low & 31];
      low = (low >> 5) | ((high & 31) << 59);
      high >>= 5;
    }
    return out;
  }

  std::string hex(std::size_t digits) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < digits; ++i) out += kHex[rng() % 16];
    return out;
  }

  std::string new_machine_id() {
    for (;;) {
      auto id = hex(14);
      if (!machines.contains(id)) return id;
    }
  }

  Machine* find(const std::string& app, const std::string& id) {
    const auto it = machines.find(id);
    if (it == machines.end() || it->second.app != app) return nullptr;
    return &it->second;
  }

  void notify(const std::string& id) {
    const auto it = waiters.find(id);
    if (it == waiters.end()) return;
    auto list = std::move(it->second);
    waiters.erase(it);
    for (auto& weak : list) {
      if (auto timer = weak.lock()) timer->cancel();
    }
  }

  void set_state(Machine& m, const std::string& state) {
    m.state = state;
    m.updated_at = stamp();
    m.transitions.push_back(Transition{++seq, m.instance_id, state});
    notify(m.id);
  }

  void push_event(Machine& m, const std::string& type, const std::string& status, const std::string& source,
                  json request = nullptr) {
    json event = {{"type", type}, {"status", status}, {"source", source}, {"timestamp", now_ms()}};
    if (!request.is_null()) event["request"] = std::move(request);
    m.events.push_front(std::move(event));
    if (m.events.size() > 50) m.events.pop_back();
  }

  static std::vector<std::string> check_names(const json& config) {
    std::vector<std::string> names;
    if (config.contains("checks") && config["checks"].is_object()) {
      for (const auto& [name, ignored] : config["checks"].items()) names.push_back(name);
    }
    return names;
  }

  void set_checks(Machine& m, const std::string& status, const std::string& output) {
    m.checks.clear();
    for (const auto& name : check_names(m.config)) {
      m.checks.push_back(json{{"name", name}, {"status", status}, {"output", output}, {"updated_at", stamp()}});
    }
  }

  // Runs `change` on the machine after `delay`, unless the fake stopped or (with a generation)
  // the machine was updated again since.
  void schedule(std::chrono::milliseconds delay, const std::string& id, std::optional<std::uint64_t> generation,
                std::function<void(State&, Machine&)> change);

  void start_machine(Machine& m);  // `started` now, checks critical -> passing later
  void begin_start(Machine& m);    // after an update: starting, then started or failed
  void run_one_off(Machine& m);

  json machine_json(const Machine& m) const;
};

namespace {

asio::awaitable<void> run_later(std::shared_ptr<FakeFly::State> state, std::shared_ptr<asio::steady_timer> timer,
                                std::string id, std::optional<std::uint64_t> generation,
                                std::function<void(FakeFly::State&, Machine&)> change) {
  boost::system::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (ec || !state->listener.running()) co_return;
  const auto it = state->machines.find(id);
  if (it == state->machines.end()) co_return;
  if (generation && it->second.generation != *generation) co_return;
  try {
    change(*state, it->second);
  } catch (const std::exception&) {  // a bug in the fake must not take the test's io_context down
  }
}

json image_ref(const std::string& image) {
  std::string rest = image;
  std::string digest;
  std::string tag;
  std::string registry = "registry-1.docker.io";
  if (const auto at = rest.find('@'); at != std::string::npos) {
    digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
  }
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    const auto first = rest.substr(0, slash);
    if (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost") {
      registry = first;
      rest = rest.substr(slash + 1);
    }
  }
  if (const auto colon = rest.rfind(':'); colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
    tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  } else {
    tag = "latest";
  }
  if (registry == "registry-1.docker.io" && rest.find('/') == std::string::npos) rest = "library/" + rest;
  if (digest.empty()) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::uint64_t h = std::hash<std::string>{}(image);
    digest = "sha256:";
    for (int i = 0; i < 64; ++i) {
      digest += kHex[h & 15];
      h = (h >> 4) | (h << 60);
      if (i % 16 == 15) h = std::hash<std::string>{}(image + std::to_string(i)) ^ h;
    }
  }
  return json{{"registry", registry}, {"repository", rest}, {"tag", tag}, {"digest", digest}};
}

std::string string_or(const json& object, const char* key, std::string fallback) {
  if (object.is_object() && object.contains(key) && object[key].is_string()) return object[key].get<std::string>();
  return fallback;
}

std::map<std::string, std::string> string_map(const json& object) {
  std::map<std::string, std::string> out;
  if (!object.is_object()) return out;
  for (const auto& [key, value] : object.items()) {
    if (value.is_string()) out[key] = value.get<std::string>();
  }
  return out;
}

}  // namespace

void FakeFly::State::schedule(std::chrono::milliseconds delay, const std::string& id,
                              std::optional<std::uint64_t> generation, std::function<void(State&, Machine&)> change) {
  auto timer = std::make_shared<asio::steady_timer>(executor);
  timer->expires_after(delay);
  std::erase_if(timers, [](const auto& weak) { return weak.expired(); });
  timers.push_back(timer);
  asio::co_spawn(executor, run_later(shared_from_this(), timer, id, generation, std::move(change)), asio::detached);
}

void FakeFly::State::start_machine(Machine& m) {
  push_event(m, "start", "started", "flyd");
  if (m.checks_failing) {
    set_checks(m, "critical", "connection refused");
  } else {
    set_checks(m, "critical", "waiting for the first check to run");
  }
  set_state(m, "started");
  if (m.checks_failing || check_names(m.config).empty()) return;
  schedule(options.checks_delay, m.id, m.generation, [](State& s, Machine& machine) {
    if (machine.state != "started" || machine.checks_failing) return;
    s.set_checks(machine, "passing", "HTTP GET /health: 200 OK");
    machine.updated_at = s.stamp();
  });
}

void FakeFly::State::begin_start(Machine& m) {
  schedule(options.start_delay / 2, m.id, m.generation, [](State& s, Machine& machine) {
    if (machine.state == "replacing") s.set_state(machine, "starting");
  });
  schedule(options.start_delay, m.id, m.generation, [](State& s, Machine& machine) {
    if (machine.fail_next_start) {
      machine.fail_next_start = false;
      s.set_checks(machine, "critical", "the instance failed to start");
      json exit_event = {{"exit_code", 1}, {"requested_stop", false}, {"exited_at", s.stamp()}};
      s.push_event(machine, "exit", "failed", "flyd", json{{"exit_event", exit_event}});
      s.set_state(machine, "failed");
      return;
    }
    s.start_machine(machine);
  });
}

void FakeFly::State::run_one_off(Machine& m) {
  schedule(std::chrono::milliseconds(0), m.id, m.generation, [](State& s, Machine& machine) {
    s.start_machine(machine);
    s.schedule(s.options.oneoff_run_time, machine.id, machine.generation, [](State& s2, Machine& mm) {
      if (mm.state != "started" || !mm.one_off) return;
      auto& record = s2.one_offs[*mm.one_off];
      const int code =
          s2.options.oneoff_exit_code ? s2.options.oneoff_exit_code(record.image, record.cmd, record.env) : 0;
      // Fly's exit_code (and guest_exit_code) are `omitempty`: 0 is left out.
      json exit_event = {{"requested_stop", false}, {"restarting", false}, {"exited_at", s2.stamp()}};
      if (code != 0) {
        exit_event["exit_code"] = code;
        exit_event["guest_exit_code"] = code;
      }
      s2.push_event(mm, "exit", "stopped", "flyd", json{{"exit_event", exit_event}, {"restart_count", 0}});
      s2.set_checks(mm, "critical", "the machine stopped");
      s2.set_state(mm, "stopped");
      record.stopped_at = s2.now();
      record.exit_code = code;
      if (record.auto_destroy) {
        s2.push_event(mm, "destroy", "destroyed", "flyd");
        mm.lease.reset();
        s2.set_state(mm, "destroyed");
        record.destroyed = true;
      }
    });
  });
}

json FakeFly::State::machine_json(const Machine& m) const {
  json events = json::array();
  for (const auto& e : m.events) events.push_back(e);
  json checks = json::array();
  for (const auto& c : m.checks) checks.push_back(c);
  return json{{"id", m.id},
              {"name", m.name},
              {"state", m.state},
              {"region", m.region},
              {"instance_id", m.instance_id},
              {"private_ip", m.private_ip},
              {"image_ref", image_ref(string_or(m.config, "image", ""))},
              {"config", m.config},
              {"checks", checks},
              {"events", events},
              {"host_status", "ok"},
              {"created_at", m.created_at},
              {"updated_at", m.updated_at}};
}

namespace {

Response json_response(const Request& request, http::status status, const json& body) {
  Response response{status, request.version()};
  response.set(http::field::content_type, "application/json; charset=utf-8");
  response.body() = body.dump(-1, ' ', false, json::error_handler_t::replace);
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

Response error_response(const Request& request, http::status status, const std::string& message) {
  return json_response(request, status, json{{"error", message}});
}

std::string url_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

struct Target {
  std::vector<std::string> segments;  // of the path, decoded
  std::multimap<std::string, std::string> query;

  std::optional<std::string> param(const std::string& key) const {
    const auto it = query.find(key);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
};

Target parse_target(std::string_view target) {
  Target out;
  const auto question = target.find('?');
  const auto path = target.substr(0, question);
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out.segments.push_back(url_decode(path.substr(start, end - start)));
    start = end + 1;
  }
  if (question != std::string_view::npos) {
    auto query = target.substr(question + 1);
    std::size_t pos = 0;
    while (pos <= query.size()) {
      auto end = query.find('&', pos);
      if (end == std::string_view::npos) end = query.size();
      const auto item = query.substr(pos, end - pos);
      if (!item.empty()) {
        const auto eq = item.find('=');
        out.query.emplace(url_decode(item.substr(0, eq)),
                          eq == std::string_view::npos ? std::string() : url_decode(item.substr(eq + 1)));
      }
      pos = end + 1;
    }
  }
  return out;
}

// The operation, app and machine of a request: /v1/apps/{app}/machines[/{id}[/wait|/lease]].
FakeFlyRequest classify(const Request& request, const Target& target) {
  FakeFlyRequest r;
  r.method = std::string(request.method_string());
  r.path = std::string(request.target());
  const auto& s = target.segments;
  const auto verb = request.method();
  if (s.size() == 4 && s[0] == "v1" && s[1] == "apps" && s[3] == "secrets") {
    r.app = s[2];
    if (verb == http::verb::get) r.operation = FlyOperation::list_secrets;
    return r;
  }
  if (s.size() < 4 || s[0] != "v1" || s[1] != "apps" || s[3] != "machines") return r;
  r.app = s[2];
  if (s.size() == 4) {
    if (verb == http::verb::get) r.operation = FlyOperation::list;
    if (verb == http::verb::post) r.operation = FlyOperation::create;
    return r;
  }
  r.machine_id = s[4];
  if (s.size() == 5) {
    if (verb == http::verb::get) r.operation = FlyOperation::get;
    if (verb == http::verb::post) r.operation = FlyOperation::update;
    if (verb == http::verb::delete_) r.operation = FlyOperation::destroy;
  } else if (s.size() == 6 && s[5] == "wait") {
    if (verb == http::verb::get) r.operation = FlyOperation::wait;
  } else if (s.size() == 6 && s[5] == "lease") {
    if (verb == http::verb::post) r.operation = FlyOperation::acquire_lease;
    if (verb == http::verb::get) r.operation = FlyOperation::get_lease;
    if (verb == http::verb::delete_) r.operation = FlyOperation::release_lease;
  }
  return r;
}

bool authorized(const FakeFly::State& state, const Request& request) {
  const auto header = request[http::field::authorization];
  return header == "Bearer " + state.options.token || header == "FlyV1 " + state.options.token;
}

std::string nonce_header(const Request& request) { return std::string(request["fly-machine-lease-nonce"]); }

bool lease_active(FakeFly::State& state, Machine& m) {
  if (m.lease && m.lease->expires_at <= state.now_s()) m.lease.reset();
  return m.lease.has_value();
}

std::string held_by(const Lease& lease) {
  std::string text = "lease currently held by " + lease.owner;
  if (!lease.description.empty()) text += " (\"" + lease.description + "\")";
  const auto expires = Clock::time_point(std::chrono::seconds(lease.expires_at));
  text += ", expires at " + core::format_timestamp(std::chrono::time_point_cast<core::Duration>(expires));
  return text;
}

// 409 when someone else's lease is active and the request lacks its nonce.
std::optional<Response> lease_conflict(FakeFly::State& state, Machine& m, const Request& request) {
  if (!lease_active(state, m)) return std::nullopt;
  const auto nonce = nonce_header(request);
  if (nonce == m.lease->nonce) return std::nullopt;
  std::string message = held_by(*m.lease);
  if (!nonce.empty()) message += "; the fly-machine-lease-nonce sent does not match";
  return error_response(request, http::status::conflict, message);
}

json lease_json(const Lease& lease, const std::string& version) {
  return json{{"status", "success"},
              {"data",
               {{"nonce", lease.nonce},
                {"expires_at", lease.expires_at},
                {"owner", lease.owner},
                {"description", lease.description},
                {"version", version}}}};
}

Response not_found(const Request& request, const std::string& what) {
  return error_response(request, http::status::not_found, what + " not found");
}

// ---- endpoints ----

Response do_list(FakeFly::State& state, const Request& request, const FakeFlyRequest& r, const Target& target) {
  const auto app = state.apps.find(r.app);
  if (app == state.apps.end()) return not_found(request, "app " + r.app);
  const bool include_deleted = target.param("include_deleted").value_or("") == "true";
  const auto region = target.param("region");
  json out = json::array();
  for (const auto& id : app->second) {
    const auto& m = state.machines.at(id);
    if (m.state == "destroyed" && !include_deleted) continue;
    if (region && !region->empty() && m.region != *region) continue;
    bool keep = true;
    for (const auto& [key, value] : target.query) {
      if (!key.starts_with("metadata.")) continue;
      const auto wanted = key.substr(9);
      const auto metadata = string_map(m.config.contains("metadata") ? m.config["metadata"] : json());
      const auto it = metadata.find(wanted);
      if (it == metadata.end() || it->second != value) keep = false;
    }
    if (keep) out.push_back(state.machine_json(m));
  }
  return json_response(request, http::status::ok, out);
}

Response do_get(FakeFly::State& state, const Request& request, const FakeFlyRequest& r) {
  auto* m = state.find(r.app, r.machine_id);
  if (m == nullptr) return not_found(request, "machine " + r.machine_id);
  return json_response(request, http::status::ok, state.machine_json(*m));
}

std::optional<json> parse_config_body(const Request& request, std::string& problem) {
  json body = json::parse(request.body(), nullptr, false);
  if (!body.is_object()) {
    problem = "the request body is not a JSON object";
    return std::nullopt;
  }
  if (!body.contains("config") || !body["config"].is_object()) {
    problem = "the request body has no `config` object";
    return std::nullopt;
  }
  if (!body["config"].contains("image") || !body["config"]["image"].is_string() ||
      body["config"]["image"].get<std::string>().empty()) {
    problem = "invalid config: config.image is required";
    return std::nullopt;
  }
  return body;
}

Response do_update(FakeFly::State& state, const Request& request, const FakeFlyRequest& r) {
  auto* m = state.find(r.app, r.machine_id);
  if (m == nullptr || m->state == "destroyed") return not_found(request, "machine " + r.machine_id);
  std::string problem;
  auto body = parse_config_body(request, problem);
  if (!body) return error_response(request, http::status::bad_request, problem);
  if (auto conflict = lease_conflict(state, *m, request)) return std::move(*conflict);
  if (body->contains("current_version") && (*body)["current_version"].is_string()) {
    const auto expected = (*body)["current_version"].get<std::string>();
    if (!expected.empty() && expected != m->instance_id) {
      return error_response(request, http::status::conflict,
                            "current_version " + expected + " does not match the machine's version " + m->instance_id +
                                "; someone else updated it");
    }
  }
  FakeMachineUpdate record;
  record.app = m->app;
  record.machine_id = m->id;
  record.old_image = string_or(m->config, "image", "");
  record.old_instance_id = m->instance_id;
  m->replaced.insert(m->instance_id);
  m->instance_id = state.ulid();
  m->config = std::move((*body)["config"]);
  ++m->generation;
  record.new_image = string_or(m->config, "image", "");
  record.new_instance_id = m->instance_id;
  record.at = state.now();
  state.updates.push_back(record);
  state.set_checks(*m, "critical", "the machine is being replaced");
  state.push_event(*m, "update", "replacing", "user");
  state.set_state(*m, "replacing");
  state.begin_start(*m);
  return json_response(request, http::status::ok, state.machine_json(*m));
}

Response do_create(FakeFly::State& state, const Request& request, const FakeFlyRequest& r) {
  const auto app = state.apps.find(r.app);
  if (app == state.apps.end()) return not_found(request, "app " + r.app);
  std::string problem;
  auto body = parse_config_body(request, problem);
  if (!body) return error_response(request, http::status::bad_request, problem);
  Machine m;
  m.app = r.app;
  m.id = state.new_machine_id();
  m.name = string_or(*body, "name", "fake-" + m.id.substr(0, 8));
  m.region = string_or(*body, "region", state.options.default_region);
  if (m.region.empty()) m.region = state.options.default_region;
  m.private_ip = "fdaa:0:1:a7b:" + state.hex(3) + ":" + state.hex(4) + ":" + state.hex(4) + ":2";
  m.config = std::move((*body)["config"]);
  m.instance_id = state.ulid();
  m.created_at = m.updated_at = state.stamp();
  const auto& config = m.config;
  const bool auto_destroy =
      config.contains("auto_destroy") && config["auto_destroy"].is_boolean() && config["auto_destroy"].get<bool>();
  const json restart = config.contains("restart") ? config["restart"] : json();
  const bool one_off = auto_destroy || string_or(restart, "policy", "") == "no";
  if (one_off) {
    FakeOneOff record;
    record.app = m.app;
    record.machine_id = m.id;
    record.image = string_or(config, "image", "");
    if (config.contains("init") && config["init"].is_object() && config["init"].contains("cmd") &&
        config["init"]["cmd"].is_array()) {
      for (const auto& part : config["init"]["cmd"]) {
        if (part.is_string()) record.cmd.push_back(part.get<std::string>());
      }
    }
    record.env = string_map(config.contains("env") ? config["env"] : json());
    record.metadata = string_map(config.contains("metadata") ? config["metadata"] : json());
    record.auto_destroy = auto_destroy;
    record.created_at = state.now();
    m.one_off = state.one_offs.size();
    state.one_offs.push_back(std::move(record));
  }
  state.set_checks(m, "critical", "the machine has not started");
  state.push_event(m, "launch", "created", "user");
  m.state = "created";
  m.transitions.push_back(Transition{++state.seq, m.instance_id, "created"});
  const bool skip_launch =
      body->contains("skip_launch") && (*body)["skip_launch"].is_boolean() && (*body)["skip_launch"].get<bool>();
  const auto id = m.id;
  app->second.push_back(id);
  auto& stored = state.machines.emplace(id, std::move(m)).first->second;
  if (!skip_launch) {
    if (one_off) {
      state.run_one_off(stored);
    } else {
      state.schedule(std::chrono::milliseconds(0), id, stored.generation,
                     [](FakeFly::State& s, Machine& machine) { s.start_machine(machine); });
    }
  }
  return json_response(request, http::status::ok, state.machine_json(stored));
}

Response do_destroy(FakeFly::State& state, const Request& request, const FakeFlyRequest& r, const Target& target) {
  auto* m = state.find(r.app, r.machine_id);
  if (m == nullptr || m->state == "destroyed") return not_found(request, "machine " + r.machine_id);
  if (auto conflict = lease_conflict(state, *m, request)) return std::move(*conflict);
  const bool force = target.param("force").value_or("") == "true" || target.param("kill").value_or("") == "true";
  static const std::set<std::string> running = {"started", "starting", "replacing", "updating", "restarting"};
  if (!force && running.contains(m->state)) {
    return error_response(
        request, http::status::precondition_failed,
        "failed_precondition: machine " + m->id + " is " + m->state + "; stop it first or destroy with force=true");
  }
  ++m->generation;  // no scheduled change applies to a destroyed machine
  m->lease.reset();
  state.push_event(*m, "destroy", "destroyed", "user");
  state.set_checks(*m, "critical", "the machine was destroyed");
  state.set_state(*m, "destroyed");
  if (m->one_off) state.one_offs[*m->one_off].destroyed = true;
  return json_response(request, http::status::ok, json{{"ok", true}});
}

Response do_acquire_lease(FakeFly::State& state, const Request& request, const FakeFlyRequest& r,
                          const Target& target) {
  auto* m = state.find(r.app, r.machine_id);
  if (m == nullptr || m->state == "destroyed") return not_found(request, "machine " + r.machine_id);
  json body = request.body().empty() ? json::object() : json::parse(request.body(), nullptr, false);
  if (!body.is_object()) return error_response(request, http::status::bad_request, "the request body is not JSON");
  std::int64_t ttl = 30;
  if (body.contains("ttl") && body["ttl"].is_number_integer()) {
    ttl = body["ttl"].get<std::int64_t>();
  } else if (const auto query_ttl = target.param("ttl")) {
    try {
      ttl = std::stoll(*query_ttl);
    } catch (const std::exception&) {
      return error_response(request, http::status::bad_request, "ttl must be a number of seconds");
    }
  }
  if (ttl < 1) return error_response(request, http::status::bad_request, "ttl must be at least 1 second");
  const auto nonce = nonce_header(request);
  if (lease_active(state, *m)) {
    if (nonce != m->lease->nonce) return error_response(request, http::status::conflict, held_by(*m->lease));
    m->lease->expires_at = state.now_s() + ttl;  // a refresh by the holder
    return json_response(request, http::status::ok, lease_json(*m->lease, m->instance_id));
  }
  Lease lease;
  lease.nonce = state.hex(12);
  lease.owner = state.options.lease_owner;
  lease.description = string_or(body, "description", "");
  lease.expires_at = state.now_s() + ttl;
  m->lease = lease;
  return json_response(request, http::status::created, lease_json(lease, m->instance_id));
}

Response do_get_lease(FakeFly::State& state, const Request& request, const FakeFlyRequest& r) {
  auto* m = state.find(r.app, r.machine_id);
  if (m == nullptr) return not_found(request, "machine " + r.machine_id);
  if (!lease_active(state, *m)) return not_found(request, "lease");
  return json_response(request, http::status::ok, lease_json(*m->lease, m->instance_id));
}

Response do_release_lease(FakeFly::State& state, const Request& request, const FakeFlyRequest& r) {
  auto* m = state.find(r.app, r.machine_id);
  if (m == nullptr) return not_found(request, "machine " + r.machine_id);
  const auto nonce = nonce_header(request);
  if (nonce.empty()) {
    return error_response(request, http::status::bad_request, "the fly-machine-lease-nonce header is required");
  }
  if (!lease_active(state, *m)) return json_response(request, http::status::ok, json{{"ok", true}});
  if (nonce != m->lease->nonce) return error_response(request, http::status::conflict, held_by(*m->lease));
  m->lease.reset();
  return json_response(request, http::status::ok, json{{"ok", true}});
}

// nullopt: the fake stopped while the request waited.
asio::awaitable<std::optional<Response>> do_wait(std::shared_ptr<FakeFly::State> state, const Request& request,
                                                 const FakeFlyRequest& r, const Target& target) {
  auto* m = state->find(r.app, r.machine_id);
  if (m == nullptr) co_return not_found(request, "machine " + r.machine_id);
  std::set<std::string> wanted;
  for (auto [it, end] = target.query.equal_range("state"); it != end; ++it) wanted.insert(it->second);
  if (wanted.empty()) wanted.insert("started");
  for (const auto& s : wanted) {
    if (!kWaitableStates.contains(s)) {
      co_return error_response(request, http::status::bad_request,
                               "invalid state \"" + s + "\": wait for started, stopped, suspended or destroyed");
    }
  }
  const auto instance = target.param("instance_id").value_or(target.param("version").value_or(""));
  if (wanted.contains("stopped") && instance.empty()) {
    co_return error_response(request, http::status::bad_request,
                             "instance_id is required when waiting for state stopped");
  }
  long long seconds = 60;
  if (const auto timeout = target.param("timeout")) {
    try {
      seconds = std::stoll(*timeout);
    } catch (const std::exception&) {
      co_return error_response(request, http::status::bad_request, "timeout must be a number of seconds");
    }
  }
  seconds = std::clamp<long long>(seconds, 1, 300);
  std::string wanted_text;
  for (const auto& s : wanted) wanted_text += (wanted_text.empty() ? "" : "|") + s;

  const auto replaced_or_unknown = [&](const Machine& machine) -> std::optional<Response> {
    if (instance.empty() || instance == machine.instance_id) return std::nullopt;
    if (machine.replaced.contains(instance)) {
      return error_response(request, http::status::bad_request,
                            "machine version " + instance + " was replaced by " + machine.instance_id +
                                "; it will never be " + wanted_text);
    }
    return error_response(request, http::status::bad_request,
                          "instance_id " + instance + " is not a version of machine " + machine.id);
  };
  const auto destroyed = [&](const Machine& machine) -> std::optional<Response> {
    if (machine.state != "destroyed" || wanted.contains("destroyed")) return std::nullopt;
    return error_response(request, http::status::not_found, "machine " + machine.id + " has been destroyed");
  };
  const auto reached = [&](const std::string& inst, const std::string& st) {
    return wanted.contains(st) && (instance.empty() || inst == instance);
  };
  const json ok = {{"ok", true}};

  if (auto answer = replaced_or_unknown(*m)) co_return std::move(*answer);
  if (reached(m->instance_id, m->state)) co_return json_response(request, http::status::ok, ok);
  if (auto answer = destroyed(*m)) co_return std::move(*answer);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::uint64_t seen = state->seq;
  const std::string id = m->id;
  for (;;) {
    auto timer = std::make_shared<asio::steady_timer>(state->executor);
    timer->expires_at(deadline);
    state->waiters[id].push_back(timer);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!state->listener.running()) co_return std::nullopt;
    m = &state->machines.at(id);
    for (const auto& t : m->transitions) {
      if (t.seq > seen && reached(t.instance_id, t.state)) co_return json_response(request, http::status::ok, ok);
    }
    seen = state->seq;
    if (auto answer = replaced_or_unknown(*m)) co_return std::move(*answer);
    if (auto answer = destroyed(*m)) co_return std::move(*answer);
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return error_response(request, http::status::request_timeout,
                               "deadline_exceeded: machine " + id + " did not reach state " + wanted_text + " within " +
                                   std::to_string(seconds) + "s (it is " + m->state + ")");
    }
  }
}

// Holds a request until resume_all(); true: drop it unanswered.
asio::awaitable<bool> hold(std::shared_ptr<FakeFly::State> state) {
  auto h = std::make_shared<Hold>(state->executor);
  h->timer.expires_at(asio::steady_timer::time_point::max());
  {
    std::lock_guard lock(state->pause_mutex);
    state->holds.push_back(h);
  }
  ++state->paused;
  for (;;) {
    {
      std::lock_guard lock(state->pause_mutex);
      if (h->released) break;
    }
    if (!state->listener.running()) break;
    boost::system::error_code ec;
    co_await h->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  --state->paused;
  std::lock_guard lock(state->pause_mutex);
  co_return h->drop || !h->released;
}

bool pause_matches(const FakeFly::State& state, const FakeFlyRequest& r, bool after_apply) {
  std::lock_guard lock(state.pause_mutex);
  for (const auto& p : state.pauses) {
    if (p.after_apply != after_apply) continue;
    if (p.operation != FlyOperation::any && p.operation != r.operation) continue;
    if (!p.method.empty() && p.method != r.method) continue;
    if (!p.path_regex.empty() && !std::regex_search(r.path, std::regex(p.path_regex))) continue;
    return true;
  }
  return false;
}

Response do_list_secrets(FakeFly::State& state, const Request& request, const FakeFlyRequest& r, const Target& target) {
  if (target.param("show_secrets")) {
    return error_response(request, http::status::bad_request, "fake_fly never shows secret values (show_secrets)");
  }
  const auto it = state.secrets.find(r.app);
  if (it == state.secrets.end() && !state.apps.contains(r.app)) return not_found(request, "app " + r.app);
  json list = json::array();
  if (it != state.secrets.end()) {
    for (const auto& [name, secret] : it->second) {
      list.push_back(json{{"name", name},
                          {"digest", secret.digest},
                          {"created_at", secret.created_at},
                          {"updated_at", secret.updated_at}});
    }
  }
  return json_response(request, http::status::ok, json{{"secrets", list}});
}

// The /_fake/... admin routes (options.admin_routes):
//   POST   /_fake/apps/{app}/secrets         {"name", "value"}  set_secret
//   DELETE /_fake/apps/{app}/secrets/{name}                     unset_secret (404: none)
Response admin(FakeFly::State& fake, const Request& request, const Target& target) {
  const auto& s = target.segments;
  if (s.size() >= 4 && s[0] == "_fake" && s[1] == "apps" && s[3] == "secrets") {
    if (s.size() == 4 && request.method() == http::verb::post) {
      const json body = json::parse(request.body(), nullptr, false);
      if (!body.is_object() || !body.contains("name") || !body["name"].is_string() || !body.contains("value") ||
          !body["value"].is_string() || body["name"].get<std::string>().empty()) {
        return error_response(request, http::status::bad_request, "the body must be {\"name\", \"value\"}");
      }
      fake.set_secret(s[2], body["name"].get<std::string>(), body["value"].get<std::string>());
      return json_response(request, http::status::ok, json{{"ok", true}});
    }
    if (s.size() == 5 && request.method() == http::verb::delete_) {
      const bool removed = fake.unset_secret(s[2], s[4]);
      return json_response(request, removed ? http::status::ok : http::status::not_found, json{{"removed", removed}});
    }
  }
  return error_response(request, http::status::not_found, "no such admin route");
}

// nullopt: drop the connection without answering.
asio::awaitable<std::optional<Response>> handle(std::shared_ptr<FakeFly::State> state, const Request& request,
                                                std::size_t record_index) {
  const Target target = parse_target(std::string_view(request.target().data(), request.target().size()));
  const FakeFlyRequest r = state->records[record_index];

  // Injected faults: the first queued one that matches this request.
  for (auto it = state->faults.begin(); it != state->faults.end(); ++it) {
    const bool matches = it->kind == Fault::Kind::wait_timeout
                             ? r.operation == FlyOperation::wait
                             : (it->only == FlyOperation::any || it->only == r.operation);
    if (!matches) continue;
    const Fault fault = *it;
    state->faults.erase(it);
    switch (fault.kind) {
      case Fault::Kind::status:
        co_return error_response(request, static_cast<http::status>(fault.value),
                                 "injected HTTP " + std::to_string(fault.value));
      case Fault::Kind::rate_limit: {
        auto response = error_response(request, http::status::too_many_requests, "rate limit exceeded");
        response.set(http::field::retry_after, std::to_string(fault.value));
        co_return response;
      }
      case Fault::Kind::drop:
        co_return std::nullopt;
      case Fault::Kind::wait_timeout:
        co_return error_response(request, http::status::request_timeout,
                                 "deadline_exceeded: injected wait timeout for machine " + r.machine_id);
    }
  }

  if (!authorized(*state, request)) co_return error_response(request, http::status::unauthorized, "unauthorized");

  if (pause_matches(*state, r, false)) {
    const bool drop = co_await hold(state);
    if (drop) co_return std::nullopt;
  }

  std::optional<Response> response;
  switch (r.operation) {
    case FlyOperation::list:
      response = do_list(*state, request, r, target);
      break;
    case FlyOperation::create:
      response = do_create(*state, request, r);
      break;
    case FlyOperation::get:
      response = do_get(*state, request, r);
      break;
    case FlyOperation::update:
      response = do_update(*state, request, r);
      break;
    case FlyOperation::destroy:
      response = do_destroy(*state, request, r, target);
      break;
    case FlyOperation::acquire_lease:
      response = do_acquire_lease(*state, request, r, target);
      break;
    case FlyOperation::get_lease:
      response = do_get_lease(*state, request, r);
      break;
    case FlyOperation::release_lease:
      response = do_release_lease(*state, request, r);
      break;
    case FlyOperation::wait:
      response = co_await do_wait(state, request, r, target);
      break;
    case FlyOperation::list_secrets:
      response = do_list_secrets(*state, request, r, target);
      break;
    case FlyOperation::any:
    case FlyOperation::other:
      response = error_response(request, http::status::not_found, "fake_fly does not serve " + r.method + " " + r.path);
      break;
  }
  if (!response) co_return std::nullopt;
  if (pause_matches(*state, r, true)) {
    const bool drop = co_await hold(state);
    if (drop) co_return std::nullopt;
  }
  co_return response;
}

asio::awaitable<void> serve_connection(std::shared_ptr<FakeFly::State> state,
                                       std::shared_ptr<beast::tcp_stream> stream) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(4 * 1024 * 1024);
    boost::system::error_code ec;
    co_await http::async_read(*stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !state->listener.running()) break;
    Request request = parser.release();
    const Target target = parse_target(std::string_view(request.target().data(), request.target().size()));
    if (state->options.admin_routes && !target.segments.empty() && target.segments[0] == "_fake") {
      auto answer = admin(*state, request, target);
      co_await http::async_write(*stream, answer, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !answer.keep_alive()) break;
      continue;
    }
    const std::size_t index = state->records.size();
    state->records.push_back(classify(request, target));
    std::optional<Response> response;
    std::string failure;
    try {
      response = co_await handle(state, request, index);
    } catch (const std::exception& e) {  // a bug in the fake must not take the test's io_context down
      failure = e.what();
    }
    if (!failure.empty()) {
      response = error_response(request, http::status::internal_server_error, "fake_fly: " + failure);
    }
    if (!response || !state->listener.running()) break;
    state->records[index].status = response->result_int();
    if (const auto* m = state->find(state->records[index].app, state->records[index].machine_id)) {
      state->records[index].machine_state = m->state;
      state->records[index].machine_checks_passing =
          !m->checks.empty() &&
          std::ranges::all_of(m->checks, [](const json& c) { return c.value("status", std::string()) == "passing"; });
    }
    co_await http::async_write(*stream, *response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !response->keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream->socket().close(ignored);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

FakeFly::FakeFly(asio::any_io_executor executor, FakeFlyOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(options))) {}

FakeFly::~FakeFly() { stop(); }

void FakeFly::start(unsigned short port) {
  state_->listener.start(port, [state = state_](std::shared_ptr<beast::tcp_stream> stream) {
    return serve_connection(state, std::move(stream));
  });
}

void FakeFly::stop() {
  auto& s = *state_;
  s.listener.stop();
  for (auto& [id, list] : s.waiters) {
    for (auto& weak : list) {
      if (auto timer = weak.lock()) timer->cancel();
    }
  }
  s.waiters.clear();
  for (auto& weak : s.timers) {
    if (auto timer = weak.lock()) timer->cancel();
  }
  s.timers.clear();
  std::vector<std::shared_ptr<Hold>> holds;
  {
    std::lock_guard lock(s.pause_mutex);
    holds = s.holds;
  }
  for (auto& h : holds) h->timer.cancel();
}

unsigned short FakeFly::port() const { return state_->listener.port(); }

std::string FakeFly::url() const { return "http://127.0.0.1:" + std::to_string(state_->listener.port()) + "/v1"; }

void FakeFly::add_app(const std::string& app) { state_->apps.try_emplace(app); }

std::string FakeFly::add_machine(FakeMachineSpec spec) {
  auto& s = *state_;
  Machine m;
  m.app = spec.app;
  m.id = spec.id.value_or(s.new_machine_id());
  if (s.machines.contains(m.id)) throw std::invalid_argument("FakeFly::add_machine: duplicate machine id " + m.id);
  m.name = spec.name.empty() ? "fake-" + m.id.substr(0, std::min<std::size_t>(8, m.id.size())) : spec.name;
  m.region = spec.region.empty() ? s.options.default_region : spec.region;
  m.private_ip = "fdaa:0:1:a7b:" + s.hex(3) + ":" + s.hex(4) + ":" + s.hex(4) + ":2";
  json metadata = {{"fly_platform_version", "v2"}, {"fly_process_group", spec.process_group}};
  for (const auto& [key, value] : spec.metadata) metadata[key] = value;
  json checks = json::object();
  for (const auto& name : spec.checks) {
    checks[name] = {{"type", "http"},    {"port", 8080},     {"method", "GET"},     {"path", "/health"},
                    {"interval", "15s"}, {"timeout", "10s"}, {"grace_period", "5s"}};
  }
  m.config = {{"image", spec.image},
              {"env", spec.env},
              {"init", json::object()},
              {"guest", {{"cpu_kind", "shared"}, {"cpus", 1}, {"memory_mb", 256}}},
              {"metadata", metadata},
              {"services",
               json::array({json{{"protocol", "tcp"},
                                 {"internal_port", 8080},
                                 {"ports", json::array({json{{"port", 443}, {"handlers", json::array({"tls", "http"})}},
                                                        json{{"port", 80}, {"handlers", json::array({"http"})}}})}}})},
              {"checks", checks},
              {"restart", {{"policy", "on-failure"}, {"max_retries", 10}}}};
  if (spec.env.empty()) m.config["env"] = json::object();
  if (!s.options.value_marker.empty() && !spec.env.contains("FAKE_CONFIG")) {
    m.config["env"]["FAKE_CONFIG"] = "fake-config-value-" + s.options.value_marker;
  }
  m.instance_id = s.ulid();
  m.created_at = m.updated_at = s.stamp();
  s.push_event(m, "launch", "created", "user");
  m.state = spec.state;
  if (spec.state == "started") {
    s.push_event(m, "start", "started", "flyd");
    s.set_checks(m, "passing", "HTTP GET /health: 200 OK");
  } else {
    s.set_checks(m, "critical", "the machine is " + spec.state);
  }
  m.transitions.push_back(Transition{++s.seq, m.instance_id, m.state});
  s.apps[m.app].push_back(m.id);
  const auto id = m.id;
  s.machines.emplace(id, std::move(m));
  return id;
}

std::vector<nlohmann::json> FakeFly::machines(const std::string& app) const {
  std::vector<json> out;
  const auto it = state_->apps.find(app);
  if (it == state_->apps.end()) return out;
  for (const auto& id : it->second) out.push_back(state_->machine_json(state_->machines.at(id)));
  return out;
}

std::optional<nlohmann::json> FakeFly::machine(const std::string& app, const std::string& id) const {
  const auto* m = state_->find(app, id);
  if (m == nullptr) return std::nullopt;
  return state_->machine_json(*m);
}

std::vector<FakeMachineUpdate> FakeFly::updates() const { return state_->updates; }

std::vector<FakeOneOff> FakeFly::one_offs() const { return state_->one_offs; }

std::vector<FakeFlyRequest> FakeFly::requests() const { return state_->records; }

int FakeFly::request_count(FlyOperation operation) const {
  return static_cast<int>(std::ranges::count_if(state_->records, [&](const FakeFlyRequest& r) {
    return operation == FlyOperation::any || r.operation == operation;
  }));
}

void FakeFly::fail_next(int n, int http_status, FlyOperation only) {
  for (int i = 0; i < n; ++i) state_->faults.push_back({Fault::Kind::status, http_status, only});
}

void FakeFly::rate_limit_next(int n, int retry_after_seconds, FlyOperation only) {
  for (int i = 0; i < n; ++i) state_->faults.push_back({Fault::Kind::rate_limit, retry_after_seconds, only});
}

void FakeFly::drop_next(int n, FlyOperation only) {
  for (int i = 0; i < n; ++i) state_->faults.push_back({Fault::Kind::drop, 0, only});
}

void FakeFly::wait_timeout_next(int n) {
  for (int i = 0; i < n; ++i) state_->faults.push_back({Fault::Kind::wait_timeout, 408, FlyOperation::wait});
}

namespace {

Machine& require(FakeFly::State& state, const std::string& app, const std::string& id) {
  auto* m = state.find(app, id);
  if (m == nullptr) throw std::invalid_argument("FakeFly: no machine " + id + " in app " + app);
  return *m;
}

}  // namespace

void FakeFly::hold_lease(const std::string& app, const std::string& id, std::string owner, std::chrono::seconds ttl) {
  auto& m = require(*state_, app, id);
  Lease lease;
  lease.nonce = state_->hex(12);
  lease.owner = std::move(owner);
  lease.description = "held by a test";
  lease.expires_at = state_->now_s() + ttl.count();
  m.lease = std::move(lease);
}

void FakeFly::release_foreign_lease(const std::string& app, const std::string& id) {
  require(*state_, app, id).lease.reset();
}

void FakeFly::fail_to_start(const std::string& app, const std::string& id) {
  require(*state_, app, id).fail_next_start = true;
}

void FakeFly::checks_fail(const std::string& app, const std::string& id) {
  auto& m = require(*state_, app, id);
  m.checks_failing = true;
  state_->set_checks(m, "critical", "connection refused");
}

void FakeFly::checks_recover(const std::string& app, const std::string& id) {
  auto& m = require(*state_, app, id);
  m.checks_failing = false;
  if (m.state == "started") state_->set_checks(m, "passing", "HTTP GET /health: 200 OK");
}

void FakeFly::pause(PausePoint point) {
  if (!point.path_regex.empty()) (void)std::regex(point.path_regex);  // throws here on a bad pattern
  std::lock_guard lock(state_->pause_mutex);
  state_->pauses.push_back(std::move(point));
}

void FakeFly::resume_all(bool drop) {
  std::vector<std::shared_ptr<Hold>> holds;
  {
    std::lock_guard lock(state_->pause_mutex);
    state_->pauses.clear();
    holds = std::move(state_->holds);
    state_->holds.clear();
    for (auto& h : holds) {
      h->released = true;
      h->drop = drop;
    }
  }
  // Timers belong to the executor's thread: cancel them there.
  asio::post(state_->executor, [holds = std::move(holds)] {
    for (const auto& h : holds) h->timer.cancel();
  });
}

void FakeFly::clear_pauses() {
  std::lock_guard lock(state_->pause_mutex);
  state_->pauses.clear();
}

int FakeFly::paused_count() const { return state_->paused.load(); }

void FakeFly::set_secret(const std::string& app, const std::string& name, const std::string& value) {
  state_->set_secret(app, name, value);
}

bool FakeFly::unset_secret(const std::string& app, const std::string& name) { return state_->unset_secret(app, name); }

std::vector<FakeSecret> FakeFly::secrets(const std::string& app) const {
  std::vector<FakeSecret> out;
  if (const auto it = state_->secrets.find(app); it != state_->secrets.end()) {
    for (const auto& [name, secret] : it->second) out.push_back(secret);
  }
  return out;
}

nlohmann::json FakeFly::state_json() const {
  json apps = json::object();
  for (const auto& [app, list] : state_->secrets) {
    json out = json::array();
    for (const auto& [name, secret] : list) {
      out.push_back(json{{"name", name},
                         {"value", secret.value},
                         {"digest", secret.digest},
                         {"created_at", secret.created_at},
                         {"updated_at", secret.updated_at}});
    }
    apps[app] = std::move(out);
  }
  return json{{"secrets", apps}};
}

std::expected<void, std::string> FakeFly::load_state_json(const nlohmann::json& state) {
  if (!state.is_object() || !state.contains("secrets") || !state["secrets"].is_object()) {
    return std::unexpected("state has no \"secrets\" object");
  }
  std::map<std::string, std::map<std::string, FakeSecret>> loaded;
  for (const auto& [app, list] : state["secrets"].items()) {
    if (!list.is_array()) return std::unexpected("secrets of app " + app + " are not an array");
    for (const auto& item : list) {
      FakeSecret secret;
      for (auto [key, field] :
           {std::pair{"name", &secret.name}, std::pair{"value", &secret.value}, std::pair{"digest", &secret.digest},
            std::pair{"created_at", &secret.created_at}, std::pair{"updated_at", &secret.updated_at}}) {
        if (!item.is_object() || !item.contains(key) || !item[key].is_string()) {
          return std::unexpected(std::string("a secret has no string \"") + key + "\"");
        }
        *field = item[key].get<std::string>();
      }
      loaded[app][secret.name] = std::move(secret);
    }
  }
  for (const auto& [app, list] : loaded) state_->apps.try_emplace(app);
  state_->secrets = std::move(loaded);
  return {};
}

void FakeFly::on_change(std::function<void()> callback) { state_->change_callback = std::move(callback); }

}  // namespace promoter::fakes
