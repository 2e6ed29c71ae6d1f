// Package datasource is where a run's input rows come from. From a --data
// string it detects and opens a local folder, a glob, an @list.txt of paths
// or URIs, an S3 or GCS prefix, Parquet tables of image bytes (the Hugging
// Face layout or a plain binary column) and WebDataset tar shards, and
// hands the engine a pipeline.Datasource: units of work (objects, row
// groups, shards) that read tasks take in contiguous runs.
//
// Object stores sit behind one small Store interface (list pages, get,
// put, copy, delete) with two implementations: S3 through the AWS SDK for
// Go v2 (endpoint, region and credentials from the standard AWS chain, so
// MinIO, Ceph, R2 and SeaweedFS work; s3://anonymous@bucket/ is unsigned,
// as in Ray) and GCS through its JSON API with Application Default
// Credentials or anonymously. Every request goes through one retry loop
// (exponential backoff with full jitter on 503 SlowDown, 429, 5xx and
// connection resets, bounded in attempts and time) that counts requests,
// retries, bytes and GET latency for the read operator's stats. An object
// that still fails becomes an error row; the run goes on.
package datasource
