#include "promotectl/cli.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <expected>
#include <fstream>
#include <map>
#include <set>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/sha.hpp"
#include "core/time.hpp"
#include "promotectl/api_client.hpp"
#include "promotectl/cli_table.hpp"

namespace promoter::promotectl {

namespace {

using nlohmann::json;

constexpr std::string_view default_url = "http://127.0.0.1:8080";
// An ambiguous SHA prefix lists at most this many of the releases it matches.
constexpr std::size_t max_sha_candidates = 10;

enum class Output { table, json };

struct OptionSpec {
  std::string_view name;  // "--reason"
  bool takes_value;
};

constexpr std::array global_options{
    OptionSpec{"--url", true},
    OptionSpec{"--output", true},
    OptionSpec{"--token-file", true},
};

class Invocation;

struct Command {
  std::string_view name;
  std::string_view synopsis;  // after "promotectl "
  std::string_view summary;
  std::size_t positionals;
  std::span<const OptionSpec> options;
  int (*run)(Invocation&);
};

// A successful answer's JSON, or the exit status once the failure has been reported.
using Answer = std::expected<json, int>;

const json& null_json() {
  static const json null;
  return null;
}

const json& member(const json& object, std::string_view key) {
  if (!object.is_object()) return null_json();
  auto it = object.find(key);
  return it == object.end() ? null_json() : *it;
}

// A value as display text: strings as they are, numbers and booleans spelled out, null or missing as "-".
std::string text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "-";
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  return value.dump();
}

std::string text(const json& object, std::string_view key) { return text(member(object, key)); }

// "2026-11-25T03:11:00.000Z" reads as "2026-11-25 03:11:00Z"; anything unexpected is shown as sent.
std::string when(const json& object, std::string_view key) {
  const json& value = member(object, key);
  if (!value.is_string()) return text(value);
  auto parsed = core::parse_timestamp(value.get<std::string>());
  if (!parsed) return value.get<std::string>();
  return fmt::format("{:%Y-%m-%d %H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(*parsed));
}

std::string short_sha(const json& object, std::string_view key) {
  const json& value = member(object, key);
  if (!value.is_string()) return text(value);
  return value.get<std::string>().substr(0, 12);
}

std::string seconds_text(const json& value) {
  if (!value.is_number()) return text(value);
  return core::format_duration(std::chrono::milliseconds(std::llround(value.get<double>() * 1000.0)));
}

// A gate cell in the releases table: "ok", or the reason without its "soak: " prefix (the column says it).
std::string gate_cell(const json& release, std::string_view gate) {
  const json& g = member(member(release, "gates"), gate);
  if (g.is_null()) return "-";
  if (member(g, "ok") == true) return "ok";
  std::string reason = text(g, "reason");
  std::string prefix = fmt::format("{}: ", gate);
  if (reason.starts_with(prefix)) reason.erase(0, prefix.size());
  return reason;
}

// The gates the policy enables ("required": false ones are left out), in the order a release meets them,
// then any later gate by name.
std::vector<std::string> gate_names(const json& gates) {
  constexpr std::array<std::string_view, 8> built_in{"soak", "smoke",        "approval", "review",
                                                     "ci",   "ddl_rollback", "env",      "flag"};
  std::vector<std::string> names;
  if (!gates.is_object()) return names;
  auto required = [&](std::string_view name) { return member(member(gates, name), "required") != false; };
  for (auto name : built_in)
    if (gates.contains(name) && required(name)) names.emplace_back(name);
  for (const auto& [name, gate] : gates.items())
    if (std::ranges::find(built_in, name) == built_in.end() && required(name)) names.push_back(name);
  return names;
}

std::vector<std::string> strings(const json& array) {
  std::vector<std::string> out;
  if (array.is_array())
    for (const auto& item : array) out.push_back(text(item));
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// A query parameter's value, percent-encoded (RFC 3986: unreserved characters stay as they are).
std::string query_escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~')
      out.push_back(c);
    else
      out += fmt::format("%{:02X}", byte);
  }
  return out;
}

void print_section(std::ostream& out, std::string_view title, const Table& table, std::string_view when_empty) {
  out << '\n' << title << '\n';
  if (table.empty())
    out << "  " << when_empty << '\n';
  else
    table.print(out);
}

// The violations table (env, flags, status): newest first, as the server sends them.
Table violations_table(const json& violations) {
  Table table({"AT", "KIND", "SERVICE", "NAME", "REASON"});
  for (const auto& v : violations)
    table.add_row({when(v, "at"), text(v, "kind"), text(v, "service").empty() ? "-" : text(v, "service"),
                   text(v, "name"), text(v, "reason")});
  return table;
}

// Printed only when there is one: a violation is news, its absence is not.
void print_violations(std::ostream& out, const json& violations) {
  if (!violations.is_array() || violations.empty()) return;
  out << '\n' << "Policy violations: changed in production before staging (newest first)\n";
  violations_table(violations).print(out);
}

void print_release(std::ostream& out, const json& release) {
  std::string state = text(release, "state");
  if (const json& reason = member(release, "state_reason"); reason.is_string() && !reason.get<std::string>().empty())
    state += fmt::format(" ({})", reason.get<std::string>());
  const json& soak = member(release, "soak");
  std::vector<Field> fields{
      {"sha", text(release, "sha")},
      {"author", text(release, "author")},
      {"state", state},
      {"ready", text(release, "ready")},
      {"first seen", when(release, "first_seen_at")},
      {"live on staging", when(release, "live_at")},
      {"soak", fmt::format("started {}, deadline {}, resets {}", when(soak, "started_at"), when(soak, "deadline"),
                           text(soak, "resets"))},
      {"promotion", text(release, "promotion_id")},
  };
  const json& rejection = member(release, "rejection");
  if (rejection.is_object())
    fields.emplace_back("rejected", fmt::format("by {} at {}: {}", text(rejection, "by"), when(rejection, "at"),
                                                text(rejection, "reason")));
  const json& hotfix = member(release, "hotfix");
  if (hotfix.is_object())
    fields.emplace_back("hotfix", fmt::format("by {} at {}: {} (incident {})", text(hotfix, "by"), when(hotfix, "at"),
                                              text(hotfix, "reason"), text(hotfix, "incident_url")));
  print_fields(out, fields);

  Table gates({"GATE", "OK", "REASON"});
  const json& all_gates = member(release, "gates");
  for (const auto& name : gate_names(all_gates)) {
    const json& gate = member(all_gates, name);
    gates.add_row({name, text(gate, "ok"), text(gate, "reason")});
  }
  print_section(out, "Gates", gates, "no gates reported");

  Table deployments({"SERVICE", "DEPLOYMENT", "STATUS", "UPDATED"});
  for (const auto& d : member(release, "deployments"))
    deployments.add_row({text(d, "service"), text(d, "deployment_id"), text(d, "status"), when(d, "updated_at")});
  print_section(out, "Staging deployments", deployments, "none");

  Table smoke({"SUITE", "RESULT", "REPORTED BY", "AT", "DETAILS"});
  for (const auto& s : member(release, "smoke_results"))
    smoke.add_row({text(s, "suite"), member(s, "passed") == true ? "passed" : "failed", text(s, "reported_by"),
                   when(s, "at"), text(s, "details")});
  print_section(out, "Smoke results", smoke, "none");

  Table approvals({"BY", "AT", "REASON"});
  for (const auto& a : member(release, "approvals"))
    approvals.add_row({text(a, "by"), when(a, "at"), text(a, "reason")});
  print_section(out, "Approvals", approvals, "none");
}

std::string active_promotion_text(const json& active) {
  const bool rollback = member(active, "kind") == "rollback";
  std::string line = fmt::format("{}{} {}: {}", text(active, "id"), rollback ? " rollback to" : " for",
                                 text(active, "sha"), text(active, "state"));
  if (const json& abort = member(active, "abort"); abort.is_object())
    line +=
        fmt::format("; abort requested by {} at {}: {}", text(abort, "by"), when(abort, "at"), text(abort, "reason"));
  return line;
}

void print_promotion(std::ostream& out, const json& promotion) {
  std::vector<Field> fields{
      {"promotion", text(promotion, "id")},
      {"sha", text(promotion, "sha")},
      {"environment", text(promotion, "environment")},
      {"state", text(promotion, "state")},
      {"hotfix", text(promotion, "hotfix")},
      {"created", when(promotion, "created_at")},
      {"finished", when(promotion, "finished_at")},
  };
  if (!member(promotion, "error").is_null()) fields.emplace_back("error", text(promotion, "error"));
  const json& abort = member(promotion, "abort");
  if (abort.is_object())
    fields.emplace_back(
        "abort", fmt::format("requested by {} at {}: {}", text(abort, "by"), when(abort, "at"), text(abort, "reason")));
  // The links both ways: a rollback names the promotion it followed, a promotion the rollback that undid it.
  if (const json& rb = member(promotion, "rollback"); rb.is_object()) {
    fields.emplace_back("rollback", fmt::format("by {} ({}) at {}: {}", text(rb, "requested_by"), text(rb, "trigger"),
                                                when(rb, "requested_at"), text(rb, "reason")));
    if (!member(rb, "after_promotion").is_null()) fields.emplace_back("after promotion", text(rb, "after_promotion"));
    const auto migrations = strings(member(rb, "migrations_since"));
    fields.emplace_back("schema", migrations.empty() ? "no migration since the target"
                                                     : fmt::format("stays migrated: {}", join(migrations, ", ")));
  }
  if (!member(promotion, "rolled_back_by").is_null())
    fields.emplace_back("rolled back by", fmt::format("rollback {}", text(promotion, "rolled_back_by")));
  print_fields(out, fields);

  Table steps({"#", "STEP", "STATE", "DURATION", "DETAIL"});
  for (const auto& s : member(promotion, "steps"))
    steps.add_row({text(s, "index"), text(s, "name"), text(s, "state"), seconds_text(member(s, "duration_seconds")),
                   text(s, "detail")});
  print_section(out, "Steps", steps, "none planned");
}

std::optional<std::string> env_value(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// A token travels in a header: anything but visible ASCII would be refused by the server or, worse,
// split the header.
bool plausible_token(std::string_view token) {
  return !token.empty() && std::ranges::all_of(token, [](char c) { return c > 0x20 && c < 0x7f; });
}

class Invocation {
 public:
  Invocation(const Command& command, const CliEnv& env, std::ostream& out, std::ostream& err)
      : command_(command), env_(env), out_(out), err_(err) {}

  std::ostream& out() { return out_; }
  Output output = Output::table;
  std::vector<std::string> positionals;
  std::map<std::string, std::string, std::less<>> options;  // flags map to ""

  bool has(std::string_view option) const { return options.contains(option); }
  std::optional<std::string> option(std::string_view name) const {
    auto it = options.find(name);
    if (it == options.end()) return std::nullopt;
    return it->second;
  }

  int usage_error(std::string_view message) {
    err_ << "error: " << message << '\n'
         << "usage: promotectl " << command_.synopsis << '\n'
         << "Run 'promotectl --help' for all commands and options.\n";
    return cli_exit_usage;
  }

  // A SHA as the operator typed it: the full 40 hex digits, or a unique prefix of at least
  // core::Sha::min_prefix (as git takes), which the server resolves to the one release it names.
  std::expected<std::string, int> sha_argument(std::string_view value) {
    if (auto sha = core::Sha::parse(value)) return sha->str();
    auto prefix = core::Sha::parse_prefix(value);
    if (!prefix)
      return std::unexpected(
          usage_error(fmt::format("'{}' is not a commit SHA: {}", printable(value), prefix.error().message)));
    auto answer = get(fmt::format("/v1/releases?sha_prefix={}&limit={}", *prefix, max_sha_candidates));
    if (!answer) return std::unexpected(answer.error());
    const json& found = member(*answer, "releases");
    if (!found.is_array() || found.empty()) {
      err_ << fmt::format(
          "error: no release matches SHA prefix '{}'\n"
          "Run 'promotectl releases' to see the releases promoterd knows.\n",
          *prefix);
      return std::unexpected(cli_exit_failure);
    }
    if (found.size() == 1) {
      // Trust but check: a full SHA that starts with the prefix, or it does not become a URL.
      const std::string full = text(found.front(), "sha");
      if (core::Sha::parse(full) && full.starts_with(*prefix)) return full;
      err_ << fmt::format("error: promoterd answered SHA prefix '{}' with '{}', which is not a SHA starting so\n",
                          *prefix, printable(full));
      return std::unexpected(cli_exit_failure);
    }
    err_ << fmt::format("error: SHA prefix '{}' is ambiguous; it matches {}{} releases:\n", *prefix,
                        found.size() == max_sha_candidates ? "at least " : "", found.size());
    Table candidates({"SHA", "STATE", "AUTHOR", "FIRST SEEN"});
    for (const auto& r : found)
      candidates.add_row({short_sha(r, "sha"), text(r, "state"), text(r, "author"), when(r, "first_seen_at")});
    candidates.print(err_);
    err_ << "Give more digits of the SHA.\n";
    return std::unexpected(cli_exit_usage);
  }

  // The optional --limit as a query parameter ("" when not given, so the server's default applies).
  std::expected<std::string, int> limit_query(char separator = '?') {
    auto value = option("--limit");
    if (!value) return std::string();
    unsigned long limit = 0;
    auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), limit);
    if (ec != std::errc{} || end != value->data() + value->size() || limit == 0)
      return std::unexpected(usage_error(fmt::format("--limit must be a positive whole number, not '{}'", *value)));
    return fmt::format("{}limit={}", separator, limit);
  }

  // GET `target` as a stream (see ApiClient::stream): the HTTP status, or the exit code after a failure to
  // reach promoterd (already reported).
  std::expected<int, int> stream(std::string_view target,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 const std::function<bool(std::string_view)>& on_data) {
    auto api = client();
    if (!api) return std::unexpected(api.error());
    auto response = (*api)->stream(target, headers, on_data);
    if (!response) {
      err_ << "error: " << printable(response.error().message) << '\n';
      return std::unexpected(cli_exit_failure);
    }
    return response->status;
  }

  Answer get(std::string_view target) { return call(target, std::nullopt); }
  Answer post(std::string_view target, const json& body) { return call(target, body.dump()); }

  // With --output json, prints the server's answer and says so; the caller then skips its table view.
  bool print_json_instead(const json& answer) {
    if (output != Output::json) return false;
    out_ << answer.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
    return true;
  }

  std::ostream& err() { return err_; }

 private:
  // The client is built on first use, so that a bad command line is reported before a bad URL or token.
  std::expected<const ApiClient*, int> client() {
    if (client_) return &*client_;
    std::string url = option("--url").value_or(env_.promoter_url.value_or(std::string(default_url)));
    auto base = normalize_base_url(url);
    if (!base) return std::unexpected(usage_error(base.error().message));

    std::string token;
    if (auto path = option("--token-file")) {
      std::ifstream file(*path, std::ios::binary);
      std::ostringstream content;
      if (file) content << file.rdbuf();
      if (!file)
        return std::unexpected(
            usage_error(fmt::format("cannot read the token file {}: {}", *path, std::strerror(errno))));
      token = content.str();
      auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
      while (!token.empty() && blank(token.back())) token.pop_back();
      while (!token.empty() && blank(token.front())) token.erase(0, 1);
      if (!plausible_token(token))
        return std::unexpected(usage_error(
            fmt::format("the token file {} must hold one token of printable characters and nothing else", *path)));
    } else if (env_.promoter_token) {
      token = *env_.promoter_token;
      if (!plausible_token(token))
        return std::unexpected(usage_error("PROMOTER_TOKEN holds spaces or control characters; it cannot be a token"));
    } else {
      return std::unexpected(usage_error("no API token: set PROMOTER_TOKEN or pass --token-file PATH"));
    }
    client_.emplace(std::move(*base), std::move(token));
    return &*client_;
  }

  Answer call(std::string_view target, std::optional<std::string> body) {
    auto api = client();
    if (!api) return std::unexpected(api.error());
    auto response = body ? (*api)->post_json(target, *body) : (*api)->get(target);
    if (!response) {
      err_ << "error: " << printable(response.error().message) << '\n'
           << "Is promoterd running there? Point promotectl at it with --url or PROMOTER_URL.\n";
      return std::unexpected(cli_exit_failure);
    }
    json answer = json::parse(response->body, nullptr, false);
    if (response->status >= 200 && response->status < 300) {
      if (answer.is_discarded()) {
        err_ << fmt::format("error: {} answered HTTP {} with a body that is not JSON: {}\n", (*api)->base_url(),
                            response->status, printable(response->body.substr(0, 200)));
        return std::unexpected(cli_exit_failure);
      }
      return answer;
    }
    report_error_answer(response->status, answer, response->body);
    return std::unexpected(cli_exit_failure);
  }

  // An error answer, as every command reports it (public for watch, whose answer is not one JSON body).
 public:
  void report_error_answer(int status, const json& answer, std::string_view raw) {
    const json& error = member(answer, "error");
    if (error.is_object())
      err_ << fmt::format("error: {}: {} (HTTP {})\n", printable(text(error, "code")),
                          printable(text(error, "message")), status);
    else
      err_ << fmt::format("error: HTTP {} without an error body: {}\n", status, printable(raw.substr(0, 200)));
    if (status == 401) err_ << "Check the token in PROMOTER_TOKEN or --token-file.\n";
  }

 private:
  const Command& command_;
  const CliEnv& env_;
  std::ostream& out_;
  std::ostream& err_;
  std::optional<ApiClient> client_;
};

// --- commands ---------------------------------------------------------------------------------------

int run_status(Invocation& inv) {
  auto status = inv.get("/v1/status");
  if (!status) return status.error();
  const json& policy = member(*status, "policy");

  // Short soak mode must never go unnoticed: in JSON mode the warning goes to stderr, leaving stdout parseable.
  std::ostream& loud = inv.output == Output::json ? inv.err() : inv.out();
  if (member(*status, "short_soak") == true)
    loud << fmt::format(
        "WARNING: short soak mode is ON: releases soak for only {} before production. Not for real production use.\n",
        seconds_text(member(policy, "soak_seconds")));
  auto warnings = strings(member(*status, "warnings"));
  for (const auto& warning : warnings) loud << "WARNING: " << printable(warning) << '\n';

  if (inv.print_json_instead(*status)) return cli_exit_ok;
  if (member(*status, "short_soak") == true || !warnings.empty()) inv.out() << '\n';

  std::string smoke = member(policy, "require_smoke") == true
                          ? fmt::format("required ({})", join(strings(member(policy, "required_smoke_suites")), ", "))
                          : "not required";
  const json& production = member(*status, "production");
  const json& active = member(*status, "active_promotion");
  std::vector<std::string> counts;
  if (const json& c = member(*status, "release_counts"); c.is_object())
    for (const auto& [state, count] : c.items()) counts.push_back(fmt::format("{} {}", state, text(count)));

  const json& leadership = member(*status, "leadership");
  const json& leader = member(leadership, "leader");
  std::string leader_text = "none yet";
  if (leader.is_object()) {
    leader_text = fmt::format("{} (epoch {}, since {})", printable(text(leader, "instance")), text(leadership, "epoch"),
                              when(leader, "since"));
    if (text(leadership, "role") != "leader")
      leader_text += fmt::format("; answered by standby {}", printable(text(leadership, "instance")));
  }

  std::vector<Field> fields{
      {"version", text(*status, "version")},
      {"environment", text(*status, "environment")},
      {"leader", leader_text},
      {"soak", seconds_text(member(policy, "soak_seconds"))},
      {"smoke", smoke},
      {"approvals required", text(policy, "approvals_required")},
      {"services", join(strings(member(policy, "services")), ", ")},
      {"production", production.is_object()
                         ? fmt::format("{} promoted {} (promotion {})", text(production, "sha"),
                                       when(production, "promoted_at"), text(production, "promotion_id"))
                         : "no release promoted yet"},
      {"active promotion", active.is_object() ? active_promotion_text(active) : "none"},
      {"releases", counts.empty() ? "none" : join(counts, ", ")},
      {"hotfix obligations", fmt::format("{} open, {} overdue", text(member(member(*status, "obligations"), "open")),
                                         text(member(member(*status, "obligations"), "overdue")))},
  };
  // A daemon older than configuration watching sends no config_violations: the line is left out, not "-".
  const json& violations = member(*status, "config_violations");
  if (violations.is_object())
    fields.emplace_back("config violations", member(violations, "total") == 0
                                                 ? "none"
                                                 : fmt::format("{} in all (see promotectl env, promotectl flags)",
                                                               text(violations, "total")));
  // A daemon older than freeze windows sends no freeze: the line is left out.
  if (const json& freeze = member(*status, "freeze"); freeze.is_object())
    fields.emplace_back("freeze", member(freeze, "frozen") == true ? text(member(freeze, "active"), "text")
                                                                   : "none: promotions may start");
  // A daemon older than rollbacks sends no pin: the line is left out.
  if (const json& pin = member(*status, "pin"); pin.is_object())
    fields.emplace_back("pin", member(pin, "pinned") == true ? text(pin, "text") : "none");
  if (const json& rollback = member(*status, "rollback"); rollback.is_object())
    fields.emplace_back("rollback", fmt::format("{} ({})", text(rollback, "text"),
                                                member(rollback, "promotion_id").is_null()
                                                    ? "waiting for the running promotion to stop"
                                                    : "running as promotion " + text(rollback, "promotion_id")));
  print_fields(inv.out(), fields);
  if (const json& recent = member(violations, "recent"); recent.is_array() && !recent.empty())
    print_section(inv.out(), "Recent config violations (newest first)", violations_table(recent), "none");
  return cli_exit_ok;
}

// promotectl watch: each change as promoterd streams it (GET /v1/events), one line each (NDJSON with
// --output json), until --limit events or Ctrl-C. A dropped stream (promoterd restarted, a failover) is
// resumed after the last event seen, so nothing is missed and nothing printed twice.
int run_watch(Invocation& inv) {
  std::optional<unsigned long> remaining;
  if (auto value = inv.option("--limit")) {
    unsigned long limit = 0;
    auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), limit);
    if (ec != std::errc{} || end != value->data() + value->size() || limit == 0)
      return inv.usage_error(fmt::format("--limit must be a positive whole number, not '{}'", *value));
    remaining = limit;
  }
  std::string last_id;
  if (auto since = inv.option("--since")) {
    unsigned long id = 0;
    auto [end, ec] = std::from_chars(since->data(), since->data() + since->size(), id);
    if (ec != std::errc{} || end != since->data() + since->size())
      return inv.usage_error(fmt::format("--since must be an event id (a whole number), not '{}'", *since));
    last_id = std::to_string(id);
  }
  bool connected_once = false;
  for (;;) {
    std::string buffer;
    bool done = false;
    bool streaming = false;  // the answer is an event stream (not an error body)
    auto on_data = [&](std::string_view piece) {
      buffer += piece;
      std::size_t end;
      while ((end = buffer.find("\n\n")) != std::string::npos) {
        const std::string block = buffer.substr(0, end);
        buffer.erase(0, end + 2);
        std::string id, kind, data;
        std::istringstream lines(block);
        for (std::string line; std::getline(lines, line);) {
          if (line.starts_with(":") || line.starts_with("retry:")) {
            streaming = true;
            continue;
          }
          const auto colon = line.find(':');
          std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
          if (value.starts_with(' ')) value.erase(0, 1);
          const std::string field = line.substr(0, colon);
          if (field == "id") id = value;
          if (field == "event") kind = value;
          if (field == "data") data = value;
        }
        if (kind.empty() || data.empty()) continue;
        streaming = true;
        last_id = id;
        const json event = json::parse(data, nullptr, false);
        if (inv.output == Output::json) {
          inv.out() << data << '\n';
        } else if (kind == "reset") {
          inv.out() << fmt::format(
              "{}  reset      more happened than the stream kept: read the state afresh (promotectl "
              "status)\n",
              when(event, "at"));
        } else {
          const std::string sha = member(event, "sha").is_string() ? short_sha(event, "sha") : "-";
          const std::string promotion =
              member(event, "promotion_id").is_string() ? "promotion " + text(event, "promotion_id") : "";
          inv.out() << fmt::format("{}  {:<10} {:<12}  {}\n", when(event, "at"), printable(kind), sha, promotion);
        }
        inv.out().flush();
        if (remaining && --*remaining == 0) {
          done = true;
          return false;
        }
      }
      return true;
    };
    std::vector<std::pair<std::string, std::string>> headers;
    if (!last_id.empty()) headers.emplace_back("Last-Event-ID", last_id);
    auto status = inv.stream("/v1/events", headers, on_data);
    if (!status && !connected_once) return status.error();
    if (status && *status != 200) {
      inv.report_error_answer(*status, json::parse(buffer, nullptr, false), buffer);
      return cli_exit_failure;
    }
    if (done) return cli_exit_ok;
    connected_once = connected_once || (status && streaming);
    inv.err() << "promotectl watch: the stream ended; reconnecting in 3s (Ctrl-C stops)\n";
    std::this_thread::sleep_for(std::chrono::seconds(3));
  }
}

// The listing commands: one table row per item of the answer's `key` array.
int print_listing(Invocation& inv, const std::string& target, std::string_view key, Table table,
                  std::vector<std::string> (*row)(const json&), std::string_view when_empty) {
  auto answer = inv.get(target);
  if (!answer) return answer.error();
  if (inv.print_json_instead(*answer)) return cli_exit_ok;
  for (const auto& item : member(*answer, key)) table.add_row(row(item));
  if (table.empty())
    inv.out() << when_empty << '\n';
  else
    table.print(inv.out());
  return cli_exit_ok;
}

int run_releases(Invocation& inv) {
  auto limit = inv.limit_query();
  if (!limit) return limit.error();
  return print_listing(
      inv, "/v1/releases" + *limit, "releases",
      Table({"SHA", "STATE", "SOAK", "SMOKE", "APPROVAL", "AUTHOR", "FIRST SEEN"}),
      [](const json& r) -> std::vector<std::string> {
        return {short_sha(r, "sha"),      text(r, "state"),  gate_cell(r, "soak"),    gate_cell(r, "smoke"),
                gate_cell(r, "approval"), text(r, "author"), when(r, "first_seen_at")};
      },
      "No releases yet: none has reached staging.");
}

int run_show(Invocation& inv) {
  auto sha = inv.sha_argument(inv.positionals[0]);
  if (!sha) return sha.error();
  auto release = inv.get("/v1/releases/" + *sha);
  if (!release) return release.error();
  if (inv.print_json_instead(*release)) return cli_exit_ok;
  print_release(inv.out(), *release);

  const json& promotion_id = member(*release, "promotion_id");
  if (promotion_id.is_null()) return cli_exit_ok;
  auto promotion = inv.get("/v1/promotions/" + text(promotion_id));
  if (!promotion) return promotion.error();
  inv.out() << '\n';
  print_promotion(inv.out(), *promotion);
  return cli_exit_ok;
}

int print_changed_release(Invocation& inv, const Answer& release, std::string_view what) {
  if (!release) return release.error();
  if (inv.print_json_instead(*release)) return cli_exit_ok;
  inv.out() << what << "\n\n";
  print_release(inv.out(), *release);
  return cli_exit_ok;
}

int run_approve(Invocation& inv) {
  auto sha = inv.sha_argument(inv.positionals[0]);
  if (!sha) return sha.error();
  json body = json::object();
  if (auto reason = inv.option("--reason")) body["reason"] = *reason;
  return print_changed_release(inv, inv.post(fmt::format("/v1/releases/{}/approve", *sha), body),
                               fmt::format("Approved {}.", *sha));
}

int run_reject(Invocation& inv) {
  auto sha = inv.sha_argument(inv.positionals[0]);
  if (!sha) return sha.error();
  auto reason = inv.option("--reason");
  if (!reason || reason->empty())
    return inv.usage_error("reject needs --reason TEXT: the author and the audit trail should learn why");
  return print_changed_release(inv, inv.post(fmt::format("/v1/releases/{}/reject", *sha), {{"reason", *reason}}),
                               fmt::format("Rejected {}.", *sha));
}

int run_smoke(Invocation& inv) {
  auto sha = inv.sha_argument(inv.positionals[0]);
  if (!sha) return sha.error();
  auto suite = inv.option("--suite");
  if (!suite || suite->empty()) return inv.usage_error("smoke needs --suite NAME");
  if (inv.has("--passed") == inv.has("--failed"))
    return inv.usage_error("smoke needs exactly one of --passed or --failed");
  bool passed = inv.has("--passed");
  json body{{"suite", *suite}, {"passed", passed}};
  if (auto details = inv.option("--details")) body["details"] = *details;
  return print_changed_release(
      inv, inv.post(fmt::format("/v1/releases/{}/smoke-results", *sha), body),
      fmt::format("Recorded smoke suite {} {} for {}.", *suite, passed ? "passed" : "failed", *sha));
}

int run_promotion(Invocation& inv) {
  const std::string& id = inv.positionals[0];
  // The id becomes a path segment: keep it to characters that need no escaping and cannot climb ("..").
  bool valid = !id.empty() && id.size() <= 64 && std::ranges::all_of(id, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  if (!valid) return inv.usage_error(fmt::format("'{}' is not a promotion id (e.g. 7)", printable(id)));
  auto promotion = inv.get("/v1/promotions/" + id);
  if (!promotion) return promotion.error();
  if (inv.print_json_instead(*promotion)) return cli_exit_ok;
  print_promotion(inv.out(), *promotion);
  return cli_exit_ok;
}

int run_promotions(Invocation& inv) {
  auto limit = inv.limit_query();
  if (!limit) return limit.error();
  return print_listing(
      inv, "/v1/promotions" + *limit, "promotions",
      Table({"ID", "SHA", "STATE", "HOTFIX", "CREATED", "FINISHED", "ERROR"}),
      [](const json& p) -> std::vector<std::string> {
        return {text(p, "id"),
                short_sha(p, "sha"),
                text(p, "state"),
                text(p, "hotfix"),
                when(p, "created_at"),
                when(p, "finished_at"),
                member(p, "error").is_null() ? "" : text(p, "error")};
      },
      "No promotions yet.");
}

int run_audit(Invocation& inv) {
  std::string query;
  if (auto sha_text = inv.option("--sha")) {
    auto sha = inv.sha_argument(*sha_text);
    if (!sha) return sha.error();
    query = "?sha=" + *sha;
  }
  auto limit = inv.limit_query(query.empty() ? '?' : '&');
  if (!limit) return limit.error();
  return print_listing(
      inv, "/v1/audit" + query + *limit, "entries", Table({"ID", "AT", "ACTOR", "ACTION", "SHA", "DETAIL"}),
      [](const json& e) -> std::vector<std::string> {
        return {text(e, "id"),     when(e, "at"),       text(e, "actor"),
                text(e, "action"), short_sha(e, "sha"), text(e, "detail")};
      },
      "No audit entries.");
}

int run_hotfix(Invocation& inv) {
  auto sha = inv.sha_argument(inv.positionals[0]);
  if (!sha) return sha.error();
  auto reason = inv.option("--reason");
  auto incident = inv.option("--incident");
  if (!reason || reason->empty())
    return inv.usage_error("hotfix needs --reason TEXT: why production cannot wait for the soak");
  if (!incident || incident->empty()) return inv.usage_error("hotfix needs --incident URL: the incident it fixes");
  json body = {{"sha", *sha}, {"reason", *reason}, {"incident_url", *incident}};
  if (inv.has("--override-freeze")) body["override_freeze"] = true;
  auto answer = inv.post("/v1/hotfixes", body);
  if (!answer) return answer.error();
  if (inv.print_json_instead(*answer)) return cli_exit_ok;
  inv.out() << fmt::format("Hotfix of {} recorded: soak waived. Obligations opened:\n", *sha);
  Table table({"ID", "KIND", "DUE"});
  for (const auto& o : member(*answer, "obligations"))
    table.add_row({text(o, "id"), text(o, "kind"), when(o, "due_at")});
  table.print(inv.out());
  inv.out() << '\n';
  print_release(inv.out(), member(*answer, "release"));
  return cli_exit_ok;
}

// What a freeze answer says: frozen or not, by what, until when, and what changes next.
void print_freeze_state(std::ostream& out, const json& state) {
  const json& stop = member(state, "line_stop");
  std::vector<Field> fields{
      {"frozen", member(state, "frozen") == true ? text(member(state, "active"), "text") : "no: promotions may start"},
      {"line stop", stop.is_object() ? fmt::format("by {} at {}: {} (until {})", text(stop, "by"), when(stop, "at"),
                                                   text(stop, "reason"),
                                                   member(stop, "until").is_null() ? "unfrozen" : when(stop, "until"))
                                     : "none"},
      {"next change", member(state, "next_change").is_null() ? "none scheduled" : when(state, "next_change")},
  };
  print_fields(out, fields);
}

int run_freeze(Invocation& inv) {
  auto reason = inv.option("--reason");
  if (!reason || reason->empty())
    return inv.usage_error("freeze needs --reason TEXT: everyone held back should learn why");
  json body = {{"reason", *reason}};
  if (auto until = inv.option("--until")) body["until"] = *until;
  auto answer = inv.post("/v1/freeze", body);
  if (!answer) return answer.error();
  if (inv.print_json_instead(*answer)) return cli_exit_ok;
  inv.out() << "Line stopped: no promotion starts until it is lifted. A running promotion is not touched: stop it "
               "with promotectl abort ID.\n\n";
  print_freeze_state(inv.out(), *answer);
  return cli_exit_ok;
}

int run_unfreeze(Invocation& inv) {
  auto reason = inv.option("--reason");
  if (!reason || reason->empty()) return inv.usage_error("unfreeze needs --reason TEXT: why the line may move again");
  auto answer = inv.post("/v1/unfreeze", {{"reason", *reason}});
  if (!answer) return answer.error();
  if (inv.print_json_instead(*answer)) return cli_exit_ok;
  inv.out() << "Line stop lifted.\n\n";
  print_freeze_state(inv.out(), *answer);
  return cli_exit_ok;
}

int run_rollback(Invocation& inv) {
  auto reason = inv.option("--reason");
  if (!reason || reason->empty()) return inv.usage_error("rollback needs --reason TEXT: what broke in production");
  json body = {{"reason", *reason}};
  if (auto to = inv.option("--to")) {
    auto sha = inv.sha_argument(*to);
    if (!sha) return sha.error();
    body["to"] = *sha;
  }
  if (inv.has("--accept-schema")) body["accept_schema"] = true;
  auto answer = inv.post("/v1/rollbacks", body);
  if (!answer) return answer.error();
  if (inv.print_json_instead(*answer)) return cli_exit_ok;
  const bool waiting = member(*answer, "promotion_id").is_null();
  inv.out() << fmt::format(
      "Rollback to {} {}. Production stays pinned afterwards: promotectl resume --reason TEXT "
      "lets releases start again.\n\n",
      text(*answer, "target"),
      waiting ? "requested: it runs once the running promotion has stopped"
              : "started as promotion " + text(*answer, "promotion_id"));
  const auto migrations = strings(member(*answer, "migrations_since"));
  const std::vector<Field> fields{
      {"reason", text(*answer, "reason")},
      {"after promotion", member(*answer, "after_promotion").is_null() ? "none" : text(*answer, "after_promotion")},
      {"schema", migrations.empty() ? "no migration since the target"
                                    : fmt::format("stays migrated: {}", join(migrations, ", "))}};
  print_fields(inv.out(), fields);
  return cli_exit_ok;
}

int run_resume(Invocation& inv) {
  auto reason = inv.option("--reason");
  if (!reason || reason->empty())
    return inv.usage_error("resume needs --reason TEXT: why releases may go to production again");
  auto answer = inv.post("/v1/resume", {{"reason", *reason}});
  if (!answer) return answer.error();
  if (inv.print_json_instead(*answer)) return cli_exit_ok;
  inv.out() << "Pin lifted: a release whose gates hold may start again.\n";
  return cli_exit_ok;
}

int run_freezes(Invocation& inv) {
  auto answer = inv.get("/v1/freezes");
  if (!answer) return answer.error();
  const auto overlaps = strings(member(*answer, "overlaps"));
  const bool check = inv.has("--check");
  if (!inv.print_json_instead(*answer)) {
    print_freeze_state(inv.out(), *answer);
    Table windows({"NAME", "KIND", "WHEN", "TIME ZONE", "REASON"});
    for (const auto& w : member(*answer, "windows")) {
      const bool weekly = text(w, "kind") == "weekly";
      const std::string span =
          weekly ? fmt::format("{} {} to {}", join(strings(member(w, "days")), ","), text(w, "from"), text(w, "until"))
                 : fmt::format("{} to {}", when(w, "from"), when(w, "until"));
      windows.add_row(
          {text(w, "name"), text(w, "kind"), span, weekly ? text(w, "time_zone") : "UTC", text(w, "reason")});
    }
    print_section(inv.out(), "Freeze windows", windows, "none configured");
    if (check) {
      // The daemon read every time zone from the tz database when it loaded its configuration: a window it
      // shows has a valid zone. What is left to check is windows that cover the same time.
      inv.out() << '\n'
                << (overlaps.empty() ? "check: time zones valid; no windows overlap\n"
                                     : "check: time zones valid; overlapping windows:\n");
      for (const auto& o : overlaps) inv.out() << "  " << printable(o) << '\n';
    }
  }
  return check && !overlaps.empty() ? cli_exit_failure : cli_exit_ok;
}

std::vector<std::string> obligation_row(const json& o) {
  return {text(o, "id"),
          text(o, "kind"),
          short_sha(o, "sha"),
          text(o, "state"),
          when(o, "due_at"),
          text(o, "opened_by"),
          member(o, "link").is_null() ? "" : text(o, "link")};
}

int run_obligations(Invocation& inv) {
  return print_listing(inv, inv.has("--all") ? "/v1/obligations?state=all" : "/v1/obligations", "obligations",
                       Table({"ID", "KIND", "SHA", "STATE", "DUE", "OPENED BY", "LINK"}), obligation_row,
                       inv.has("--all") ? "No hotfix obligations." : "No open hotfix obligations.");
}

// Database ids (promotions, obligations) are positive whole numbers; anything else never reaches a URL.
bool whole_number(std::string_view id) {
  return !id.empty() && id.size() <= 18 && std::ranges::all_of(id, [](char c) { return c >= '0' && c <= '9'; });
}

int run_abort(Invocation& inv) {
  const std::string& id = inv.positionals[0];
  if (!whole_number(id)) return inv.usage_error(fmt::format("'{}' is not a promotion id (e.g. 7)", printable(id)));
  auto reason = inv.option("--reason");
  if (!reason || reason->empty())
    return inv.usage_error("abort needs --reason TEXT: whoever picks up the promotion should learn why");
  auto answer = inv.post(fmt::format("/v1/promotions/{}/abort", id), {{"reason", *reason}});
  if (!answer) return answer.error();
  if (inv.print_json_instead(*answer)) return cli_exit_ok;
  inv.out() << fmt::format(
      "Abort of promotion {} requested by {}. It stops before its next step that could change "
      "production; a step already running is not cut short (a Fly rollout stops after the "
      "machine it is rolling). Follow it with: promotectl promotion {}\n\n",
      id, text(member(*answer, "abort"), "by"), id);
  print_promotion(inv.out(), *answer);
  return cli_exit_ok;
}

int run_close_obligation(Invocation& inv) {
  const std::string& id = inv.positionals[0];
  if (!whole_number(id)) return inv.usage_error(fmt::format("'{}' is not an obligation id (e.g. 3)", printable(id)));
  auto link = inv.option("--link");
  if (!link || link->empty())
    return inv.usage_error("close-obligation needs --link URL: the backfilled review or the incident report");
  auto answer = inv.post(fmt::format("/v1/obligations/{}/close", id), {{"link", *link}});
  if (!answer) return answer.error();
  if (inv.print_json_instead(*answer)) return cli_exit_ok;
  inv.out() << fmt::format("Closed obligation {} ({}).\n", id, text(*answer, "kind"));
  return cli_exit_ok;
}

// --- configuration drift: env and flags ---------------------------------------------------------------

// A configuration change's time: the provider's when it says, else when promoterd saw it.
std::string change_time(const json& change) {
  return member(change, "provider_at").is_string() ? when(change, "provider_at") : when(change, "observed_at");
}

// The history column's note: a violation's reason, else nothing.
std::string violation_note(const json& change) {
  const json& violation = member(change, "violation");
  return violation.is_null() ? "" : "VIOLATION: " + text(violation);
}

std::string observed_text(const json& side) {
  return side.is_object() ? "observed " + when(side, "observed_at") : "not observed yet";
}

void print_service_variables(std::ostream& out, const json& service) {
  const json& staging = member(service, "staging");
  const json& production = member(service, "production");
  out << fmt::format("{}: staging {}, production {}\n", printable(text(service, "service")), observed_text(staging),
                     observed_text(production));

  auto names_of = [](const json& side) {
    auto list = strings(member(side, "names"));
    return std::set<std::string>(list.begin(), list.end());
  };
  const auto on_staging = names_of(staging);
  const auto on_production = names_of(production);
  auto missing = strings(member(service, "missing_in_production"));
  auto production_only = strings(member(service, "only_in_production"));
  std::map<std::string, std::string> exempt;  // name -> note
  for (const auto& e : member(service, "exempt"))
    exempt[text(e, "name")] = fmt::format("{} only: {}", text(e, "only_in"), text(e, "reason"));

  std::set<std::string> all = on_staging;
  all.insert(on_production.begin(), on_production.end());
  // A side not observed is unknown, not empty.
  auto cell = [](const json& side, const std::set<std::string>& names, const std::string& name) -> std::string {
    if (!side.is_object()) return "?";
    return names.contains(name) ? "yes" : "-";
  };
  Table table({"NAME", "STAGING", "PRODUCTION", "NOTE"});
  for (const auto& name : all) {
    std::string note;
    if (std::ranges::find(missing, name) != missing.end())
      note = "missing in production (blocks)";
    else if (auto it = exempt.find(name); it != exempt.end())
      note = it->second;
    else if (std::ranges::find(production_only, name) != production_only.end())
      note = "only in production";
    table.add_row({name, cell(staging, on_staging, name), cell(production, on_production, name), note});
  }
  if (table.empty())
    out << "  no variables\n";
  else
    table.print(out);
}

int run_env(Invocation& inv) {
  std::string target = "/v1/env";
  if (auto service = inv.option("--service")) {
    if (service->empty()) return inv.usage_error("--service needs a service name (e.g. api)");
    target += "?service=" + query_escape(*service);
  }
  auto answer = inv.get(target);
  if (!answer) return answer.error();
  if (inv.print_json_instead(*answer)) return cli_exit_ok;

  const json& services = member(*answer, "services");
  if (!services.is_array() || services.empty()) inv.out() << "No service's variables observed yet.\n";
  bool first = true;
  for (const auto& service : services) {
    if (!first) inv.out() << '\n';
    first = false;
    print_service_variables(inv.out(), service);
  }

  Table history({"AT", "SERVICE", "ENVIRONMENT", "CHANGE", "NAME", "NOTE"});
  for (const auto& c : member(*answer, "history"))
    history.add_row({change_time(c), text(c, "service"), text(c, "environment"), text(c, "kind"), text(c, "name"),
                     violation_note(c)});
  print_section(inv.out(), "Recent changes (newest first)", history, "none seen");
  print_violations(inv.out(), member(*answer, "violations"));
  return cli_exit_ok;
}

// A flag's state in one environment: on, off, or absent when the key is not in its table.
std::string flag_cell(const json& state) {
  if (!state.is_object()) return "absent";
  return member(state, "enabled") == true ? "on" : "off";
}

int run_flags(Invocation& inv) {
  auto answer = inv.get("/v1/flags");
  if (!answer) return answer.error();
  if (inv.print_json_instead(*answer)) return cli_exit_ok;
  if (member(*answer, "configured") != true) {
    inv.out() << "feature flags are not configured ([flags] section)\n";
    return cli_exit_ok;
  }

  const json& observed = member(*answer, "observed_at");
  auto observed_cell = [&](std::string_view tier) {
    return member(observed, tier).is_string() ? "observed " + when(observed, tier) : std::string("not observed yet");
  };
  inv.out() << fmt::format("flags: staging {}, production {}\n", observed_cell("staging"), observed_cell("production"));

  Table flags({"KEY", "STAGING", "PRODUCTION", "NOTE"});
  for (const auto& f : member(*answer, "flags")) {
    const json& production = member(f, "production");
    bool unvetted = member(production, "enabled") == true && member(f, "staging_ever_enabled") != true;
    flags.add_row({text(f, "key"), flag_cell(member(f, "staging")), flag_cell(production),
                   unvetted ? "enabled in production, never on staging" : ""});
  }
  if (flags.empty())
    inv.out() << "  no flags\n";
  else
    flags.print(inv.out());

  Table history({"AT", "ENVIRONMENT", "CHANGE", "KEY", "NOTE"});
  for (const auto& c : member(*answer, "history"))
    history.add_row({change_time(c), text(c, "environment"), text(c, "kind"), text(c, "key"), violation_note(c)});
  print_section(inv.out(), "Recent changes (newest first)", history, "none seen");
  print_violations(inv.out(), member(*answer, "violations"));
  return cli_exit_ok;
}

constexpr std::array<OptionSpec, 0> no_options{};
constexpr std::array limit_option{OptionSpec{"--limit", true}};
constexpr std::array watch_options{OptionSpec{"--since", true}, OptionSpec{"--limit", true}};
constexpr std::array reason_option{OptionSpec{"--reason", true}};
constexpr std::array smoke_options{OptionSpec{"--suite", true}, OptionSpec{"--passed", false},
                                   OptionSpec{"--failed", false}, OptionSpec{"--details", true}};
constexpr std::array audit_options{OptionSpec{"--limit", true}, OptionSpec{"--sha", true}};
constexpr std::array hotfix_options{OptionSpec{"--reason", true}, OptionSpec{"--incident", true},
                                    OptionSpec{"--override-freeze", false}};
constexpr std::array freeze_options{OptionSpec{"--reason", true}, OptionSpec{"--until", true}};
constexpr std::array rollback_options{OptionSpec{"--to", true}, OptionSpec{"--reason", true},
                                      OptionSpec{"--accept-schema", false}};
constexpr std::array check_option{OptionSpec{"--check", false}};
constexpr std::array all_option{OptionSpec{"--all", false}};
constexpr std::array link_option{OptionSpec{"--link", true}};
constexpr std::array service_option{OptionSpec{"--service", true}};

constexpr std::array commands{
    Command{"status", "status", "policy, production release, active promotion, release counts", 0, no_options,
            run_status},
    Command{"releases", "releases [--limit N]", "recent releases and their gates, newest first", 0, limit_option,
            run_releases},
    Command{"show", "show SHA", "one release: gates, deployments, smoke results, approvals, promotion steps", 1,
            no_options, run_show},
    Command{"approve", "approve SHA [--reason TEXT]", "approve a release (role operator; not its author)", 1,
            reason_option, run_approve},
    Command{"reject", "reject SHA --reason TEXT", "reject a release (role operator)", 1, reason_option, run_reject},
    Command{"smoke", "smoke SHA --suite NAME (--passed | --failed) [--details TEXT]",
            "record a smoke suite's result (role ci or operator)", 1, smoke_options, run_smoke},
    Command{"promotion", "promotion ID", "one promotion and its steps", 1, no_options, run_promotion},
    Command{"promotions", "promotions [--limit N]", "recent promotions, newest first", 0, limit_option, run_promotions},
    Command{"abort", "abort ID --reason TEXT",
            "stop a running promotion before its next step that could change production (role operator)", 1,
            reason_option, run_abort},
    Command{"audit", "audit [--limit N] [--sha SHA]", "the audit trail, newest first", 0, audit_options, run_audit},
    Command{"hotfix", "hotfix SHA --reason TEXT --incident URL [--override-freeze]",
            "emergency path: promote with the soak waived (role operator); opens the review and incident obligations; "
            "--override-freeze lets it start inside a freeze (audited)",
            1, hotfix_options, run_hotfix},
    Command{"freeze", "freeze --reason TEXT [--until TIME|DURATION]",
            "stop the line: no promotion starts until unfreeze, until TIME (RFC 3339) or for DURATION (\"2h\"); a "
            "running promotion is not touched (role operator)",
            0, freeze_options, run_freeze},
    Command{"unfreeze", "unfreeze --reason TEXT", "lift the line stop (role operator)", 0, reason_option, run_unfreeze},
    Command{"freezes", "freezes [--check]",
            "freeze windows, the line stop and when promotions may start; --check exits 1 when windows overlap", 0,
            check_option, run_freezes},
    Command{"rollback", "rollback [--to SHA] --reason TEXT [--accept-schema]",
            "back to the release before (or SHA, once production here): aborts a running promotion first, runs no "
            "migration, then pins production until resume (role operator)",
            0, rollback_options, run_rollback},
    Command{"resume", "resume --reason TEXT", "lift the pin a rollback left (role operator)", 0, reason_option,
            run_resume},
    Command{"obligations", "obligations [--all]", "hotfix obligations, soonest due first (open ones unless --all)", 0,
            all_option, run_obligations},
    Command{"close-obligation", "close-obligation ID --link URL",
            "close a hotfix obligation with the review or incident report (role operator)", 1, link_option,
            run_close_obligation},
    Command{"env", "env [--service NAME]",
            "environment-variable names (never values) per service on staging and production, recent changes and "
            "violations",
            0, service_option, run_env},
    Command{"flags", "flags", "feature flags on staging and production, recent changes and violations", 0, no_options,
            run_flags},
    Command{"watch", "watch [--since ID] [--limit N]",
            "each change as it happens (releases, promotion steps, audit, obligations, freezes, pins), resuming after "
            "a dropped connection; --since ID first replays what came after event ID (0: all kept), --limit N stops "
            "after N events",
            0, watch_options, run_watch},
};

const OptionSpec* find_option(std::span<const OptionSpec> specs, std::string_view name) {
  auto it = std::ranges::find(specs, name, &OptionSpec::name);
  return it == specs.end() ? nullptr : &*it;
}

int general_usage_error(std::ostream& err, std::string_view message) {
  err << "error: " << message << '\n'
      << "usage: promotectl [--url URL] [--output table|json] [--token-file PATH] COMMAND ...\n"
      << "Run 'promotectl --help' for all commands and options.\n";
  return cli_exit_usage;
}

}  // namespace

CliEnv CliEnv::from_process() { return CliEnv{env_value("PROMOTER_URL"), env_value("PROMOTER_TOKEN")}; }

std::string cli_usage() {
  std::string text =
      "usage: promotectl [--url URL] [--output table|json] [--token-file PATH] COMMAND ...\n"
      "\n"
      "Reads and steers promoterd through its /v1 API.\n"
      "\n"
      "commands:\n";
  for (const auto& command : commands) text += fmt::format("  {}\n      {}\n", command.synopsis, command.summary);
  text += fmt::format(
      "\n"
      "options:\n"
      "  --url URL          promoterd's base URL (default: $PROMOTER_URL, else {})\n"
      "  --output FORMAT    table (default) or json: the server's JSON answer, pretty-printed\n"
      "  --token-file PATH  read the API token from PATH (default: $PROMOTER_TOKEN)\n"
      "  -h, --help         show this help\n"
      "\n"
      "SHA is a commit SHA: the full 40 hex digits, or as git takes it, a prefix of at least {} that names one\n"
      "release (as the tables print them, 12). A prefix that matches several releases is refused and they are\n"
      "listed. Options may also be written --option=value.\n"
      "Exit status: 0 ok, 1 the server answered an error, could not be reached, or knows no release with that\n"
      "SHA prefix, 2 usage error (an ambiguous SHA prefix too).\n",
      default_url, core::Sha::min_prefix);
  return text;
}

int run_cli(std::span<const std::string> args, const CliEnv& env, std::ostream& out, std::ostream& err) {
  const Command* command = nullptr;
  std::vector<std::string> positionals;
  std::map<std::string, std::string, std::less<>> options;
  bool only_positionals = false;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_positionals || !arg.starts_with('-') || arg == "-") {
      if (command == nullptr) {
        auto it = std::ranges::find(commands, arg, &Command::name);
        if (it == commands.end()) return general_usage_error(err, fmt::format("unknown command '{}'", printable(arg)));
        command = &*it;
      } else {
        positionals.push_back(arg);
      }
      continue;
    }
    if (arg == "--") {
      only_positionals = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      out << cli_usage();
      return cli_exit_ok;
    }

    auto equals = arg.find('=');
    std::string name = arg.substr(0, equals);
    const OptionSpec* spec = find_option(global_options, name);
    if (spec == nullptr && command != nullptr) spec = find_option(command->options, name);
    if (spec == nullptr) {
      bool some_command_has_it =
          std::ranges::any_of(commands, [&](const Command& c) { return find_option(c.options, name) != nullptr; });
      std::string message = command != nullptr    ? fmt::format("{} has no option '{}'", command->name, printable(name))
                            : some_command_has_it ? fmt::format("{} belongs after the command it is for", name)
                                                  : fmt::format("unknown option '{}'", printable(name));
      return general_usage_error(err, message);
    }
    if (options.contains(name)) return general_usage_error(err, fmt::format("{} given twice", name));
    if (!spec->takes_value) {
      if (equals != std::string::npos) return general_usage_error(err, fmt::format("{} takes no value", name));
      options[name] = "";
    } else if (equals != std::string::npos) {
      options[name] = arg.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      options[name] = args[++i];
    } else {
      return general_usage_error(err, fmt::format("{} needs a value", name));
    }
  }

  if (command == nullptr) return general_usage_error(err, "no command given");

  Invocation inv(*command, env, out, err);
  if (positionals.size() != command->positionals)
    return inv.usage_error(fmt::format("{} takes {} argument{}, got {}", command->name, command->positionals,
                                       command->positionals == 1 ? "" : "s", positionals.size()));
  if (auto format = options.find("--output"); format != options.end()) {
    if (format->second == "json")
      inv.output = Output::json;
    else if (format->second != "table")
      return inv.usage_error(fmt::format("--output is table or json, not '{}'", printable(format->second)));
  }
  inv.positionals = std::move(positionals);
  inv.options = std::move(options);
  return command->run(inv);
}

}  // namespace promoter::promotectl
