/**
 * Node's own `require` for ESM-only packages (@noble/curves, @scure/bip39): Node >= 20.19 loads ESM synchronously
 * through it. Taken from process.getBuiltinModule where it exists, because jest replaces the `module` builtin with
 * its own, whose require cannot load ESM.
 */
import type * as NodeModule from "module";

export function nativeRequire(fromFile: string): NodeJS.Require {
  const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = (getBuiltin ? getBuiltin("module") : require("module")) as typeof NodeModule;
  return mod.createRequire(fromFile);
}
