package infra_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/infra"
	"github.com/streamer/streamer/internal/testenv"
)

// helloSource is the baseline function: the smallest aws-lambda-go main,
// built the same way.
const helloSource = "infra/testdata/hello"

// BenchmarkLambdaInit measures the cold start of every function beside the
// hello-world baseline: each iteration starts a fresh aws-lambda-rie with
// the bootstrap (built with the Lambda flags for this machine's
// architecture), invokes it once, and reads the init duration RIE reports
// (process start until the runtime asks for its first event; for our
// functions that includes loading the AWS configuration and reading the
// views' meta item from moto). It reports init-ms (mean), x-hello (that
// mean over hello's, from the same run) and binary-bytes.
//
//	go test -run '^$' -bench LambdaInit -benchtime 10x ./infra/
func BenchmarkLambdaInit(b *testing.B) {
	ctx := context.Background()
	rie := ensureRIE(b)
	builder := newBuilder(b, hostArch())
	bins := builder.buildAll(b, append(sources(), helloSource))
	tpl, err := infra.Load(templatePath)
	if err != nil {
		b.Fatal(err)
	}
	cfg := testenv.AWSConfig(b)
	db := dynamodb.NewFromConfig(cfg)
	eventsTable, viewsTable := testenv.UniqueName(b, "events"), testenv.UniqueName(b, "views")
	if err := app.CreateTables(ctx, db, eventsTable, viewsTable); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, name := range []string{eventsTable, viewsTable} {
			db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		}
	})
	key, err := auth.LoadOrCreateDevKey(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	values := map[string]string{
		"EVENTS_TABLE": eventsTable, "VIEWS_TABLE": viewsTable, "LOG_LEVEL": "info",
		// Init does not reach @connections or the bus; the values only
		// have to be well formed.
		"WEBSOCKET_ENDPOINT": "http://127.0.0.1:9/ws", "EVENT_BUS_NAME": "bench", "EVENT_SOURCE": smokeSource,
		"JWT_PUBLIC_KEY": key.PublicKeyPEM(), "JWT_JWKS_URL": "", "JWT_ISSUER": smokeIssuer, "JWT_AUDIENCE": smokeAudience,
	}
	base := map[string]string{
		"AWS_REGION": testenv.Region, "AWS_ACCESS_KEY_ID": testenv.AccessKeyID, "AWS_SECRET_ACCESS_KEY": testenv.SecretKey,
		"DYNAMODB_ENDPOINT": testenv.Endpoint(b), "AWS_LAMBDA_FUNCTION_TIMEOUT": "60",
	}

	var helloMean time.Duration
	run := func(b *testing.B, name, bootstrap string, env map[string]string) time.Duration {
		for k, v := range base {
			env[k] = v
		}
		env["AWS_LAMBDA_FUNCTION_NAME"] = name
		var total time.Duration
		for b.Loop() {
			p := startLambda(b, rie, bootstrap, name, env)
			p.tryInvoke(b, []byte(`{}`)) // a bad event for most: init is what is measured
			d, ok := p.initDuration()
			p.stop()
			if !ok {
				b.Fatalf("%s: RIE reported no init duration; its log:\n%s", name, p.log.String())
			}
			total += d
		}
		mean := total / time.Duration(b.N)
		b.ReportMetric(float64(mean.Microseconds())/1000, "init-ms")
		if helloMean > 0 && name != "hello" {
			b.ReportMetric(float64(mean)/float64(helloMean), "x-hello")
		}
		if fi, err := os.Stat(bootstrap); err == nil {
			b.ReportMetric(float64(fi.Size()), "binary-bytes")
		}
		return mean
	}
	b.Run("hello", func(b *testing.B) {
		helloMean = run(b, "hello", bins[helloSource], map[string]string{})
	})
	for _, f := range infra.Functions {
		b.Run(f.ID, func(b *testing.B) {
			run(b, f.ID, bins[f.Source], templateEnv(b, tpl, f.ID, values))
		})
	}
}
