// Validates rendered Kubernetes manifests against the API schemas in npm kubernetes-models
// (types, formats, enums and required fields). Usage: node check-manifests.mjs <manifests.yaml>...
// Prints one line per problem and exits 1 when there is any; exits 0 and prints a summary otherwise.
// (kubernetes-models does not reject unknown fields: check-unknown-fields.py does that.)
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node check-manifests.mjs <manifests.yaml>...");
  process.exit(2);
}

const problems = [];
const checked = [];
for (const file of files) {
  // YAML 1.1, as the API server's parser reads it.
  const documents = parseAllDocuments(readFileSync(file, "utf8"), { version: "1.1" });
  for (const [index, document] of documents.entries()) {
    if (document.errors.length > 0) {
      problems.push(`${file}: document ${index}: YAML errors: ${document.errors.map((e) => e.message).join("; ")}`);
      continue;
    }
    const manifest = document.toJS();
    if (manifest === null || manifest === undefined) {
      continue; // an empty document (a template that rendered nothing)
    }
    const { apiVersion, kind } = manifest;
    const name = `${file}: ${kind ?? "?"}/${manifest.metadata?.name ?? "?"}`;
    if (typeof apiVersion !== "string" || typeof kind !== "string") {
      problems.push(`${file}: document ${index}: apiVersion and kind are required`);
      continue;
    }
    if (typeof manifest.metadata?.name !== "string" || manifest.metadata.name.length === 0) {
      problems.push(`${name}: metadata.name is required`);
    }
    // "v1" is the core group: kubernetes-models/v1/Service; others: kubernetes-models/apps/v1/Deployment.
    const modulePath = `kubernetes-models/${apiVersion}/${kind}`;
    let Model;
    try {
      Model = (await import(modulePath))[kind];
    } catch (error) {
      problems.push(`${name}: no schema for ${apiVersion} ${kind} in kubernetes-models (${error.message})`);
      continue;
    }
    if (typeof Model !== "function") {
      problems.push(`${name}: kubernetes-models exports no ${kind} from ${modulePath}`);
      continue;
    }
    try {
      new Model(manifest).validate();
      checked.push(`${kind}/${manifest.metadata.name}`);
    } catch (error) {
      const details = (error.errors ?? [])
        .map((e) => `${e.instancePath || "/"} ${e.message}${e.params ? " " + JSON.stringify(e.params) : ""}`)
        .join("; ");
      problems.push(`${name}: ${error.message}${details ? ` (${details})` : ""}`);
    }
  }
}

if (problems.length > 0) {
  for (const problem of problems) console.log(problem);
  process.exit(1);
}
console.log(`valid (${checked.length}): ${checked.join(", ")}`);
