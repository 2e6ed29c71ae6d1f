package gpu

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
	"github.com/charmbracelet/x/ansi"

	wbnvml "workbench/nvml"
	"workbench/nvml/nvmltest"
	"workbench/tui/backend"
	"workbench/tui/common"
)

// mockMachine is a backend whose GPU screen watches the real sampler over
// a go-nvml mock machine.
type mockMachine struct {
	backend.Fake
	srv *server.Server
}

func (b *mockMachine) Monitor() (wbnvml.Sampler, error) {
	return wbnvml.New(wbnvml.Config{Hz: backend.MonitorHz, NVML: b.srv})
}

// TestScreenOnMockGPUs runs the screen on the real sampler over mock
// machines, as it runs on a real one: what the GPU gives is drawn with the
// value the driver gave, what it cannot give is named with nvml's reason,
// and leaving the screen releases NVML.
func TestScreenOnMockGPUs(t *testing.T) {
	t.Parallel()
	noJPG := func(srv *server.Server) {
		for _, d := range srv.Devices {
			d.(*server.Device).GetJpgUtilizationFunc = func() (uint32, uint32, nvml.Return) { return 0, 0, nvml.ERROR_NOT_SUPPORTED }
		}
	}
	for _, tc := range []struct {
		name  string
		srv   *server.Server
		tweak func(*server.Server)
		want  []string
		not   []string
	}{
		{"hopper", nvmltest.H100(nil), nil,
			[]string{"2× NVIDIA H100 80GB HBM3 (Hopper)", "util 70.0%", "SM activity 62.5%", "tensor 41.5%", "SM occupancy 31.2%",
				"DRAM bw 35.0%", "NVJPG 12.0%", "SM clock 1980 MHz", "mem clock 2619 MHz", "this process 3.00GiB", "PCIe rx 2.00MiB/s"},
			[]string{"unavailable", "n/a"}},
		{"ampere", nvmltest.A100(nil), nil,
			[]string{"(Ampere)", "util 70.0%", "NVJPG 12.0%",
				"GPU 0, 1: SM activity, tensor, SM occupancy and DRAM bw unavailable: GPM needs Hopper or newer (this GPU is Ampere)"},
			[]string{"SM activity 0", "tensor 0"}},
		{"nvjpg not supported", nvmltest.H100(nil), noJPG,
			[]string{"SM activity 62.5%", "GPU 0, 1: NVJPG unavailable: not supported by driver"},
			[]string{"NVJPG 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				tc.srv.Devices = tc.srv.Devices[:2]
				if tc.tweak != nil {
					tc.tweak(tc.srv)
				}
				c := common.New(160, 48, true)
				m := New(c, &mockMachine{srv: tc.srv})
				if v := m.View(160, 44); !strings.Contains(v, "starting telemetry") {
					t.Errorf("before the sampler starts the screen reads %q", v)
				}
				m.Update(m.Start(context.Background())())
				time.Sleep(3500 * time.Millisecond) // ticks at 1, 2 and 3 s
				m.Update(tickMsg{m.gen})
				if m.Samples() != 3 {
					t.Errorf("%d samples drawn after 3.5 s at 1 Hz, want 3", m.Samples())
				}
				view := ansi.Strip(m.View(160, 44))
				for _, w := range tc.want {
					if !strings.Contains(view, w) {
						t.Errorf("screen lacks %q:\n%s", w, view)
					}
				}
				for _, n := range tc.not {
					if strings.Contains(view, n) {
						t.Errorf("screen shows %q:\n%s", n, view)
					}
				}
				if n := len(tc.srv.ShutdownCalls()); n != 0 {
					t.Errorf("NVML shut down while the screen is open")
				}
				if cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEscape}); cmd == nil {
					t.Error("esc does not go back")
				}
				m.Stop() // again, as the root does when it leaves the page
				if n := len(tc.srv.ShutdownCalls()); n != 1 {
					t.Errorf("leaving the screen shut NVML down %d times, want 1", n)
				}
			})
		})
	}
}
