/**
 * Prints one closing line that CI can read in any language: "jest: N passed, N failed, N skipped", preceded by
 * each test file's wall time, slowest first (where the default tier's minutes go).
 */
class SummaryReporter {
  constructor() {
    this.files = [];
  }

  onTestResult(_test, result) {
    const { start, end } = result.perfStats;
    this.files.push({ file: result.testFilePath, seconds: (end - start) / 1000 });
  }

  onRunComplete(contexts, results) {
    const root = [...contexts][0]?.config.rootDir ?? process.cwd();
    const lines = this.files
      .sort((a, b) => b.seconds - a.seconds)
      .map((f) => `${f.seconds.toFixed(1).padStart(7)} s  ${f.file.startsWith(root) ? f.file.slice(root.length + 1) : f.file}`);
    const skipped = results.numPendingTests + results.numTodoTests;
    const wall = (Date.now() - results.startTime) / 1000;
    if (lines.length > 1) process.stdout.write(`\ntest files by wall time (run: ${wall.toFixed(0)} s):\n${lines.join("\n")}\n`);
    process.stdout.write(`\njest: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`);
  }
}
module.exports = SummaryReporter;
