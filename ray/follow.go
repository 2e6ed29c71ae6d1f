package ray

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Follow writes a job's log to w as it grows and returns when the job ends.
// It polls GET /api/jobs/{id} and /logs every PollInterval and writes only
// the complete lines it has not written yet; the last, unterminated line
// comes out once the job ends. (Ray also streams logs over a websocket,
// /api/jobs/{id}/logs/tail; polling needs no websocket client and tolerates
// proxies that do not pass websockets.)
//
// It returns the final JobInfo, and a *JobError when the job ended FAILED
// or STOPPED, so the caller can exit non-zero with Ray's message.
func (c *Client) Follow(ctx context.Context, id string, w io.Writer) (JobInfo, error) {
	var printed string // the log text already written, always whole lines
	emit := func(logs string, final bool) error {
		if !strings.HasPrefix(logs, printed) {
			// Ray's log for a job only grows; if it did not, say so
			// rather than print a garbled diff.
			if _, err := io.WriteString(w, "[workbench: the job's log was truncated or rotated; printing it again]\n"); err != nil {
				return err
			}
			printed = ""
		}
		fresh := logs[len(printed):]
		if !final {
			cut := strings.LastIndexByte(fresh, '\n')
			fresh = fresh[:cut+1]
		} else if fresh != "" && !strings.HasSuffix(fresh, "\n") {
			fresh += "\n"
		}
		if fresh == "" {
			return nil
		}
		_, err := io.WriteString(w, fresh)
		printed += fresh // after a final emit, nothing more is written
		return err
	}
	t := time.NewTicker(c.poll)
	defer t.Stop()
	for {
		info, err := c.Job(ctx, id)
		if err != nil {
			return info, err
		}
		logs, err := c.Logs(ctx, id)
		if err != nil {
			return info, err
		}
		terminal := info.Status.Terminal()
		if err := emit(logs, terminal); err != nil {
			return info, fmt.Errorf("ray: writing the job's log: %w", err)
		}
		if terminal {
			if info.Status == StatusSucceeded {
				return info, nil
			}
			return info, &JobError{JobID: id, Status: info.Status, Message: info.Message, ErrorType: info.ErrorType}
		}
		select {
		case <-ctx.Done():
			return info, fmt.Errorf("ray: following job %s: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}
