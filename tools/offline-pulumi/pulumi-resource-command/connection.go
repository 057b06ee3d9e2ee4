package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"google.golang.org/protobuf/types/known/structpb"
)

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
