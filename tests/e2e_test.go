package tests

import (
	"testing"

	"github.com/streamer/streamer/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestLocal runs the end-to-end scenarios on the local stack (embedded
// store, local feeds, local gateway).
func TestLocal(t *testing.T) {
	runScenarios(t, NewLocalEnvironment(t))
}

// TestAWS runs the same scenarios on the AWS adapters against moto.
func TestAWS(t *testing.T) {
	runScenarios(t, NewAWSEnvironment(t))
}
