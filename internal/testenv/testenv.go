package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// EndpointEnv names the environment variable holding the AWS endpoint the
// tests use. `make test` sets it so that one moto serves the whole run.
const EndpointEnv = "STREAMER_TEST_AWS_ENDPOINT"

// Region and the static credentials every test client uses; moto accepts
// any.
const (
	Region      = "us-east-1"
	AccessKeyID = "testing"
	SecretKey   = "testing"
)

// MaxNameLength bounds UniqueName's result (SQS queue names allow 80).
const MaxNameLength = 80

// startTimeout bounds moto's start-up in Main.
const startTimeout = 60 * time.Second

// Main runs a test package against moto: the server named by EndpointEnv,
// or one it starts for the package and stops afterwards. It exits the
// process with the tests' exit code. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv(EndpointEnv) != "" {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	endpoint, stop, err := StartMoto(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		return 1
	}
	if err := os.Setenv(EndpointEnv, endpoint); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		stop()
		return 1
	}
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Endpoint is the URL of the moto server the tests use. It fails the test
// when there is none: the package's TestMain must call Main.
func Endpoint(t testing.TB) string {
	t.Helper()
	ep := os.Getenv(EndpointEnv)
	if ep == "" {
		t.Fatalf("testenv: %s is not set: call testenv.Main(m) from the package's TestMain, or run `make test`", EndpointEnv)
	}
	return ep
}

// AWSConfig is an SDK configuration for the test endpoint: region
// us-east-1, static credentials, standard retry mode, and BaseEndpoint set
// to moto's URL, so every client built with NewFromConfig talks to moto.
// It is built directly rather than with config.LoadDefaultConfig, so that a
// developer's AWS profile or environment cannot leak into the tests.
func AWSConfig(t testing.TB) aws.Config {
	t.Helper()
	return Config(Endpoint(t))
}

// Config is AWSConfig for a program that has the endpoint itself.
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretKey, "")),
		BaseEndpoint: aws.String(endpoint),
		RetryMode:    aws.RetryModeStandard,
	}
}

// UniqueName returns a resource name for one test, unique across tests and
// runs sharing a server: prefix, the test's name and a random suffix, made
// of the characters every AWS resource name accepts ([A-Za-z0-9-]) and at
// most MaxNameLength long, which fits DynamoDB tables, SQS queues and
// EventBridge buses alike. A long test name is cut; the suffix keeps the
// name unique.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random suffix: %v", err)
	}
	suffix := hex.EncodeToString(b[:])
	name := sanitize(prefix) + "-" + sanitize(t.Name())
	if max := MaxNameLength - len(suffix) - 1; len(name) > max {
		name = name[:max]
	}
	return name + "-" + suffix
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return '-'
	}, s)
}
