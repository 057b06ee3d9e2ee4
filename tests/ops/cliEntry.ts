/** The `ephemery` CLI from sources, for tests that need a real process (a terminal in tmux). */
import { main } from "../../cli/main";

main(process.argv.slice(2)).then((code) => process.exit(code));
