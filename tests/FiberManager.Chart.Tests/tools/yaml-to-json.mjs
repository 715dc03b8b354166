// Converts YAML files (multi-document) to JSON for the C# chart tests, with YAML 1.1 semantics
// like the Kubernetes API server's parser. Usage: node yaml-to-json.mjs <file>...
// Prints [{"file": ..., "documents": [...]}, ...]; exits 1 on a YAML error.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const result = [];
let failed = false;
for (const file of process.argv.slice(2)) {
  const documents = [];
  for (const document of parseAllDocuments(readFileSync(file, "utf8"), { version: "1.1" })) {
    if (document.errors.length > 0) {
      console.error(`${file}: ${document.errors.map((e) => e.message).join("; ")}`);
      failed = true;
      continue;
    }
    const value = document.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) documents.push(value);
  }
  result.push({ file, documents });
}
process.stdout.write(JSON.stringify(result));
process.exit(failed ? 1 : 0);
