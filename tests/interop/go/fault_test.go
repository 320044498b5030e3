// Faults injected through the control API: the SDK's retry policy and the fake's redelivery at work.
package interop

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/microsoft/durabletask-go/api"
	"github.com/microsoft/durabletask-go/client"
	"github.com/microsoft/durabletask-go/task"
)

// checkoutWorker registers "checkout" (one call of "charge", retried after a minute, at most 3 attempts) and
// "charge", and connects them; charges counts how often charge's code really ran.
func checkoutWorker(t *testing.T, charges *atomic.Int32) *client.TaskHubGrpcClient {
	t.Helper()
	registry := task.NewTaskRegistry()
	registry.AddActivityN("charge", func(ctx task.ActivityContext) (any, error) {
		var order string
		if err := ctx.GetInput(&order); err != nil {
			return nil, err
		}
		charges.Add(1)
		return "charged " + order, nil
	})
	registry.AddOrchestratorN("checkout", func(ctx *task.OrchestrationContext) (any, error) {
		var order, receipt string
		if err := ctx.GetInput(&order); err != nil {
			return nil, err
		}
		retry := &task.RetryPolicy{MaxAttempts: 3, InitialRetryInterval: time.Minute}
		err := ctx.CallActivity("charge", task.WithActivityInput(order), task.WithActivityRetryPolicy(retry)).Await(&receipt)
		return receipt, err
	})
	return connect(t, registry)
}

func completed(t *testing.T, client *client.TaskHubGrpcClient, id api.InstanceID, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	metadata, err := client.WaitForOrchestrationCompletion(ctx, id)
	if err != nil {
		t.Fatalf("wait for completion: %v", err)
	}
	encoded, _ := json.Marshal(want)
	if metadata.RuntimeStatus != api.RUNTIME_STATUS_COMPLETED || metadata.SerializedOutput != string(encoded) {
		t.Fatalf("status %v, output %s, failure %v; want COMPLETED, %s",
			metadata.RuntimeStatus, metadata.SerializedOutput, metadata.FailureDetails, encoded)
	}
}

func TestInjectedActivityFailureIsRetried(t *testing.T) {
	control := newControlAPI(t)
	var charges atomic.Int32
	client := checkoutWorker(t, &charges)
	control.AddFault(map[string]any{"kind": "fail_activity", "activity": "charge", "times": 1,
		"message": "card reader offline"})

	id, err := client.ScheduleNewOrchestration(context.Background(), "checkout", api.WithInput("order-7"))
	if err != nil {
		t.Fatalf("schedule: %v", err)
	}
	control.WaitUntilIdle() // the first attempt has failed; the retry waits on a one-minute timer
	if status := control.Instance(id).Status; status != "RUNNING" {
		t.Fatalf("after the injected failure: status %s, want RUNNING (waiting to retry)", status)
	}
	if n := charges.Load(); n != 0 {
		t.Fatalf("charge ran %d times; fail_activity answers without running it", n)
	}
	var failure struct {
		FailureDetails struct{ ErrorMessage string } `json:"failureDetails"`
	}
	history := control.History(id)
	for _, event := range history {
		if raw, ok := event["taskFailed"]; ok {
			if err := json.Unmarshal(raw, &failure); err != nil {
				t.Fatal(err)
			}
		}
	}
	if count(history, "taskFailed") != 1 || failure.FailureDetails.ErrorMessage != "card reader offline" {
		t.Fatalf("want one taskFailed with the injected message; history: %v", history)
	}
	if log := control.FaultLog(); len(log) != 1 || log[0].Kind != "fail_activity" || log[0].InstanceID != string(id) {
		t.Fatalf("fault log %+v; want one fail_activity for %s", log, id)
	}

	control.Advance(time.Minute) // the retry timer fires; the second attempt runs the activity
	completed(t, client, id, "charged order-7")
	if n := charges.Load(); n != 1 {
		t.Fatalf("charge ran %d times, want 1", n)
	}
}

func TestLostActivityResultIsDispatchedAgain(t *testing.T) {
	control := newControlAPI(t)
	var charges atomic.Int32
	client := checkoutWorker(t, &charges)
	control.AddFault(map[string]any{"kind": "lose_activity_result", "activity": "charge", "times": 1})

	id, err := client.ScheduleNewOrchestration(context.Background(), "checkout", api.WithInput("order-8"))
	if err != nil {
		t.Fatalf("schedule: %v", err)
	}
	completed(t, client, id, "charged order-8")
	if n := charges.Load(); n != 2 {
		t.Fatalf("charge ran %d times; want 2 (the first result was dropped)", n)
	}
	if log := control.FaultLog(); len(log) != 1 || log[0].Kind != "lose_activity_result" || log[0].InstanceID != string(id) {
		t.Fatalf("fault log %+v; want one lose_activity_result for %s", log, id)
	}
}
