// The JavaScript Durable Task SDK (@microsoft/durabletask-js) against a sidecar at a given address.
//
// Usage: node chaining.js HOST:PORT [TIMEOUT_SECONDS]
//
// Registers one activity and two orchestrators with a worker, starts both through a client:
//   - "sequence": function chaining, three calls of the activity "say_hello";
//   - "approval": waits for the external event "approved", which the client raises.
// Prints one JSON line {"chaining": {...}, "event": {...}} with each instance's id, runtime status
// and output, then stops the worker and the client. Exit status 0 when both completed, 1 otherwise
// (including the overall timeout).

"use strict";

const { TaskHubGrpcClient, TaskHubGrpcWorker, OrchestrationStatus, NoOpLogger } = require("@microsoft/durabletask-js");

const address = process.argv[2];
const timeoutSeconds = Number(process.argv[3] || "20");
if (!address || !/^[^:]+:\d+$/.test(address) || !(timeoutSeconds > 0)) {
  console.error("usage: node chaining.js HOST:PORT [TIMEOUT_SECONDS]");
  process.exit(2);
}

// The activity: one step of the chain.
const sayHello = async (_ctx, name) => `Hello ${name}!`;

// Function chaining: three activity calls, each awaited before the next.
const sequence = async function* (ctx) {
  const greetings = [];
  for (const city of ["Tokyo", "Seattle", "London"]) {
    greetings.push(yield ctx.callActivity("say_hello", city));
  }
  return greetings;
};

// Human interaction: wait for an external event and return what it carried.
const approval = async function* (ctx) {
  const approver = yield ctx.waitForExternalEvent("approved");
  return `approved by ${approver}`;
};

function statusName(state) {
  return state === undefined ? "NOT_FOUND" : OrchestrationStatus[state.runtimeStatus];
}

function summary(instanceId, state) {
  return {
    instance_id: instanceId,
    status: statusName(state),
    output: state && state.serializedOutput !== undefined ? JSON.parse(state.serializedOutput) : null,
    failure: state && state.failureDetails ? state.failureDetails.message : null,
  };
}

async function run(worker, client) {
  worker.addNamedActivity("say_hello", sayHello);
  worker.addNamedOrchestrator("sequence", sequence);
  worker.addNamedOrchestrator("approval", approval);
  await worker.start();

  const chainingId = await client.scheduleNewOrchestration("sequence");
  const chaining = await client.waitForOrchestrationCompletion(chainingId, true, timeoutSeconds);

  const eventId = await client.scheduleNewOrchestration("approval");
  await client.waitForOrchestrationStart(eventId, false, timeoutSeconds);
  await client.raiseOrchestrationEvent(eventId, "approved", "Ada");
  const event = await client.waitForOrchestrationCompletion(eventId, true, timeoutSeconds);

  return { chaining: summary(chainingId, chaining), event: summary(eventId, event) };
}

async function main() {
  const logger = new NoOpLogger();
  const worker = new TaskHubGrpcWorker({ hostAddress: address, logger, shutdownTimeoutMs: 2000 });
  const client = new TaskHubGrpcClient({ hostAddress: address, logger });
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutSeconds}s`)), timeoutSeconds * 1000);
  });
  let exitCode = 1;
  try {
    const result = await Promise.race([run(worker, client), deadline]);
    console.log(JSON.stringify(result));
    exitCode = result.chaining.status === "COMPLETED" && result.event.status === "COMPLETED" ? 0 : 1;
  } catch (error) {
    console.log(JSON.stringify({ error: String(error && error.stack ? error.stack : error) }));
  } finally {
    clearTimeout(timer);
    await Promise.race([
      Promise.allSettled([worker.stop(), client.stop()]),
      new Promise((resolve) => setTimeout(resolve, 3000)),
    ]);
  }
  process.exit(exitCode);
}

main();
