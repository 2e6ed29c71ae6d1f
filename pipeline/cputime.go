package pipeline

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// threadCPU returns the CPU time (user+sys) of the calling OS thread. The
// caller must hold runtime.LockOSThread for the reading to mean anything.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ProcessCPU returns the CPU time (user+sys) the whole process has used.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadIDs lists the process's OS threads from /proc/self/task.
func threadIDs() map[int]bool {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil
	}
	ids := make(map[int]bool, len(ents))
	for _, e := range ents {
		if id, err := strconv.Atoi(e.Name()); err == nil {
			ids[id] = true
		}
	}
	return ids
}

// clockTick is USER_HZ, which is 100 on every Linux ABI Go supports.
const clockTick = 100

// tidCPU returns the CPU time of one OS thread of this process, from fields
// 14 and 15 (utime, stime) of /proc/self/task/TID/stat.
func tidCPU(tid int) time.Duration {
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may contain spaces; fields resume after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / clockTick
}
