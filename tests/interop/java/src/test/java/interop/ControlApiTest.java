package interop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** Needs no fake: scripts/interop/install_java_sdk_test.sh runs it to resolve Surefire's JUnit provider. */
class ControlApiTest {
    @Test
    void countsTheEventsOfOneKind() throws Exception {
        var history = new ObjectMapper().readTree("[{\"timerCreated\": {}}, {\"timerFired\": {}}, {\"timerFired\": {}}]");
        assertEquals(2, ControlApi.count(history, "timerFired"));
        assertEquals(0, ControlApi.count(history, "taskFailed"));
    }
}
