package model_test

import (
	"fmt"

	"workbench/model"
)

func ExampleClassify() {
	logits := []float32{0.5, 2, -1, 2, 1}
	top := make([]int32, 3)
	pred, conf, top3 := model.Classify(logits, top)
	fmt.Printf("class %d, p=%.3f, top-3 %v\n", pred, conf, top3)

	// Fewer classes than top slots: the returned slice is shorter.
	_, _, all := model.Classify([]float32{1, 3}, make([]int32, 5))
	fmt.Println(all)
	// Output:
	// class 1, p=0.379, top-3 [1 3 4]
	// [1 0]
}

func ExampleZoo() {
	for _, z := range model.Zoo() {
		fmt.Printf("%-14s %-13s %4s %11d params %6.3f GMACs %4d classes\n",
			z.Name, z.InputShape, z.Precision, z.Params, z.GMACs, z.Classes)
	}
	// Output:
	// resnet18       N×3×224×224   fp32    11684712 params  1.814 GMACs 1000 classes
	// resnet18-fp16  N×3×224×224   fp16    11684712 params  1.814 GMACs 1000 classes
	// resnet50       N×3×224×224   fp32    25530472 params  4.089 GMACs 1000 classes
	// resnet50-fp16  N×3×224×224   fp16    25530472 params  4.089 GMACs 1000 classes
	// tiny           N×3×64×64     fp32        5418 params  0.002 GMACs   10 classes
}
