/** Runs a command on a node's machine: over SSH for remote hosts, on the workstation for `local`. */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { shellQuote } from "../lib/hostScripts";
import { LocalCommand, RemoteCommand } from "./declaredResources";

/** How to reach a host; `undefined` connection means the workstation itself. */
export interface HostConnection {
  kind: "local" | "ssh";
  /** SSH connection (host, port, user, privateKey as a secret); absent for local. */
  ssh?: pulumi.Output<command.types.input.remote.ConnectionArgs>;
  /** Run commands through `sudo -n` (SSH users other than root). */
  sudo?: boolean;
}

export interface HostCommandArgs {
  create: pulumi.Input<string>;
  update?: pulumi.Input<string>;
  delete?: pulumi.Input<string>;
  /** Content passed on standard input: how files (secrets included) reach the host without touching argv. */
  stdin?: pulumi.Input<string>;
  triggers?: pulumi.Input<unknown[]>;
  /** Never log stdin/stdout of commands that handle secrets. */
  quiet?: boolean;
}

export function hostCommand(
  name: string,
  conn: HostConnection,
  args: HostCommandArgs,
  opts: pulumi.CustomResourceOptions,
): RemoteCommand | LocalCommand {
  const logging = args.quiet ? "none" : "stdoutAndStderr";
  if (conn.kind === "local") {
    return new LocalCommand(
      name,
      { create: args.create, update: args.update, delete: args.delete, stdin: args.stdin, triggers: args.triggers, interpreter: ["/bin/bash", "-c"], logging },
      opts,
    );
  }
  if (!conn.ssh) throw new Error(`host command ${name}: an ssh host needs a connection`);
  return new RemoteCommand(
    name,
    {
      connection: conn.ssh,
      // Remote shells differ; run every command with bash so scripts behave the same everywhere.
      create: bash(args.create, conn.sudo),
      update: args.update === undefined ? undefined : bash(args.update, conn.sudo),
      delete: args.delete === undefined ? undefined : bash(args.delete, conn.sudo),
      stdin: args.stdin,
      triggers: args.triggers,
      logging,
    },
    opts,
  );
}

/**
 * Plain scripts stay plain strings: most commands' scripts are known while the program builds, and each
 * Output (`pulumi.output` and its `apply`) costs the SDK an object and four promises, for three scripts of every
 * remote command. A known string and a known Output serialize alike, so the engine sees the same inputs.
 */
function bash(script: pulumi.Input<string>, sudo = false): pulumi.Input<string> {
  const wrap = (s: string) => `${sudo ? "sudo -n " : ""}bash -c ${shellQuote(s)}`;
  return typeof script === "string" ? wrap(script) : pulumi.output(script).apply(wrap);
}

/** Writes `content` (via stdin) to `path` with `mode`, atomically: a half-written file never replaces a good one. */
export function writeFileCommand(path: string, mode: string, dirMode = "0755"): string {
  const dir = path.replace(/\/[^/]+$/, "") || "/";
  return [
    "set -euo pipefail",
    `install -d -m ${dirMode} ${shellQuote(dir)}`,
    `tmp=$(mktemp ${shellQuote(`${path}.XXXXXX`)})`,
    `trap 'rm -f "$tmp"' EXIT`,
    `chmod ${mode} "$tmp"`,
    `cat > "$tmp"`,
    `mv -f "$tmp" ${shellQuote(path)}`,
    "trap - EXIT",
  ].join("\n");
}

export interface HostFileArgs {
  readonly path: string;
  /** Octal mode of the file, e.g. "0600" for secrets. */
  readonly mode: string;
  /** Mode of the directory when it is created. Default: "0755". */
  readonly dirMode?: string;
  readonly content: pulumi.Input<string>;
  /** Keep the content out of logs (secrets). Default: false. */
  readonly quiet?: boolean;
  /** A command run after each write, e.g. telling a service to reload. Default: none. */
  readonly afterWrite?: string;
}

/**
 * A file on the host that Pulumi owns: written atomically, rewritten in place when its content changes, and
 * removed on destroy. No triggers on purpose: a replacement would run the old resource's delete after the
 * new write, removing the file that was just written.
 */
export function hostFile(name: string, conn: HostConnection, file: HostFileArgs, opts: pulumi.CustomResourceOptions) {
  const write = `${writeFileCommand(file.path, file.mode, file.dirMode)}${file.afterWrite ? `\n${file.afterWrite}` : ""}`;
  return hostCommand(name, conn, { create: write, update: write, stdin: file.content, quiet: file.quiet, delete: `rm -f ${shellQuote(file.path)}` }, opts);
}
