/** The JWT secret an EL/CL pair shares: generated once, kept as a Pulumi secret, written 0600 on the host. */
import * as pulumi from "@pulumi/pulumi";
import { LocalCommand, RemoteCommand } from "./declaredResources";
import { Host } from "./host";
import { hostFile } from "./hostCommand";

export interface JwtSecretArgs {
  readonly host: Host;
}

export class JwtSecret extends pulumi.ComponentResource {
  /** 32-byte hex secret; a Pulumi secret. */
  public readonly value: pulumi.Output<string>;
  /** The file on the host, written when this resource is done. */
  public readonly file: RemoteCommand | LocalCommand;
  public readonly path: string;

  constructor(name: string, args: JwtSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ephemery:network:JwtSecret", name, {}, opts);
    // Generated on the workstation at create time only, so every later `up` keeps the same secret.
    const generated = new LocalCommand(
      `${name}-generate`,
      {
        create: `node -e "process.stdout.write(require('crypto').randomBytes(32).toString('hex'))"`,
        logging: "none",
      },
      { parent: this, additionalSecretOutputs: ["stdout"] },
    );
    this.value = pulumi.secret(generated.stdout);
    this.path = args.host.paths.jwt;
    this.file = hostFile(
      `${name}-file`,
      args.host.connection,
      { path: this.path, mode: "0600", dirMode: "0700", content: this.value, quiet: true },
      { parent: this, dependsOn: [args.host.ready] },
    );
    this.registerOutputs({ path: this.path });
  }
}
