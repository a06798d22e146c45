// Validates GraphQL documents against Railway's public schema with graphql-js 16.
// Usage: node tests/schema/validate_railway.mjs <schema.graphql> <dir with *.graphql documents>
// Prints one line per document and exits 0 only when every document validates with no errors.
//
// A valid document can still read what promoter must never read: a variable's value. So every document is
// also walked with TypeInfo and fails when it selects any of (the policy: only a variable's name is kept):
// - the root Query.variables field (name -> value map) or Query.variablesForServiceDeployment;
// - any field whose unwrapped type is the scalar EnvironmentVariables (a map that carries values);
// - any field named `value` or `values`, on any type.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  GraphQLError,
  TypeInfo,
  buildSchema,
  getNamedType,
  parse,
  validate,
  visit,
  visitWithTypeInfo,
} from "graphql";

const FORBIDDEN_ROOT_FIELDS = new Set(["variables", "variablesForServiceDeployment"]);
const FORBIDDEN_TYPES = new Set(["EnvironmentVariables"]);
const FORBIDDEN_NAMES = new Set(["value", "values"]);

// Every selection in `ast` that could read a variable's value, as errors.
function valueSelections(schema, ast) {
  const errors = [];
  const typeInfo = new TypeInfo(schema);
  const queryType = schema.getQueryType();
  visit(
    ast,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const parent = typeInfo.getParentType();
        const field = typeInfo.getFieldDef();
        const name = node.name.value;
        const where = `${parent ? parent.name : "?"}.${name}`;
        if (parent && queryType && parent.name === queryType.name && FORBIDDEN_ROOT_FIELDS.has(name)) {
          errors.push(new GraphQLError(`selects ${where}, which returns variable values`, { nodes: node }));
        } else if (field && FORBIDDEN_TYPES.has(getNamedType(field.type).name)) {
          errors.push(
            new GraphQLError(`selects ${where} of type ${getNamedType(field.type).name}, which carries values`, {
              nodes: node,
            }),
          );
        } else if (FORBIDDEN_NAMES.has(name)) {
          errors.push(new GraphQLError(`selects ${where}: a field named "${name}"`, { nodes: node }));
        }
      },
    }),
  );
  return errors;
}

const [schemaPath, dir] = process.argv.slice(2);
if (!schemaPath || !dir) {
  console.error("usage: validate_railway.mjs <schema.graphql> <documents dir>");
  process.exit(2);
}

const schema = buildSchema(readFileSync(schemaPath, "utf8"));
const files = readdirSync(dir).filter((f) => f.endsWith(".graphql")).sort();
if (files.length === 0) {
  console.error(`no .graphql documents in ${dir}`);
  process.exit(2);
}

let failures = 0;
for (const file of files) {
  const text = readFileSync(join(dir, file), "utf8");
  let errors;
  try {
    const ast = parse(text);
    errors = [...validate(schema, ast), ...valueSelections(schema, ast)];
  } catch (e) {
    errors = [e];
  }
  if (errors.length === 0) {
    console.log(`ok ${file}`);
  } else {
    failures += 1;
    for (const e of errors) console.log(`error ${file}: ${e.message}`);
  }
}
console.log(`${files.length - failures} valid, ${failures} invalid`);
process.exit(failures === 0 ? 0 : 1);
