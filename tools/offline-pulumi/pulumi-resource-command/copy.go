package main

// CopyToRemote and CopyFile over SFTP, with the semantics of the real provider (pulumi-command v1.2.1,
// provider/pkg/provider/remote/copyController.go and copyfileController.go): the server must offer the sftp
// subsystem; file modes are not carried over (new files get the server's default mode); missing parent
// directories are created; a directory source without a trailing slash lands in <remotePath>/<its name>.
//
//	source | remotePath is a dir | remotePath missing | remotePath is a file
//	dir    | remotePath/dir      | remotePath/dir     | error
//	dir/   | remotePath/<each>   | remotePath/<each>  | error
//	file   | remotePath/file     | remotePath         | remotePath (overwritten)
//	text   | error               | remotePath         | remotePath (overwritten)

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/pkg/sftp"
	"google.golang.org/protobuf/types/known/structpb"
)

// copySource is the `source` input of CopyToRemote: a text asset, a file asset or a file/directory archive.
type copySource struct {
	text   *string
	path   string
	hash   string
	reason string // why the source cannot be copied ("" when it can)
}

func parseCopySource(src *structpb.Struct) copySource {
	hash := str(src, "hash")
	switch str(src, sigKey) {
	case sigAsset:
		if v, ok := src.GetFields()["text"]; ok && str(src, "path") == "" && str(src, "uri") == "" {
			t := v.GetStringValue()
			return copySource{text: &t, hash: hash}
		}
		if p := str(src, "path"); p != "" {
			return copySource{path: p, hash: hash}
		}
		return copySource{reason: "asset must be a path-based file asset or a text asset"}
	case sigArchive:
		if p := str(src, "path"); p != "" {
			return copySource{path: p, hash: hash}
		}
		return copySource{reason: "archive must be a path to a file or directory"}
	}
	return copySource{reason: "either asset or archive must be set"}
}

// remoteStat returns nil, nil when path does not exist.
func remoteStat(c *sftp.Client, p string) (fs.FileInfo, error) {
	info, err := c.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("failed to stat remote path %s: %w", p, err)
	}
	return info, nil
}

func copySourceTo(c *sftp.Client, src copySource, dest string) error {
	if src.reason != "" {
		return errors.New(src.reason)
	}
	if src.text != nil {
		return copyText(c, *src.text, dest)
	}
	return copyLocalPath(c, src.path, dest)
}

func copyText(c *sftp.Client, content, dest string) error {
	info, err := remoteStat(c, dest)
	if err != nil {
		return err
	}
	if info != nil && info.IsDir() {
		return fmt.Errorf("remote path %s is a directory; when using a text asset, remotePath must be a file path", dest)
	}
	if err := c.MkdirAll(path.Dir(dest)); err != nil {
		return fmt.Errorf("failed to create parent directories for %s: %w", dest, err)
	}
	f, err := c.Create(dest)
	if err != nil {
		return fmt.Errorf("failed to create remote file %s: %w", dest, err)
	}
	if _, err := f.Write([]byte(content)); err != nil {
		f.Close()
		return fmt.Errorf("failed to write text content to remote path %s: %w", dest, err)
	}
	return f.Close()
}

func copyLocalPath(c *sftp.Client, src, dest string) error {
	srcInfo, err := os.Stat(src)
	if err != nil {
		return err
	}
	destInfo, err := remoteStat(c, dest)
	if err != nil {
		return err
	}
	if !srcInfo.IsDir() {
		if destInfo != nil && destInfo.IsDir() {
			dest = path.Join(dest, path.Base(src))
		} else if destInfo == nil {
			if err := c.MkdirAll(path.Dir(dest)); err != nil {
				return fmt.Errorf("failed to create parent directories for %s: %w", dest, err)
			}
		}
		return copyFile(c, src, dest)
	}
	if destInfo != nil && !destInfo.IsDir() {
		return fmt.Errorf("remote path %s exists but is not a directory", dest)
	}
	if destInfo == nil {
		if err := c.MkdirAll(dest); err != nil {
			return fmt.Errorf("failed to create remote directory %s: %w", dest, err)
		}
	}
	if !strings.HasSuffix(src, "/") {
		dest = path.Join(dest, path.Base(src))
	}
	return copyTree(c, src, dest)
}

// copyTree copies the directory src into dest (created when missing), one file at a time.
func copyTree(c *sftp.Client, src, dest string) error {
	return fs.WalkDir(os.DirFS(src), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := path.Join(dest, rel)
		if !d.IsDir() {
			return copyFile(c, path.Join(src, rel), target)
		}
		info, err := remoteStat(c, target)
		if err != nil {
			return err
		}
		if info == nil {
			if err := c.Mkdir(target); err != nil {
				return fmt.Errorf("failed to create remote directory %s: %w", target, err)
			}
		} else if !info.IsDir() {
			return fmt.Errorf("remote path %s exists but is not a directory", target)
		}
		return nil
	})
}

func copyFile(c *sftp.Client, src, dest string) error {
	local, err := os.Open(src)
	if err != nil {
		return err
	}
	defer local.Close()
	remote, err := c.Create(dest)
	if err != nil {
		return fmt.Errorf("failed to create remote file %s: %w", dest, err)
	}
	if _, err := remote.ReadFrom(local); err != nil {
		remote.Close()
		return fmt.Errorf("failed to copy file %s to remote path %s: %w", src, dest, err)
	}
	return remote.Close()
}
