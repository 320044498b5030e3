// Helpers shared by the tests: connect durabletask-go's client and worker to the fake sidecar, and call
// the fake's HTTP/JSON control API (docs/control-api.md) with net/http.
package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/microsoft/durabletask-go/backend"
	"github.com/microsoft/durabletask-go/client"
	"github.com/microsoft/durabletask-go/task"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// connect dials DURABLETASK_SIDECAR_ADDRESS (the first line of `serve`: listening on HOST:PORT) and starts a
// work-item listener for registry; both stop when the test ends.
func connect(t *testing.T, registry *task.TaskRegistry) *client.TaskHubGrpcClient {
	t.Helper()
	address := os.Getenv("DURABLETASK_SIDECAR_ADDRESS")
	if address == "" {
		t.Fatal("DURABLETASK_SIDECAR_ADDRESS is not set (HOST:PORT of the fake sidecar)")
	}
	conn, err := grpc.Dial(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", address, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(func() { stop(); conn.Close() })
	taskHubClient := client.NewTaskHubGrpcClient(conn, backend.DefaultLogger())
	if err := taskHubClient.StartWorkItemListener(ctx, registry); err != nil {
		t.Fatalf("start the work-item listener on %s: %v", address, err)
	}
	return taskHubClient
}

// controlAPI calls the fake's control API at DURABLETASK_CONTROL_URL (the second line of `serve`).
type controlAPI struct {
	t       *testing.T
	baseURL string
}

// newControlAPI returns the control API and resets the fake: no instances or faults, a manual clock.
func newControlAPI(t *testing.T) *controlAPI {
	t.Helper()
	baseURL := strings.TrimRight(os.Getenv("DURABLETASK_CONTROL_URL"), "/")
	if baseURL == "" {
		t.Fatal("DURABLETASK_CONTROL_URL is not set (the control API URL printed by `serve`)")
	}
	control := &controlAPI{t: t, baseURL: baseURL}
	control.call("POST", "/v1/reset", map[string]any{"clock": "manual"}, nil)
	return control
}

// call sends body as JSON (when not nil) and decodes the JSON answer into result (when not nil).
func (c *controlAPI) call(method, path string, body any, result any) {
	c.t.Helper()
	var payload io.Reader
	if body != nil {
		encoded, err := json.Marshal(body)
		if err != nil {
			c.t.Fatalf("encode %s %s: %v", method, path, err)
		}
		payload = bytes.NewReader(encoded)
	}
	request, err := http.NewRequest(method, c.baseURL+path, payload)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	request.Header.Set("Content-Type", "application/json")
	response, err := (&http.Client{Timeout: 30 * time.Second}).Do(request)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer response.Body.Close()
	answer, err := io.ReadAll(response.Body)
	if err != nil || response.StatusCode != http.StatusOK {
		c.t.Fatalf("%s %s answered %d: %s (%v)", method, path, response.StatusCode, answer, err)
	}
	if result != nil {
		if err := json.Unmarshal(answer, result); err != nil {
			c.t.Fatalf("%s %s: cannot decode %s: %v", method, path, answer, err)
		}
	}
}

// Advance moves the manual clock; every timer due by then has fired when it returns.
func (c *controlAPI) Advance(by time.Duration) {
	c.t.Helper()
	c.call("POST", "/v1/clock/advance", map[string]any{"seconds": by.Seconds()}, nil)
}

// WaitUntilIdle returns once nothing is queued or running (orchestrations wait on timers or events).
func (c *controlAPI) WaitUntilIdle() {
	c.t.Helper()
	var answer struct{ Idle bool }
	c.call("POST", "/v1/wait-until-idle", map[string]any{"timeout": 10}, &answer)
	if !answer.Idle {
		c.t.Fatal("the fake was still busy after 10s (is a worker connected?)")
	}
}

// AddFault injects a fault, e.g. {"kind": "fail_activity", "activity": "charge"}.
func (c *controlAPI) AddFault(fault map[string]any) {
	c.t.Helper()
	c.call("POST", "/v1/faults", fault, nil)
}

// FaultRecord is one entry of the fault log.
type FaultRecord struct {
	Kind       string `json:"kind"`
	InstanceID string `json:"instance_id"`
	Detail     string `json:"detail"`
}

// FaultLog lists every fault injected since the last reset.
func (c *controlAPI) FaultLog() []FaultRecord {
	c.t.Helper()
	var answer struct{ Log []FaultRecord }
	c.call("GET", "/v1/faults/log", nil, &answer)
	return answer.Log
}

// Instance is the fake's view of one orchestration instance.
type Instance struct {
	Status string `json:"status"`
	Output string `json:"output"`
}

// Instance reads one instance from the fake.
func (c *controlAPI) Instance(id any) Instance {
	c.t.Helper()
	var instance Instance
	c.call("GET", "/v1/instances/"+url.PathEscape(fmt.Sprint(id)), nil, &instance)
	return instance
}

// History reads an instance's history: each event in the protobuf JSON mapping, e.g. {"timerFired": {...}}.
func (c *controlAPI) History(id any) []map[string]json.RawMessage {
	c.t.Helper()
	var events []map[string]json.RawMessage
	c.call("GET", "/v1/instances/"+url.PathEscape(fmt.Sprint(id))+"/history", nil, &events)
	return events
}

// count is how many events of a kind ("timerFired", "taskFailed", ...) a history holds.
func count(history []map[string]json.RawMessage, kind string) int {
	n := 0
	for _, event := range history {
		if _, ok := event[kind]; ok {
			n++
		}
	}
	return n
}
