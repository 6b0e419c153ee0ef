package testenv_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestDynamoDBAnswers: a client built from AWSConfig reaches moto, and a
// table created under a UniqueName is listed.
func TestDynamoDBAnswers(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.AWSConfig(t)
	if cfg.Region != "us-east-1" || aws.ToString(cfg.BaseEndpoint) != testenv.Endpoint(t) || cfg.RetryMode != aws.RetryModeStandard {
		t.Fatalf("config = region %q, endpoint %q, retry mode %q", cfg.Region, aws.ToString(cfg.BaseEndpoint), cfg.RetryMode)
	}
	client := dynamodb.NewFromConfig(cfg)
	if _, err := client.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	name := testenv.UniqueName(t, "testenv")
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("CreateTable %s: %v", name, err)
	}
	t.Cleanup(func() {
		client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	var found bool
	p := dynamodb.NewListTablesPaginator(client, &dynamodb.ListTablesInput{})
	for p.HasMorePages() && !found {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range out.TableNames {
			found = found || n == name
		}
	}
	if !found {
		t.Fatalf("table %s not listed", name)
	}
}

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Za-z0-9-]+$`)
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		n := testenv.UniqueName(t, "events")
		if !valid.MatchString(n) || len(n) > testenv.MaxNameLength || !strings.HasPrefix(n, "events-TestUniqueName-") {
			t.Fatalf("name %q is not a valid resource name", n)
		}
		if seen[n] {
			t.Fatalf("name %q returned twice", n)
		}
		seen[n] = true
	}
	t.Run("a very long subtest name / with slashes and spaces, "+strings.Repeat("x", 200), func(t *testing.T) {
		n := testenv.UniqueName(t, "q")
		if !valid.MatchString(n) || len(n) > testenv.MaxNameLength {
			t.Fatalf("name %q (%d bytes) is not a valid resource name", n, len(n))
		}
	})
}

// TestStartMotoAndStop: StartMoto brings up a second, independent server
// that answers, and stop takes it down.
func TestStartMotoAndStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	endpoint, stop, err := testenv.StartMoto(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if endpoint == testenv.Endpoint(t) {
		t.Fatalf("StartMoto returned the shared server's endpoint %s", endpoint)
	}
	client := dynamodb.NewFromConfig(testenv.Config(endpoint))
	if _, err := client.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables on the new server: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	hc := &http.Client{Timeout: time.Second}
	if resp, err := hc.Get(endpoint + "/moto-api/"); err == nil {
		resp.Body.Close()
		t.Fatalf("moto at %s still answers after stop", endpoint)
	}
}

func TestFindMoto(t *testing.T) {
	p, err := testenv.FindMoto()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(p, testenv.MotoBinary) {
		t.Fatalf("FindMoto = %q", p)
	}
}

// TestMissingMotoSaysHowToInstall: without moto_server the harness fails
// with instructions, never silently.
func TestMissingMotoSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Chdir(t.TempDir())
	_, err := testenv.FindMoto()
	if err == nil {
		t.Fatal("FindMoto found moto_server on an empty PATH outside the module")
	}
	if msg := err.Error(); !strings.Contains(msg, "pip install 'moto[server]'") || !strings.Contains(msg, "make test") {
		t.Fatalf("error %q does not say how to install moto", msg)
	}
	if _, _, err := testenv.StartMoto(context.Background()); err == nil || !strings.Contains(err.Error(), "moto[server]") {
		t.Fatalf("StartMoto without moto: %v", err)
	}
}

// TestStartFailureShowsLog: a server that dies during start-up is reported
// with the tail of its output.
func TestStartFailureShowsLog(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'address already in use: simulated start-up failure' >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, testenv.MotoBinary), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	_, _, err := testenv.StartMoto(context.Background())
	if err == nil || !strings.Contains(err.Error(), "simulated start-up failure") {
		t.Fatalf("StartMoto with a failing server: %v, want its log tail", err)
	}
}

// TestSerialSendsOneRequestAtATime: requests through a Serial
// configuration never overlap, whichever goroutine sends them.
func TestSerialSendsOneRequestAtATime(t *testing.T) {
	var inFlight, maxSeen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxSeen.Load(); n > m && !maxSeen.CompareAndSwap(m, n); m = maxSeen.Load() {
		}
		time.Sleep(2 * time.Millisecond)
	}))
	defer srv.Close()
	cfg := testenv.Serial(testenv.Config(srv.URL))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			resp, err := cfg.HTTPClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if maxSeen.Load() != 1 {
		t.Fatalf("%d requests were in flight at once, want 1", maxSeen.Load())
	}
}
