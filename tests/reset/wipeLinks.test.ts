/**
 * A client container is root inside its volume and can put links there. The reset's wipe must never leave the
 * volume: a link where a client keeps a directory is refused before anything stops (and counted), and links
 * deeper in the tree are removed as links, never followed. Real Docker, links written from inside the containers.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chainIdOf, clGenesisTime, elGenesisTime } from "../../lib/ephemery";
import { docker } from "../support/dockerd";
import { nodeAnswers, ReleaseServer, TestNode, waitFor } from "./harness";

jest.setTimeout(180_000);

const I = 150;

/** A host directory with files in it, and a way to see that none of them went away. */
function hostDir(label: string): { dir: string; intact(): boolean } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ephemery-host-${label}-`));
  fs.writeFileSync(path.join(dir, "precious.txt"), "operator data\n");
  fs.mkdirSync(path.join(dir, "sub"));
  fs.writeFileSync(path.join(dir, "sub", "deeper.txt"), "more operator data\n");
  return {
    dir,
    intact: () => fs.existsSync(path.join(dir, "precious.txt")) && fs.readFileSync(path.join(dir, "sub", "deeper.txt"), "utf8") === "more operator data\n",
  };
}

function inContainer(name: string, script: string): void {
  docker(["exec", name, "sh", "-c", script]);
}

describe("the wipe stays inside each volume", () => {
  const server = new ReleaseServer();
  let node: TestNode;
  const hosts: { dir: string }[] = [];
  const host = (label: string) => { const h = hostDir(label); hosts.push(h); return h; };

  beforeAll(async () => {
    await server.start();
    node = await TestNode.create(server);
    server.publish(I);
    expect((await node.run("ensure", elGenesisTime(I) + 100)).code).toBe(0);
    node.startClients();
    await waitFor(async () => (await nodeAnswers(node).catch(() => undefined))?.chainId === chainIdOf(I), 20_000, "clients on the first chain");
    server.publish(I + 1);
  });
  afterAll(async () => {
    node?.cleanup();
    for (const h of hosts) fs.rmSync(h.dir, { recursive: true, force: true });
    await server.stop();
  });

  test.each([
    ["the EL's geth dir", "execution", "geth"],
    ["the CL's beacon dir", "consensus", "beacon"],
    ["the validator's slashing-protection dir", "validator", "validators"],
  ] as const)("a link in place of %s is refused before anything stops, and counted", async (_what, role, dir) => {
    const target = host(role);
    const container = node.allSpecs.find((s) => s.role === role)!.name;
    inContainer(container, `mv /data/${dir} /data/${dir}.real && ln -s ${target.dir} /data/${dir}`);
    const before = { starts: node.containerStarts(), failures: node.metrics().ephemery_reset_failures_total };
    node.forgetBackoff();
    const r = await node.run("run", elGenesisTime(I + 1) + 30);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`REFUSED: .*/${dir} is a link \\(to "${target.dir}"\\)`));
    expect(r.stderr).toMatch(/keeps running on iteration 150/);
    expect(target.intact()).toBe(true);
    expect(node.containerStarts()).toEqual(before.starts);
    expect(node.current()).toBe(`releases/ephemery-${I}`);
    expect(fs.existsSync(path.join(node.paths.state, "switch.journal"))).toBe(false);
    expect(node.metrics().ephemery_reset_failures_total).toBe(before.failures + 1);
    inContainer(container, `rm /data/${dir} && mv /data/${dir}.real /data/${dir}`);
  });

  test("links deeper in the trees are removed as links: the switch completes and the host dirs keep every file", async () => {
    const el = host("el-nested");
    const cl = host("cl-nested");
    const vc = host("vc-nested");
    inContainer(node.specs.execution.name, `ln -s ${el.dir} /data/geth/chaindata/ancient && mkdir -p /data/geth/deep/er && ln -s ${el.dir} /data/geth/deep/er/link && ln -s ${el.dir}/precious.txt /data/geth/file-link`);
    inContainer(node.specs.consensus.name, `ln -s ${cl.dir} /data/beacon/chain_db/blobs && ln -s ${cl.dir} /data/beacon/freezer`);
    // The validator volume is never wiped, only its slashing database archived: a link elsewhere in it stays.
    inContainer(node.specs.validator!.name, `ln -s ${vc.dir} /data/elsewhere`);
    const identity = node.readVolume("execution", "geth/nodekey");
    node.forgetBackoff();
    const r = await node.run("run", elGenesisTime(I + 1) + 60);
    expect(r.stderr).toMatch(/check passed/);
    expect(r.code).toBe(0);
    for (const h of [el, cl, vc]) expect(h.intact()).toBe(true);
    expect(fs.existsSync(path.join(node.volumeDir("execution"), "geth", "deep"))).toBe(false);
    expect(fs.existsSync(path.join(node.volumeDir("execution"), "geth", "file-link"))).toBe(false);
    expect(fs.existsSync(path.join(node.volumeDir("consensus"), "beacon", "freezer"))).toBe(false);
    expect(node.readVolume("execution", "geth/nodekey")).toBe(identity);
    expect(await nodeAnswers(node)).toEqual({ chainId: chainIdOf(I + 1), genesisTime: clGenesisTime(I + 1) });
  });
});

describe("a link where a whole-dir or chain-db wipe starts", () => {
  const server = new ReleaseServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  test("lodestar's chain-db replaced by a link: refused after the stop too (the authoritative check), host dir intact", async () => {
    const node = await TestNode.create(server, { execution: "reth", consensus: "lodestar", validator: false });
    const target = hostDir("lodestar");
    try {
      server.publish(I);
      expect((await node.run("ensure", elGenesisTime(I) + 100)).code).toBe(0);
      node.startClients();
      await waitFor(async () => (await nodeAnswers(node).catch(() => undefined))?.chainId === chainIdOf(I), 20_000, "clients");
      server.publish(I + 1);
      // Interrupted right after the stop, then the link appears: the wipe itself must refuse.
      await node.runAndKill(elGenesisTime(I + 1), "archived");
      fs.renameSync(path.join(node.volumeDir("consensus"), "chain-db"), path.join(node.volumeDir("consensus"), "chain-db.real"));
      fs.symlinkSync(target.dir, path.join(node.volumeDir("consensus"), "chain-db"));
      const r = await node.run("run", elGenesisTime(I + 1) + 60);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/REFUSED: .*chain-db is a link/);
      expect(r.stderr).toMatch(/refusing to wipe volume/);
      expect(target.intact()).toBe(true);
      expect(node.metrics().ephemery_reset_failures_total).toBe(1);
      expect(fs.readFileSync(path.join(node.paths.state, "switch.journal"), "utf8")).toMatch(/PHASE=(archived|wiped-execution)/);
    } finally {
      node.cleanup();
      fs.rmSync(target.dir, { recursive: true, force: true });
    }
  });
});

describe("a volume whose mountpoint is not Docker's own directory", () => {
  const server = new ReleaseServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  test("its _data replaced by a link to a host dir: the mountpoint does not resolve under Docker's volume root, refused", async () => {
    const node = await TestNode.create(server, { validator: false });
    const target = hostDir("mountpoint");
    fs.mkdirSync(path.join(target.dir, "geth", "chaindata"), { recursive: true });
    fs.writeFileSync(path.join(target.dir, "geth", "chaindata", "000001.ldb"), "host file that looks like chain data\n");
    let data = "";
    try {
      server.publish(I);
      expect((await node.run("ensure", elGenesisTime(I) + 100)).code).toBe(0);
      data = node.seedVolume("execution", { "geth/chaindata/000001.ldb": "chain" });
      fs.renameSync(data, `${data}.real`);
      fs.symlinkSync(target.dir, data);
      server.publish(I + 1);
      const r = await node.run("run", elGenesisTime(I + 1));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`REFUSED: volume ${node.name}-execution-data is at "${data}" (resolves to "${fs.realpathSync(target.dir)}")`);
      expect(target.intact()).toBe(true);
      expect(fs.existsSync(path.join(target.dir, "geth", "chaindata", "000001.ldb"))).toBe(true);
      expect(node.current()).toBe(`releases/ephemery-${I}`);
    } finally {
      if (data && fs.lstatSync(data).isSymbolicLink()) { fs.rmSync(data); fs.renameSync(`${data}.real`, data); }
      node.cleanup();
      fs.rmSync(target.dir, { recursive: true, force: true });
    }
  });
});
