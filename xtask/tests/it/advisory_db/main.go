// Writes a trivy vulnerability database (db/trivy.db + db/metadata.json) from advisories.json, so the
// scan gate can be tested offline against real published advisories. trivy cannot download its
// database on the test machines; this writes the same BoltDB layout trivy-db builds (buckets
// "data-source", "<ecosystem>::<source>" -> package -> advisory id, and "vulnerability").
//
// Usage: go run main.go ADVISORIES_JSON CACHE_DIR SCHEMA_VERSION
// Built in GOPATH mode against Debian's golang-github-coreos-bbolt-dev:
//   GO111MODULE=off GOPATH=/usr/share/gocode go run main.go ...
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// One advisory as advisories.json records it, from the public record (GitHub Security Advisories).
type advisory struct {
	Ecosystem  string   `json:"ecosystem"`
	Package    string   `json:"package"`
	ID         string   `json:"id"`
	Aliases    []string `json:"aliases"`
	Title      string   `json:"title"`
	Severity   string   `json:"severity"`
	CvssV3     string   `json:"cvss_v3"`
	CvssScore  float64  `json:"cvss_v3_score"`
	Vulnerable []string `json:"vulnerable_versions"`
	Patched    []string `json:"patched_versions"`
	Cwe        []string `json:"cwe"`
	Published  string   `json:"published"`
	References []string `json:"references"`
}

type fixture struct {
	Sources    map[string]dataSource `json:"sources"`
	Advisories []advisory            `json:"advisories"`
}

// The data source of one ecosystem bucket, keyed by the bucket name ("pip::GitHub Security Advisory pip").
type dataSource struct {
	ID   string `json:"ID"`
	Name string `json:"Name"`
	URL  string `json:"URL"`
}

var severities = map[string]int{"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}

func main() {
	if len(os.Args) != 4 {
		fail(fmt.Errorf("usage: main ADVISORIES_JSON CACHE_DIR SCHEMA_VERSION"))
	}
	schema, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fail(err)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	var data fixture
	if err := json.Unmarshal(raw, &data); err != nil {
		fail(fmt.Errorf("%s: %w", os.Args[1], err))
	}
	dir := filepath.Join(os.Args[2], "db")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
	}
	path := filepath.Join(dir, "trivy.db")
	_ = os.Remove(path)
	db, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		fail(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return write(tx, data) })
	if closeErr := db.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		fail(err)
	}
	now := time.Now().UTC()
	metadata, _ := json.Marshal(map[string]interface{}{
		"Version":      schema,
		"NextUpdate":   now.Add(24 * time.Hour),
		"UpdatedAt":    now,
		"DownloadedAt": now,
	})
	if err := os.WriteFile(filepath.Join(dir, "metadata.json"), metadata, 0o644); err != nil {
		fail(err)
	}
}

func write(tx *bolt.Tx, data fixture) error {
	sources, err := tx.CreateBucketIfNotExists([]byte("data-source"))
	if err != nil {
		return err
	}
	for bucket, source := range data.Sources {
		if err := putJSON(sources, bucket, source); err != nil {
			return err
		}
	}
	vulnerabilities, err := tx.CreateBucketIfNotExists([]byte("vulnerability"))
	if err != nil {
		return err
	}
	for _, adv := range data.Advisories {
		source, ok := data.Sources[adv.Ecosystem]
		if !ok {
			return fmt.Errorf("%s: no source for ecosystem bucket %q", adv.ID, adv.Ecosystem)
		}
		severity, ok := severities[adv.Severity]
		if !ok {
			return fmt.Errorf("%s: unknown severity %q", adv.ID, adv.Severity)
		}
		ecosystem, err := tx.CreateBucketIfNotExists([]byte(adv.Ecosystem))
		if err != nil {
			return err
		}
		pkg, err := ecosystem.CreateBucketIfNotExists([]byte(adv.Package))
		if err != nil {
			return err
		}
		if err := putJSON(pkg, adv.ID, map[string]interface{}{
			"PatchedVersions":    adv.Patched,
			"VulnerableVersions": adv.Vulnerable,
		}); err != nil {
			return err
		}
		detail := map[string]interface{}{
			"Title":          adv.Title,
			"Description":    adv.Title,
			"Severity":       adv.Severity,
			"CweIDs":         adv.Cwe,
			"VendorSeverity": map[string]int{source.ID: severity},
			"CVSS": map[string]interface{}{
				source.ID: map[string]interface{}{"V3Vector": adv.CvssV3, "V3Score": adv.CvssScore},
			},
			"References": adv.References,
		}
		if adv.Published != "" {
			detail["PublishedDate"] = adv.Published
		}
		if err := putJSON(vulnerabilities, adv.ID, detail); err != nil {
			return err
		}
	}
	return nil
}

func putJSON(bucket *bolt.Bucket, key string, value interface{}) error {
	encoded, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return bucket.Put([]byte(key), encoded)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "advisory_db:", err)
	os.Exit(1)
}
