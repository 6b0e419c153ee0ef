// Command envmain is a fixture of TestEnvReads: it reads its environment
// in each of the ways infra.EnvReads follows, and has one read it never
// reaches.
package main

import (
	"fmt"
	"os"
	"strings"
)

const fromConst = "FROM_CONST"

type config struct{ a, b string }

// read is how app.ReadLambdaEnv reads: through a getenv parameter.
func read(getenv func(string) string) config {
	return config{a: getenv("VIA_PARAM"), b: getenv(fromConst)}
}

type service struct{}

// Start reads in a method that main only passes as a value.
func (service) Start() string { return os.Getenv("VIA_METHOD") }

// unused is never referred to from main.
func unused() string { return os.Getenv("NEVER_CALLED") }

func run(f func() string) string { return f() }

func main() {
	c := read(os.Getenv)
	v, _ := os.LookupEnv("VIA_LOOKUP")
	upper := strings.ToUpper
	fmt.Println(c, v, run(service{}.Start), upper("not an env name"))
}
