/** Regenerates the config reference inside README.md from the schema (`npm run docs`). */
import * as fs from "fs";
import * as path from "path";
import { withReference } from "../lib/config/reference";

const file = path.join(__dirname, "..", "README.md");
const before = fs.readFileSync(file, "utf8");
const after = withReference(before);
if (after !== before) {
  fs.writeFileSync(file, after);
  console.log("README.md: config reference updated");
} else {
  console.log("README.md: config reference already up to date");
}
