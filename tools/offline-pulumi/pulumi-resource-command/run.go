package main

// Running commands as the real provider does (pulumi-command v1.2.1, provider/pkg/provider/local/commandOutputs.go
// and remote/commandOutputs.go): output is captured (one trailing newline trimmed) and, unless `logging` says
// otherwise, streamed line by line to the engine as status messages of the resource; a remote `environment`
// variable the server refuses (sshd's AcceptEnv) fails the command; PULUMI_COMMAND_STDOUT/STDERR carry the
// previous non-empty outputs, and a server refusing those only draws a warning.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/types/known/structpb"
)

// engineLog is the part of the engine's host client the provider logs through.
type engineLog interface {
	Log(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
	LogStatus(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
}

// run is one command to execute, with what the real provider feeds it.
type run struct {
	command                string
	stdin                  string
	env                    map[string]string // the `environment` input
	prevStdout, prevStderr string            // outputs of the previous create/update ("" = not passed on)
	log                    *commandLog
}

// commandLog sends command output to the engine, per the `logging` input (default: stdout and stderr).
type commandLog struct {
	ctx            context.Context
	sink           engineLog
	urn            resource.URN
	stdout, stderr bool
}

func newCommandLog(ctx context.Context, sink engineLog, urn, logging string) *commandLog {
	l := &commandLog{ctx: ctx, sink: sink, urn: resource.URN(urn)}
	switch logging {
	case "", "stdoutAndStderr":
		l.stdout, l.stderr = true, true
	case "stdout":
		l.stdout = true
	case "stderr":
		l.stderr = true
	}
	return l
}

func (l *commandLog) warn(msg string) {
	if l.sink != nil {
		_ = l.sink.Log(l.ctx, diag.Warning, l.urn, msg)
	}
}

// lineSink returns a writer whose complete lines become status messages, and a func that flushes the rest.
func (l *commandLog) lineSink() (io.Writer, func()) {
	r, w := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024) // a longer line ends the log, not the command
		for sc.Scan() {
			if l.sink != nil {
				_ = l.sink.LogStatus(l.ctx, diag.Info, l.urn, sc.Text())
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	return w, func() { w.Close(); <-done }
}

// lockedWriter serialises the two streams writing into one buffer.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// wire sets up stdout/stderr capture and logging; finish waits for the log and returns (stdout, stderr, both).
func (r run) wire() (stdout, stderr io.Writer, finish func() (string, string, string)) {
	var so, se, both bytes.Buffer
	mu := &sync.Mutex{}
	logW, flush := r.log.lineSink()
	outs := []io.Writer{&so, lockedWriter{mu, &both}}
	errs := []io.Writer{&se, lockedWriter{mu, &both}}
	if r.log.stdout {
		outs = append(outs, lockedWriter{mu, logW})
	}
	if r.log.stderr {
		errs = append(errs, lockedWriter{mu, logW})
	}
	return io.MultiWriter(outs...), io.MultiWriter(errs...), func() (string, string, string) {
		flush()
		return strings.TrimSuffix(so.String(), "\n"), strings.TrimSuffix(se.String(), "\n"), both.String()
	}
}

func runLocal(r run, in *structpb.Struct) (string, string, error) {
	interp := []string{"/bin/sh", "-c"}
	if l := in.GetFields()["interpreter"].GetListValue().GetValues(); len(l) > 0 {
		interp = nil
		for _, v := range l {
			interp = append(interp, v.GetStringValue())
		}
	}
	cmd := exec.Command(interp[0], append(interp[1:], r.command)...)
	cmd.Dir = str(in, "dir")
	cmd.Env = os.Environ()
	for k, v := range r.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if r.prevStdout != "" {
		cmd.Env = append(cmd.Env, "PULUMI_COMMAND_STDOUT="+r.prevStdout)
	}
	if r.prevStderr != "" {
		cmd.Env = append(cmd.Env, "PULUMI_COMMAND_STDERR="+r.prevStderr)
	}
	if r.stdin != "" {
		cmd.Stdin = strings.NewReader(r.stdin)
	}
	var finish func() (string, string, string)
	cmd.Stdout, cmd.Stderr, finish = r.wire()
	err := cmd.Run()
	so, se, both := finish()
	if err != nil {
		return "", "", fmt.Errorf("%w: running %q:\n%s", err, r.command, both)
	}
	return so, se, nil
}

// setenvRefused is the real provider's message when the server does not accept a variable.
func setenvRefused(key string, err error) error {
	return fmt.Errorf("could not set environment variable %q: %w (the SSH server accepts only the variables its "+
		"AcceptEnv names; or prefix the command itself with 'VAR=value command')", key, err)
}

func runRemote(c *ssh.Client, r run) (string, string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", "", err
	}
	defer s.Close()
	for k, v := range r.env {
		if err := s.Setenv(k, v); err != nil {
			return "", "", setenvRefused(k, err)
		}
	}
	for k, v := range map[string]string{"PULUMI_COMMAND_STDOUT": r.prevStdout, "PULUMI_COMMAND_STDERR": r.prevStderr} {
		if v == "" {
			continue
		}
		if err := s.Setenv(k, v); err != nil {
			r.log.warn(setenvRefused(k, err).Error())
		}
	}
	if r.stdin != "" {
		s.Stdin = strings.NewReader(r.stdin)
	}
	var finish func() (string, string, string)
	s.Stdout, s.Stderr, finish = r.wire()
	err = s.Run(r.command)
	so, se, both := finish()
	if err != nil {
		return "", "", fmt.Errorf("%w: running %q:\n%s", err, r.command, both)
	}
	return so, se, nil
}
