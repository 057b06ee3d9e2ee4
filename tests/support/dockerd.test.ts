import { busyboxImage, docker } from "./dockerd";

test("busybox images are built without a registry and run", () => {
  const image = busyboxImage("ephemery-test-busybox", { "/hello.txt": { content: "hi from the image\n" } });
  expect(docker(["run", "--rm", image, "cat", "/hello.txt"])).toBe("hi from the image\n");
});
