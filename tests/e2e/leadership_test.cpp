// End to end: two real promoterd processes on one database. Exactly one leads; the standby serves reads
// and forwards writes; a takeover after kill -9, a lost lock session or a rolling restart finishes the
// promotion in flight with every side effect exactly once.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fstream>
#include <pqxx/pqxx>
#include <set>

#include "tests/support/config_builder.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter::testing;
using nlohmann::json;

namespace {

using tokens::bob;
using tokens::ci;
using tokens::viewer;

const std::string sha1 = "1111111111111111111111111111111111111111";

// Two daemons on one database, sharing one simulated production (dir/effects.jsonl is the outside world).
struct Pair {
  Pair(const std::string& name, const std::string& step_delay = "0ms")
      : dir(temp_dir("leadership_" + name)),
        database(fresh_database("promoter_e2e_leadership_" + name)),
        a(make(name, "a", step_delay)),
        b(make(name, "b", step_delay)) {}

  std::unique_ptr<Daemon> make(const std::string&, const std::string& which, const std::string& step_delay) {
    std::filesystem::create_directories(dir / which);
    auto env = auth_tokens_env();
    env["PROMOTER_DATABASE_URL"] = database;
    const std::string toml =
        ConfigBuilder("1s").services({"worker", "api", "www"}).simulated(dir, step_delay).shared_tokens().toml();
    return std::make_unique<Daemon>(dir / which, toml, env);
  }

  static json status(const Daemon& d) {
    auto r = d.get("/v1/status", viewer);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json();
  }
  static std::string role(const Daemon& d) { return status(d)["leadership"]["role"]; }

  void deploy_all(const Daemon& via, const std::string& sha) const {
    for (const char* status : {"BUILDING", "SUCCESS"})
      for (const char* s : {"worker", "api", "www"}) {
        auto r = via.post("/v1/staging-deployments",
                          {{"service", s},
                           {"sha", sha},
                           {"deployment_id", fmt::format("dep-{}", s)},
                           {"status", status},
                           {"author", "alice-gh"}},
                          ci);
        REQUIRE_MESSAGE(r.status == 200, r.body);
      }
  }
  // Deploys, smoke-tests and approves sha1 through `via`; the soak (1s) then starts the promotion.
  void release_for_promotion(const Daemon& via) const {
    deploy_all(via, sha1);
    auto smoke = via.post("/v1/releases/" + sha1 + "/smoke-results", {{"suite", "e2e"}, {"passed", true}}, ci);
    REQUIRE_MESSAGE(smoke.status == 200, smoke.body);
    auto approved = via.post("/v1/releases/" + sha1 + "/approve", json::object(), bob);
    REQUIRE_MESSAGE(approved.status == 200, approved.body);
  }
  std::map<std::string, int> effect_counts() const {
    std::map<std::string, int> counts;
    std::ifstream in(dir / "effects.jsonl");
    std::string line;
    while (std::getline(in, line))
      if (auto j = json::parse(line, nullptr, false); j.is_object()) ++counts[j.value("step", "")];
    return counts;
  }
  std::size_t effects() const {
    std::size_t n = 0;
    for (const auto& [step, count] : effect_counts()) n += static_cast<std::size_t>(count);
    return n;
  }
  static bool promoted(const Daemon& d) {
    try {
      auto r = d.get("/v1/releases/" + sha1, viewer);
      return r.status == 200 && r.json()["state"] == "promoted";
    } catch (...) {
      return false;  // between a deposed App and its successor the socket still queues; a reset may show
    }
  }
  // The audit trail records the epoch of each entry: after the first entry of a later epoch, nothing was
  // written under `epoch` or before it (a deposed leader commits nothing), and the later leader wrote some.
  void check_fenced_after(long long epoch) const {
    pqxx::connection c(database);
    pqxx::nontransaction n(c);
    const int later = n.exec_params1("SELECT count(*)::int FROM audit_log WHERE epoch > $1", epoch)[0].as<int>();
    const int stale = n.exec_params1(
                           "SELECT count(*)::int FROM audit_log WHERE epoch <= $1 AND id > (SELECT min(id) "
                           "FROM audit_log WHERE epoch > $1)",
                           epoch)[0]
                          .as<int>();
    CHECK(later > 0);
    CHECK(stale == 0);
  }
  void check_each_effect_once() const {
    const std::map<std::string, int> expected{
        {"migrate", 1}, {"deploy:worker", 1}, {"deploy:api", 1}, {"deploy:www", 1}, {"verify", 1}};
    CHECK(effect_counts() == expected);
  }

  std::filesystem::path dir;
  std::string database;
  std::unique_ptr<Daemon> a;
  std::unique_ptr<Daemon> b;
};

std::string metric_line(const Daemon& d, const std::string& name) {
  const std::string text = d.get("/metrics", "").body;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(name + " ")) return line;
  return "";
}

}  // namespace

TEST_CASE(
    "two daemons on one database: one leads, both answer reads alike, a write through the standby is applied "
    "once by the leader") {
  Pair p("reads");
  p.a->start();
  p.b->start();
  const json sa = Pair::status(*p.a);
  const json sb = Pair::status(*p.b);
  CHECK(sa["leadership"]["role"] == "leader");
  CHECK(sb["leadership"]["role"] == "standby");
  CHECK(sb["leadership"]["leader"]["instance"] == sa["leadership"]["instance"]);
  CHECK(sb["leadership"]["epoch"] == sa["leadership"]["epoch"]);
  CHECK(metric_line(*p.a, "promoter_leader") == "promoter_leader 1");
  CHECK(metric_line(*p.b, "promoter_leader") == "promoter_leader 0");
  CHECK(p.b->get("/readyz", "").status == 200);

  // A write sent to the standby is answered by the leader, and says so.
  auto posted = p.b->post(
      "/v1/staging-deployments",
      {{"service", "api"}, {"sha", sha1}, {"deployment_id", "dep-api"}, {"status", "BUILDING"}, {"author", "alice-gh"}},
      ci);
  REQUIRE_MESSAGE(posted.status == 200, posted.body);
  CHECK(posted.headers["x-promoter-served-by"] == sa["leadership"]["instance"].get<std::string>());
  CHECK(posted.json()["state"] == "deploying");

  // Reads agree to the byte, whichever instance answers.
  for (const std::string& target :
       {"/v1/releases/" + sha1, std::string("/v1/releases"), "/v1/audit?sha=" + sha1, std::string("/v1/promotions")}) {
    CAPTURE(target);
    auto ra = p.a->get(target, viewer);
    auto rb = p.b->get(target, viewer);
    CHECK(ra.status == 200);
    CHECK(rb.status == 200);
    CHECK(ra.body == rb.body);
    CHECK(rb.headers["x-promoter-served-by"] == Pair::status(*p.b)["leadership"]["instance"].get<std::string>());
  }
  // Applied once: one audit entry for the one deployment report.
  int reports = 0;
  const json audit = p.a->get("/v1/audit?sha=" + sha1, viewer).json();  // named: g++ 12 range-for lifetime
  for (const auto& e : audit["entries"])
    if (e["action"] == "staging.deployment") ++reports;
  CHECK(reports == 1);

  // The standby's authorisation is the leader's: a viewer's write is refused there, not by the standby.
  auto refused = p.b->post("/v1/releases/" + sha1 + "/approve", json::object(), viewer);
  CHECK(refused.status == 403);

  // The whole release flow through the standby alone promotes, once.
  p.release_for_promotion(*p.b);
  REQUIRE(eventually([&] { return Pair::promoted(*p.b); }));
  p.check_each_effect_once();
  CHECK(Pair::status(*p.b)["production"]["sha"] == sha1);
}

TEST_CASE("kill -9 of the leader mid-promotion: the standby takes over and finishes it, each effect once") {
  Pair p("kill", "300ms");
  p.a->start();
  p.b->start();
  REQUIRE(Pair::role(*p.a) == "leader");
  const auto epoch = Pair::status(*p.a)["leadership"]["epoch"].get<long long>();
  p.release_for_promotion(*p.a);
  REQUIRE(eventually([&] { return p.effects() >= 2; }));
  p.a->kill_hard();
  CHECK(p.effects() < 5);
  REQUIRE(eventually([&] { return Pair::role(*p.b) == "leader"; }));
  CHECK(Pair::status(*p.b)["leadership"]["epoch"].get<long long>() == epoch + 1);
  CHECK(metric_line(*p.b, "promoter_leadership_takeovers_total") == "promoter_leadership_takeovers_total 1");
  REQUIRE(eventually([&] { return Pair::promoted(*p.b); }));
  p.check_each_effect_once();
  p.check_fenced_after(epoch);
}

TEST_CASE("terminating the leader's lock session fences it; the promotion finishes once, under a newer epoch") {
  Pair p("fence", "500ms");
  p.a->start();
  p.b->start();
  REQUIRE(Pair::role(*p.a) == "leader");
  const auto epoch = Pair::status(*p.a)["leadership"]["epoch"].get<long long>();
  p.release_for_promotion(*p.a);
  REQUIRE(eventually([&] { return p.effects() >= 1; }));
  {
    pqxx::connection c(p.database);
    pqxx::nontransaction n(c);
    const auto killed = n.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'promoterd leader lock%' "
        "AND datname = current_database()");
    REQUIRE(killed.size() == 1);
  }
  // The old leader stops acting and stands by again; whoever leads next finishes the promotion.
  REQUIRE(eventually([&] { return p.a->log().find("leadership lost") != std::string::npos; }));
  REQUIRE(eventually([&] { return Pair::promoted(*p.b); }));
  p.check_each_effect_once();
  const json sa = Pair::status(*p.a);
  const json sb = Pair::status(*p.b);
  CHECK(sb["leadership"]["epoch"].get<long long>() > epoch);
  p.check_fenced_after(epoch);
  // Exactly one leader afterwards.
  CHECK(int(sa["leadership"]["role"] == "leader") + int(sb["leadership"]["role"] == "leader") == 1);
  // The process that stepped down still counts the takeover it made: its counters outlive the leader it was.
  const std::string takeovers = metric_line(*p.a, "promoter_leadership_takeovers_total");
  REQUIRE(takeovers.starts_with("promoter_leadership_takeovers_total "));
  CHECK(std::stod(takeovers.substr(takeovers.find(' ') + 1)) >= 1);
  // Every step succeeded, each started once after the takeover at most: nothing ran twice.
  auto promotion_id = p.b->get("/v1/releases/" + sha1, viewer).json()["promotion_id"].get<std::string>();
  auto promotion = p.b->get("/v1/promotions/" + promotion_id, viewer).json();
  CHECK(promotion["state"] == "succeeded");
  for (const auto& s : promotion["steps"]) CHECK_MESSAGE(s["state"] == "succeeded", s.dump());
}

TEST_CASE("a rolling restart (new instance up, old one stopped) with a promotion in flight loses nothing") {
  Pair p("rolling", "300ms");
  p.a->start();
  REQUIRE(Pair::role(*p.a) == "leader");
  p.release_for_promotion(*p.a);
  REQUIRE(eventually([&] { return p.effects() >= 1; }));
  p.b->start();
  CHECK(Pair::role(*p.b) == "standby");
  CHECK(p.a->terminate() == 0);
  REQUIRE(eventually([&] { return Pair::role(*p.b) == "leader"; }));
  REQUIRE(eventually([&] { return Pair::promoted(*p.b); }));
  p.check_each_effect_once();
  // Every acknowledged report is still there.
  int reports = 0;
  const json audit = p.b->get("/v1/audit?sha=" + sha1 + "&limit=1000", viewer).json();
  for (const auto& e : audit["entries"])
    if (e["action"] == "staging.deployment") ++reports;
  CHECK(reports == 6);
}

TEST_CASE("two instances started at the same instant, 20 times: never two leaders") {
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    Pair p("race");
    p.a->spawn();
    p.b->spawn();
    p.a->wait_ready();
    p.b->wait_ready();
    const std::string ra = Pair::role(*p.a);
    const std::string rb = Pair::role(*p.b);
    CHECK(int(ra == "leader") + int(rb == "leader") == 1);
    CHECK(int(ra == "standby") + int(rb == "standby") == 1);
  }
}
