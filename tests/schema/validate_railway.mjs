// Validates GraphQL documents against Railway's public schema with graphql-js 16.
// Usage: node tests/schema/validate_railway.mjs <schema.graphql> <dir with *.graphql documents>
// Prints one line per document and exits 0 only when every document validates with no errors.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { buildSchema, parse, validate } from "graphql";

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
    errors = validate(schema, parse(text));
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
