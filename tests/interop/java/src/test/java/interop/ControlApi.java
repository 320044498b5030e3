package interop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

/** A small client of the fake sidecar's HTTP/JSON control API (docs/control-api.md), on java.net.http. */
public final class ControlApi {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String baseUrl;

    /** The control API at DURABLETASK_CONTROL_URL (the second line of `serve`: control API on URL). */
    public static ControlApi fromEnvironment() {
        String url = System.getenv("DURABLETASK_CONTROL_URL");
        if (url == null || url.isBlank()) {
            throw new IllegalStateException("DURABLETASK_CONTROL_URL is not set (the control API URL printed by `serve`)");
        }
        return new ControlApi(url.replaceAll("/+$", ""));
    }

    /** HOST:PORT of the sidecar, from DURABLETASK_SIDECAR_ADDRESS (the first line of `serve`: listening on HOST:PORT). */
    public static int sidecarPort() {
        String address = System.getenv("DURABLETASK_SIDECAR_ADDRESS");
        if (address == null || !address.matches("(127\\.0\\.0\\.1|localhost):\\d+")) {
            throw new IllegalStateException("DURABLETASK_SIDECAR_ADDRESS must be 127.0.0.1:PORT or localhost:PORT; got " + address);
        }
        return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    }

    private ControlApi(String baseUrl) {
        this.baseUrl = baseUrl;
    }

    /** Sends {@code body} as JSON (or nothing when null) and returns the JSON answer; a non-200 answer throws. */
    public JsonNode call(String method, String path, Object body) {
        try {
            HttpRequest.BodyPublisher payload = body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body));
            HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + path))
                    .timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json")
                    .method(method, payload)
                    .build();
            // A new client for each call: the control API answers HTTP/1.0 and closes the connection, which
            // java.net.http would otherwise keep in its pool and, now and then, send the next request on.
            HttpResponse<String> response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                throw new IllegalStateException(method + " " + path + " answered " + response.statusCode() + ": " + response.body());
            }
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new IllegalStateException(method + " " + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(method + " " + path + " was interrupted", e);
        }
    }

    /** Empties the fake (instances, faults, fault log) and gives it a manual clock. */
    public void reset() {
        call("POST", "/v1/reset", Map.of("clock", "manual"));
    }

    /** Moves the manual clock; every timer due by then has fired when this returns. */
    public void advance(Duration by) {
        call("POST", "/v1/clock/advance", Map.of("seconds", by.toMillis() / 1000.0));
    }

    /** Returns once nothing is queued or running (orchestrations wait on timers or events). */
    public void waitUntilIdle() {
        if (!call("POST", "/v1/wait-until-idle", Map.of("timeout", 10)).path("idle").asBoolean()) {
            throw new IllegalStateException("the fake was still busy after 10s (is a worker connected?)");
        }
    }

    /** Injects a fault, e.g. {@code Map.of("kind", "fail_activity", "activity", "charge")}. */
    public void addFault(Map<String, Object> fault) {
        call("POST", "/v1/faults", fault);
    }

    /** The fault log: {@code [{"time", "kind", "instance_id", "task_id", "detail"}, ...]}. */
    public JsonNode faultLog() {
        return call("GET", "/v1/faults/log", null).path("log");
    }

    /** One instance as the fake sees it: {@code {"instance_id", "name", "status", "output", ...}}. */
    public JsonNode instance(String id) {
        return call("GET", "/v1/instances/" + URLEncoder.encode(id, StandardCharsets.UTF_8), null);
    }

    /** An instance's history: each event in the protobuf JSON mapping, e.g. {@code {"timerFired": {...}}}. */
    public JsonNode history(String id) {
        return call("GET", "/v1/instances/" + URLEncoder.encode(id, StandardCharsets.UTF_8) + "/history", null);
    }

    /** How many events of a kind ("timerFired", "taskFailed", ...) a history holds. */
    public static long count(JsonNode history, String kind) {
        long n = 0;
        for (JsonNode event : history) {
            if (event.has(kind)) {
                n++;
            }
        }
        return n;
    }
}
