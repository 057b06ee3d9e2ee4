#!/usr/bin/env node
// The CLI is compiled by `npm ci` (the prepare script); this shim keeps the bin path stable.
require("../dist/cli/main.js").main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`ephemery: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
