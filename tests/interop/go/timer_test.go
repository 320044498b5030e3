// A 24-hour durable timer in a test that takes well under a second: the test moves the fake's clock.
// Run: DURABLETASK_SIDECAR_ADDRESS=HOST:PORT DURABLETASK_CONTROL_URL=http://HOST:PORT go test -run 24Hours -v
package interop

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/microsoft/durabletask-go/api"
	"github.com/microsoft/durabletask-go/task"
)

// approvalOrTimeout waits for an approval, but gives up after 24 hours.
func approvalOrTimeout(ctx *task.OrchestrationContext) (any, error) {
	var approver string
	err := ctx.WaitForSingleEvent("approved", 24*time.Hour).Await(&approver)
	if errors.Is(err, task.ErrTaskCanceled) {
		return "timed out", nil
	} else if err != nil {
		return nil, err
	}
	return "approved by " + approver, nil
}

func TestTimeoutFiresWhenTheClockMoves24Hours(t *testing.T) {
	control := newControlAPI(t) // resets the fake: a manual clock, no instances
	registry := task.NewTaskRegistry()
	registry.AddOrchestratorN("approval_or_timeout", approvalOrTimeout)
	client := connect(t, registry)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	id, err := client.ScheduleNewOrchestration(ctx, "approval_or_timeout")
	if err != nil {
		t.Fatalf("schedule: %v", err)
	}
	control.WaitUntilIdle() // the orchestration now waits on its timer and the event
	if status := control.Instance(id).Status; status != "RUNNING" {
		t.Fatalf("before the clock moves: status %s, want RUNNING", status)
	}

	control.Advance(24 * time.Hour) // the timer has fired when this returns
	metadata, err := client.WaitForOrchestrationCompletion(ctx, id)
	if err != nil {
		t.Fatalf("wait for completion: %v", err)
	}
	if metadata.RuntimeStatus != api.RUNTIME_STATUS_COMPLETED || metadata.SerializedOutput != `"timed out"` {
		t.Fatalf("status %v, output %s; want COMPLETED, \"timed out\"", metadata.RuntimeStatus, metadata.SerializedOutput)
	}
	if fired := count(control.History(id), "timerFired"); fired != 1 {
		t.Fatalf("%d timerFired events, want 1", fired)
	}
}
