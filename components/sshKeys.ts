/** SSH key handling on the workstation: the public half for cloud key pairs, a 0600 file for Docker's ssh. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { utils } from "ssh2";

/** Derives the OpenSSH public key line from a private key; the result is not secret. */
export function publicKeyLine(privateKey: string): string {
  const parsed = utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    throw new Error(`ephemery:sshPrivateKey is not a private key that ssh understands${key instanceof Error ? ` (${key.message})` : ""}; store an OpenSSH or PEM key`);
  }
  return `${key.type} ${key.getPublicSSH().toString("base64")}`;
}

export function publicKeyOf(privateKey: pulumi.Input<string> | undefined): pulumi.Output<string> {
  if (privateKey === undefined) throw new Error("a provisioned host needs ephemery:sshPrivateKey to create its key pair");
  return pulumi.unsecret(pulumi.output(privateKey).apply(publicKeyLine));
}

/** Where key files for Docker's ssh transport live; 0700 directory, 0600 files. */
export function keyDir(): string {
  return process.env.EPHEMERY_KEY_DIR ?? path.join(os.homedir(), ".ephemery", "ssh");
}

/**
 * The Docker provider talks SSH through the ssh binary, which needs the key in a file. The file is written
 * with mode 0600 in a 0700 directory, named by host, and rewritten only when its content differs.
 */
export function sshKeyFile(host: string, privateKey: pulumi.Input<string>): pulumi.Output<string> {
  const stack = pulumi.getStack();
  const file = path.join(keyDir(), `${stack}-${host}`);
  return pulumi.output(privateKey).apply((key) => {
    if (!pulumi.runtime.isDryRun() || !fs.existsSync(file)) {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const content = key.endsWith("\n") ? key : `${key}\n`;
      const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
      if (current !== content) fs.writeFileSync(file, content, { mode: 0o600 });
      fs.chmodSync(file, 0o600);
    }
    return file;
  });
}
