/**
 * One dependency-free CommonJS file from a TypeScript entry point and everything it imports (the project's own
 * modules and the npm packages it depends on, ESM or not): what the host-side programs run as, since a host has
 * Node.js (or the pinned Node image) but none of the project's node_modules. Each module is transpiled alone
 * (typescript's transpileModule: no type check) and kept in a table; requires of Node built-ins stay real.
 */
import * as fs from "fs";
import { builtinModules } from "module";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");

/** Modules replaced inside a bundle: lib/nativeRequire.ts hands out the bundle's own loader. */
const SUBSTITUTES: Record<string, string> = {
  [path.join(ROOT, "lib/nativeRequire.ts")]: "exports.nativeRequire = () => __bundleRequire;",
};

const dependencyNames = (): string[] => Object.keys(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).dependencies ?? {});
const isBuiltin = (spec: string) => spec.startsWith("node:") || builtinModules.includes(spec);
const inPackage = (file: string) => file.includes(`${path.sep}node_modules${path.sep}`);
const packageOf = (spec: string) => spec.split("/").slice(0, spec.startsWith("@") ? 2 : 1).join("/");

function resolveLocal(spec: string, fromDir: string): string {
  const base = path.resolve(fromDir, spec);
  for (const c of [base, `${base}.ts`, `${base}.js`, path.join(base, "index.ts"), path.join(base, "index.js")]) {
    if (fs.statSync(c, { throwIfNoEntry: false })?.isFile()) return c;
  }
  throw new Error(`bundle: cannot resolve "${spec}" from ${fromDir}`);
}

function transpile(file: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require("typescript") as typeof import("typescript");
  return ts.transpileModule(fs.readFileSync(file, "utf8"), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true, removeComments: true, allowJs: true },
    fileName: file,
  }).outputText.replace(/^\/\/# sourceMappingURL=.*$/m, "");
}

const bundles = new Map<string, string>();

/**
 * The bundle of `entry`. Package modules named by a string literal in a call (what nativeRequire loads, e.g.
 * `req("@noble/curves/secp256k1.js")`) are bundled too, and found by that name at run time.
 */
export function bundleProgram(entry: string, header: string): string {
  const key = `${entry}\0${header}`;
  const hit = bundles.get(key);
  if (hit) return hit;
  const deps = dependencyNames();
  const ids = new Map<string, number>();
  const defs: string[] = [];
  const named: Record<string, number> = {};
  const add = (file: string): number => {
    const known = ids.get(file);
    if (known !== undefined) return known;
    const id = ids.size;
    ids.set(file, id);
    defs.push("");
    const js = SUBSTITUTES[file] ?? transpile(file);
    const map: Record<string, number> = {};
    for (const [, spec] of js.matchAll(/\brequire\("([^"]+)"\)/g)) {
      if (isBuiltin(spec)) continue;
      if (spec.startsWith(".")) map[spec] = add(resolveLocal(spec, path.dirname(file)));
      // The project may use its declared dependencies; a package's own files, the packages they depend on.
      else if (deps.includes(packageOf(spec)) || inPackage(file)) map[spec] = add(require.resolve(spec, { paths: [path.dirname(file)] }));
      else throw new Error(`bundle: ${path.relative(ROOT, file)} requires "${spec}", which is neither a Node built-in nor a dependency in package.json`);
    }
    for (const [, spec] of js.matchAll(/\(\s*"(@?[a-z0-9][\w.-]*(?:\/[\w.-]+)+)"\s*\)/g)) {
      if (inPackage(file) || named[spec] !== undefined || !fs.existsSync(path.join(ROOT, "node_modules", packageOf(spec)))) continue;
      named[spec] = add(require.resolve(spec, { paths: [ROOT] }));
    }
    const name = JSON.stringify(inPackage(file) ? file.slice(file.lastIndexOf("node_modules/")) : path.relative(ROOT, file));
    defs[id] = `[function (exports, require, module, __filename, __dirname) {\n${js}\n}, ${JSON.stringify(map)}, ${name}]`;
    return id;
  };
  const main = add(entry);
  const out = [
    `// ${header}`,
    "\"use strict\";",
    "const __defs = [",
    defs.join(",\n"),
    "];",
    `const __named = ${JSON.stringify(named)};`,
    "const __cache = [];",
    "function __load(id) {",
    "  if (__cache[id]) return __cache[id].exports;",
    "  const [fn, map, name] = __defs[id];",
    "  const module = { exports: {} };",
    "  __cache[id] = module;",
    "  const req = (spec) => (spec in map ? __load(map[spec]) : require(spec));",
    "  fn.call(module.exports, module.exports, req, module, name, \".\");",
    "  return module.exports;",
    "}",
    "function __bundleRequire(spec) {",
    "  if (spec in __named) return __load(__named[spec]);",
    "  throw new Error(`module ${spec} is not in this bundle`);",
    "}",
    `const __main = __load(${main});`,
    "if (require.main === module) Promise.resolve(__main.main(process.argv.slice(2))).then((code) => { process.exitCode = code; });",
    "",
  ].join("\n");
  bundles.set(key, out);
  return out;
}
