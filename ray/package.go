package ray

// A local working_dir reaches a remote cluster the way `ray job submit` sends
// it (python/ray/dashboard/modules/dashboard_sdk.py _upload_package_if_needed,
// python/ray/_private/runtime_env/packaging.py): the folder gets a
// content-addressed URI gcs://_ray_pkg_<hash>.zip, GET
// /api/packages/gcs/_ray_pkg_<hash>.zip asks whether the cluster has it, and
// if not PUT uploads the zipped folder there. The job then names the URI as
// its working_dir.

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// MaxPackageSize is the largest package current Ray stores in its GCS
// (GCS_STORAGE_MAX_SIZE, the gRPC message limit: 500 MiB; Ray before 2.x
// allowed 100 MiB and answers a bigger upload with a 500).
const MaxPackageSize = 500 << 20

// pkgPrefix is Ray's RAY_PKG_PREFIX.
const pkgPrefix = "_ray_pkg_"

// PackageURI returns the gcs:// URI Ray gives the folder dir, computed as
// Ray's _hash_directory does, so a folder uploaded by workbench and by `ray
// job submit` is stored once: start from the 8 bytes "00000000"; for the
// folder itself (as ".") and every file and subfolder under it, XOR in the
// SHA-1 of its relative path followed, for a file, by its contents; the XOR
// keeps the shorter length, so the hash is 8 bytes. (Ray also honours
// .gitignore files; a workbench job folder has none.)
func PackageURI(dir string) (string, error) {
	entries, err := walkPackage(dir)
	if err != nil {
		return "", err
	}
	hash := []byte("00000000")
	for _, e := range entries {
		h := sha1.New()
		h.Write([]byte(e.rel))
		if !e.dir {
			f, err := os.Open(e.abs)
			if err != nil {
				return "", fmt.Errorf("ray: package: %w", err)
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", fmt.Errorf("ray: package: %w", err)
			}
		}
		sum := h.Sum(nil)
		for i := range hash {
			hash[i] ^= sum[i]
		}
	}
	return "gcs://" + pkgPrefix + hex.EncodeToString(hash) + ".zip", nil
}

// pkgEntry is one path in a package.
type pkgEntry struct {
	rel, abs string // rel uses "/" and is "." for the root
	dir      bool
	empty    bool // an empty folder, which the zip keeps as an entry
}

// walkPackage lists dir and everything under it in lexical order. Symlinks
// to files are followed; symlinks to folders are refused, since following
// them can loop.
func walkPackage(dir string) ([]pkgEntry, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("ray: package: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("ray: package: %s is not a folder", dir)
	}
	var entries []pkgEntry
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		e := pkgEntry{rel: filepath.ToSlash(rel), abs: p, dir: d.IsDir()}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Stat(p)
			if err != nil {
				return err
			}
			if target.IsDir() {
				return fmt.Errorf("%s is a symlink to a folder, which a package cannot hold", rel)
			}
		} else if !d.IsDir() && !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", rel)
		}
		if e.dir {
			children, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			e.empty = len(children) == 0
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ray: package: %w", err)
	}
	return entries, nil
}

// zipEpoch is the timestamp every zip entry carries, so that the same folder
// always zips to the same bytes.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// ZipPackage zips dir the way Ray's _zip_files lays it out (paths relative to
// dir, files and empty folders) but deterministically: entries in lexical
// order, fixed timestamps and modes. It refuses a zip over MaxPackageSize.
func ZipPackage(dir string) ([]byte, error) {
	entries, err := walkPackage(dir)
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].rel < entries[j].rel })
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.rel == "." || e.dir && !e.empty {
			continue
		}
		hdr := &zip.FileHeader{Name: e.rel, Method: zip.Deflate, Modified: zipEpoch}
		if e.dir {
			hdr.Name += "/"
			hdr.Method = zip.Store
			hdr.SetMode(fs.ModeDir | 0o755)
		} else {
			hdr.SetMode(0o644)
		}
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return nil, fmt.Errorf("ray: package: %w", err)
		}
		if !e.dir {
			f, err := os.Open(e.abs)
			if err != nil {
				return nil, fmt.Errorf("ray: package: %w", err)
			}
			_, err = io.Copy(w, f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("ray: package: %w", err)
			}
		}
		if buf.Len() > MaxPackageSize {
			return nil, fmt.Errorf("ray: package: %s zips to more than %d MiB, Ray's limit for an uploaded working_dir; move large files (the model) to s3:// and reference them", dir, MaxPackageSize>>20)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("ray: package: %w", err)
	}
	if buf.Len() > MaxPackageSize {
		return nil, fmt.Errorf("ray: package: %s zips to %d MiB, over Ray's %d MiB limit for an uploaded working_dir", dir, buf.Len()>>20, MaxPackageSize>>20)
	}
	return buf.Bytes(), nil
}

// UploadPackage makes the local folder dir available on the cluster and
// returns its gcs:// URI for runtime_env working_dir. It uploads only when
// the cluster does not already hold that content.
func (c *Client) UploadPackage(ctx context.Context, dir string) (string, error) {
	uri, err := PackageURI(dir)
	if err != nil {
		return "", err
	}
	path := "/api/packages/gcs/" + strings.TrimPrefix(uri, "gcs://")
	_, err = c.do(ctx, request{method: http.MethodGet, path: path})
	if err == nil {
		return uri, nil // already there
	}
	if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	data, err := ZipPackage(dir)
	if err != nil {
		return "", err
	}
	if _, err := c.do(ctx, request{method: http.MethodPut, path: path, body: data, contentType: "application/zip", timeout: c.upload}); err != nil {
		return "", err
	}
	return uri, nil
}
