// Package infra keeps the SAM template (infra/template.yaml) wired to the
// code. It reads a CloudFormation/SAM YAML template (short-form intrinsic
// tags included) into plain Go values, and runs the wiring checks that
// `make test` applies to the template and to every broken fixture under
// testdata/broken:
//
//   - functions: every function runs an existing Go main (Metadata.Source)
//     that builds for provided.al2023/arm64 with -tags lambda.norpc, its
//     CodeUri is the zip `make package` writes, and every folder under
//     lambdas/ is deployed;
//   - streams: exactly two readers of the events table's stream (projector
//     and fanout) with bounded retries, bisection, partial batch responses
//     and an SQS on-failure destination;
//   - tables: both tables are what events/dynamodb.TableInput and
//     projections/dynamodb.TableInput (+ TimeToLive) create, so
//     `streamer tables create` and the template cannot drift;
//   - env: every environment variable a function's main can read is set on
//     it (found by static analysis of the code; old aliases and the
//     test-only DYNAMODB_ENDPOINT excepted), and nothing else;
//   - iam: one role per function granting exactly its documented actions on
//     template ARNs, never "*";
//   - routes, bus, alarms: the WebSocket and HTTP APIs, the EventBridge
//     rule, DLQs and archive, and the CloudWatch alarms.
//
// The tests also run cfn-lint, build every function, and run each built
// bootstrap under aws-lambda-rie against moto (smoke_test.go).
//
// The one guarantee a caller must know: the checks judge the template as
// written (before the SAM transform), by the logical IDs listed in
// Functions and the resource names EventsTable, ViewsTable, EventBus,
// WebSocketApi and HttpApi.
package infra
