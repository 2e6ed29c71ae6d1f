package classify

// labelled reports whether the job's source carries labels.
func (j *Job) labelled() bool {
	l, ok := j.Config.Source.(interface{ Labelled() bool })
	return ok && l.Labelled()
}

// Accuracy is top-1 and top-5 accuracy over the rows that had a label
// and a prediction.
type Accuracy struct {
	Labelled   int64
	Top1, Top5 float64
}

// score counts one labelled, predicted row.
func (c *Counters) score(label int32, top5 []int32) {
	c.labelled.Add(1)
	for i, t := range top5 {
		if t != label {
			continue
		}
		if i == 0 {
			c.top1.Add(1)
		}
		c.top5.Add(1)
		break
	}
}

// Accuracy returns top-1 and top-5 accuracy; ok is false when no row
// carried a label.
func (c *Counters) Accuracy() (a Accuracy, ok bool) {
	n := c.labelled.Load()
	if n == 0 {
		return a, false
	}
	return Accuracy{Labelled: n, Top1: float64(c.top1.Load()) / float64(n), Top5: float64(c.top5.Load()) / float64(n)}, true
}
