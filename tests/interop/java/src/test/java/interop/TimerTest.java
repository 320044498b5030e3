package interop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.microsoft.durabletask.DurableTaskClient;
import com.microsoft.durabletask.DurableTaskGrpcClientBuilder;
import com.microsoft.durabletask.DurableTaskGrpcWorker;
import com.microsoft.durabletask.DurableTaskGrpcWorkerBuilder;
import com.microsoft.durabletask.OrchestrationMetadata;
import com.microsoft.durabletask.OrchestrationRuntimeStatus;
import com.microsoft.durabletask.Task;
import com.microsoft.durabletask.TaskOrchestration;
import com.microsoft.durabletask.TaskOrchestrationFactory;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A 24-hour durable timer in a test that takes well under a second: the test moves the fake's clock.
 * Run: DURABLETASK_SIDECAR_ADDRESS=127.0.0.1:PORT DURABLETASK_CONTROL_URL=http://HOST:PORT mvn test -Dtest=TimerTest
 */
class TimerTest {
    /** Waits for an approval, but gives up after 24 hours. */
    static final class ApprovalOrTimeout implements TaskOrchestrationFactory {
        @Override
        public String getName() {
            return "approval_or_timeout";
        }

        @Override
        public TaskOrchestration create() {
            return ctx -> {
                Task<String> approval = ctx.waitForExternalEvent("approved", String.class);
                Task<Void> timeout = ctx.createTimer(Duration.ofHours(24));
                Task<?> winner = ctx.anyOf(approval, timeout).await();
                ctx.complete(winner == approval ? "approved by " + approval.await() : "timed out");
            };
        }
    }

    static final ControlApi control = ControlApi.fromEnvironment();
    static DurableTaskGrpcWorker worker;
    static DurableTaskClient client;

    @BeforeAll
    static void connect() {
        int port = ControlApi.sidecarPort();
        worker = new DurableTaskGrpcWorkerBuilder().port(port).addOrchestration(new ApprovalOrTimeout()).build();
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
        control.reset(); // no instances or faults, a manual clock
    }

    @Test
    void timeoutFiresWhenTheClockMoves24Hours() throws Exception {
        String id = client.scheduleNewOrchestrationInstance("approval_or_timeout");
        control.waitUntilIdle(); // the orchestration now waits on its timer and the event
        assertEquals("RUNNING", control.instance(id).path("status").asText());

        control.advance(Duration.ofHours(24)); // the timer has fired when this returns
        OrchestrationMetadata state = client.waitForInstanceCompletion(id, Duration.ofSeconds(10), true);
        assertEquals(OrchestrationRuntimeStatus.COMPLETED, state.getRuntimeStatus());
        assertEquals("timed out", state.readOutputAs(String.class));
        assertEquals(1, ControlApi.count(control.history(id), "timerFired"));
    }
}
