package model

import (
	"fmt"
	"math"
)

// buildResNet emits torchvision's ResNet topology (v1.5: in a bottleneck the
// stride sits on the 3×3 convolution) with every BatchNorm folded into the
// preceding convolution's bias.
//
// Without BatchNorm, plain He init makes a deep residual stack's activations
// grow with depth: each block adds its branch's variance to the identity's.
// As Fixup (Zhang et al., 2019) does, the last convolution of every residual
// branch is scaled down, here by 1/√L for L residual blocks, so the variance
// grows by at most (1+1/L)^L < e over the whole network and logits stay
// finite and varied.
func buildResNet(b *graphBuilder, s *zooSpec, bottleneck bool, layers [4]int) {
	blocks := 0
	for _, n := range layers {
		blocks += n
	}
	branchGain := 1 / math.Sqrt(float64(blocks))

	x := b.input(s.c, s.h, s.w)
	x = b.conv("conv1", x, 64, 7, 2, 3, 1)
	x = b.relu("relu", x)
	x = b.maxPool("maxpool", x, 3, 2, 1)
	for i, n := range layers {
		planes := 64 << i
		for j := range n {
			stride := 1
			if i > 0 && j == 0 {
				stride = 2
			}
			name := fmt.Sprintf("layer%d.%d", i+1, j)
			if bottleneck {
				x = bottleneckBlock(b, name, x, planes, stride, branchGain)
			} else {
				x = basicBlock(b, name, x, planes, stride, branchGain)
			}
		}
	}
	x = b.globalAvgPool("avgpool", x)
	x = b.flatten("flatten", x)
	x = b.gemm("fc", x, s.classes)
	b.output(x)
}

// basicBlock is ResNet-18/34's block: 3×3 → ReLU → 3×3, plus the shortcut.
func basicBlock(b *graphBuilder, name string, x act, planes, stride int, gain float64) act {
	out := b.conv(name+".conv1", x, planes, 3, stride, 1, 1)
	out = b.relu(name+".relu1", out)
	out = b.conv(name+".conv2", out, planes, 3, 1, 1, gain)
	identity := shortcut(b, name, x, planes, stride)
	return b.relu(name+".relu2", b.add(name+".add", out, identity))
}

// bottleneckBlock is ResNet-50/101/152's block: 1×1 → 3×3 (stride) → 1×1
// expanding by 4, plus the shortcut.
func bottleneckBlock(b *graphBuilder, name string, x act, planes, stride int, gain float64) act {
	out := b.conv(name+".conv1", x, planes, 1, 1, 0, 1)
	out = b.relu(name+".relu1", out)
	out = b.conv(name+".conv2", out, planes, 3, stride, 1, 1)
	out = b.relu(name+".relu2", out)
	out = b.conv(name+".conv3", out, planes*4, 1, 1, 0, gain)
	identity := shortcut(b, name, x, planes*4, stride)
	return b.relu(name+".relu3", b.add(name+".add", out, identity))
}

// shortcut is the identity, or torchvision's "downsample" 1×1 strided conv
// (with its folded BN) when the shape changes.
func shortcut(b *graphBuilder, name string, x act, cout, stride int) act {
	if stride == 1 && x.c == cout {
		return x
	}
	return b.conv(name+".downsample.0", x, cout, 1, stride, 0, 1)
}

// buildTiny is a two-convolution network at 64×64 that runs a batch in
// milliseconds on one core: for tests, smoke runs and workshops where the
// pipeline, not the model, is the subject.
func buildTiny(b *graphBuilder, s *zooSpec) {
	x := b.input(s.c, s.h, s.w)
	x = b.relu("relu1", b.conv("conv1", x, 16, 3, 2, 1, 1))
	x = b.relu("relu2", b.conv("conv2", x, 32, 3, 2, 1, 1))
	x = b.globalAvgPool("avgpool", x)
	x = b.flatten("flatten", x)
	x = b.gemm("fc", x, s.classes)
	b.output(x)
}
