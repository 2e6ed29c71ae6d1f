package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"workbench/bench"
)

const reportUsage = `Read results (JSON, CSV or Parquet, recognised by content; - reads stdin)
and write a report: Markdown to stdout by default, or -o report.html (one
self-contained file: inline CSS and SVG, no scripts, opens offline) or
-o report.md. Two files are compared benchstat-style: medians ± spread, and
the change with its p-value, or ~ when it is not significant.`

const reportExamples = `  workbench report sweep.json -o report.html
  workbench report results.parquet -o report.md
  workbench report before.json after.json
  workbench sweep --out /dev/stdout ... | workbench report - -o report.html`

func reportCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("report", reportUsage, reportExamples, stderr)
	out := fs.String("o", "", "write to FILE: .html or .md (default: Markdown on stdout)")
	title := fs.String("title", "", "report title (default: workbench report: FILE)")
	files, help, err := parseWithArgs(fs, args)
	if help || err != nil {
		return err
	}
	if len(files) == 0 || len(files) > 2 {
		return usageErr("report: give one results file, or two to compare (see workbench report --help)")
	}
	format := "md"
	switch strings.ToLower(filepath.Ext(*out)) {
	case "":
	case ".html", ".htm":
		format = "html"
	case ".md", ".markdown":
		format = "md"
	case ".txt":
		format = "text"
	default:
		return usageErr("report: -o %s: want .html, .md or .txt", *out)
	}
	sets := make([][]*bench.Record, len(files))
	for i, f := range files {
		if sets[i], err = bench.ReadRecordsFile(f); err != nil {
			return usageErr("report: %v", err)
		}
		if len(sets[i]) == 0 {
			return usageErr("report: %s holds no records", f)
		}
	}
	var buf bytes.Buffer
	if len(files) == 2 {
		if *out == "" {
			format = "text"
		}
		if err := bench.WriteComparison(&buf, sets[0], sets[1], files[0], files[1], format); err != nil {
			return usageErr("report: %v", err)
		}
	} else {
		opts := bench.ReportOptions{Title: *title, Sources: files}
		if opts.Title == "" {
			opts.Title = "workbench report: " + filepath.Base(files[0])
		}
		if format == "html" {
			err = bench.WriteHTML(&buf, sets[0], opts)
		} else {
			err = bench.WriteMarkdown(&buf, sets[0], opts)
		}
		if err != nil {
			return err
		}
	}
	if *out == "" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o666); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s (%d bytes)\n", *out, buf.Len())
	return nil
}

func init() {
	register(command{name: "report", order: 42, summary: "render results as HTML or Markdown, or compare two result sets", run: reportCmd})
}
