/**
 * A machine that runs one Ephemery node: an existing one over SSH, an EC2 instance, a Hetzner Cloud server,
 * or the workstation's own Docker engine. It ends bootstrapped (Docker, compose, cron, the node's directory)
 * and exposes a Docker provider bound to it plus a command connection.
 */
import type * as awsSdk from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import type * as hcloudSdk from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { hostPaths } from "../lib/clients/types";
import { HostConfig, resolveHostKind } from "../lib/config/schema";
import { contentDigest, renderHostScript } from "../lib/hostScripts";
import { HostConnection, hostCommand } from "./hostCommand";
import { publicKeyOf, sshKeyFile } from "./sshKeys";

export interface HostArgs {
  /** The validated host settings (`hosts[i]`); decides what gets built. */
  readonly config: HostConfig;
  /** SSH private key for every host but `local` (unless `ssh.useAgent`); must be a secret. */
  readonly sshPrivateKey?: pulumi.Input<string>;
  /** Disk the node's clients need, GiB; sizes provisioned volumes. */
  readonly requiredDiskGiB: number;
  /** Public ports the node's clients listen on (p2p), opened in cloud firewalls. */
  readonly p2pPorts: { port: number; protocol: "tcp" | "udp" }[];
}

/** Debian's own AWS account publishes the official Debian AMIs. */
const DEBIAN_AMI_OWNER = "136693071363";
/** Debian cloud images log in as `admin` on EC2; Hetzner images as root. */
const AWS_LOGIN_USER = "admin";

export class Host extends pulumi.ComponentResource {
  public readonly kind: HostConfig["kind"] & string;
  /** Address the node is reached at (`localhost` for local). */
  public readonly address: pulumi.Output<string>;
  public readonly connection: HostConnection;
  /** Docker provider bound to this host (ssh://user@host:port, or the local socket); docker runtime only. */
  public readonly dockerProvider?: docker.Provider;
  /** Done when the machine is bootstrapped; everything on the host depends on it. */
  public readonly ready: pulumi.Resource;
  public readonly paths: ReturnType<typeof hostPaths>;
  public readonly config: HostConfig;

  constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ephemery:host:Host", name, { node: args.config.name, kind: resolveHostKind(args.config) }, opts);
    const cfg = args.config;
    this.config = cfg;
    const kind = resolveHostKind(cfg);
    this.kind = kind;
    this.paths = hostPaths(cfg.dataDir, cfg.name);

    const bootstrapValues = (dataDevice: string) => ({ DATA_DIR: cfg.dataDir, NODE_DIR: this.paths.root, DATA_DEVICE: dataDevice });
    let user = cfg.ssh.user;
    let port = cfg.ssh.port;
    let address: pulumi.Output<string>;
    let waitFor: pulumi.Resource[] = [];

    if (kind === "local") {
      address = pulumi.output("localhost");
    } else if (kind === "ssh") {
      address = pulumi.output(cfg.address!);
    } else if (kind === "aws") {
      const p = createAwsMachine(name, cfg, args, this, bootstrapValues);
      address = p.address;
      user = cfg.ssh.user === "root" ? AWS_LOGIN_USER : cfg.ssh.user;
      waitFor = p.resources;
    } else {
      const p = createHcloudMachine(name, cfg, args, this, bootstrapValues);
      address = p.address;
      waitFor = p.resources;
    }
    this.address = address;

    if (kind === "local") {
      this.connection = { kind: "local" };
    } else {
      const privateKey = cfg.ssh.useAgent ? undefined : args.sshPrivateKey;
      this.connection = {
        kind: "ssh",
        sudo: user !== "root",
        ssh: pulumi.secret(
          pulumi.all([address, privateKey]).apply(([host, key]) => ({ host, port, user, ...(key ? { privateKey: key } : {}) })),
        ),
      };
    }

    // Existing machines and provisioned ones alike run the same idempotent bootstrap over the connection.
    // Provisioned machines mounted their data volume in cloud-init already.
    const bootstrap = renderHostScript("bootstrap.sh", bootstrapValues(""));
    this.ready = hostCommand(
      `${name}-bootstrap`,
      this.connection,
      {
        create: `${kind === "aws" || kind === "hcloud" ? "cloud-init status --wait >/dev/null 2>&1 || true; " : ""}bash -s`,
        stdin: bootstrap,
        triggers: [contentDigest(bootstrap)],
      },
      { parent: this, dependsOn: waitFor },
    );

    const dockerHost: pulumi.Input<string> = kind === "local"
      ? pulumi.output(process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock")
      : pulumi.interpolate`ssh://${user}@${address}:${port}`;
    const sshOpts = kind === "local" || cfg.ssh.useAgent || !args.sshPrivateKey
      ? undefined
      : sshKeyFile(cfg.name, args.sshPrivateKey).apply((file) => ["-i", file, "-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes"]);
    // The compose runtime needs no Docker provider (nor its plugin): the host's own compose converges it.
    this.dockerProvider = cfg.runtime === "docker"
      ? new docker.Provider(`${name}-docker`, { host: dockerHost, sshOpts }, { parent: this, dependsOn: [this.ready] })
      : undefined;

    this.registerOutputs({ address: this.address, node: cfg.name, kind });
  }
}

type BootstrapValues = (dataDevice: string) => Record<string, string>;

// The cloud SDKs are loaded only for hosts that use them: @pulumi/aws alone is some 300 modules, which every
// run (and every closure serialization, which lists the loaded scripts) would otherwise pay for.
function createAwsMachine(name: string, cfg: HostConfig, args: HostArgs, parent: pulumi.Resource, values: BootstrapValues) {
  const aws = require("@pulumi/aws") as typeof awsSdk;
  const a = cfg.aws!;
  const opts = { parent };
  const volumeGiB = a.dataVolumeGiB ?? args.requiredDiskGiB;
  const az = `${a.region}a`;
  const keyPair = new aws.ec2.KeyPair(`${name}-key`, { publicKey: publicKeyOf(args.sshPrivateKey) }, opts);
  const sg = new aws.ec2.SecurityGroup(
    `${name}-sg`,
    {
      description: `Ephemery node ${cfg.name}: p2p and SSH only`,
      ingress: [
        { protocol: "tcp", fromPort: cfg.ssh.port, toPort: cfg.ssh.port, cidrBlocks: a.sshAllowedCidrs.filter((c) => !c.includes(":")), ipv6CidrBlocks: a.sshAllowedCidrs.filter((c) => c.includes(":")), description: "SSH" },
        ...args.p2pPorts.map((p) => ({ protocol: p.protocol, fromPort: p.port, toPort: p.port, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"], description: `p2p ${p.protocol}/${p.port}` })),
      ],
      egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] }],
      tags: { "ephemery:node": cfg.name },
    },
    opts,
  );
  const volume = new aws.ebs.Volume(`${name}-data`, { availabilityZone: az, size: volumeGiB, type: "gp3", encrypted: true, tags: { "ephemery:node": cfg.name } }, opts);
  const ami = a.ami ?? aws.ec2.getAmiOutput({ owners: [DEBIAN_AMI_OWNER], mostRecent: true, filters: [{ name: "name", values: ["debian-12-amd64-*"] }] }, { parent }).id;
  // Nitro instances name EBS volumes by their id (without the dash) under /dev/disk/by-id.
  const userData = volume.id.apply((id) => renderHostScript("bootstrap.sh", values(`/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${id.replace("-", "")}`)));
  const instance = new aws.ec2.Instance(
    `${name}-instance`,
    {
      ami,
      instanceType: a.instanceType,
      availabilityZone: az,
      subnetId: a.subnetId,
      keyName: keyPair.keyName,
      vpcSecurityGroupIds: [sg.id],
      userData,
      rootBlockDevice: { volumeSize: 30, volumeType: "gp3", encrypted: true },
      metadataOptions: { httpTokens: "required" },
      tags: { Name: `ephemery-${cfg.name}`, "ephemery:node": cfg.name },
    },
    opts,
  );
  const attachment = new aws.ec2.VolumeAttachment(`${name}-data-attachment`, { instanceId: instance.id, volumeId: volume.id, deviceName: "/dev/sdf" }, opts);
  return { address: instance.publicIp, resources: [instance, attachment] as pulumi.Resource[] };
}

function createHcloudMachine(name: string, cfg: HostConfig, args: HostArgs, parent: pulumi.Resource, values: BootstrapValues) {
  const hcloud = require("@pulumi/hcloud") as typeof hcloudSdk;
  const h = cfg.hcloud!;
  const opts = { parent };
  const volumeGiB = h.volumeGiB ?? args.requiredDiskGiB;
  const key = new hcloud.SshKey(`${name}-key`, { publicKey: publicKeyOf(args.sshPrivateKey) }, opts);
  const firewall = new hcloud.Firewall(
    `${name}-firewall`,
    {
      rules: [
        { direction: "in", protocol: "tcp", port: String(cfg.ssh.port), sourceIps: h.sshAllowedCidrs, description: "SSH" },
        ...args.p2pPorts.map((p) => ({ direction: "in", protocol: p.protocol, port: String(p.port), sourceIps: ["0.0.0.0/0", "::/0"], description: `p2p ${p.protocol}/${p.port}` })),
      ],
      labels: { "ephemery-node": cfg.name },
    },
    opts,
  );
  const volume = new hcloud.Volume(`${name}-data`, { size: volumeGiB, location: h.location, format: "ext4", labels: { "ephemery-node": cfg.name } }, opts);
  const userData = volume.id.apply((id) => renderHostScript("bootstrap.sh", values(`/dev/disk/by-id/scsi-0HC_Volume_${id}`)));
  const server = new hcloud.Server(
    `${name}-server`,
    {
      serverType: h.serverType,
      image: h.image,
      location: h.location,
      sshKeys: [key.id],
      firewallIds: [firewall.id.apply(Number)],
      userData,
      labels: { "ephemery-node": cfg.name },
    },
    opts,
  );
  const attachment = new hcloud.VolumeAttachment(`${name}-data-attachment`, { serverId: server.id.apply(Number), volumeId: volume.id.apply(Number), automount: false }, opts);
  return { address: server.ipv4Address, resources: [server, attachment] as pulumi.Resource[] };
}
