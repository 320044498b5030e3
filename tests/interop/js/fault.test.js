// A fault injected through the control API: the first call of an activity fails, the SDK's retry policy
// waits one (virtual) minute and calls it again. The test checks the effect, the history and the fault log.
// Run: DURABLETASK_SIDECAR_ADDRESS=HOST:PORT DURABLETASK_CONTROL_URL=http://HOST:PORT node --test fault.test.js
"use strict";

const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const {
  TaskHubGrpcClient, TaskHubGrpcWorker, OrchestrationStatus, NoOpLogger, RetryPolicy,
} = require("@microsoft/durabletask-js");
const { ControlApi, sidecarAddress } = require("./control");

const address = sidecarAddress();
const control = new ControlApi(process.env.DURABLETASK_CONTROL_URL);

let charges = 0; // how often the activity's code really ran
const charge = async (_ctx, order) => {
  charges += 1;
  return `charged ${order}`;
};

// One activity call, retried after a minute if it fails (at most 3 attempts).
const checkout = async function* (ctx, order) {
  const retry = new RetryPolicy({ maxNumberOfAttempts: 3, firstRetryIntervalInMilliseconds: 60_000 });
  return yield ctx.callActivity("charge", order, { retry });
};

const logger = new NoOpLogger();
const worker = new TaskHubGrpcWorker({ hostAddress: address, logger, shutdownTimeoutMs: 2000 });
const client = new TaskHubGrpcClient({ hostAddress: address, logger });
worker.addNamedActivity("charge", charge);
worker.addNamedOrchestrator("checkout", checkout);

before(() => worker.start());
after(() => Promise.all([worker.stop(), client.stop()]));
beforeEach(() => {
  charges = 0;
  return control.reset({ clock: "manual" });
});

test("an injected activity failure is retried by the SDK's retry policy", async () => {
  await control.addFault({ kind: "fail_activity", activity: "charge", times: 1, message: "card reader offline" });

  const id = await client.scheduleNewOrchestration("checkout", "order-7");
  await control.waitUntilIdle(); // the first attempt has failed; the retry waits on a one-minute timer
  assert.equal((await control.instance(id)).status, "RUNNING");
  assert.equal(charges, 0, "fail_activity answers for the activity without running its code");
  const failed = (await control.history(id)).filter((event) => "taskFailed" in event);
  assert.deepEqual(failed.map((event) => event.taskFailed.failureDetails.errorMessage), ["card reader offline"]);
  const { log } = await control.faultLog();
  assert.deepEqual(log.map((entry) => [entry.kind, entry.instance_id]), [["fail_activity", id]]);

  await control.advance(60); // the retry timer fires; the second attempt runs the activity
  const state = await client.waitForOrchestrationCompletion(id, true, 10);
  assert.equal(OrchestrationStatus[state.runtimeStatus], "COMPLETED", JSON.stringify(state.failureDetails));
  assert.equal(JSON.parse(state.serializedOutput), "charged order-7");
  assert.equal(charges, 1);
});

test("a lost activity result makes the fake dispatch the activity again", async () => {
  await control.addFault({ kind: "lose_activity_result", activity: "charge", times: 1 });

  const id = await client.scheduleNewOrchestration("checkout", "order-8");
  const state = await client.waitForOrchestrationCompletion(id, true, 10);
  assert.equal(OrchestrationStatus[state.runtimeStatus], "COMPLETED", JSON.stringify(state.failureDetails));
  assert.equal(JSON.parse(state.serializedOutput), "charged order-8");
  assert.equal(charges, 2, "the first result was dropped, so the activity ran twice");
  const { log } = await control.faultLog();
  assert.deepEqual(log.map((entry) => [entry.kind, entry.instance_id]), [["lose_activity_result", id]]);
});
