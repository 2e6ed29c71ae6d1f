package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"workbench/datasource"
	"workbench/pipeline"
	"workbench/scenarios"
	"workbench/vision"
)

const dataUsage = `data synth writes a deterministic synthetic ImageNet-like dataset: photo-like
JPEGs (gradients, texture, noise) of about 500×375 and 375×500, quality 75–95,
in class-like subfolders. The same -n and --seed give byte-identical files.`

const dataExamples = `  workbench data synth -n 2000 -o data/synth --seed 1
  workbench data synth -n 40 -o /tmp/small`

func dataCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("data synth", dataUsage, dataExamples, stderr)
	n := fs.Int("n", 2000, "number of images")
	out := fs.String("o", "data/synth", "output folder")
	seed := fs.Uint64("seed", 1, "random seed")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *n < 1 {
		return usageErr("data synth: -n %d must be at least 1", *n)
	}
	st, err := vision.SynthesizeContext(ctx, *out, vision.SynthOptions{N: *n, Seed: *seed})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d synthetic JPEGs in %d classes to %s in %s: mean %.1f KiB (min %.1f, max %.1f)\n",
		st.Files, st.Classes, *out, st.Elapsed.Round(1e7), st.MeanBytes/1024, float64(st.MinBytes)/1024, float64(st.MaxBytes)/1024)
	return nil
}

const shardUsage = `data shard packs the images of a folder or an object store prefix into
WebDataset .tar shards: part-NNNNN.tar, --shard-size images each in listing
order, every image a member named by its key under --data (KEY.jpg) with,
under --label-from folders, KEY.cls holding its class index. The bytes are
copied unchanged, so a broken image stays a broken image. By default the
shards go beside the data, at DATA-shards/, where data_layout: shards (the
small-files scenario) reads them. Nothing appears there until every shard
is written.`

const shardExamples = `  workbench data shard --data s3://bucket/train/              # → s3://bucket/train-shards/
  workbench data shard --data data/synth -o /tmp/shards --shard-size 256
  workbench ablate --data s3://bucket/train/ --only small-files --model resnet50`

func dataShardCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("data shard", shardUsage, shardExamples, stderr)
	data := fs.String("data", "data/synth", "the images to pack: a folder or s3://[anonymous@]bucket/prefix/, gs://bucket/prefix/")
	out := fs.String("o", "", "where the shards go: a folder or an s3:// or gs:// prefix (default: DATA-shards beside --data)")
	size := fs.Int("shard-size", datasource.DefaultShardSize, "images per shard")
	images := fs.Int("images", 0, "use the first N images (0 = all)")
	labelFrom := fs.String("label-from", "", "folders: each image's class subfolder is its label (numbered by --labels, else in sorted order), written as KEY.cls")
	labels := fs.String("labels", "", "class names, one per line in index order, numbering --label-from folders")
	getConc := fs.Int("get-concurrency", scenarios.DefaultKnobs().GetConcurrency, "object GETs in flight")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *size < 1 || *images < 0 || *getConc < 1 {
		return usageErr("data shard: --shard-size and --get-concurrency must be at least 1, --images at least 0")
	}
	if *labelFrom != "" && *labelFrom != datasource.LabelsFromFolders {
		return usageErr("data shard: --label-from %s: the only choice is %s (class subfolders)", *labelFrom, datasource.LabelsFromFolders)
	}
	var classes []string
	if *labels != "" {
		b, err := os.ReadFile(*labels)
		if err != nil {
			return usageErr("data shard: --labels: %v", err)
		}
		classes = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	}
	dest := *out
	if dest == "" {
		dest = datasource.ShardsBeside(*data)
	}
	st, err := datasource.WriteShards(ctx, *data, dest, datasource.ShardOptions{Size: *size, Open: datasource.Options{
		LabelFrom: *labelFrom, ClassNames: classes, Limit: *images, GetConcurrency: *getConc}})
	if err != nil {
		return err
	}
	lab := ""
	if st.Labelled {
		lab = ", with .cls labels"
	}
	fmt.Fprintf(stdout, "wrote %d images (%s) in %d shards of up to %d to %s%s in %s\n",
		st.Images, pipeline.FormatBytes(st.Bytes), st.Shards, *size, dest, lab, st.Elapsed.Round(1e7))
	return nil
}

func init() {
	register(command{name: "data", order: 80, summary: "make datasets (data synth, data shard)"})
	register(command{name: "data synth", summary: "write a deterministic synthetic ImageNet-like dataset", run: dataCmd})
	register(command{name: "data shard", summary: "pack a folder or prefix of images into WebDataset .tar shards beside it", run: dataShardCmd})
}
