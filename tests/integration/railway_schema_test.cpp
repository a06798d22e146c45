// Every GraphQL document RailwayClient can send validates against Railway's real public schema.
//
// Where the schema comes from: tests/schema/railway-schema.graphql is the SDL printed from the Railway
// CLI's introspection result (railwayapp/cli, src/gql/schema.json, commit
// df3838bf117cfa332d0ea28e9d26405639a98b2b, CLI v5.43.1), vendored; see tests/schema/README.md.
// Validation is graphql-js 16 (buildSchema + validate), run by tests/schema/validate_railway.mjs;
// install it first with `npm ci --prefix tests/schema`. The same script fails any document that selects a
// variable value (root `variables`, `variablesForServiceDeployment`, an EnvironmentVariables field, `value`).

#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <sys/wait.h>

#include "adapters/railway_client.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path kSource = PROMOTER_SOURCE_DIR;
const fs::path kSchema = kSource / "tests" / "schema" / "railway-schema.graphql";
const fs::path kValidator = kSource / "tests" / "schema" / "validate_railway.mjs";
const fs::path kGraphqlModule = kSource / "tests" / "schema" / "node_modules" / "graphql" / "package.json";

struct Run {
  int exit_code = -1;
  std::string output;
};

Run run_validator(const fs::path& dir) {
  const std::string command =
      "node '" + kValidator.string() + "' '" + kSchema.string() + "' '" + dir.string() + "' 2>&1";
  Run run;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE_MESSAGE(pipe != nullptr, "cannot run: " << command);
  std::array<char, 4096> chunk{};
  while (const auto n = std::fread(chunk.data(), 1, chunk.size(), pipe)) run.output.append(chunk.data(), n);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

fs::path fresh_dir(const std::string& tag) {
  std::mt19937_64 rng(std::random_device{}());
  auto dir = fs::temp_directory_path() / ("promoter-railway-schema-" + tag + "-" + std::to_string(rng()));
  fs::create_directories(dir);
  return dir;
}

void require_tools() {
  REQUIRE_MESSAGE(fs::exists(kSchema),
                  "Railway schema not found at " << kSchema.string() << " (vendored in the repository)");
  REQUIRE_MESSAGE(fs::exists(kGraphqlModule),
                  "graphql-js is not installed: run `npm ci --prefix tests/schema` in the repository root");
  REQUIRE_MESSAGE(std::system("node --version >/dev/null 2>&1") == 0, "node is not on PATH");
}

}  // namespace

TEST_CASE("every document RailwayClient sends validates against Railway's schema with zero errors") {
  require_tools();
  const auto documents = promoter::adapters::railway_documents();
  REQUIRE(documents.size() >= 5);
  const auto dir = fresh_dir("ok");
  for (const auto& [name, document] : documents) std::ofstream(dir / (name + ".graphql")) << document;
  // The batch query is built per service count: check the smallest and a large one as well.
  std::ofstream(dir / "ListDeploymentsBatch1.graphql") << promoter::adapters::railway_batch_deployments_document(1);
  std::ofstream(dir / "ListDeploymentsBatch25.graphql") << promoter::adapters::railway_batch_deployments_document(25);

  const auto run = run_validator(dir);
  fs::remove_all(dir);
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.output.find(std::to_string(documents.size() + 2) + " valid, 0 invalid") != std::string::npos);
  for (const auto& [name, document] : documents) CHECK(run.output.find("ok " + name + ".graphql") != std::string::npos);
}

TEST_CASE("the validator does reject documents that break the schema") {
  require_tools();
  const auto dir = fresh_dir("bad");
  // Railway's own docs show both of these; the schema says otherwise (railway.md lists them).
  std::ofstream(dir / "RollbackSelection.graphql")
      << "mutation R($id: String!) { deploymentRollback(id: $id) { id status } }";
  std::ofstream(dir / "SuccessfulOnly.graphql")
      << "query D { deployments(input: {status: {successfulOnly: true}}) { edges { node { id } } } }";
  const auto run = run_validator(dir);
  fs::remove_all(dir);
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK(run.output.find("0 valid, 2 invalid") != std::string::npos);
}

TEST_CASE("the validator rejects documents that would read variable values, valid or not") {
  require_tools();
  const auto dir = fresh_dir("values");
  // Railway's root `variables` query answers a name -> value map: schema-valid, and exactly what must never be sent.
  std::ofstream(dir / "RootVariables.graphql")
      << "query V($projectId: String!, $environmentId: String!, $serviceId: String) {\n"
         "  variables(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId)\n}";
  std::ofstream(dir / "AliasedRootVariables.graphql")
      << "query A { names: variables(projectId: \"p\", environmentId: \"e\", serviceId: \"s\") }";
  std::ofstream(dir / "ForDeployment.graphql")
      << "query D { variablesForServiceDeployment(projectId: \"p\", environmentId: \"e\", serviceId: \"s\") }";
  // Any field of the EnvironmentVariables scalar carries values (DeploymentSnapshot.variables).
  std::ofstream(dir / "Snapshot.graphql") << "query S { deploymentSnapshot(deploymentId: \"d\") { id variables } }";
  // The client's own names query, for contrast: valid and value-free.
  std::ofstream(dir / "Names.graphql")
      << "query N($id: String!) { environment(id: $id) { variables { edges { node { name isSealed } } } } }";
  const auto run = run_validator(dir);
  fs::remove_all(dir);
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK(run.output.find("1 valid, 4 invalid") != std::string::npos);
  CHECK(run.output.find("ok Names.graphql") != std::string::npos);
  CHECK(run.output.find("error RootVariables.graphql: selects Query.variables") != std::string::npos);
  CHECK(run.output.find("error AliasedRootVariables.graphql: selects Query.variables") != std::string::npos);
  CHECK(run.output.find("error ForDeployment.graphql: selects Query.variablesForServiceDeployment") !=
        std::string::npos);
  CHECK(run.output.find("error Snapshot.graphql: selects DeploymentSnapshot.variables of type EnvironmentVariables") !=
        std::string::npos);
}

TEST_CASE("no document RailwayClient sends selects a value: only names, times and isSealed of Variable") {
  for (const auto& [name, document] : promoter::adapters::railway_documents()) {
    CAPTURE(name);
    CHECK(document.find("value") == std::string::npos);
    CHECK(document.find("variablesForServiceDeployment") == std::string::npos);
  }
}
