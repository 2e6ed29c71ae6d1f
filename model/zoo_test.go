package model

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"workbench/model/onnxpb"
)

// Parameter counts. torchvision's ResNets have bias-free convolutions, each
// followed by a BatchNorm with 2C learnable parameters (γ, β). Folding a BN
// into its convolution replaces those 2C with a C-element conv bias, so the
// folded model has torchvision's count minus ΣC over all BN layers:
//
//	ResNet-50 (bottleneck, planes p, blocks [3,4,6,3]): each block has BNs
//	of p, p and 4p channels, and each stage's first block a downsample BN of
//	4p. ΣC = 64 (stem) + 3·6·64+256 + 4·6·128+512 + 6·6·256+1024 +
//	3·6·512+2048 = 64 + 1408 + 3584 + 10240 + 11264 = 26,560, so
//	25,557,032 − 26,560 = 25,530,472.
//
//	ResNet-18 (basic, blocks [2,2,2,2]): each block has two BNs of p, and
//	stages 2–4 a downsample BN of p. ΣC = 64 + 2·2·64 + 2·2·128+128 +
//	2·2·256+256 + 2·2·512+512 = 64 + 256 + 640 + 1280 + 2560 = 4,800, so
//	11,689,512 − 4,800 = 11,684,712.
//
// The test derives both ΣC (from the Conv bias initializers) and the total
// from the built graph, and checks them against these figures.
func TestZooParamsMatchTorchvision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		torchvision int64   // torchvision.models.<name>().parameters() count
		sigmaC      int64   // ΣC over BN layers, derived above
		gmacs       float64 // torchvision's published "GFLOPS" (really GMACs)
	}{
		{"resnet50", 25_557_032, 26_560, 4.09},
		{"resnet18", 11_689_512, 4_800, 1.81},
		{"resnet50-fp16", 25_557_032, 26_560, 4.09},
		{"resnet18-fp16", 11_689_512, 4_800, 1.81},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := zooSpecFor(tt.name)
			m, _ := s.graph(true) // dims without weight bytes
			var total, convBias int64
			isConvBias := map[string]bool{}
			for _, n := range m.Graph.Node {
				if n.OpType == "Conv" {
					isConvBias[n.Input[2]] = true
				}
			}
			for _, init := range m.Graph.Initializer {
				n := int64(1)
				for _, d := range init.Dims {
					n *= d
				}
				total += n
				if isConvBias[init.Name] {
					convBias += n
				}
			}
			if convBias != tt.sigmaC {
				t.Errorf("Conv bias elements (ΣC of folded BNs) = %d, want %d", convBias, tt.sigmaC)
			}
			if want := tt.torchvision - tt.sigmaC; total != want {
				t.Errorf("params = %d, want torchvision %d − ΣC %d = %d", total, tt.torchvision, tt.sigmaC, want)
			}
			info, _ := LookupZoo(tt.name)
			if info.Params != total {
				t.Errorf("ZooInfo.Params = %d, graph has %d", info.Params, total)
			}
			if math.Abs(info.GMACs-tt.gmacs)/tt.gmacs > 0.005 {
				t.Errorf("GMACs = %.4f, torchvision publishes %.2f", info.GMACs, tt.gmacs)
			}
			if info.GFLOPs() != 2*info.GMACs {
				t.Errorf("GFLOPs = %v, want 2×GMACs", info.GFLOPs())
			}
		})
	}
}

// TestZooGraphs checks the ONNX contract every zoo graph promises: versions,
// I/O names and shapes, folded BN and the precision seam.
func TestZooGraphs(t *testing.T) {
	t.Parallel()
	for _, s := range zooSpecs {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			m, _ := s.graph(true)
			if m.IrVersion != 8 || len(m.OpsetImport) != 1 || m.OpsetImport[0].Version != 17 {
				t.Errorf("IR %d opset %v, want IR 8 opset 17", m.IrVersion, m.OpsetImport)
			}
			g := m.Graph
			checkIO := func(what string, vi []*onnxpb.ValueInfoProto, name string, dims string) {
				if len(vi) != 1 || vi[0].Name != name {
					t.Fatalf("%s = %v, want one named %q", what, vi, name)
				}
				tt := vi[0].GetType().GetTensorType()
				var got []string
				for _, d := range tt.GetShape().GetDim() {
					if p := d.GetDimParam(); p != "" {
						got = append(got, p)
					} else {
						got = append(got, fmt.Sprint(d.GetDimValue()))
					}
				}
				if tt.GetElemType() != int32(onnxpb.TensorProto_FLOAT) || strings.Join(got, ",") != dims {
					t.Errorf("%s: elem %d dims %v, want float32 [%s]", what, tt.GetElemType(), got, dims)
				}
			}
			checkIO("input", g.Input, "input", fmt.Sprintf("N,%d,%d,%d", s.c, s.h, s.w))
			checkIO("output", g.Output, "logits", fmt.Sprintf("N,%d", s.classes))
			info, _ := LookupZoo(s.name)
			if info.InputShape != fmt.Sprintf("N×%d×%d×%d", s.c, s.h, s.w) {
				t.Errorf("InputShape = %q", info.InputShape)
			}
			for _, n := range g.Node {
				if n.OpType == "BatchNormalization" {
					t.Errorf("node %s: BatchNormalization should be folded", n.Name)
				}
				if n.OpType == "Conv" && len(n.Input) != 3 {
					t.Errorf("Conv %s has no bias", n.Name)
				}
			}
			first, last := g.Node[0], g.Node[len(g.Node)-1]
			if last.Output[0] != "logits" {
				t.Errorf("last node %s writes %v, want logits", last.Name, last.Output)
			}
			wantElem := int32(onnxpb.TensorProto_FLOAT)
			if s.prec == FP16 {
				wantElem = int32(onnxpb.TensorProto_FLOAT16)
				if first.OpType != "Cast" || last.OpType != "Cast" {
					t.Errorf("fp16 graph runs %s … %s, want Cast at both ends", first.OpType, last.OpType)
				}
			}
			for _, init := range g.Initializer {
				if init.DataType != wantElem {
					t.Fatalf("initializer %s has type %d, want %d", init.Name, init.DataType, wantElem)
				}
			}
		})
	}
}

func TestResNetTopology(t *testing.T) {
	t.Parallel()
	s, _ := zooSpecFor("resnet50")
	m, _ := s.graph(true)
	stride := map[string]int64{}
	for _, n := range m.Graph.Node {
		for _, a := range n.Attribute {
			if n.OpType == "Conv" && a.Name == "strides" {
				stride[n.Name] = a.Ints[0]
			}
		}
	}
	// v1.5: the stride of a downsampling bottleneck sits on its 3×3 conv.
	for name, want := range map[string]int64{
		"conv1": 2, "layer1.0.conv2": 1, "layer2.0.conv1": 1, "layer2.0.conv2": 2,
		"layer2.0.downsample.0": 2, "layer3.0.conv2": 2, "layer4.0.conv2": 2, "layer4.2.conv2": 1,
	} {
		if stride[name] != want {
			t.Errorf("%s stride = %d, want %d", name, stride[name], want)
		}
	}
	if len(stride) != 53 { // 1 stem + 16 blocks × 3 + 4 downsample
		t.Errorf("%d convolutions, want 53", len(stride))
	}
}

// TestExportDeterministic compares a fresh export with the one Resolve
// cached earlier (two independent builds), and pins each export's hash in
// testdata/zoo.sha256: when a builder change moves a hash, bump zooVersion so
// stale cached files are not reused, then run -update. ResNet-50 takes part
// except under -short or -race, where its 25M instrumented random draws
// would dominate the package's test time.
func TestExportDeterministic(t *testing.T) {
	t.Parallel()
	names := []string{"tiny", "resnet18", "resnet18-fp16", "resnet50"}
	if testing.Short() || raceEnabled {
		names = names[:3]
	}
	golden := filepath.Join("testdata", "zoo.sha256")
	want := map[string]string{}
	if data, err := os.ReadFile(golden); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				want[f[1]] = f[0]
			}
		}
	} else if !*update {
		t.Fatalf("%v (run go test ./model -run TestExportDeterministic -update)", err)
	}
	for _, name := range names {
		var fresh bytes.Buffer
		if err := ExportZoo(name, &fresh); err != nil {
			t.Fatal(err)
		}
		cached, err := os.ReadFile(zooModel(t, name).Path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh.Bytes(), cached) {
			t.Errorf("%s: two exports differ (%d and %d bytes)", name, fresh.Len(), len(cached))
		}
		var m onnxpb.ModelProto
		if err := proto.Unmarshal(cached, &m); err != nil {
			t.Errorf("%s: export does not parse back: %v", name, err)
		}
		sum := fmt.Sprintf("%x", sha256.Sum256(cached))
		if *update {
			want[name] = sum
		} else if want[name] != sum {
			t.Errorf("%s: export sha256 %s, golden %s; if the builder changed on purpose, bump zooVersion (now %s) and run -update",
				name, sum, want[name], zooVersion)
		}
	}
	if *update {
		var lines []string
		for _, name := range ZooNames() {
			if want[name] != "" {
				lines = append(lines, want[name]+"  "+name)
			}
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExportUnknown(t *testing.T) {
	t.Parallel()
	err := ExportZoo("resnet51", &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "resnet50, resnet50-fp16") {
		t.Errorf("ExportZoo(resnet51) = %v, want an error listing the zoo", err)
	}
}

func TestFloat32ToHalf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   float32
		want uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{0.5, 0x3800},
		{65504, 0x7bff},                 // largest half
		{65520, 0x7c00},                 // rounds up to +Inf
		{1e6, 0x7c00},                   // overflow
		{float32(math.Inf(-1)), 0xfc00}, // -Inf
		{6.103515625e-05, 0x0400},       // smallest normal 2^-14
		{5.960464477539063e-08, 0x0001}, // smallest subnormal 2^-24
		{2.98e-08, 0x0000},              // below half of it: zero
		{1 + 1.0/2048, 0x3c00},          // exact tie, rounds to even (down)
		{1 + 3.0/2048, 0x3c02},          // exact tie, rounds to even (up)
		{0.1, 0x2e66},
	}
	for _, tt := range tests {
		if got := float32ToHalf(tt.in); got != tt.want {
			t.Errorf("float32ToHalf(%g) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
	if got := float32ToHalf(float32(math.NaN())); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
		t.Errorf("float32ToHalf(NaN) = %#04x, not a NaN", got)
	}
}

func TestLittleEndianBytes(t *testing.T) {
	t.Parallel()
	f := []float32{1, -2.5, float32(math.Inf(1))}
	if got, want := littleEndianBytes(f), encodeLittleEndian(f); !bytes.Equal(got, want) || len(want) != 12 {
		t.Errorf("float32: fast path % x, portable % x", got, want)
	}
	h := []uint16{0x3c00, 0xc000}
	if got, want := littleEndianBytes(h), []byte{0x00, 0x3c, 0x00, 0xc0}; !bytes.Equal(got, want) {
		t.Errorf("uint16: % x, want % x", got, want)
	}
	if got := encodeLittleEndian(h); !bytes.Equal(got, []byte{0x00, 0x3c, 0x00, 0xc0}) {
		t.Errorf("portable uint16: % x", got)
	}
}
