/** Finds and reads a stack file for offline commands: `--file PATH`, or `--stack NAME` -> Pulumi.NAME.yaml. */
import * as fs from "fs";
import * as path from "path";
import { ConfigEntry, LoadResult, loadStackConfig } from "../lib/config/load";
import { readStackFile } from "../lib/config/stackFile";
import { UsageError } from "./command";

export const STACK_OPTIONS = {
  stack: { type: "string" as const },
  file: { type: "string" as const },
};

export function stackFilePath(values: Record<string, unknown>, cwd: string): string {
  const file = values.file as string | undefined;
  const stack = values.stack as string | undefined;
  if (file && stack) throw new UsageError("give --stack or --file, not both");
  if (file) return path.resolve(cwd, file);
  const name = stack ?? process.env.PULUMI_STACK ?? "local";
  const candidate = path.join(findProjectDir(cwd), `Pulumi.${name}.yaml`);
  if (!fs.existsSync(candidate)) throw new UsageError(`no stack file for stack "${name}" (looked for ${candidate}); pass --file PATH`);
  return candidate;
}

/** The nearest directory upwards that holds Pulumi.yaml, else cwd. */
export function findProjectDir(cwd: string): string {
  let dir = path.resolve(cwd);
  for (;;) {
    if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(cwd);
    dir = up;
  }
}

export function loadStackFile(file: string): { entries: Map<string, ConfigEntry>; result: LoadResult } {
  const entries = readStackFile(file);
  return { entries, result: loadStackConfig(entries) };
}
