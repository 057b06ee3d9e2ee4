/** Validator keys in a kind kubernetes node's manifests (lib/kubernetes/keys.ts through the renderer). Pure. */
import { allSpecs, buildNodeSpecs } from "../../lib/clients";
import { PATHS } from "../../lib/clients/types";
import { hostSchema } from "../../lib/config/schema";
import { DEFAULT_IMAGES } from "../../lib/config/images";
import { clientLayout, KEY_TOOLS, ValidatorClientName } from "../../lib/keys/layout";
import { checkKeysSecretSize, IMPORT_CONTAINER, importScript, INTERCHANGE_FILE, keyAnnotations, KEYSET_ANNOTATION, KubernetesKeysError, MAX_KEYS_PER_NODE, PUBKEYS_ANNOTATION } from "../../lib/kubernetes/keys";
import { renderNodeManifests } from "../../lib/kubernetes/manifests";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const PK = "aa".repeat(48);
const PASSWORD = "unit kubernetes keys password";
const INTERCHANGE = JSON.stringify({ metadata: { interchange_format_version: "5", genesis_validators_root: `0x${"12".repeat(32)}` }, data: [] });

function render(client: ValidatorClientName, interchange?: string, pubkeys = [PK]) {
  const consensus = client === "prysm" || client === "nimbus" || client === "teku" || client === "lodestar" ? client : "lighthouse";
  const h = hostSchema.parse({
    name: "k1", kind: "kubernetes", kubernetes: {}, consensus: { client: consensus },
    validator: { client, feeRecipient: FEE, keys: { path: "/nowhere" } },
  });
  const specs = allSpecs(buildNodeSpecs({ node: "k1", host: h, checkpointSyncUrls: [] }));
  const keyFiles = clientLayout(client, pubkeys.map((pubkey) => ({ pubkey, keystore: `{"pubkey":"${pubkey}","secret-ish":"k3yst0re"}`, password: PASSWORD })));
  const out = renderNodeManifests("k1", specs, {
    namespace: "ephemery", p2pExposure: "hostPort", imagePullPolicy: "IfNotPresent",
    volumeGiB: { testnet: 1, execution: 1, consensus: 1, validator: 1 }, dataDir: h.dataDir,
  }, { jwtHex: "ab".repeat(32), keyFiles, pubkeys, interchange });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const sts: any = out.objects.find((o) => o.kind === "StatefulSet");
  return { out, sts, specs };
}

describe("validator keys on a kubernetes node", () => {
  test("the schema accepts validator.keys on kind kubernetes", () => {
    expect(() => hostSchema.parse({ name: "k1", kind: "kubernetes", kubernetes: {}, validator: { feeRecipient: FEE, keys: { path: "./keys" } } })).not.toThrow();
  });

  test("the interchange goes into the keys Secret under current/, never into the plain objects", () => {
    const { out, sts } = render("lighthouse", INTERCHANGE);
    const secret = out.secrets.find((s) => s.metadata.name === "k1-validator-keys") as unknown as { data: Record<string, string> };
    const items: { key: string; path: string }[] = sts.spec.template.spec.volumes.find((v: { name: string }) => v.name === "validator-keys").secret.items;
    const item = items.find((i) => i.path === `current/${INTERCHANGE_FILE}`)!;
    expect(Buffer.from(secret.data[item.key], "base64").toString()).toBe(INTERCHANGE);
    const plain = JSON.stringify(out.objects);
    for (const s of [PASSWORD, "k3yst0re", INTERCHANGE]) expect(plain).not.toContain(s);
  });

  test("the import runs after the release wait and before the clients, with the VC's data writable and keys read-only", () => {
    const { sts, specs } = render("lighthouse", INTERCHANGE);
    const init = sts.spec.template.spec.initContainers;
    expect(init.map((c: { name: string }) => c.name)).toEqual(["wait-release", IMPORT_CONTAINER]);
    const imp = init[1];
    expect(imp.image).toBe(specs.find((s) => s.role === "validator")!.image);
    expect(imp.volumeMounts).toEqual([
      { name: "validator-data", mountPath: PATHS.data },
      { name: "validator-keys", mountPath: PATHS.keysRoot, readOnly: true },
      { name: "testnet", mountPath: PATHS.testnetRoot, readOnly: true },
    ]);
    // The host installer's own import command (KEY_TOOLS), with every $ kept from Kubernetes' expansion.
    expect(imp.command[2]).toBe(importScript("lighthouse").replace(/\$/g, "$$$$"));
    expect(importScript("lighthouse")).toContain(KEY_TOOLS.lighthouse.importCmd);
    expect(imp.env).toBeUndefined();
  });

  test("nimbus imports in the beacon image (its VC image has no slashingdb), prysm imports its wallet after the slashing protection, as the host installer does", () => {
    expect(render("nimbus").sts.spec.template.spec.initContainers[1].image).toBe(DEFAULT_IMAGES.nimbusBeacon);
    const prysm = importScript("prysm");
    expect(prysm.indexOf(KEY_TOOLS.prysm.walletImportCmd!)).toBeGreaterThan(-1);
    expect(prysm.indexOf(KEY_TOOLS.prysm.walletImportCmd!)).toBeGreaterThan(prysm.indexOf(KEY_TOOLS.prysm.importCmd));
    expect(importScript("teku")).not.toContain("accounts import");
  });

  test("the StatefulSet lists its pubkeys; the pod template's digest changes with the keys and the interchange", () => {
    const a = render("lighthouse").sts;
    expect(a.metadata.annotations[PUBKEYS_ANNOTATION]).toBe(PK);
    const digest = (s: { spec: { template: { metadata: { annotations: Record<string, string> } } } }) => s.spec.template.metadata.annotations[KEYSET_ANNOTATION];
    expect(digest(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(digest(render("lighthouse").sts)).toBe(digest(a));
    expect(digest(render("lighthouse", INTERCHANGE).sts)).not.toBe(digest(a));
    expect(digest(render("lighthouse", undefined, [PK, "bb".repeat(48)]).sts)).not.toBe(digest(a));
    expect(a.spec.replicas).toBe(1);
  });

  test("pubkeys are bounded and checked before they reach an annotation", () => {
    expect(() => keyAnnotations(["0xAA"], undefined)).toThrow(KubernetesKeysError);
    expect(() => keyAnnotations(Array.from({ length: MAX_KEYS_PER_NODE + 1 }, (_, i) => i.toString(16).padStart(96, "0")), undefined)).toThrow(/at most 2000/);
  });

  test("a keys Secret over the API server's 1 MiB limit is refused with the fix", () => {
    expect(() => checkKeysSecretSize("k1", { f0: "A".repeat(1024 * 1024) })).toThrow(/k1: the validator keys Secret would be 1048578 bytes; Kubernetes allows at most 1048576 \(1 MiB\) per Secret: split the keys over more nodes/);
    expect(() => checkKeysSecretSize("k1", { f0: "A".repeat(1000) })).not.toThrow();
    const many = Array.from({ length: 1000 }, (_, i) => i.toString(16).padStart(96, "0"));
    expect(() => render("lighthouse", undefined, many)).not.toThrow();
  });
});
