/**
 * The host-side release checker: lib/reset/release.ts as one dependency-free CommonJS file, shipped inside the
 * reset program, and the policy (required files, schedule, pinned clients' forks) it is run with.
 */
import * as fs from "fs";
import * as path from "path";
import { NodeSpecs } from "../clients";
import { NetworkConfig } from "../config/schema";
import { nodeForkSupport } from "./forks";
import { ReleasePolicy } from "./release";

let cached: string | undefined;

/**
 * The checker's JavaScript. From compiled sources (dist/) the sibling release.js is used as built; from the
 * TypeScript sources it is transpiled here (typescript's transpileModule: no type check, one file).
 */
export function releaseCheckerSource(): string {
  if (cached) return cached;
  const compiled = path.join(__dirname, "release.js");
  let js: string;
  if (__filename.endsWith(".js") && fs.existsSync(compiled)) {
    js = fs.readFileSync(compiled, "utf8");
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ts = require("typescript") as typeof import("typescript");
    js = ts.transpileModule(fs.readFileSync(path.join(__dirname, "release.ts"), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true, removeComments: true },
      fileName: "release.ts",
    }).outputText;
  }
  const imports = [...js.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
  const foreign = imports.filter((m) => !["fs", "path"].includes(m));
  if (foreign.length) throw new Error(`lib/reset/release.ts must import only Node built-ins (it runs alone on hosts); it requires ${foreign.join(", ")}`);
  cached = `// ephemery release checker, generated from lib/reset/release.ts by pulumi-ephemery.\n${js.replace(/^\/\/# sourceMappingURL=.*$/m, "")}\nif (require.main === module) process.exitCode = exports.main(process.argv.slice(2));\n`;
  return cached;
}

export function releasePolicy(network: NetworkConfig, specs: NodeSpecs, requiredFiles: string[]): ReleasePolicy {
  return { schedule: { ...network.schedule }, requiredFiles, clients: nodeForkSupport(specs) };
}
