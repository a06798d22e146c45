#include "tests/fakes/fake_railway.hpp"

#include "tests/fakes/fake_listener.hpp"

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <deque>
#include <list>
#include <map>
#include <random>
#include <set>

#include "adapters/http_client.hpp"
#include "core/time.hpp"

namespace promoter::fakes {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using adapters::AdapterError;
using nlohmann::json;

namespace {

// ---------------------------------------------------------------------------------------------
// A small GraphQL reader: enough of the language for the documents clients send (operations,
// variable definitions with defaults, aliases, arguments with any literal or $variable, nested
// selection sets, directives skipped). Fragments are refused: promoter does not send them.

struct Field {
  std::string alias;  // response key (the name when no alias)
  std::string name;
  json args = json::object();
  std::vector<Field> selections;
};

struct Operation {
  std::string type;  // query | mutation | subscription
  std::string name;
  std::vector<Field> selections;
};

class Reader {
 public:
  Reader(std::string_view text, const json& variables) : text_(text), variables_(variables) {}

  // The operation named `wanted` (or the only one when wanted is empty).
  Operation read_document(std::string_view wanted) {
    std::vector<Operation> operations;
    skip();
    while (pos_ < text_.size()) {
      operations.push_back(read_operation());
      skip();
    }
    if (operations.empty()) fail("the document has no operation");
    if (wanted.empty()) {
      if (operations.size() > 1) fail("several operations and no operationName");
      return std::move(operations.front());
    }
    for (auto& op : operations) {
      if (op.name == wanted) return std::move(op);
    }
    fail("no operation named \"" + std::string(wanted) + "\" in the document");
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw std::runtime_error("Syntax Error: " + message + " (at offset " + std::to_string(pos_) + ")");
  }

  void skip() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '\xef' || c == '\xbb' || c == '\xbf') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  bool peek(char c) {
    skip();
    return pos_ < text_.size() && text_[pos_] == c;
  }

  bool accept(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }

  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }

  bool peek_name() {
    skip();
    return pos_ < text_.size() && (std::isalpha(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_');
  }

  std::string name() {
    if (!peek_name()) fail("expected a name");
    const auto start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  Operation read_operation() {
    Operation op;
    if (peek('{')) {
      op.type = "query";
    } else {
      op.type = name();
      if (op.type == "fragment") fail("fragments are not supported by the fake");
      if (op.type != "query" && op.type != "mutation" && op.type != "subscription") {
        fail("unknown definition \"" + op.type + "\"");
      }
      if (peek_name()) op.name = name();
      if (accept('(')) read_variable_definitions();
      skip_directives();
    }
    op.selections = read_selection_set();
    return op;
  }

  void read_variable_definitions() {
    while (!accept(')')) {
      expect('$');
      const auto variable = name();
      expect(':');
      read_type();
      if (accept('=')) {
        auto fallback = read_value(true);
        if (!variables_.contains(variable)) defaults_[variable] = std::move(fallback);
      }
      skip_directives();
      if (pos_ >= text_.size()) fail("unterminated variable definitions");
    }
  }

  void read_type() {
    if (accept('[')) {
      read_type();
      expect(']');
    } else {
      name();
    }
    accept('!');
  }

  void skip_directives() {
    while (accept('@')) {
      name();
      if (accept('(')) read_arguments();
    }
  }

  json read_arguments() {
    json args = json::object();
    while (!accept(')')) {
      const auto key = name();
      expect(':');
      args[key] = read_value(false);
      if (pos_ >= text_.size()) fail("unterminated arguments");
    }
    return args;
  }

  json read_value(bool constant) {
    skip();
    if (pos_ >= text_.size()) fail("expected a value");
    const char c = text_[pos_];
    if (c == '$') {
      if (constant) fail("a variable in a constant value");
      ++pos_;
      const auto variable = name();
      if (variables_.is_object() && variables_.contains(variable)) return variables_[variable];
      if (const auto it = defaults_.find(variable); it != defaults_.end()) return it->second;
      return nullptr;
    }
    if (c == '"') return read_string();
    if (c == '[') {
      ++pos_;
      json list = json::array();
      while (!accept(']')) {
        list.push_back(read_value(constant));
        if (pos_ >= text_.size()) fail("unterminated list");
      }
      return list;
    }
    if (c == '{') {
      ++pos_;
      json object = json::object();
      while (!accept('}')) {
        const auto key = name();
        expect(':');
        object[key] = read_value(constant);
        if (pos_ >= text_.size()) fail("unterminated object");
      }
      return object;
    }
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      const auto start = pos_++;
      bool is_float = false;
      while (pos_ < text_.size() &&
             (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' || text_[pos_] == 'e' ||
              text_[pos_] == 'E' || text_[pos_] == '+' || text_[pos_] == '-')) {
        is_float = is_float || !std::isdigit(static_cast<unsigned char>(text_[pos_]));
        ++pos_;
      }
      const std::string number(text_.substr(start, pos_ - start));
      try {
        if (is_float) return std::stod(number);
        return std::stoll(number);
      } catch (const std::exception&) {
        fail("bad number " + number);
      }
    }
    const auto word = name();
    if (word == "true") return true;
    if (word == "false") return false;
    if (word == "null") return nullptr;
    return word;  // an enum value
  }

  std::string read_string() {
    ++pos_;  // opening quote
    if (text_.substr(pos_, 2) == "\"\"") fail("block strings are not supported by the fake");
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c == '\\' && pos_ < text_.size()) {
        const char e = text_[pos_++];
        switch (e) {
          case 'n':
            c = '\n';
            break;
          case 't':
            c = '\t';
            break;
          case 'r':
            c = '\r';
            break;
          case 'b':
            c = '\b';
            break;
          case 'f':
            c = '\f';
            break;
          case 'u':
            fail("\\u escapes are not supported by the fake");
          default:
            c = e;
            break;
        }
      }
      out += c;
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }

  std::vector<Field> read_selection_set() {
    expect('{');
    std::vector<Field> fields;
    while (!accept('}')) {
      if (pos_ >= text_.size()) fail("unterminated selection set");
      if (peek('.')) fail("fragments are not supported by the fake");
      Field field;
      field.name = name();
      if (accept(':')) {
        field.alias = field.name;
        field.name = name();
      } else {
        field.alias = field.name;
      }
      if (accept('(')) field.args = read_arguments();
      skip_directives();
      if (peek('{')) field.selections = read_selection_set();
      fields.push_back(std::move(field));
    }
    if (fields.empty()) fail("empty selection set");
    return fields;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  const json& variables_;
  std::map<std::string, json> defaults_;
};

// Thrown while resolving: becomes one entry of the answer's `errors`.
struct GraphqlError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Keeps only the selected fields, as a GraphQL server does. `full` holds every field the fake knows.
json project(const json& full, const std::vector<Field>& selections, std::string_view type) {
  if (selections.empty() || full.is_null()) return full;
  if (full.is_array()) {
    json out = json::array();
    for (const auto& item : full) out.push_back(project(item, selections, type));
    return out;
  }
  if (!full.is_object()) throw GraphqlError("Field of type \"" + std::string(type) + "\" must not have a selection");
  json out = json::object();
  for (const auto& field : selections) {
    if (field.name == "__typename") {
      out[field.alias] = full.value("__typename", std::string(type));
      continue;
    }
    if (!full.contains(field.name)) {
      throw GraphqlError("Cannot query field \"" + field.name + "\" on type \"" +
                         full.value("__typename", std::string(type)) + "\".");
    }
    out[field.alias] = project(full[field.name], field.selections, field.name);
  }
  return out;
}

std::string arg_string(const Field& field, const std::string& key, bool required) {
  if (field.args.contains(key) && field.args[key].is_string()) return field.args[key].get<std::string>();
  if (required) {
    throw GraphqlError("Argument \"" + key + "\" of required type \"String!\" was not provided to \"" + field.name +
                       "\".");
  }
  return "";
}

std::string webhook_suffix(std::string_view status) {
  static const std::map<std::string_view, std::string_view> suffixes = {
      {"SUCCESS", "deployed"},
      {"FAILED", "failed"},
      {"CRASHED", "crashed"},
      {"BUILDING", "building"},
      {"DEPLOYING", "deploying"},
      {"QUEUED", "queued"},
      {"WAITING", "waiting"},
      {"REMOVED", "removed"},
      {"REMOVING", "removing"},
      {"SLEEPING", "slept"},
      {"SKIPPED", "skipped"},
      {"INITIALIZING", "initializing"},
      {"NEEDS_APPROVAL", "needsApproval"},
  };
  const auto it = suffixes.find(status);
  if (it != suffixes.end()) return std::string(it->second);
  std::string out;
  for (const char c : status) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

json optional_json(const std::optional<std::string>& value) { return value ? json(*value) : json(nullptr); }

std::optional<std::string> optional_string(const json& object, const char* key) {
  if (object.contains(key) && object[key].is_string()) return object[key].get<std::string>();
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct FakeRailway::State : std::enable_shared_from_this<FakeRailway::State> {
  struct Fault {
    enum class Kind { status, status_after_effect, rate_limit, delay, graphql_error, drop } kind;
    int status = 500;
    std::chrono::milliseconds delay{0};
    std::string message;
  };
  struct Progress {
    int reads = 0;
    int reads_to_finish = 0;
    std::string final_status;
  };

  State(asio::any_io_executor ex, FakeRailwayOptions opts)
      : executor(std::move(ex)), options(std::move(opts)), listener(executor), webhook_client(executor, [] {
          adapters::HttpClientOptions o;
          o.connect_timeout = std::chrono::seconds(2);
          o.request_timeout = std::chrono::seconds(10);
          o.retry.max_attempts = 3;
          o.retry.base_backoff = std::chrono::milliseconds(100);
          o.retry.max_backoff = std::chrono::seconds(1);
          o.user_agent = "fake-railway-webhooks";
          return o;
        }()) {
    if (!options.now) options.now = [] { return std::chrono::system_clock::now(); };
  }

  asio::any_io_executor executor;
  FakeRailwayOptions options;
  FakeListener listener;

  std::vector<FakeDeployment> deployments;
  std::map<std::string, Progress> progress;
  std::map<std::string, std::vector<FakeVariable>> variables;
  int value_reads = 0;
  std::map<std::string, std::string> service_names, environment_names, project_names;
  std::uint64_t next_id = 1;
  core::Timestamp last_created{};
  std::function<void()> change_callback;

  std::deque<Fault> faults;
  std::map<std::string, int, std::less<>> counts;
  int total = 0;
  std::vector<FakeRequestRecord> records;

  adapters::HttpClient webhook_client;
  std::optional<std::string> webhook_url;
  WebhookShape webhook_shape = WebhookShape::current;
  std::deque<std::string> webhook_queue;
  bool webhook_worker_running = false;
  int delivered = 0;
  int failed = 0;

  FakeDeployment* find(const std::string& id) {
    const auto it = std::ranges::find(deployments, id, &FakeDeployment::id);
    return it == deployments.end() ? nullptr : &*it;
  }

  std::string timestamp_now() {
    auto now = std::chrono::time_point_cast<core::Duration>(options.now());
    if (now <= last_created) now = last_created + core::Duration{1};
    last_created = now;
    return core::format_timestamp(now);
  }

  void changed() {
    if (change_callback) change_callback();
  }

  std::string marked(const std::string& value) const {
    return options.value_marker.empty() ? value : value + "-" + options.value_marker;
  }

  // A variable as stored: value marked, missing times now.
  FakeVariable stored(FakeVariable v) {
    v.value = marked(v.value);
    if (v.created_at.empty()) v.created_at = timestamp_now();
    if (v.updated_at.empty()) v.updated_at = v.created_at;
    return v;
  }

  void upsert_variable(const std::string& environment_id, FakeVariable v) {
    auto& list = variables[environment_id];
    const auto it = std::ranges::find_if(
        list, [&](const FakeVariable& old) { return old.name == v.name && old.service_id == v.service_id; });
    if (it == list.end()) {
      list.push_back(stored(std::move(v)));
    } else {
      it->value = marked(v.value);
      it->sealed = v.sealed;
      it->updated_at = v.updated_at.empty() ? timestamp_now() : v.updated_at;
    }
    changed();
  }

  bool remove_variable(const std::string& environment_id, const std::optional<std::string>& service_id,
                       const std::string& name) {
    const auto env = variables.find(environment_id);
    if (env == variables.end()) return false;
    const auto removed =
        std::erase_if(env->second, [&](const FakeVariable& v) { return v.name == name && v.service_id == service_id; });
    if (removed > 0) changed();
    return removed > 0;
  }

  void emit(const FakeDeployment& deployment);

  void apply_status(FakeDeployment& deployment, const std::string& status) {
    deployment.status = status;
    emit(deployment);
    if (status == "SUCCESS" && options.remove_superseded) {
      for (auto& other : deployments) {
        if (other.id != deployment.id && other.status == "SUCCESS" && other.service_id == deployment.service_id &&
            other.environment_id == deployment.environment_id) {
          other.status = "REMOVED";
          emit(other);
        }
      }
    }
    changed();
  }

  std::string add(FakeDeploymentSpec spec) {
    FakeDeployment d;
    d.id = spec.id ? *spec.id : "fake-dep-" + std::to_string(next_id++);
    d.project_id = spec.project_id.empty() ? options.default_project_id : spec.project_id;
    d.environment_id = std::move(spec.environment_id);
    d.service_id = std::move(spec.service_id);
    d.created_at = timestamp_now();
    d.commit_hash = std::move(spec.commit_hash);
    d.commit_author = std::move(spec.commit_author);
    d.commit_message = std::move(spec.commit_message);
    d.branch = std::move(spec.branch);
    deployments.push_back(d);
    apply_status(deployments.back(), spec.status);
    return d.id;
  }

  json node_json(const FakeDeployment& d) const {
    json meta = json::object();
    if (d.commit_hash) meta["commitHash"] = *d.commit_hash;
    if (d.commit_author) meta["commitAuthor"] = *d.commit_author;
    if (d.commit_message) meta["commitMessage"] = *d.commit_message;
    if (d.branch) meta["branch"] = *d.branch;
    return json{
        {"__typename", "Deployment"},
        {"id", d.id},
        {"status", d.status},
        {"createdAt", d.created_at},
        {"updatedAt", d.created_at},
        {"statusUpdatedAt", d.created_at},
        {"serviceId", d.service_id},
        {"environmentId", d.environment_id},
        {"projectId", d.project_id},
        {"staticUrl", nullptr},
        {"url", nullptr},
        {"canRedeploy", true},
        {"canRollback", true},
        {"deploymentStopped", d.status == "REMOVED" || d.status == "FAILED" || d.status == "CRASHED"},
        {"meta", meta.empty() ? json(nullptr) : meta},
    };
  }

  json resolve_deployments(const Field& field) const {
    const json input = field.args.contains("input") ? field.args["input"] : json();
    if (!input.is_object()) {
      throw GraphqlError("Argument \"input\" of required type \"DeploymentListInput!\" was not provided.");
    }
    const auto match = [&](const char* key, const std::string& value) {
      return !input.contains(key) || input[key].is_null() || (input[key].is_string() && input[key] == value);
    };
    std::set<std::string> in, not_in;
    if (input.contains("status") && input["status"].is_object()) {
      for (const auto& s : input["status"].value("in", json::array())) in.insert(s.get<std::string>());
      for (const auto& s : input["status"].value("notIn", json::array())) not_in.insert(s.get<std::string>());
    }
    std::vector<const FakeDeployment*> selected;
    for (const auto& d : deployments) {
      if (!match("projectId", d.project_id) || !match("environmentId", d.environment_id) ||
          !match("serviceId", d.service_id)) {
        continue;
      }
      if (!in.empty() && !in.contains(d.status)) continue;
      if (not_in.contains(d.status)) continue;
      selected.push_back(&d);
    }
    // Newest `first`, then answered oldest first on purpose: Railway promises no order.
    std::ranges::reverse(selected);
    if (field.args.contains("first") && field.args["first"].is_number_integer()) {
      const auto first = std::max<long long>(0, field.args["first"].get<long long>());
      if (static_cast<std::size_t>(first) < selected.size()) selected.resize(static_cast<std::size_t>(first));
    }
    std::ranges::reverse(selected);
    json edges = json::array();
    for (const auto* d : selected) edges.push_back(json{{"cursor", d->id}, {"node", node_json(*d)}});
    return json{
        {"edges", edges},
        {"pageInfo",
         {{"hasNextPage", false}, {"hasPreviousPage", false}, {"startCursor", nullptr}, {"endCursor", nullptr}}}};
  }

  json resolve_deployment(const Field& field) {
    const auto id = arg_string(field, "id", true);
    auto* d = find(id);
    if (d == nullptr) throw GraphqlError("Deployment not found");
    if (auto it = progress.find(id); it != progress.end()) {
      auto& p = it->second;
      ++p.reads;
      if (p.reads >= p.reads_to_finish) {
        const auto final_status = p.final_status;
        progress.erase(it);
        apply_status(*d, final_status);
      } else if (p.reads * 2 >= p.reads_to_finish && d->status == "BUILDING") {
        apply_status(*d, "DEPLOYING");
      }
    }
    return node_json(*d);
  }

  json resolve_deploy(const Field& field) {
    const auto service_id = arg_string(field, "serviceId", true);
    const auto environment_id = arg_string(field, "environmentId", true);
    const auto commit = arg_string(field, "commitSha", false);
    FakeDeploymentSpec spec;
    spec.service_id = service_id;
    spec.environment_id = environment_id;
    for (const auto& d : deployments) {  // the project of the service's earlier deployments
      if (d.service_id == service_id && d.environment_id == environment_id) spec.project_id = d.project_id;
    }
    if (!commit.empty()) spec.commit_hash = commit;
    spec.commit_message = "deployed through the API";
    const int reads = options.deploy_reads_to_finish;
    spec.status = reads > 0 ? "BUILDING" : options.deploy_final_status;
    const auto id = add(std::move(spec));
    if (reads > 0) progress[id] = Progress{0, reads, options.deploy_final_status};
    return id;
  }

  json resolve_environment(const Field& field) const {
    const auto id = arg_string(field, "id", true);
    const auto vars_it = variables.find(id);
    const bool known = vars_it != variables.end() ||
                       std::ranges::any_of(deployments, [&](const auto& d) { return d.environment_id == id; });
    if (!known) throw GraphqlError("Environment not found");
    // Pagination of the nested `variables(first, after)` field.
    json args = json::object();
    for (const auto& child : field.selections) {
      if (child.name == "variables") args = child.args;
    }
    const std::vector<FakeVariable> empty;
    const auto& all = vars_it == variables.end() ? empty : vars_it->second;
    std::size_t start = 0;
    if (args.contains("after") && args["after"].is_string()) {
      start = std::stoul(args["after"].get<std::string>()) + 1;
    }
    std::size_t count = all.size() - std::min(start, all.size());
    if (args.contains("first") && args["first"].is_number_integer()) {
      count = std::min<std::size_t>(count, static_cast<std::size_t>(std::max(0, args["first"].get<int>())));
    }
    json edges = json::array();
    for (std::size_t i = start; i < start + count; ++i) {
      const auto& v = all[i];
      edges.push_back(json{{"cursor", std::to_string(i)},
                           {"node",
                            {{"__typename", "Variable"},
                             {"id", id + "/" + v.name},
                             {"name", v.name},
                             {"serviceId", optional_json(v.service_id)},
                             {"environmentId", id},
                             {"createdAt", v.created_at},
                             {"updatedAt", v.updated_at},
                             {"isSealed", v.sealed}}}});
    }
    const bool more = start + count < all.size();
    json page_info = {{"hasNextPage", more},
                      {"hasPreviousPage", start > 0},
                      {"startCursor", count > 0 ? json(std::to_string(start)) : json(nullptr)},
                      {"endCursor", count > 0 ? json(std::to_string(start + count - 1)) : json(nullptr)}};
    const auto name_it = environment_names.find(id);
    return json{{"__typename", "Environment"},
                {"id", id},
                {"name", name_it == environment_names.end() ? id : name_it->second},
                {"isEphemeral", false},
                {"variables", {{"edges", edges}, {"pageInfo", page_info}}}};
  }

  // Root `variables(projectId, environmentId, serviceId)`: the name -> value map Railway answers (shared
  // variables, overridden by the service's own when serviceId is given). Counted: promoter must never ask.
  json resolve_variable_values(const Field& field) {
    ++value_reads;
    arg_string(field, "projectId", true);
    const auto environment_id = arg_string(field, "environmentId", true);
    const auto service_id = arg_string(field, "serviceId", false);
    if (!field.selections.empty()) {
      throw GraphqlError(
          "Field \"variables\" must not have a selection since type \"EnvironmentVariables!\" has no "
          "subfields.");
    }
    json out = json::object();
    const auto it = variables.find(environment_id);
    if (it == variables.end()) return out;
    for (const auto& v : it->second) {
      if (!v.service_id) out[v.name] = v.value;
    }
    for (const auto& v : it->second) {
      if (v.service_id && !service_id.empty() && *v.service_id == service_id) out[v.name] = v.value;
    }
    return out;
  }

  // Answers one GraphQL request body (after auth and faults): the JSON to send with 200.
  json answer(const Operation& op) {
    json data = json::object();
    json errors = json::array();
    for (const auto& field : op.selections) {
      try {
        json full;
        std::string type;
        if (field.name == "__typename") {
          data[field.alias] = op.type == "mutation" ? "Mutation" : "Query";
          continue;
        } else if (op.type == "query" && field.name == "deployments") {
          full = resolve_deployments(field);
          type = "QueryDeploymentsConnection";
        } else if (op.type == "query" && field.name == "deployment") {
          full = resolve_deployment(field);
          type = "Deployment";
        } else if (op.type == "query" && field.name == "variables") {
          full = resolve_variable_values(field);
          type = "EnvironmentVariables";
        } else if (op.type == "query" && field.name == "environment") {
          full = resolve_environment(field);
          type = "Environment";
        } else if (op.type == "mutation" && field.name == "serviceInstanceDeployV2") {
          if (!field.selections.empty()) {
            throw GraphqlError(
                "Field \"serviceInstanceDeployV2\" must not have a selection since type "
                "\"String!\" has no subfields.");
          }
          full = resolve_deploy(field);
          type = "String";
        } else {
          throw GraphqlError("Cannot query field \"" + field.name + "\" on type \"" +
                             (op.type == "mutation" ? "Mutation" : "Query") + "\" (not faked).");
        }
        data[field.alias] = project(full, field.selections, type);
      } catch (const std::exception& e) {  // GraphqlError, or json type errors on odd input
        errors.push_back(json{{"message", e.what()}, {"path", json::array({field.alias})}});
        data[field.alias] = nullptr;
      }
    }
    json body = {{"data", data}};
    if (!errors.empty()) body["errors"] = errors;
    return body;
  }

  bool authorized(const http::request<http::string_body>& request) const {
    if (options.token_kind == adapters::RailwayTokenKind::project) {
      return request["Project-Access-Token"] == options.token;
    }
    return request[http::field::authorization] == "Bearer " + options.token;
  }
};

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response json_response(const Request& request, http::status status, const json& body) {
  Response response{status, request.version()};
  response.set(http::field::content_type, "application/json");
  response.set("X-RateLimit-Limit", "1000");
  response.set("X-RateLimit-Remaining", "999");
  response.body() = body.dump(-1, ' ', false, json::error_handler_t::replace);
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

json error_body(const std::string& message) { return json{{"errors", json::array({json{{"message", message}}})}}; }

asio::awaitable<void> pause(asio::any_io_executor executor, std::chrono::milliseconds delay) {
  asio::steady_timer timer(executor);
  timer.expires_after(delay);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// The /_fake/... admin routes (options.admin_routes): not counted, not recorded, no auth.
//   POST   /_fake/variables    {"environment_id", "service_id": string|null, "name", "value", "sealed"?}  upsert
//   DELETE /_fake/variables    {"environment_id", "service_id": string|null, "name"}                    remove
//   GET    /_fake/value-reads  {"value_reads": N}
Response admin(FakeRailway::State& state, const Request& request) {
  const std::string path(request.target());
  if (path == "/_fake/value-reads" && request.method() == http::verb::get) {
    return json_response(request, http::status::ok, json{{"value_reads", state.value_reads}});
  }
  if (path != "/_fake/variables" || (request.method() != http::verb::post && request.method() != http::verb::delete_)) {
    return json_response(request, http::status::not_found, error_body("no such admin route"));
  }
  const json body = json::parse(request.body(), nullptr, false);
  const auto environment_id = optional_string(body, "environment_id");
  const auto name = optional_string(body, "name");
  const bool service_ok = body.is_object() && body.contains("service_id") &&
                          (body["service_id"].is_string() || body["service_id"].is_null());
  if (!environment_id || !name || !service_ok) {
    return json_response(
        request, http::status::bad_request,
        error_body("the body must be {\"environment_id\", \"service_id\": string or null, \"name\", ...}"));
  }
  const auto service_id = optional_string(body, "service_id");
  if (request.method() == http::verb::delete_) {
    const bool removed = state.remove_variable(*environment_id, service_id, *name);
    return json_response(request, removed ? http::status::ok : http::status::not_found, json{{"removed", removed}});
  }
  const auto value = optional_string(body, "value");
  if (!value) return json_response(request, http::status::bad_request, error_body("\"value\" must be a string"));
  FakeVariable variable;
  variable.name = *name;
  variable.service_id = service_id;
  variable.value = *value;
  variable.sealed = body.value("sealed", false);
  state.upsert_variable(*environment_id, std::move(variable));
  return json_response(request, http::status::ok, json{{"ok", true}});
}

// nullopt: drop the connection without answering.
asio::awaitable<std::optional<Response>> handle(std::shared_ptr<FakeRailway::State> state, const Request& request) {
  if (state->options.admin_routes && request.target().starts_with("/_fake/")) co_return admin(*state, request);
  if (request.target() != "/graphql/v2" && request.target() != "/graphql/v2/") {
    co_return json_response(request, http::status::not_found, error_body("Not Found"));
  }
  if (request.method() != http::verb::post) {
    co_return json_response(request, http::status::method_not_allowed, error_body("Use POST"));
  }
  ++state->total;
  json body = json::parse(request.body(), nullptr, false);
  FakeRequestRecord record;
  std::string document;
  if (body.is_object()) {
    if (body.contains("operationName") && body["operationName"].is_string()) {
      record.operation = body["operationName"].get<std::string>();
    }
    if (body.contains("variables")) record.variables = body["variables"];
    if (body.contains("query") && body["query"].is_string()) document = body["query"].get<std::string>();
  }
  if (record.variables.is_null()) record.variables = json::object();
  record.authorized = state->authorized(request);

  // The operation, from the document when operationName is absent.
  std::optional<Operation> operation;
  std::string parse_error;
  try {
    Reader reader(document, record.variables);
    operation = reader.read_document(record.operation);
    if (record.operation.empty()) record.operation = operation->name;
  } catch (const std::exception& e) {
    parse_error = e.what();
  }
  ++state->counts[record.operation];
  state->records.push_back(record);

  if (!state->faults.empty()) {
    const auto fault = state->faults.front();
    state->faults.pop_front();
    using Kind = FakeRailway::State::Fault::Kind;
    switch (fault.kind) {
      case Kind::status:
        co_return json_response(request, static_cast<http::status>(fault.status),
                                error_body("injected HTTP " + std::to_string(fault.status)));
      case Kind::status_after_effect:
        if (operation && record.authorized) state->answer(*operation);
        co_return json_response(request, static_cast<http::status>(fault.status),
                                error_body("injected HTTP " + std::to_string(fault.status)));
      case Kind::rate_limit: {
        auto response = json_response(request, http::status::too_many_requests,
                                      error_body("You are being ratelimited. Please try again later"));
        response.set(http::field::retry_after, std::to_string(fault.status));
        response.set("X-RateLimit-Remaining", "0");
        co_return response;
      }
      case Kind::graphql_error: {
        json answer = error_body(fault.message);
        answer["data"] = nullptr;
        co_return json_response(request, http::status::ok, answer);
      }
      case Kind::drop:
        co_return std::nullopt;
      case Kind::delay:
        co_await pause(state->executor, fault.delay);
        break;
    }
  }

  if (!body.is_object() || document.empty()) {
    co_return json_response(request, http::status::bad_request,
                            error_body("POST body must be JSON with a \"query\" string"));
  }
  if (!record.authorized) {
    json answer = error_body("Not Authorized");
    answer["data"] = nullptr;
    co_return json_response(request, http::status::ok, answer);
  }
  if (!operation) co_return json_response(request, http::status::bad_request, error_body(parse_error));
  co_return json_response(request, http::status::ok, state->answer(*operation));
}

asio::awaitable<void> serve_connection(std::shared_ptr<FakeRailway::State> state,
                                       std::shared_ptr<beast::tcp_stream> stream) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    boost::system::error_code ec;
    co_await http::async_read(*stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    Request request = parser.release();
    std::optional<Response> response;
    std::string failure;
    try {
      response = co_await handle(state, request);
      if (!response) break;
    } catch (const std::exception& e) {  // a bug in the fake must not take the test's io_context down
      failure = e.what();
    }
    if (!failure.empty()) {
      response = json_response(request, http::status::internal_server_error, error_body("fake: " + failure));
    }
    co_await http::async_write(*stream, *response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !response->keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream->socket().close(ignored);
}

asio::awaitable<std::expected<int, AdapterError>> post_webhook(std::shared_ptr<FakeRailway::State> state,
                                                               std::string url, std::string body) {
  adapters::HttpRequestSpec spec;
  spec.method = adapters::HttpMethod::post;
  spec.url = std::move(url);
  spec.body = std::move(body);
  spec.idempotent = true;  // Railway retries webhooks too
  spec.headers = {{"Content-Type", "application/json"}};
  auto result = co_await state->webhook_client.request(std::move(spec));
  if (!result) co_return std::unexpected(std::move(result.error()));
  co_return result->status;
}

asio::awaitable<void> webhook_worker(std::shared_ptr<FakeRailway::State> state) {
  while (!state->webhook_queue.empty()) {
    auto body = std::move(state->webhook_queue.front());
    state->webhook_queue.pop_front();
    if (!state->webhook_url) continue;
    auto result = co_await post_webhook(state, *state->webhook_url, std::move(body));
    if (result && *result >= 200 && *result < 400) {
      ++state->delivered;
    } else {
      ++state->failed;
    }
  }
  state->webhook_worker_running = false;
}

}  // namespace

namespace {

std::string name_or_id(const std::map<std::string, std::string>& names, const std::string& id) {
  const auto it = names.find(id);
  return it == names.end() ? id : it->second;
}

std::string build_webhook_payload(const FakeRailway::State& state, const FakeDeployment& d, WebhookShape shape,
                                  const std::string& timestamp) {
  const auto project_name = name_or_id(state.project_names, d.project_id);
  const auto environment_name = name_or_id(state.environment_names, d.environment_id);
  const auto service_name = name_or_id(state.service_names, d.service_id);
  if (shape == WebhookShape::legacy) {
    json meta = json::object();
    if (d.commit_hash) meta["commitHash"] = *d.commit_hash;
    if (d.commit_author) meta["commitAuthor"] = *d.commit_author;
    if (d.commit_message) meta["commitMessage"] = *d.commit_message;
    if (d.branch) meta["branch"] = *d.branch;
    return json{
        {"type", "DEPLOY"},
        {"status", d.status},
        {"timestamp", timestamp},
        {"project", {{"id", d.project_id}, {"name", project_name}, {"createdAt", d.created_at}}},
        {"environment", {{"id", d.environment_id}, {"name", environment_name}}},
        {"deployment",
         {{"id", d.id}, {"creator", {{"id", "user-fake"}, {"name", "Fake Railway"}, {"avatar", ""}}}, {"meta", meta}}},
        {"service", {{"id", d.service_id}, {"name", service_name}}}}
        .dump();
  }
  const bool bad = d.status == "FAILED" || d.status == "CRASHED";
  return json{{"type", "Deployment." + webhook_suffix(d.status)},
              {"details",
               {{"id", d.id},
                {"source", "GitHub"},
                {"status", d.status},
                {"branch", optional_json(d.branch)},
                {"commitHash", optional_json(d.commit_hash)},
                {"commitAuthor", optional_json(d.commit_author)},
                {"commitMessage", optional_json(d.commit_message)}}},
              {"resource",
               {{"workspace", {{"id", "workspace-fake"}, {"name", "fake"}}},
                {"project", {{"id", d.project_id}, {"name", project_name}}},
                {"environment", {{"id", d.environment_id}, {"name", environment_name}, {"isEphemeral", false}}},
                {"service", {{"id", d.service_id}, {"name", service_name}}},
                {"deployment", {{"id", d.id}}}}},
              {"severity", bad ? "WARNING" : "INFO"},
              {"timestamp", timestamp}}
      .dump();
}

}  // namespace

void FakeRailway::State::emit(const FakeDeployment& deployment) {
  if (!webhook_url) return;
  const auto now = core::format_timestamp(std::chrono::time_point_cast<core::Duration>(options.now()));
  webhook_queue.push_back(build_webhook_payload(*this, deployment, webhook_shape, now));
  if (!webhook_worker_running) {
    webhook_worker_running = true;
    asio::co_spawn(executor, webhook_worker(shared_from_this()), asio::detached);
  }
}

// ---------------------------------------------------------------------------------------------

FakeRailway::FakeRailway(asio::any_io_executor executor, FakeRailwayOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(options))) {}

FakeRailway::~FakeRailway() { stop(); }

void FakeRailway::start(unsigned short port) {
  state_->listener.start(port, [state = state_](std::shared_ptr<beast::tcp_stream> stream) {
    return serve_connection(state, std::move(stream));
  });
}

void FakeRailway::stop() {
  state_->listener.stop();
  state_->webhook_url.reset();
  state_->webhook_queue.clear();
}

unsigned short FakeRailway::port() const { return state_->listener.port(); }

std::string FakeRailway::url() const {
  return "http://127.0.0.1:" + std::to_string(state_->listener.port()) + "/graphql/v2";
}

std::string FakeRailway::add_deployment(FakeDeploymentSpec spec) { return state_->add(std::move(spec)); }

bool FakeRailway::set_status(const std::string& deployment_id, const std::string& status) {
  auto* d = state_->find(deployment_id);
  if (d == nullptr) return false;
  state_->progress.erase(deployment_id);
  state_->apply_status(*d, status);
  return true;
}

std::vector<FakeDeployment> FakeRailway::deployments() const { return state_->deployments; }

std::optional<FakeDeployment> FakeRailway::deployment(const std::string& id) const {
  auto* d = state_->find(id);
  if (d == nullptr) return std::nullopt;
  return *d;
}

void FakeRailway::set_variables(const std::string& environment_id, std::vector<FakeVariable> variables) {
  std::vector<FakeVariable> stored;
  for (auto& v : variables) stored.push_back(state_->stored(std::move(v)));
  state_->variables[environment_id] = std::move(stored);
  state_->changed();
}

void FakeRailway::upsert_variable(const std::string& environment_id, FakeVariable variable) {
  state_->upsert_variable(environment_id, std::move(variable));
}

bool FakeRailway::remove_variable(const std::string& environment_id, const std::optional<std::string>& service_id,
                                  const std::string& name) {
  return state_->remove_variable(environment_id, service_id, name);
}

std::vector<FakeVariable> FakeRailway::variables(const std::string& environment_id) const {
  const auto it = state_->variables.find(environment_id);
  return it == state_->variables.end() ? std::vector<FakeVariable>{} : it->second;
}

int FakeRailway::value_reads() const { return state_->value_reads; }

void FakeRailway::name_service(const std::string& service_id, std::string name) {
  state_->service_names[service_id] = std::move(name);
}

void FakeRailway::name_environment(const std::string& environment_id, std::string name) {
  state_->environment_names[environment_id] = std::move(name);
}

void FakeRailway::name_project(const std::string& project_id, std::string name) {
  state_->project_names[project_id] = std::move(name);
}

int FakeRailway::request_count(std::string_view operation) const {
  const auto it = state_->counts.find(operation);
  return it == state_->counts.end() ? 0 : it->second;
}

int FakeRailway::total_requests() const { return state_->total; }

std::vector<FakeRequestRecord> FakeRailway::requests() const { return state_->records; }

void FakeRailway::fail_next(int n, int http_status) {
  for (int i = 0; i < n; ++i) state_->faults.push_back({State::Fault::Kind::status, http_status, {}, {}});
}

void FakeRailway::fail_next_after_effect(int n, int http_status) {
  for (int i = 0; i < n; ++i) state_->faults.push_back({State::Fault::Kind::status_after_effect, http_status, {}, {}});
}

void FakeRailway::rate_limit_next(int n, int retry_after_seconds) {
  for (int i = 0; i < n; ++i) state_->faults.push_back({State::Fault::Kind::rate_limit, retry_after_seconds, {}, {}});
}

void FakeRailway::delay_next(int n, std::chrono::milliseconds delay) {
  for (int i = 0; i < n; ++i) state_->faults.push_back({State::Fault::Kind::delay, 0, delay, {}});
}

void FakeRailway::graphql_error_next(int n, std::string message) {
  for (int i = 0; i < n; ++i) state_->faults.push_back({State::Fault::Kind::graphql_error, 0, {}, message});
}

void FakeRailway::drop_next(int n) {
  for (int i = 0; i < n; ++i) state_->faults.push_back({State::Fault::Kind::drop, 0, {}, {}});
}

void FakeRailway::set_webhook(std::optional<std::string> url, WebhookShape shape) {
  state_->webhook_url = std::move(url);
  state_->webhook_shape = shape;
}

std::string FakeRailway::webhook_payload(const FakeDeployment& deployment, WebhookShape shape) const {
  const auto now = core::format_timestamp(std::chrono::time_point_cast<core::Duration>(state_->options.now()));
  return build_webhook_payload(*state_, deployment, shape, now);
}

asio::awaitable<std::expected<int, AdapterError>> FakeRailway::send_webhook(std::string url, std::string body) {
  return post_webhook(state_, std::move(url), std::move(body));
}

asio::awaitable<std::vector<std::expected<int, AdapterError>>> FakeRailway::send_webhooks(
    std::string url, std::vector<std::string> bodies) {
  auto state = state_;
  std::vector<std::expected<int, AdapterError>> results;
  for (auto& body : bodies) results.push_back(co_await post_webhook(state, url, std::move(body)));
  co_return results;
}

std::vector<std::string> FakeRailway::duplicated(std::vector<std::string> bodies) {
  std::vector<std::string> out;
  out.reserve(bodies.size() * 2);
  for (auto& body : bodies) {
    out.push_back(body);
    out.push_back(std::move(body));
  }
  return out;
}

std::vector<std::string> FakeRailway::reordered(std::vector<std::string> bodies, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::ranges::shuffle(bodies, rng);
  return bodies;
}

asio::awaitable<void> FakeRailway::flush_webhooks() {
  auto state = state_;
  while (state->webhook_worker_running) co_await pause(state->executor, std::chrono::milliseconds(5));
}

int FakeRailway::webhooks_delivered() const { return state_->delivered; }

int FakeRailway::webhooks_failed() const { return state_->failed; }

nlohmann::json FakeRailway::state_json() const {
  json deployments = json::array();
  for (const auto& d : state_->deployments) {
    deployments.push_back(json{{"id", d.id},
                               {"projectId", d.project_id},
                               {"environmentId", d.environment_id},
                               {"serviceId", d.service_id},
                               {"status", d.status},
                               {"createdAt", d.created_at},
                               {"commitHash", optional_json(d.commit_hash)},
                               {"commitAuthor", optional_json(d.commit_author)},
                               {"commitMessage", optional_json(d.commit_message)},
                               {"branch", optional_json(d.branch)}});
  }
  json variables = json::object();
  for (const auto& [environment_id, list] : state_->variables) {
    json out = json::array();
    for (const auto& v : list) {
      out.push_back(json{{"name", v.name},
                         {"serviceId", optional_json(v.service_id)},
                         {"value", v.value},
                         {"createdAt", v.created_at},
                         {"updatedAt", v.updated_at},
                         {"isSealed", v.sealed}});
    }
    variables[environment_id] = std::move(out);
  }
  return json{{"nextId", state_->next_id}, {"deployments", deployments}, {"variables", variables}};
}

std::expected<void, std::string> FakeRailway::load_state_json(const nlohmann::json& state) {
  if (!state.is_object() || !state.contains("deployments") || !state["deployments"].is_array()) {
    return std::unexpected("state has no \"deployments\" array");
  }
  std::vector<FakeDeployment> loaded;
  core::Timestamp last{};
  for (const auto& item : state["deployments"]) {
    FakeDeployment d;
    for (const auto* key : {"id", "projectId", "environmentId", "serviceId", "status", "createdAt"}) {
      if (!item.contains(key) || !item[key].is_string()) {
        return std::unexpected(std::string("a deployment has no string \"") + key + "\"");
      }
    }
    d.id = item["id"];
    d.project_id = item["projectId"];
    d.environment_id = item["environmentId"];
    d.service_id = item["serviceId"];
    d.status = item["status"];
    d.created_at = item["createdAt"];
    d.commit_hash = optional_string(item, "commitHash");
    d.commit_author = optional_string(item, "commitAuthor");
    d.commit_message = optional_string(item, "commitMessage");
    d.branch = optional_string(item, "branch");
    if (auto t = core::parse_timestamp(d.created_at); t && *t > last) last = *t;
    loaded.push_back(std::move(d));
  }
  std::map<std::string, std::vector<FakeVariable>> variables;
  if (state.contains("variables")) {
    if (!state["variables"].is_object()) return std::unexpected("state's \"variables\" is not an object");
    for (const auto& [environment_id, list] : state["variables"].items()) {
      if (!list.is_array()) return std::unexpected("variables of " + environment_id + " are not an array");
      for (const auto& item : list) {
        for (const auto* key : {"name", "value", "createdAt", "updatedAt"}) {
          if (!item.contains(key) || !item[key].is_string()) {
            return std::unexpected(std::string("a variable has no string \"") + key + "\"");
          }
        }
        FakeVariable v;
        v.name = item["name"];
        v.service_id = optional_string(item, "serviceId");
        v.value = item["value"];  // stored as it was (already marked)
        v.created_at = item["createdAt"];
        v.updated_at = item["updatedAt"];
        v.sealed = item.value("isSealed", false);
        if (auto t = core::parse_timestamp(v.updated_at); t && *t > last) last = *t;
        variables[environment_id].push_back(std::move(v));
      }
    }
  }
  state_->deployments = std::move(loaded);
  state_->variables = std::move(variables);
  state_->last_created = last;
  if (state.contains("nextId") && state["nextId"].is_number_unsigned()) {
    state_->next_id = std::max(state_->next_id, state["nextId"].get<std::uint64_t>());
  }
  return {};
}

void FakeRailway::on_change(std::function<void()> callback) { state_->change_callback = std::move(callback); }

std::optional<std::string> FakeRailway::check_document(std::string_view document) {
  try {
    const json no_variables = json::object();
    Reader reader(document, no_variables);
    reader.read_document("");
    return std::nullopt;
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
}

}  // namespace promoter::fakes
