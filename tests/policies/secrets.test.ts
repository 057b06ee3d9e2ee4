import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { unknownCheckingProxy } from "@pulumi/policy";
import { resourcePolicy } from "../../policies/common";
import { grafanaPasswordNotDefault, noSecretsOnCommandLines, secretInputsAreSecret, secretsNotInConfigMaps } from "../../policies/secrets";
import { changed, res, runResource, urnOf, wire } from "./harness";

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const secret = (value: unknown) => ({ [SIG]: SECRET_SIG, value });
const isSecretWire = (v: any) => v && typeof v === "object" && v[SIG] === SECRET_SIG;

const JWT = "ab".repeat(32);
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

/** Runs the remediation the way the SDK does: engine wire format in, proxies around it, wire format out. */
async function remediate(type: string, wireProps: Record<string, unknown>): Promise<Record<string, any> | undefined> {
  const props = unknownCheckingProxy(wire.deserializeProperties({ toJavaScript: () => wireProps }, true));
  const args = { type, props, urn: urnOf(type, "r"), name: "r", opts: {} } as unknown as ResourceValidationArgs;
  const result = await secretInputsAreSecret.remediateResource!(args);
  return result ? (await wire.serializeProperties(result)) : undefined;
}

describe("secret-inputs-are-secret (remediation)", () => {
  const jwtFile = { create: "install -m 0600 /dev/stdin /var/lib/ephemery/a/jwt/jwt.hex", logging: "none" };
  const sshConn = { host: "198.51.100.7", port: 22, user: "root" };

  test("leaves resources alone when their secret inputs are secrets already", async () => {
    expect(await remediate("command:remote:Command", { ...jwtFile, stdin: secret(JWT), connection: secret({ ...sshConn, privateKey: KEY }) })).toBeUndefined();
    expect(await remediate("command:remote:Command", { ...jwtFile, stdin: secret(JWT), connection: { ...sshConn, privateKey: secret(KEY) } })).toBeUndefined();
    expect(await remediate("command:local:Command", { create: "echo hi", stdin: "plain words", logging: "stdoutAndStderr" })).toBeUndefined();
  });

  test("marks a plain JWT on stdin as a secret, keeping the value and the other inputs", async () => {
    const out = await remediate("command:remote:Command", { ...jwtFile, stdin: JWT, connection: secret({ ...sshConn, privateKey: KEY }) });
    expect(isSecretWire(out!.stdin)).toBe(true);
    expect(out!.stdin.value).toBe(JWT);
    expect(out!.create).toBe(jwtFile.create);
    expect(isSecretWire(out!.connection)).toBe(true);
  });

  test("marks stdin of a quiet command (the program's secret writers) even when its content has no telltale shape", async () => {
    const out = await remediate("command:local:Command", { create: "cat > pw", stdin: "correct horse battery", logging: "none" });
    expect(isSecretWire(out!.stdin)).toBe(true);
  });

  test("marks a plain SSH private key in a connection", async () => {
    const out = await remediate("command:remote:Command", { create: "true", connection: { ...sshConn, privateKey: KEY } });
    expect(isSecretWire(out!.connection.privateKey)).toBe(true);
    expect(out!.connection.host).toBe(sshConn.host);
  });

  test("marks plain cloud tokens on providers", async () => {
    expect(isSecretWire((await remediate("pulumi:providers:hcloud", { token: "x".repeat(64) }))!.token)).toBe(true);
    const aws = await remediate("pulumi:providers:aws", { region: "eu-central-1", secretKey: "s3cr3t", accessKey: "AKIA" });
    expect(isSecretWire(aws!.secretKey)).toBe(true);
    expect(aws!.accessKey).toBe("AKIA");
  });

  test("marks a Kubernetes Secret's data and a Kubernetes provider's kubeconfig", async () => {
    const k8sSecret = await remediate("kubernetes:core/v1:Secret", { metadata: { name: "n1-jwt" }, type: "Opaque", data: { "jwt.hex": Buffer.from(JWT).toString("base64") } });
    expect(isSecretWire(k8sSecret!.data)).toBe(true);
    expect(k8sSecret!.metadata).toEqual({ name: "n1-jwt" });
    expect(await remediate("kubernetes:core/v1:Secret", { metadata: { name: "n1-jwt" }, data: secret({ "jwt.hex": "eA==" }) })).toBeUndefined();
    expect(isSecretWire((await remediate("pulumi:providers:kubernetes", { kubeconfig: "apiVersion: v1\nkind: Config\n", context: "c" }))!.kubeconfig)).toBe(true);
  });

  test("marks a password in a container's environment", async () => {
    const out = await remediate("docker:index/container:Container", { image: "grafana/grafana:12.3.0", envs: ["GF_SERVER_HTTP_PORT=3000", "GF_SECURITY_ADMIN_PASSWORD=averylongpassword"] });
    expect(out!.envs[0]).toBe("GF_SERVER_HTTP_PORT=3000");
    expect(isSecretWire(out!.envs[1])).toBe(true);
  });
});

describe("no-secrets-on-command-lines", () => {
  const policy = resourcePolicy(noSecretsOnCommandLines) as ResourceValidationPolicy;
  const cmd = res("command:remote:Command", "alpha-jwt-file", { create: "install -d /x && cat > /x/jwt.hex", stdin: JWT, logging: "none" });
  const container = res("docker:index/container:Container", "alpha-validator", {
    image: "sha256:0", command: ["--password-file=/keys/pw", "--token=$TOKEN"], envs: ["GF_SECURITY_ADMIN_PASSWORD__FILE=/run/pw", "TOKEN=${TOKEN}"],
  });

  test("passes for secrets on stdin, in files, or in variables", () => {
    expect(runResource(policy, cmd)).toEqual([]);
    expect(runResource(policy, container)).toEqual([]);
  });

  test("reports a private key in a command line", () => {
    const v = runResource(policy, changed(cmd, (c) => { c.props.create = `echo '${KEY}' > ~/.ssh/id`; }));
    expect(v[0].message).toMatch(/must not carry a private key in create/);
  });

  test("reports a literal password flag and a literal password in the environment", () => {
    const flag = runResource(policy, changed(container, (c) => { c.props.command.push("--keystore-password=hunter2hunter2"); }));
    expect(flag[0].message).toMatch(/must not pass --keystore-password with a literal value in command\[2\]/);
    const env = runResource(policy, changed(container, (c) => { c.props.envs.push("GF_SECURITY_ADMIN_PASSWORD=hunter2hunter2"); }));
    expect(env[0].message).toMatch(/must not set GF_SECURITY_ADMIN_PASSWORD in envs\[2\]/);
  });
});

describe("no-secrets-on-command-lines on Kubernetes workloads", () => {
  const policy = resourcePolicy(noSecretsOnCommandLines) as ResourceValidationPolicy;
  const sts = (container: Record<string, unknown>) => res("kubernetes:apps/v1:StatefulSet", "n1-statefulset-n1", {
    metadata: { name: "n1" }, spec: { replicas: 1, template: { spec: { initContainers: [{ name: "wait", command: ["/bin/sh", "-c", "sleep 1"] }], containers: [{ name: "validator", args: ["--password-file=/keys/pw"], env: [{ name: "HOME", value: "/data" }], ...container }] } } },
  });

  test("passes for files, variables and env from a Secret key", () => {
    expect(runResource(policy, sts({}))).toEqual([]);
    expect(runResource(policy, sts({ env: [{ name: "API_TOKEN", valueFrom: { secretKeyRef: { name: "n1-api", key: "token" } } }] }))).toEqual([]);
  });

  test("reports a literal password flag in a container's args and a literal token in its env, a CronJob's too", () => {
    expect(runResource(policy, sts({ args: ["--keystore-password=hunter2hunter2"] }))[0].message).toMatch(/must not pass --keystore-password with a literal value in container validator args\[0\]/);
    expect(runResource(policy, sts({ env: [{ name: "API_TOKEN", value: "t0k3n-literal" }] }))[0].message).toMatch(/must not set API_TOKEN in envs\[0\] of container validator/);
    const cron = res("kubernetes:batch/v1:CronJob", "n1-cronjob-n1-reset", { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: "reset", command: ["bash", "-c", `echo '${KEY}'`] }] } } } } } });
    expect(runResource(policy, cron)[0].message).toMatch(/must not carry a private key in container reset command\[2\]/);
  });
});

describe("secrets-not-in-configmaps", () => {
  const policy = resourcePolicy(secretsNotInConfigMaps) as ResourceValidationPolicy;
  const cm = res("kubernetes:core/v1:ConfigMap", "n1-configmap-n1-reset", { metadata: { name: "n1-reset" }, data: { "ephemery-reset": "#!/usr/bin/env bash\nreadonly RUNTIME='kubernetes'\n", "prometheus.yml": "global: {}\n" } });

  test("passes for programs and configuration", () => {
    expect(runResource(policy, cm)).toEqual([]);
  });

  test("reports a JWT, a private key and a keystore, naming the key", () => {
    for (const [value, what] of [[JWT, "a JWT secret"], [KEY, "a private key"], [JSON.stringify({ crypto: { kdf: {}, checksum: {}, cipher: { message: "00" } }, pubkey: "ab" }), "a validator keystore"]]) {
      const v = runResource(policy, changed(cm, (c) => { c.props.data["leak"] = value; }));
      expect(v.map((x) => x.message)).toEqual([expect.stringContaining(`must not carry ${what} (key leak)`)]);
    }
  });

  test("does not read Secrets", () => {
    expect(runResource(policy, res("kubernetes:core/v1:Secret", "n1-secret-n1-jwt", { data: { "jwt.hex": JWT } }))).toEqual([]);
  });
});

describe("grafana-password-not-default", () => {
  const policy = resourcePolicy(grafanaPasswordNotDefault) as ResourceValidationPolicy;
  const grafana = res("docker:index/container:Container", "alpha-grafana", { image: "grafana/grafana:12.3.0", envs: ["GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/pw"] });
  const envFile = res("command:remote:Command", "alpha-grafana-env", { create: "cat > grafana.env", stdin: "GF_SECURITY_ADMIN_USER=admin\nGF_SECURITY_ADMIN_PASSWORD=Xq7-long-random-value\n" });

  test("passes for a password file, and for a long random password written by a command", () => {
    expect(runResource(policy, grafana)).toEqual([]);
    expect(runResource(policy, envFile)).toEqual([]);
  });

  test("reports a well-known default, in an env file and in grafana.ini", () => {
    const v = runResource(policy, changed(envFile, (c) => { c.props.stdin = "GF_SECURITY_ADMIN_PASSWORD=admin\n"; }));
    expect(v[0].message).toMatch(/must not be a well-known default/);
    const ini = runResource(policy, changed(envFile, (c) => { c.props.stdin = "[security]\nadmin_password = changeme\n"; }));
    expect(ini).toHaveLength(1);
  });

  test("reads the in-cluster Grafana's Secret (base64 admin_password)", () => {
    const k8s = (pw: string) => res("kubernetes:core/v1:Secret", "n1-secret-n1-grafana", { data: { admin_password: Buffer.from(pw).toString("base64") } });
    expect(runResource(policy, k8s("Xq7-long-random-value"))).toEqual([]);
    expect(runResource(policy, k8s("admin"))[0].message).toMatch(/must not be a well-known default/);
  });

  test("reports a short password, with a configurable minimum", () => {
    const short = changed(envFile, (c) => { c.props.stdin = "GF_SECURITY_ADMIN_PASSWORD=k3y-9x\n"; });
    expect(runResource(policy, short)[0].message).toMatch(/at least 12 characters; it has 6/);
    expect(runResource(policy, short, { minLength: 6 })).toEqual([]);
  });

  test("reports a Grafana container with no admin password at all (Grafana would start with admin/admin)", () => {
    const v = runResource(policy, changed(grafana, (c) => { c.props.envs = []; }));
    expect(v[0].message).toMatch(/must set an admin password/);
  });
});
