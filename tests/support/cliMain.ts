/** The `ephemery` bin from the TypeScript sources (bin/ephemery.js runs the compiled dist/), for runCliOnTty. */
import { main } from "../../cli/main";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`ephemery: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
