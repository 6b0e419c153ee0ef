package lambdaenv

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestEnvCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	got, err := EnvCredentials{}.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", SessionToken: "token", Source: Source}
	if got != want {
		t.Fatalf("credentials %+v, want %+v", got, want)
	}
}

func TestEnvCredentialsAbsent(t *testing.T) {
	for _, unset := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		t.Run(unset, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
			t.Setenv(unset, "")
			if _, err := (EnvCredentials{}).Retrieve(context.Background()); !errors.Is(err, ErrNoCredentials) {
				t.Fatalf("Retrieve without %s: %v, want ErrNoCredentials", unset, err)
			}
		})
	}
}

func TestAWSConfig(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	cfg := AWSConfig("eu-west-1", "http://127.0.0.1:5000")
	if cfg.Region != "eu-west-1" {
		t.Errorf("region %q", cfg.Region)
	}
	if aws.ToString(cfg.BaseEndpoint) != "http://127.0.0.1:5000" {
		t.Errorf("base endpoint %v", cfg.BaseEndpoint)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "secret" || creds.SessionToken != "" {
		t.Errorf("credentials %+v, %v", creds, err)
	}
	if cfg := AWSConfig("eu-west-1", ""); cfg.BaseEndpoint != nil {
		t.Errorf("no endpoint: base endpoint %q, want nil", *cfg.BaseEndpoint)
	}
}
