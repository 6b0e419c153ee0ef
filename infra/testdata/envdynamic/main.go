// Command envdynamic is a fixture of TestEnvReads: it reads a variable
// whose name is only known at run time, which EnvReads refuses.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println(os.Getenv(os.Args[0]))
}
