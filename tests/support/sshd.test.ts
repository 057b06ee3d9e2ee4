import { startSshHost } from "./sshd";

test("a test ssh host accepts its key and runs commands", async () => {
  const h = await startSshHost();
  try {
    expect(h.ssh("echo hello; id -u").trim()).toBe("hello\n0");
    expect(h.ssh("cat", "from stdin")).toBe("from stdin");
  } finally {
    await h.stop();
  }
});
