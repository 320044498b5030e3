// A 24-hour durable timer in a test that takes well under a second: the test moves the fake's clock.
// Run: DURABLETASK_SIDECAR_ADDRESS=HOST:PORT DURABLETASK_CONTROL_URL=http://HOST:PORT node --test timer.test.js
"use strict";

const { test, before, after, beforeEach } = require("node:test");
const assert = require("node:assert/strict");
const { TaskHubGrpcClient, TaskHubGrpcWorker, OrchestrationStatus, NoOpLogger, whenAny } = require("@microsoft/durabletask-js");
const { ControlApi, sidecarAddress } = require("./control");

const address = sidecarAddress(); // DURABLETASK_SIDECAR_ADDRESS: the first line of `serve`, listening on HOST:PORT
const control = new ControlApi(process.env.DURABLETASK_CONTROL_URL); // the second line, control API on URL

const DAY_SECONDS = 24 * 60 * 60;

// Wait for an approval, but give up after 24 hours.
const approvalOrTimeout = async function* (ctx) {
  const approval = ctx.waitForExternalEvent("approved");
  const timeout = ctx.createTimer(DAY_SECONDS);
  const winner = yield whenAny([approval, timeout]);
  return winner === approval ? `approved by ${approval.getResult()}` : "timed out";
};

const logger = new NoOpLogger();
const worker = new TaskHubGrpcWorker({ hostAddress: address, logger, shutdownTimeoutMs: 2000 });
const client = new TaskHubGrpcClient({ hostAddress: address, logger });
worker.addNamedOrchestrator("approval_or_timeout", approvalOrTimeout);

before(() => worker.start());
after(() => Promise.all([worker.stop(), client.stop()])); // the SDK's stop() takes about a second
beforeEach(() => control.reset({ clock: "manual" })); // a fresh fake (and clock) for each test

test("the 24-hour timeout fires when the clock moves 24 hours", async () => {
  const id = await client.scheduleNewOrchestration("approval_or_timeout");
  await control.waitUntilIdle(); // the orchestration now waits on its timer and the event
  assert.equal((await control.instance(id)).status, "RUNNING");

  await control.advance(DAY_SECONDS); // the timer has fired when this returns
  const state = await client.waitForOrchestrationCompletion(id, true, 10);
  assert.equal(OrchestrationStatus[state.runtimeStatus], "COMPLETED");
  assert.equal(JSON.parse(state.serializedOutput), "timed out");
  const history = await control.history(id);
  assert.equal(history.filter((event) => "timerFired" in event).length, 1);
});
