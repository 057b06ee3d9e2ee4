import * as fs from "fs";
import * as path from "path";
import { configReference, REFERENCE_END, REFERENCE_START } from "../../lib/config/reference";

const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");

test("the README's config reference matches the schema (run `npm run docs` after changing it)", () => {
  const block = readme.slice(readme.indexOf(REFERENCE_START), readme.indexOf(REFERENCE_END) + REFERENCE_END.length);
  expect(block).toBe(configReference());
});

test("the reference lists every client and every secret setting", () => {
  const ref = configReference();
  for (const word of ["`geth`", "`erigon`", "`lodestar`", "ephemery:sshPrivateKey", "ephemery:grafanaAdminPassword", "ephemery:hosts[].validator.keys.expectedCount"]) {
    expect(ref).toContain(word);
  }
});

test("the quick start's two commands exist", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
  expect(readme).toContain("bash .ci/run");
  expect(readme).toContain("npm run local");
  expect(pkg.scripts.local).toBeDefined();
  expect(fs.existsSync(path.join(__dirname, "..", "..", ".ci", "run"))).toBe(true);
});
