package main

// Remote behaviour against a real OpenSSH sshd on loopback (started per test, stopped by pid), configured
// like a stock server: AcceptEnv and the sftp subsystem only where a test asks for them.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/types/known/structpb"
)

const sftpServer = "/usr/lib/openssh/sftp-server"

// startSSHD starts sshd with extra config lines and returns the `connection` input that reaches it.
func startSSHD(t *testing.T, extra ...string) *structpb.Struct {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("sshd is not installed (apt-get install -y openssh-server)")
	}
	if os.Geteuid() != 0 {
		t.Skip("sshd tests log in as root and need to run as root")
	}
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "standin-test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(sshPub), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := append([]string{
		fmt.Sprintf("Port %d", port), "ListenAddress 127.0.0.1", "HostKey " + hostKey,
		"PidFile " + filepath.Join(dir, "sshd.pid"), "AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
		"StrictModes no", "UsePAM no",
	}, extra...)
	cfgFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgFile, []byte(strings.Join(cfg, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfgFile)
	logFile, _ := os.Create(filepath.Join(dir, "sshd.log"))
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Fatalf("sshd did not listen on %d: %s", port, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return mustStruct(t, map[string]any{
		"host": "127.0.0.1", "port": float64(port), "user": "root",
		"privateKey": string(pem.EncodeToMemory(block)), "dialErrorLimit": 1.0,
	})
}

func remoteCommand(t *testing.T, conn *structpb.Struct, fields map[string]any) *structpb.Struct {
	t.Helper()
	in := mustStruct(t, fields)
	in.Fields["connection"] = structpb.NewStructValue(conn)
	return in
}

func TestRemoteEnvironmentTheServerRefusesFailsTheCommand(t *testing.T) {
	conn := startSSHD(t)
	in := remoteCommand(t, conn, map[string]any{"create": "echo $FOO", "environment": map[string]any{"FOO": "bar"}})
	_, _, err := execute(context.Background(), "command:remote:Command", "urn:x", "echo $FOO", in, nil)
	if err == nil || !strings.Contains(err.Error(), `could not set environment variable "FOO"`) {
		t.Fatalf("want a refused-variable error, got %v", err)
	}
}

func TestRemoteEnvironmentTheServerAcceptsReachesTheCommand(t *testing.T) {
	conn := startSSHD(t, "AcceptEnv FOO")
	in := remoteCommand(t, conn, map[string]any{"environment": map[string]any{"FOO": "bar"}})
	so, _, err := execute(context.Background(), "command:remote:Command", "urn:x", "echo $FOO", in, nil)
	if err != nil || so != "bar" {
		t.Fatalf("got %q, %v", so, err)
	}
}

func TestRemotePreviousOutputRefusedOnlyWarns(t *testing.T) {
	conn := startSSHD(t)
	old := engine
	eng := &recordingEngine{}
	engine = eng
	defer func() { engine = old }()
	in := remoteCommand(t, conn, map[string]any{"logging": "none"})
	prev := mustStruct(t, map[string]any{"stdout": "earlier"})
	so, _, err := execute(context.Background(), "command:remote:Command", "urn:x", "echo ran", in, prev)
	if err != nil || so != "ran" {
		t.Fatalf("got %q, %v", so, err)
	}
	if len(eng.warnings) != 1 || !strings.Contains(eng.warnings[0], "PULUMI_COMMAND_STDOUT") {
		t.Fatalf("want one warning about PULUMI_COMMAND_STDOUT, got %q", eng.warnings)
	}
	if len(eng.status) != 0 {
		t.Fatalf("logging none must log nothing, got %q", eng.status)
	}
}

func TestRemoteCommandOutputIsLogged(t *testing.T) {
	conn := startSSHD(t)
	old := engine
	eng := &recordingEngine{}
	engine = eng
	defer func() { engine = old }()
	in := remoteCommand(t, conn, map[string]any{})
	if _, _, err := execute(context.Background(), "command:remote:Command", "urn:x", "echo one; echo two >&2", in, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Join(sorted(eng.status), ",") != "one,two" {
		t.Fatalf("logged %q", eng.status)
	}
}

func copyInput(t *testing.T, conn *structpb.Struct, source map[string]any, remotePath string) *structpb.Struct {
	return remoteCommand(t, conn, map[string]any{"source": source, "remotePath": remotePath})
}

func TestCopyToRemoteNeedsTheSftpSubsystem(t *testing.T) {
	conn := startSSHD(t) // no Subsystem line
	err := copyToRemote(copyInput(t, conn, map[string]any{sigKey: sigAsset, "text": "x"}, filepath.Join(t.TempDir(), "f")))
	if err == nil || !strings.Contains(err.Error(), "sftp") {
		t.Fatalf("want an sftp subsystem error, got %v", err)
	}
}

func TestCopyToRemoteSemantics(t *testing.T) {
	conn := startSSHD(t, "Subsystem sftp "+sftpServer)
	local := t.TempDir()
	src := filepath.Join(local, "bundle")
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o700))
	must(t, os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "sub", "data"), []byte("d"), 0o600))
	archive := func(p string) map[string]any { return map[string]any{sigKey: sigArchive, "path": p} }
	file := func(p string) map[string]any { return map[string]any{sigKey: sigAsset, "path": p} }
	text := func(s string) map[string]any { return map[string]any{sigKey: sigAsset, "text": s} }
	remote := t.TempDir()

	t.Run("a directory lands under remotePath, whose missing parents are created", func(t *testing.T) {
		dest := filepath.Join(remote, "a", "b")
		must(t, copyToRemote(copyInput(t, conn, archive(src), dest)))
		assertFile(t, filepath.Join(dest, "bundle", "run.sh"), "#!/bin/sh\n")
		assertFile(t, filepath.Join(dest, "bundle", "sub", "data"), "d")
	})
	t.Run("file modes are not carried over", func(t *testing.T) {
		st, err := os.Stat(filepath.Join(remote, "a", "b", "bundle", "run.sh"))
		must(t, err)
		if st.Mode().Perm()&0o111 != 0 {
			t.Fatalf("an executable arrived executable (%v); the real provider drops modes", st.Mode())
		}
	})
	t.Run("a directory with a trailing slash copies its contents", func(t *testing.T) {
		dest := filepath.Join(remote, "flat")
		must(t, copyToRemote(copyInput(t, conn, archive(src+"/"), dest)))
		assertFile(t, filepath.Join(dest, "run.sh"), "#!/bin/sh\n")
	})
	t.Run("a file into an existing directory keeps its name", func(t *testing.T) {
		must(t, copyToRemote(copyInput(t, conn, file(filepath.Join(src, "sub", "data")), remote)))
		assertFile(t, filepath.Join(remote, "data"), "d")
	})
	t.Run("a file to a missing nested path creates the parents", func(t *testing.T) {
		dest := filepath.Join(remote, "x", "y", "renamed")
		must(t, copyToRemote(copyInput(t, conn, file(filepath.Join(src, "run.sh")), dest)))
		assertFile(t, dest, "#!/bin/sh\n")
	})
	t.Run("text overwrites a file and creates parents", func(t *testing.T) {
		dest := filepath.Join(remote, "t", "note")
		must(t, copyToRemote(copyInput(t, conn, text("one"), dest)))
		must(t, copyToRemote(copyInput(t, conn, text("two"), dest)))
		assertFile(t, dest, "two")
	})
	t.Run("text onto a directory fails", func(t *testing.T) {
		err := copyToRemote(copyInput(t, conn, text("x"), remote))
		if err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a directory onto a file fails", func(t *testing.T) {
		err := copyToRemote(copyInput(t, conn, archive(src), filepath.Join(remote, "data")))
		if err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("CopyFile does not create parents", func(t *testing.T) {
		in := remoteCommand(t, conn, map[string]any{"localPath": filepath.Join(src, "run.sh"), "remotePath": filepath.Join(remote, "nope", "f")})
		if err := copyFileToRemote(in); err == nil {
			t.Fatal("CopyFile into a missing directory must fail")
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func assertFile(t *testing.T, p, want string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Fatalf("%s: %q, want %q", p, b, want)
	}
}
