package ray

import (
	"context"
	"io"
)

// Follow writes a job's log to w as it grows and returns when the job ends.
// It polls GET /api/jobs/{id} and /logs every PollInterval and writes only
// the complete lines it has not written yet; the last, unterminated line
// comes out once the job ends. (Ray also streams logs over a websocket,
// /api/jobs/{id}/logs/tail; polling needs no websocket client and tolerates
// proxies that do not pass websockets.) It is Watch without the Ray Data
// view.
//
// It returns the final JobInfo, and a *JobError when the job ended FAILED
// or STOPPED, so the caller can exit non-zero with Ray's message.
func (c *Client) Follow(ctx context.Context, id string, w io.Writer) (JobInfo, error) {
	snap, err := c.Watch(ctx, id, WatchOptions{Log: w, NoData: true})
	return snap.Job, err
}
