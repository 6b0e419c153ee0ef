// Command nobuild is a fixture of the functions check: a main that does
// not compile (testdata/broken/functions-does-not-build.yaml points a
// function at it).
package main

func main() {
	var n int = "not a number"
	_ = n
}
