// Offline stand-in for the pulumi-command resource provider (pulumi-ephemery test toolchain).
// Written for this project, after the @pulumi/command 1.x schema: command:local:Command, command:local:run,
// command:remote:Command, command:remote:CopyToRemote (file/text assets, directory archives) and
// command:remote:CopyFile. Not supported: assetPaths/archivePaths; stdout/stderr are not streamed to the log.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

var version = "1.0.0" // overridden with -ldflags "-X main.version=..."

const (
	unknown    = "04da6b54-80e4-46f7-96ec-b56ff0331ba9" // the engine's marker for unknown values
	sigKey     = "4dabf18193072939515e22adb298388d"
	sigAsset   = "c44067f5952c0a294b673a41bacd8c17"
	sigArchive = "0def7320c3a5731c473e5ecbe6d01bc7"
)

type prov struct {
	pulumirpc.UnimplementedResourceProviderServer
}

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan bool)
	go func() { <-ctx.Done(); close(stop) }()
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			if err := rpcutil.Healthcheck(ctx, a, 5*time.Minute, cancel); err != nil {
				fmt.Fprintf(os.Stderr, "health check: %v\n", err)
				os.Exit(1)
			}
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(s, &prov{})
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "serve: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "provider stopped: %v\n", err)
		os.Exit(1)
	}
}

func (p *prov) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *prov) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: fmt.Sprintf(`{"name":"command","version":%q}`, version)}, nil
}

func (p *prov) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *prov) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *prov) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{SupportsPreview: true}, nil
}

func (p *prov) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *prov) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

var outputKeys = map[string]bool{"stdout": true, "stderr": true, "assets": true, "archive": true}

func (p *prov) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds := req.GetOldInputs()
	if len(olds.GetFields()) == 0 {
		olds = req.GetOlds()
	}
	news := req.GetNews()
	t := typeOf(req.GetUrn())
	keys := map[string]bool{}
	for k := range olds.GetFields() {
		keys[k] = true
	}
	for k := range news.GetFields() {
		keys[k] = true
	}
	var diffs, replaces []string
	for k := range keys {
		if outputKeys[k] {
			continue
		}
		o, n := olds.GetFields()[k], news.GetFields()[k]
		if (o == nil) == (n == nil) && (o == nil || proto.Equal(o, n)) {
			continue
		}
		diffs = append(diffs, k)
		switch {
		case t == "command:remote:CopyToRemote" || t == "command:remote:CopyFile":
			replaces = append(replaces, k) // copies are replaced on any change
		case k == "triggers" && str(news, "update") == "":
			replaces = append(replaces, k) // without an update command, triggers replace
		}
	}
	sort.Strings(diffs)
	sort.Strings(replaces)
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if len(diffs) > 0 {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return &pulumirpc.DiffResponse{Changes: changes, Diffs: diffs, Replaces: replaces}, nil
}

func typeOf(urn string) string {
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return ""
	}
	t := parts[2]
	if i := strings.LastIndex(t, "$"); i >= 0 {
		t = t[i+1:]
	}
	return t
}

func str(s *structpb.Struct, k string) string { return s.GetFields()[k].GetStringValue() }

func num(s *structpb.Struct, k string, def int) int {
	if v, ok := s.GetFields()[k]; ok {
		if _, isNum := v.GetKind().(*structpb.Value_NumberValue); isNum {
			return int(v.GetNumberValue())
		}
	}
	return def
}

func hasUnknowns(v *structpb.Value) bool {
	switch x := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return x.StringValue == unknown
	case *structpb.Value_ListValue:
		for _, e := range x.ListValue.GetValues() {
			if hasUnknowns(e) {
				return true
			}
		}
	case *structpb.Value_StructValue:
		for _, e := range x.StructValue.GetFields() {
			if hasUnknowns(e) {
				return true
			}
		}
	}
	return false
}

func withOutputs(in *structpb.Struct, stdout, stderr string) *structpb.Struct {
	out := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for k, v := range in.GetFields() {
		out.Fields[k] = v
	}
	out.Fields["stdout"] = structpb.NewStringValue(stdout)
	out.Fields["stderr"] = structpb.NewStringValue(stderr)
	return out
}

// execute runs a command ("create", "update" or "delete" text) for a resource or invoke of type t.
func execute(t, command string, in *structpb.Struct, prev *structpb.Struct) (string, string, error) {
	if command == "" {
		return "", "", nil
	}
	for _, k := range []string{"assetPaths", "archivePaths"} {
		if len(in.GetFields()[k].GetListValue().GetValues()) > 0 {
			return "", "", fmt.Errorf("%s is not supported by the offline test toolchain's command provider", k)
		}
	}
	env := map[string]string{}
	for k, v := range in.GetFields()["environment"].GetStructValue().GetFields() {
		env[k] = v.GetStringValue()
	}
	addPrev := true
	if v, ok := in.GetFields()["addPreviousOutputInEnv"]; ok {
		if b, isBool := v.GetKind().(*structpb.Value_BoolValue); isBool {
			addPrev = b.BoolValue
		}
	}
	if prev != nil && addPrev {
		env["PULUMI_COMMAND_STDOUT"] = str(prev, "stdout")
		env["PULUMI_COMMAND_STDERR"] = str(prev, "stderr")
	}
	switch t {
	case "command:local:Command", "command:local:run":
		return runLocal(command, in, env)
	case "command:remote:Command":
		return runRemote(in.GetFields()["connection"].GetStructValue(), command, strings.NewReader(str(in, "stdin")), env)
	}
	return "", "", fmt.Errorf("unsupported type %q", t)
}

func runLocal(command string, in *structpb.Struct, env map[string]string) (string, string, error) {
	interp := []string{"/bin/sh", "-c"}
	if l := in.GetFields()["interpreter"].GetListValue().GetValues(); len(l) > 0 {
		interp = nil
		for _, v := range l {
			interp = append(interp, v.GetStringValue())
		}
	}
	cmd := exec.Command(interp[0], append(interp[1:], command)...)
	cmd.Dir = str(in, "dir")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if s := str(in, "stdin"); s != "" {
		cmd.Stdin = strings.NewReader(s)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	so, se := strings.TrimSuffix(stdout.String(), "\n"), strings.TrimSuffix(stderr.String(), "\n")
	if err != nil {
		return so, se, fmt.Errorf("%w: running %q:\n%s\n%s", err, command, so, se)
	}
	return so, se, nil
}

func sshConfig(conn *structpb.Struct) (*ssh.ClientConfig, error) {
	user := str(conn, "user")
	if user == "" {
		user = "root"
	}
	cfg := &ssh.ClientConfig{
		User:            user,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // as the real provider without hostKey
		Timeout:         time.Duration(num(conn, "perDialTimeout", 15)) * time.Second,
	}
	if hk := str(conn, "hostKey"); hk != "" {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hk))
		if err != nil {
			return nil, fmt.Errorf("parsing hostKey: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(key)
	}
	if key := str(conn, "privateKey"); key != "" {
		var signer ssh.Signer
		var err error
		if pp := str(conn, "privateKeyPassword"); pp != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(pp))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(key))
		}
		if err != nil {
			return nil, fmt.Errorf("parsing privateKey: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	sock := str(conn, "agentSocketPath")
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" {
		if c, err := net.Dial("unix", sock); err == nil {
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(c).Signers))
		}
	}
	if pw := str(conn, "password"); pw != "" {
		cfg.Auth = append(cfg.Auth, ssh.Password(pw), ssh.KeyboardInteractive(
			func(_, _ string, qs []string, _ []bool) ([]string, error) {
				a := make([]string, len(qs))
				for i := range a {
					a[i] = pw
				}
				return a, nil
			}))
	}
	return cfg, nil
}

// dial connects to conn (through conn.proxy when given), retrying up to dialErrorLimit times.
func dial(conn *structpb.Struct) (*ssh.Client, error) {
	cfg, err := sshConfig(conn)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(str(conn, "host"), strconv.Itoa(num(conn, "port", 22)))
	var proxy *ssh.Client
	if pc := conn.GetFields()["proxy"].GetStructValue(); pc != nil && str(pc, "host") != "" {
		if proxy, err = dial(pc); err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
	}
	limit := num(conn, "dialErrorLimit", 10)
	for i := 0; limit < 0 || i < limit || i == 0; i++ {
		var c *ssh.Client
		if proxy != nil {
			var nc net.Conn
			if nc, err = proxy.Dial("tcp", addr); err == nil {
				var cc ssh.Conn
				var chans <-chan ssh.NewChannel
				var reqs <-chan *ssh.Request
				if cc, chans, reqs, err = ssh.NewClientConn(nc, addr, cfg); err == nil {
					return ssh.NewClient(cc, chans, reqs), nil
				}
			}
		} else if c, err = ssh.Dial("tcp", addr, cfg); err == nil {
			return c, nil
		}
		time.Sleep(time.Second)
	}
	return nil, fmt.Errorf("dialing %s: %w", addr, err)
}

func runRemote(conn *structpb.Struct, command string, stdin io.Reader, env map[string]string) (string, string, error) {
	c, err := dial(conn)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", "", err
	}
	defer s.Close()
	for k, v := range env {
		_ = s.Setenv(k, v) // only works where the server's AcceptEnv allows it
	}
	s.Stdin = stdin
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	err = s.Run(command)
	so, se := strings.TrimSuffix(stdout.String(), "\n"), strings.TrimSuffix(stderr.String(), "\n")
	if err != nil {
		return so, se, fmt.Errorf("%w: running %q:\n%s\n%s", err, command, so, se)
	}
	return so, se, nil
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// tarDir streams dir as a tar archive into w.
func tarDir(dir string, w *io.PipeWriter) {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil || !info.Mode().IsRegular() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	w.CloseWithError(err)
}

// copyToRemote copies a file/text asset or a directory archive (source), or localPath (CopyFile).
func copyToRemote(in *structpb.Struct) error {
	conn := in.GetFields()["connection"].GetStructValue()
	remote := str(in, "remotePath")
	if lp := str(in, "localPath"); lp != "" {
		f, err := os.Open(lp)
		if err != nil {
			return err
		}
		defer f.Close()
		_, _, err = runRemote(conn, "cat > "+shq(remote), f, nil)
		return err
	}
	src := in.GetFields()["source"].GetStructValue()
	switch str(src, sigKey) {
	case sigAsset:
		if p := str(src, "path"); p != "" {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, _, err = runRemote(conn, "cat > "+shq(remote), f, nil)
			return err
		}
		if _, ok := src.GetFields()["text"]; ok {
			_, _, err := runRemote(conn, "cat > "+shq(remote), strings.NewReader(str(src, "text")), nil)
			return err
		}
	case sigArchive:
		if p := str(src, "path"); p != "" {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				r, w := io.Pipe()
				go tarDir(p, w)
				_, _, err := runRemote(conn, "mkdir -p "+shq(remote)+" && tar -x -C "+shq(remote), r, nil)
				return err
			}
		}
	}
	return errors.New("CopyToRemote: only file/text assets and directory archives are supported by the offline test toolchain's command provider")
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func isCopy(t string) bool {
	return t == "command:remote:CopyToRemote" || t == "command:remote:CopyFile"
}

func (p *prov) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	in := req.GetProperties()
	t := typeOf(req.GetUrn())
	if isCopy(t) {
		if req.GetPreview() {
			return &pulumirpc.CreateResponse{Properties: in}, nil
		}
		if err := copyToRemote(in); err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Id: newID(), Properties: in}, nil
	}
	if req.GetPreview() {
		return &pulumirpc.CreateResponse{Properties: withOutputs(in, unknown, unknown)}, nil
	}
	so, se, err := execute(t, str(in, "create"), in, nil)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: newID(), Properties: withOutputs(in, so, se)}, nil
}

func (p *prov) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	in := req.GetNews()
	t := typeOf(req.GetUrn())
	if isCopy(t) {
		if !req.GetPreview() {
			if err := copyToRemote(in); err != nil {
				return nil, err
			}
		}
		return &pulumirpc.UpdateResponse{Properties: in}, nil
	}
	if req.GetPreview() {
		return &pulumirpc.UpdateResponse{Properties: withOutputs(in, unknown, unknown)}, nil
	}
	command := str(in, "update")
	if command == "" {
		command = str(in, "create")
	}
	so, se, err := execute(t, command, in, req.GetOlds())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: withOutputs(in, so, se)}, nil
}

func (p *prov) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	t := typeOf(req.GetUrn())
	if isCopy(t) {
		return &emptypb.Empty{}, nil
	}
	state := req.GetProperties()
	if _, _, err := execute(t, str(state, "delete"), state, state); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (p *prov) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *prov) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != "command:local:run" {
		return nil, fmt.Errorf("unknown function %q", req.GetTok())
	}
	in := req.GetArgs()
	for _, v := range in.GetFields() {
		if hasUnknowns(v) {
			return nil, errors.New("command:local:run called with unknown inputs")
		}
	}
	so, se, err := execute("command:local:run", str(in, "command"), in, nil)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: withOutputs(in, so, se)}, nil
}
