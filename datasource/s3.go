package datasource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// listPageSize is the keys an S3 listing page asks for (S3's maximum);
// tests lower it to see pages without thousands of objects.
var listPageSize int32 = 1000

// s3Store is one S3 bucket through the AWS SDK for Go v2.
type s3Store struct {
	bucket string
	c      *s3.Client
}

// Anonymous is the user name in s3://anonymous@bucket/ (Ray's form) and
// gs://anonymous@bucket/ that asks for unsigned requests.
const Anonymous = "anonymous"

// NewS3 opens bucket with the standard AWS chain: AWS_ENDPOINT_URL (or
// AWS_ENDPOINT_URL_S3), AWS_PROFILE, AWS_REGION, the environment's keys
// and the shared config and credentials files. anonymous sends unsigned
// requests, for public buckets. A custom endpoint gets path-style
// addressing, which MinIO, Ceph, SeaweedFS and versitygw expect.
func NewS3(ctx context.Context, bucket string, anonymous bool) (Store, error) {
	opts := []func(*config.LoadOptions) error{
		// The SDK's own retries are off: Retrying retries, so that every
		// try is counted and bounded in one place.
		config.WithRetryMaxAttempts(1),
		// S3 clones vary in checksum support; ask only where required.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
		// Keep a connection per GET in flight: the default 2 idle
		// connections a host would redial most of them.
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = 256
		})),
	}
	if anonymous {
		opts = append(opts, config.WithCredentialsProvider(aws.AnonymousCredentials{}))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	custom := cfg.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if ep := os.Getenv("AWS_ENDPOINT_URL_S3"); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
		o.UsePathStyle = custom
	})
	return &s3Store{bucket: bucket, c: c}, nil
}

func (s *s3Store) Scheme() string { return "s3" }
func (s *s3Store) Bucket() string { return s.bucket }

func (s *s3Store) ListPage(ctx context.Context, prefix, token string) ([]Object, string, error) {
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(prefix), MaxKeys: aws.Int32(listPageSize)}
	if token != "" {
		in.ContinuationToken = &token
	}
	out, err := s.c.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, "", s3Err(err)
	}
	objs := make([]Object, 0, len(out.Contents))
	for _, o := range out.Contents {
		objs = append(objs, Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size)})
	}
	next := ""
	if aws.ToBool(out.IsTruncated) {
		next = aws.ToString(out.NextContinuationToken)
	}
	return objs, next, nil
}

func (s *s3Store) Get(ctx context.Context, key string, off, n int64) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if r := rangeHeader(off, n); r != "" {
		in.Range = &r
	}
	out, err := s.c.GetObject(ctx, in)
	if err != nil {
		return nil, s3Err(err)
	}
	defer out.Body.Close()
	// One buffer of the size the server announced, as os.ReadFile does.
	size := aws.ToInt64(out.ContentLength)
	buf := bytes.NewBuffer(make([]byte, 0, max(size, 0)+1))
	if _, err := buf.ReadFrom(out.Body); err != nil {
		return nil, err
	}
	if size >= 0 && int64(buf.Len()) != size {
		return nil, fmt.Errorf("s3: %s: got %d of %d bytes: %w", key, buf.Len(), size, io.ErrUnexpectedEOF)
	}
	return buf.Bytes(), nil
}

func (s *s3Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, s3Err(err)
	}
	return out.Body, nil
}

func (s *s3Store) Put(ctx context.Context, key string, body []byte) error {
	_, err := s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body)))})
	return s3Err(err)
}

func (s *s3Store) Copy(ctx context.Context, src, dst string) error {
	source := s.bucket + "/" + url.PathEscape(src)
	_, err := s.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &s.bucket, Key: &dst, CopySource: &source})
	return s3Err(err)
}

func (s *s3Store) Delete(ctx context.Context, key string) error {
	_, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	return s3Err(err)
}

// s3Err maps the SDK's errors onto StatusError (so Retryable can judge
// them) and ErrNotFound.
func s3Err(err error) error {
	if err == nil {
		return nil
	}
	var nsk *types.NoSuchKey
	var nsb *types.NoSuchBucket
	if errors.As(err, &nsk) || errors.As(err, &nsb) {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() > 0 {
		se := &StatusError{Status: re.HTTPStatusCode(), Err: err}
		var ae smithy.APIError
		if errors.As(err, &ae) {
			se.Code = ae.ErrorCode()
		}
		if se.Status == http.StatusNotFound {
			return fmt.Errorf("%w: %v", ErrNotFound, err)
		}
		return se
	}
	return err
}
