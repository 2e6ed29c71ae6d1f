package bench

// FixtureRun exposes fixtureRun to the external test package (bench_test),
// whose tests may import packages that import bench (ray).
var FixtureRun = fixtureRun
