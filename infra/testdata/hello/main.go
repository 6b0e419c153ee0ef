// Command hello is the baseline of the Lambda size and init-time figures
// (docs/benchmarks.md): the smallest aws-lambda-go function, built the way
// scripts/package.sh builds ours.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, in map[string]any) (string, error) { return "hello", nil })
}
