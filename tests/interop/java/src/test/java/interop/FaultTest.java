package interop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.durabletask.DurableTaskClient;
import com.microsoft.durabletask.DurableTaskGrpcClientBuilder;
import com.microsoft.durabletask.DurableTaskGrpcWorker;
import com.microsoft.durabletask.DurableTaskGrpcWorkerBuilder;
import com.microsoft.durabletask.OrchestrationMetadata;
import com.microsoft.durabletask.OrchestrationRuntimeStatus;
import com.microsoft.durabletask.RetryPolicy;
import com.microsoft.durabletask.TaskActivity;
import com.microsoft.durabletask.TaskActivityFactory;
import com.microsoft.durabletask.TaskOptions;
import com.microsoft.durabletask.TaskOrchestration;
import com.microsoft.durabletask.TaskOrchestrationFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Faults injected through the control API: the SDK's retry policy and the fake's redelivery at work. */
class FaultTest {
    /** How often the activity's code really ran. */
    static final AtomicInteger charges = new AtomicInteger();

    static final class Charge implements TaskActivityFactory {
        @Override
        public String getName() {
            return "charge";
        }

        @Override
        public TaskActivity create() {
            return ctx -> {
                charges.incrementAndGet();
                return "charged " + ctx.getInput(String.class);
            };
        }
    }

    /** One call of "charge", retried after a minute if it fails (at most 3 attempts). */
    static final class Checkout implements TaskOrchestrationFactory {
        @Override
        public String getName() {
            return "checkout";
        }

        @Override
        public TaskOrchestration create() {
            return ctx -> {
                TaskOptions retry = new TaskOptions(new RetryPolicy(3, Duration.ofMinutes(1)));
                String order = ctx.getInput(String.class);
                ctx.complete(ctx.callActivity("charge", order, retry, String.class).await());
            };
        }
    }

    static final ControlApi control = ControlApi.fromEnvironment();
    static DurableTaskGrpcWorker worker;
    static DurableTaskClient client;

    @BeforeAll
    static void connect() {
        int port = ControlApi.sidecarPort();
        worker = new DurableTaskGrpcWorkerBuilder().port(port)
                .addOrchestration(new Checkout()).addActivity(new Charge()).build();
        worker.start();
        client = new DurableTaskGrpcClientBuilder().port(port).build();
    }

    @AfterAll
    static void disconnect() {
        client.close();
        worker.close();
    }

    @BeforeEach
    void resetTheFake() {
        charges.set(0);
        control.reset();
    }

    static List<String> kindsAndInstances(JsonNode log) {
        List<String> entries = new ArrayList<>();
        log.forEach(entry -> entries.add(entry.path("kind").asText() + " " + entry.path("instance_id").asText()));
        return entries;
    }

    static void assertCompletedWith(String id, String output) throws Exception {
        OrchestrationMetadata state = client.waitForInstanceCompletion(id, Duration.ofSeconds(10), true);
        assertEquals(OrchestrationRuntimeStatus.COMPLETED, state.getRuntimeStatus(), () -> String.valueOf(state));
        assertEquals(output, state.readOutputAs(String.class));
    }

    @Test
    void injectedActivityFailureIsRetried() throws Exception {
        control.addFault(Map.of("kind", "fail_activity", "activity", "charge", "times", 1,
                "message", "card reader offline"));

        String id = client.scheduleNewOrchestrationInstance("checkout", "order-7");
        control.waitUntilIdle(); // the first attempt has failed; the retry waits on a one-minute timer
        assertEquals("RUNNING", control.instance(id).path("status").asText());
        assertEquals(0, charges.get(), "fail_activity answers for the activity without running its code");
        List<String> failures = new ArrayList<>();
        for (JsonNode event : control.history(id)) {
            if (event.has("taskFailed")) {
                failures.add(event.path("taskFailed").path("failureDetails").path("errorMessage").asText());
            }
        }
        assertEquals(List.of("card reader offline"), failures);
        assertEquals(List.of("fail_activity " + id), kindsAndInstances(control.faultLog()));

        control.advance(Duration.ofMinutes(1)); // the retry timer fires; the second attempt runs the activity
        assertCompletedWith(id, "charged order-7");
        assertEquals(1, charges.get());
    }

    @Test
    void lostActivityResultIsDispatchedAgain() throws Exception {
        control.addFault(Map.of("kind", "lose_activity_result", "activity", "charge", "times", 1));

        String id = client.scheduleNewOrchestrationInstance("checkout", "order-8");
        assertCompletedWith(id, "charged order-8");
        assertEquals(2, charges.get(), "the first result was dropped, so the activity ran twice");
        assertEquals(List.of("lose_activity_result " + id), kindsAndInstances(control.faultLog()));
    }
}
