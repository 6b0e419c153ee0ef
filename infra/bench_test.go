package infra_test

import (
	"context"
	"os"
	"slices"
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
// the hello-world bootstrap and then one with the function's (both built
// with the Lambda flags for this machine's architecture), invokes each
// once, and reads the init duration RIE reports (process start until the
// runtime asks for its first event). Interleaving the two makes both see
// the same machine load, and medians keep one descheduled start from
// moving the figure: on a shared machine a sequential run of means moved
// the ratio by ±0.3. It reports init-ms (the function's median),
// hello-ms (hello-world's median over the same iterations), x-hello (their
// ratio) and binary-bytes. The "hello" row runs hello-world against
// itself: its x-hello is the noise floor of the measurement.
//
//	go test -run '^$' -bench LambdaInit -benchtime 20x ./infra/
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

	coldStart := func(b *testing.B, name, bootstrap string, env map[string]string) time.Duration {
		p := startLambda(b, rie, bootstrap, name, env)
		p.tryInvoke(b, []byte(`{}`)) // a bad event for most: init is what is measured
		d, ok := p.initDuration()
		p.stop()
		if !ok {
			b.Fatalf("%s: RIE reported no init duration; its log:\n%s", name, p.log.String())
		}
		return d
	}
	withBase := func(name string, env map[string]string) map[string]string {
		for k, v := range base {
			env[k] = v
		}
		env["AWS_LAMBDA_FUNCTION_NAME"] = name
		return env
	}
	helloEnv := withBase("hello", map[string]string{})
	run := func(b *testing.B, name, bootstrap string, env map[string]string) {
		var hello, fn []time.Duration
		for b.Loop() {
			hello = append(hello, coldStart(b, "hello", bins[helloSource], helloEnv))
			fn = append(fn, coldStart(b, name, bootstrap, env))
		}
		h, f := median(hello), median(fn)
		b.ReportMetric(float64(f.Microseconds())/1000, "init-ms")
		b.ReportMetric(float64(h.Microseconds())/1000, "hello-ms")
		b.ReportMetric(float64(f)/float64(h), "x-hello")
		if fi, err := os.Stat(bootstrap); err == nil {
			b.ReportMetric(float64(fi.Size()), "binary-bytes")
		}
	}
	b.Run("hello", func(b *testing.B) {
		run(b, "hello", bins[helloSource], withBase("hello", map[string]string{}))
	})
	for _, f := range infra.Functions {
		b.Run(f.ID, func(b *testing.B) {
			run(b, f.ID, bins[f.Source], withBase(f.ID, templateEnv(b, tpl, f.ID, values)))
		})
	}
}

// median of ds (sorted in place); ds is not empty.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}
