// Package lambdaenv builds a Lambda's AWS SDK configuration from the
// environment Lambda gives every function (AWS_REGION and the execution
// role's AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
// without package github.com/aws/aws-sdk-go-v2/config: its default chain
// (shared files, SSO, STS, IMDS) is of no use inside Lambda, and linking it
// costs every cold start its package initialisation and the chain's
// resolution. The CLI keeps config.LoadDefaultConfig.
package lambdaenv

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ErrNoCredentials is returned (by the first request, as with the SDK's
// own chain) when the environment holds no AWS credentials.
var ErrNoCredentials = errors.New("lambdaenv: no AWS credentials in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required)")

// AWSConfig returns the SDK configuration of a Lambda: region (AWS_REGION),
// the credentials of the environment, and endpoint (DYNAMODB_ENDPOINT, e.g.
// moto) as the base endpoint when set. The credentials are read when a
// client first signs a request and cached until they expire — never, for
// environment credentials, which Lambda sets once per execution
// environment.
func AWSConfig(region, endpoint string) aws.Config {
	cfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(EnvCredentials{}),
	}
	if endpoint != "" {
		cfg.BaseEndpoint = aws.String(endpoint)
	}
	return cfg
}

// EnvCredentials is the aws.CredentialsProvider of the environment
// variables Lambda sets from the function's execution role.
type EnvCredentials struct{}

// Source is the aws.Credentials.Source of EnvCredentials.
const Source = "LambdaEnvCredentials"

// Retrieve reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN (optional); ErrNoCredentials without the first two.
func (EnvCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Credentials{}, ErrNoCredentials
	}
	return aws.Credentials{
		AccessKeyID: id, SecretAccessKey: secret, SessionToken: os.Getenv("AWS_SESSION_TOKEN"),
		Source: Source,
	}, nil
}
